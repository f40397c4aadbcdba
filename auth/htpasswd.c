/*
 * htpasswd.c - the users file (see htpasswd.h).
 *
 * The list is an array of {user, hash} in file order, so a rewrite keeps
 * the order and every line it did not change byte for byte. Verification
 * goes through libcrypt's crypt_rn with a heap-allocated crypt_data (it is
 * 32 KiB: too large for worker-thread stacks), and the computed hash is
 * compared with the stored one by CRYPTO_memcmp.
 */
#include "htpasswd.h"

#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "rules.h"

#define BCRYPT_SALT_BYTES 16
#define BCRYPT_HASH_LEN 60

typedef struct {
	char *user;
	char *hash;
} entry;

struct auth_htpasswd {
	entry *v;
	size_t n, cap;
};

static bool is_bcrypt(const char *hash)
{
	return strlen(hash) == BCRYPT_HASH_LEN &&
	       (strncmp(hash, "$2y$", 4) == 0 || strncmp(hash, "$2b$", 4) == 0 ||
		strncmp(hash, "$2a$", 4) == 0);
}

status_t auth_htpasswd_new(auth_htpasswd **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? ST_OK : ST_NOMEM;
}

void auth_htpasswd_free(auth_htpasswd *h)
{
	if (h == NULL)
		return;
	for (size_t i = 0; i < h->n; i++) {
		free(h->v[i].user);
		/* hashes are not secrets, but there is no reason to leave them */
		OPENSSL_cleanse(h->v[i].hash, strlen(h->v[i].hash));
		free(h->v[i].hash);
	}
	free(h->v);
	free(h);
}

static ssize_t find(const auth_htpasswd *h, const char *user)
{
	for (size_t i = 0; i < h->n; i++)
		if (strcmp(h->v[i].user, user) == 0)
			return (ssize_t)i;
	return -1;
}

/* Appends copies of user and hash. ST_OK or ST_NOMEM. */
static status_t append(auth_htpasswd *h, const char *user, size_t ulen, const char *hash,
		       size_t hlen)
{
	entry e;

	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 16;
		entry *v = realloc(h->v, cap * sizeof(*v));
		if (v == NULL)
			return ST_NOMEM;
		h->v = v;
		h->cap = cap;
	}
	if ((e.user = strndup(user, ulen)) == NULL)
		return ST_NOMEM;
	if ((e.hash = strndup(hash, hlen)) == NULL) {
		free(e.user);
		return ST_NOMEM;
	}
	h->v[h->n++] = e;
	return ST_OK;
}

status_t auth_htpasswd_parse(auth_htpasswd **out, const char *text, size_t len, const char *name,
			     char *err, size_t errlen)
{
	auth_htpasswd *h = NULL;
	const char *p = text, *end = text + len;
	unsigned line = 0;
	status_t st;
	char user[AUTH_NAME_MAX];

	*out = NULL;
	if (text == NULL && len > 0)
		return ST_INVALID;
	if (len > 0 && memchr(text, '\0', len) != NULL) {
		status_errf(err, errlen, "%s: NUL byte in the file", name);
		return ST_INVALID;
	}
	if ((st = auth_htpasswd_new(&h)) != ST_OK)
		return st;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p)), *colon;
		size_t n;

		if (eol == NULL)
			eol = end;
		line++;
		n = (size_t)(eol - p);
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n == 0 || p[0] == '#')
			goto next;
		if ((colon = memchr(p, ':', n)) == NULL) {
			status_errf(err, errlen, "%s:%u: expected NAME:HASH", name, line);
			st = ST_INVALID;
			goto fail;
		}
		if ((size_t)(colon - p) >= sizeof(user)) {
			status_errf(err, errlen, "%s:%u: user name longer than %d bytes", name,
				    line, AUTH_NAME_MAX - 1);
			st = ST_INVALID;
			goto fail;
		}
		memcpy(user, p, (size_t)(colon - p));
		user[colon - p] = '\0';
		if (!auth_user_name_ok(user)) {
			status_errf(err, errlen,
				    "%s:%u: user name '%s' (expected letters, digits, . _ - @; not "
				    "'anonymous')",
				    name, line, user);
			st = ST_INVALID;
			goto fail;
		}
		if (find(h, user) >= 0) {
			status_errf(err, errlen, "%s:%u: user '%s' listed twice", name, line, user);
			st = ST_INVALID;
			goto fail;
		}
		if ((st = append(h, p, (size_t)(colon - p), colon + 1,
				 n - (size_t)(colon + 1 - p))) != ST_OK)
			goto fail;
	next:
		p = eol + 1;
	}
	*out = h;
	return ST_OK;
