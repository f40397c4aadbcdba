/*
 * backup.c - `registry backup DIR` (see core_backup in core.h).
 *
 * Order is what makes it consistent while pushes go on: the index first,
 * as one snapshot (SQLite's online backup), then the blobs that snapshot
 * references. A blob a push adds after the snapshot is not referenced by
 * it, so it is not needed; a referenced blob was committed before the
 * snapshot's manifest row (the core commits blobs, then rows), so it is in
 * the store. Blobs are immutable: a hard link is as good as a copy, and
 * costs nothing on the same filesystem. The only thing that can go wrong
 * is a blob removed in between (cache eviction, a collection): counted as
 * missing, and the command fails so the operator runs it again.
 */
#include "core_impl.h"

#define BACKUP_PAGE 1000 /* digests read from the index per query */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/human.h"
#include "../common/log.h"

#define BACKUP_DIR_MODE 0750
#define BACKUP_DB_NAME "registry.db"

/* mkdir -p dest; ST_OK if it is (now) an empty folder, ST_EXISTS if it
 * has anything in it, ST_IO. */
static status_t dest_prepare(const char *dest)
{
	char buf[4096];
	size_t n = strlen(dest);
	DIR *d;
	struct dirent *e;
	status_t st = ST_OK;

	if (n == 0 || n >= sizeof(buf))
		return ST_IO;
	memcpy(buf, dest, n + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, BACKUP_DIR_MODE) != 0 && errno != EEXIST)
			return ST_IO;
		*p = '/';
	}
	if (mkdir(buf, BACKUP_DIR_MODE) != 0 && errno != EEXIST)
		return ST_IO;
	if ((d = opendir(dest)) == NULL)
		return ST_IO;
	while (st == ST_OK && (e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			st = ST_EXISTS;
	closedir(d);
	return st;
}

typedef struct {
	blobstore *src, *dst;
	FILE *msg;
	core_backup_stats *stats;
	status_t st;	       /* the first failure that stops the walk */
	char last[DIGEST_MAX]; /* the last digest walked: the next page starts after it */
} backup_walk;

static int backup_one(void *arg, const char *digest, uint64_t indexed_size)
{
	backup_walk *w = arg;
	uint64_t size = 0;
	bool linked = false;
	status_t st;

	snprintf(w->last, sizeof(w->last), "%s", digest);

	if ((st = blobstore_stat(w->src, digest, &size)) == ST_OK)
		st = blobstore_backup(w->src, digest, w->dst, &linked);
	if (st == ST_NOT_FOUND) {
		w->stats->missing++;
		if (w->msg)
			fprintf(w->msg, "missing: %s (removed since the database was copied)\n",
				digest);
		return 0;
	}
	if (st != ST_OK) {
		log_error("backup: %s: %s", digest, status_str(st));
		w->st = st;
		return 1;
	}
	w->stats->blobs++;
	w->stats->bytes += size;
	if (linked)
		w->stats->linked++;
	else
		w->stats->copied += size;
	return 0;
}

/* fsyncs the folder path, so the entries made in it are durable. */
static status_t dir_sync(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	status_t st = ST_OK;

	if (fd < 0 || fsync(fd) != 0)
		st = ST_IO;
	if (fd >= 0)
		close(fd);
	return st;
}

status_t core_backup(core *c, const char *dest, FILE *msg, core_backup_stats *out)
{
	char db_path[4096 + 32], h1[HUMAN_SIZE_MAX], h2[HUMAN_SIZE_MAX];
	meta *db, *copy = NULL;
	blobstore *dst = NULL;
	backup_walk w = {.src = c->bs, .msg = msg, .stats = out, .st = ST_OK};
	status_t st;

	memset(out, 0, sizeof(*out));
	if (strcmp(c->storage, BLOBSTORE_DEFAULT_BACKEND) != 0) {
		/* a backup is a folder of the same backend: for an object store
		 * that would be a second bucket, which its own tools copy better */
		log_error(
		    "backup: `registry backup` copies a filesystem store; with storage = %s, "
		    "back the bucket up with the object store's own tools (replication, "
		    "versioning, rclone) and this data folder's registry.db with sqlite3 .backup",
		    c->storage);
		return ST_UNSUPPORTED;
	}
	if ((st = dest_prepare(dest)) != ST_OK) {
		if (st == ST_EXISTS)
			log_error("backup: %s is not empty: give a new or empty folder", dest);
		else
			log_error("backup: cannot make the folder %s: %s", dest, strerror(errno));
		return st;
	}
	if (snprintf(db_path, sizeof(db_path), "%s/" BACKUP_DB_NAME, dest) >= (int)sizeof(db_path))
		return ST_INVALID;
	if ((st = core_db(c, &db)) != ST_OK)
		return st;
	/* 1. the index, as of one moment */
	if ((st = meta_backup(db, db_path)) != ST_OK)
		return st;
	if (msg)
		fprintf(msg, "database: copied to %s\n", db_path);
	/* 2. every blob that copy references */
	if ((st = blobstore_open_backend(&dst, c->storage, dest)) != ST_OK ||
	    (st = meta_open_backend(&copy, c->metadata, db_path)) != ST_OK)
		goto done;
	w.dst = dst;
	/* a page of digests at a time, each page one short read of the copy */
	for (bool more = true; more && st == ST_OK && w.st == ST_OK;)
		st = meta_digests(copy, w.last, BACKUP_PAGE, backup_one, &w, &more);
	if (st == ST_OK)
		st = w.st;
	if (st == ST_OK)
		st = dir_sync(dest);
	if (st == ST_OK && out->missing > 0)
		st = ST_NOT_FOUND;
	if (msg)
		fprintf(msg, "blobs: %llu (%s), %llu hard links, %s copied%s\n",
			(unsigned long long)out->blobs, human_size(h1, out->bytes),
			(unsigned long long)out->linked, human_size(h2, out->copied),
			out->missing ? ", some missing: run the backup again" : "");
done:
	meta_close(copy);
	blobstore_close(dst);
	return st;
}