fail:
	auth_htpasswd_free(h);
	return st;
}

status_t auth_htpasswd_load(auth_htpasswd **out, const char *path, char *err, size_t errlen)
{
	FILE *f;
	char *buf = NULL;
	size_t len = 0;
	struct stat sb;
	status_t st = ST_IO;

	*out = NULL;
	if ((f = fopen(path, "r")) == NULL) {
		status_errf(err, errlen, "%s: %s", path, strerror(errno));
		return errno == ENOENT ? ST_NOT_FOUND : ST_IO;
	}
	if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode) ||
	    (uint64_t)sb.st_size > AUTH_HTPASSWD_FILE_MAX) {
		status_errf(err, errlen, "%s: not a regular file of at most %u bytes", path,
			    AUTH_HTPASSWD_FILE_MAX);
		goto done;
	}
	if ((buf = malloc((size_t)sb.st_size + 1)) == NULL) {
		st = ST_NOMEM;
		goto done;
	}
	len = fread(buf, 1, (size_t)sb.st_size, f);
	if (ferror(f)) {
		status_errf(err, errlen, "%s: %s", path, strerror(errno));
		goto done;
	}
	st = auth_htpasswd_parse(out, buf, len, path, err, errlen);
done:
	if (buf) {
		OPENSSL_cleanse(buf, len);
		free(buf);
	}
	fclose(f);
	return st;
}

/* crypt_rn of password with setting into data->output; NULL on failure. */
static const char *run_crypt(struct crypt_data *data, const char *password, const char *setting)
{
	memset(data, 0, sizeof(*data));
	return crypt_rn(password, setting, data, (int)sizeof(*data));
}

status_t auth_htpasswd_verify(const auth_htpasswd *h, const char *user, const char *password)
{
	struct crypt_data *data;
	const char *hash, *got;
	ssize_t i;
	bool ok = false;

	if (h == NULL || user == NULL || password == NULL)
		return ST_UNAUTHORIZED;
	i = find(h, user);
	/* An unknown user costs the same as a known one: check the password
	 * against the first bcrypt hash there is, then refuse anyway. */
	if (i >= 0 && is_bcrypt(h->v[i].hash)) {
		hash = h->v[i].hash;
	} else {
		hash = NULL;
		for (size_t k = 0; k < h->n && hash == NULL; k++)
			if (is_bcrypt(h->v[k].hash))
				hash = h->v[k].hash;
		if (hash == NULL)
			return ST_UNAUTHORIZED;
		i = -1;
	}
	if (strlen(password) > AUTH_PASSWORD_MAX)
		return ST_UNAUTHORIZED;
	if ((data = malloc(sizeof(*data))) == NULL)
		return ST_NOMEM;
	got = run_crypt(data, password, hash);
	if (got != NULL && strlen(got) == strlen(hash))
		ok = CRYPTO_memcmp(got, hash, strlen(hash)) == 0;
	OPENSSL_cleanse(data, sizeof(*data));
	free(data);
	return ok && i >= 0 ? ST_OK : ST_UNAUTHORIZED;
}

status_t auth_htpasswd_hash(char *out, size_t outlen, const char *password, unsigned cost)
{
	unsigned char salt[BCRYPT_SALT_BYTES];
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *data;
	const char *got;
	status_t st = ST_IO;

	if (out == NULL || password == NULL || cost < AUTH_BCRYPT_COST_MIN ||
	    cost > AUTH_BCRYPT_COST_MAX || strlen(password) > AUTH_BCRYPT_PASSWORD_MAX ||
	    outlen <= BCRYPT_HASH_LEN)
		return ST_INVALID;
	if (RAND_bytes(salt, sizeof(salt)) != 1)
		return ST_IO;
	if (crypt_gensalt_rn("$2y$", cost, (const char *)salt, (int)sizeof(salt), setting,
			     (int)sizeof(setting)) == NULL)
		return ST_IO;
	if ((data = malloc(sizeof(*data))) == NULL)
		return ST_NOMEM;
	got = run_crypt(data, password, setting);
	if (got != NULL && is_bcrypt(got) && strlen(got) < outlen) {
		memcpy(out, got, strlen(got) + 1);
		st = ST_OK;
	}
	OPENSSL_cleanse(data, sizeof(*data));
	free(data);
	return st;
}

status_t auth_htpasswd_set_hash(auth_htpasswd *h, const char *user, const char *hash)
{
	char *copy;
	ssize_t i;

	if (h == NULL || !auth_user_name_ok(user) || hash == NULL || !is_bcrypt(hash))
		return ST_INVALID;
	if ((i = find(h, user)) < 0)
		return append(h, user, strlen(user), hash, strlen(hash));
	if ((copy = strdup(hash)) == NULL)
		return ST_NOMEM;
	free(h->v[i].hash);
	h->v[i].hash = copy;
	return ST_OK;
}

status_t auth_htpasswd_set(auth_htpasswd *h, const char *user, const char *password, unsigned cost)
{
	char hash[128];
	status_t st;

	if (h == NULL || !auth_user_name_ok(user))
		return ST_INVALID;
	if ((st = auth_htpasswd_hash(hash, sizeof(hash), password, cost)) != ST_OK)
		return st;
	return auth_htpasswd_set_hash(h, user, hash);
}

status_t auth_htpasswd_del(auth_htpasswd *h, const char *user)
{
	ssize_t i;

	if (h == NULL || user == NULL || (i = find(h, user)) < 0)
		return ST_NOT_FOUND;
	free(h->v[i].user);
	free(h->v[i].hash);
	memmove(&h->v[i], &h->v[i + 1], (h->n - (size_t)i - 1) * sizeof(h->v[0]));
	h->n--;
	return ST_OK;
}

size_t auth_htpasswd_count(const auth_htpasswd *h)
{
	return h ? h->n : 0;
}

const char *auth_htpasswd_user(const auth_htpasswd *h, size_t i)
{
	return h && i < h->n ? h->v[i].user : NULL;
}

bool auth_htpasswd_has(const auth_htpasswd *h, const char *user)
{
	return h && user && find(h, user) >= 0;
}

const char *auth_htpasswd_hash_of(const auth_htpasswd *h, const char *user)
{
	ssize_t i = h && user ? find(h, user) : -1;

	return i >= 0 ? h->v[i].hash : NULL;
}

bool auth_htpasswd_usable(const auth_htpasswd *h, size_t i)
{
	return h && i < h->n && is_bcrypt(h->v[i].hash);
}

status_t auth_htpasswd_save(const auth_htpasswd *h, const char *path)
{
	char *tmp = NULL, *dircopy = NULL;
	FILE *f = NULL;
	int fd = -1, dfd = -1;
	mode_t mode = 0600;
	struct stat sb;
	status_t st = ST_IO;

	if (h == NULL || path == NULL)
		return ST_INVALID;
	if (stat(path, &sb) == 0)
		mode = sb.st_mode & 07777;
	if (asprintf(&tmp, "%s.XXXXXX", path) < 0) {
		tmp = NULL;
		return ST_NOMEM;
	}
	if ((fd = mkstemp(tmp)) < 0)
		goto done;
	if (fchmod(fd, mode) != 0 || (f = fdopen(fd, "w")) == NULL)
		goto done;
	fd = -1; /* f owns it now */
	for (size_t i = 0; i < h->n; i++)
		if (fprintf(f, "%s:%s\n", h->v[i].user, h->v[i].hash) < 0)
			goto done;
	if (fflush(f) != 0 || fsync(fileno(f)) != 0)
		goto done;
	if (fclose(f) != 0) {
		f = NULL;
		goto done;
	}
	f = NULL;
	if (rename(tmp, path) != 0)
		goto done;
	free(tmp);
	tmp = NULL;
	/* The rename is durable once the folder is on disk. */
	if ((dircopy = strdup(path)) != NULL &&
	    (dfd = open(dirname(dircopy), O_RDONLY | O_DIRECTORY)) >= 0) {
		fsync(dfd);
		close(dfd);
	}
	st = ST_OK;
done:
	if (f)
		fclose(f);
	if (fd >= 0)
		close(fd);
	if (tmp) {
		unlink(tmp);
		free(tmp);
	}
	free(dircopy);
	return st;
}

status_t auth_htpasswd_lock(const char *path, int *fd)
{
	char *lock = NULL;
	int lfd;

	*fd = -1;
	if (asprintf(&lock, "%s.lock", path) < 0)
		return ST_NOMEM;
	lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	free(lock);
	if (lfd < 0)
		return ST_IO;
	while (flock(lfd, LOCK_EX) != 0) {
		if (errno != EINTR) {
			int e = errno;
			close(lfd);
			errno = e;
			return ST_IO;
		}
	}
	*fd = lfd;
	return ST_OK;
}

void auth_htpasswd_unlock(int fd)
{
	if (fd >= 0)
		close(fd); /* closing the last descriptor releases the flock */
}
