/*
 * health.c - whether the registry can serve (core_ready, for /readyz) and
 * what it holds and has counted (for /metrics); see core.h.
 *
 * Readiness checks what a push needs, without doing one: the metadata
 * index takes a read and its write lock (meta_ping: nothing written), the
 * data folder takes a new file (created and removed at once, under a name
 * of its own per thread, so concurrent probes never collide and a crash
 * mid-probe leaves a file the next probe of that thread removes), and the
 * disk has room. Nothing here touches a repository.
 */
#include "core_impl.h"
#include "../proxy/probe.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#define READY_PROBE_PREFIX ".readyz-" /* DATA/.readyz-TID: the probe file */

/* Creates and removes the probe file. ST_OK, or ST_IO with errno kept. */
static status_t probe_file(const char *data)
{
	char path[4096 + 64];
	int fd;

	snprintf(path, sizeof(path), "%s/" READY_PROBE_PREFIX "%ld", data, (long)gettid());
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 && errno == EEXIST && unlink(path) == 0) /* a crashed probe's */
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return ST_IO;
	close(fd);
	return unlink(path) == 0 ? ST_OK : ST_IO;
}

status_t core_ready(core *c, uint64_t min_free_bytes, char *why, size_t whylen)
{
	struct statvfs sv;
	uint64_t avail;
	status_t st;
	meta *db;

	if ((st = core_db(c, &db)) != ST_OK || (st = meta_ping(db)) != ST_OK) {
		status_errf(why, whylen, "metadata index not usable: %s", status_str(st));
		return ST_UNAVAILABLE;
	}
	if (probe_file(c->data) != ST_OK) {
		status_errf(why, whylen, "data folder %s not writable: %s", c->data,
			    strerror(errno));
		return ST_UNAVAILABLE;
	}
	if (statvfs(c->data, &sv) != 0) {
		status_errf(why, whylen, "data folder %s: %s", c->data, strerror(errno));
		return ST_UNAVAILABLE;
	}
	avail = (uint64_t)sv.f_bavail * sv.f_frsize;
	if (avail < min_free_bytes) {
		status_errf(why, whylen, "%llu bytes free in %s, below min_free_space (%llu bytes)",
			    (unsigned long long)avail, c->data, (unsigned long long)min_free_bytes);
		return ST_UNAVAILABLE;
	}
	return ST_OK;
}

status_t core_store_stats_get(core *c, core_store_stats *out)
{
	struct timespec now;
	meta_stats ms;
	status_t st = ST_OK;
	meta *db;

	clock_gettime(CLOCK_MONOTONIC, &now);
	/* One count at a time: scrapes arriving together share it. */
	pthread_mutex_lock(&c->stats_mu);
	if (c->stats_at.tv_sec == 0 || now.tv_sec - c->stats_at.tv_sec >= CORE_STATS_MAX_AGE_SEC) {
		if ((st = core_db(c, &db)) == ST_OK && (st = meta_stats_get(db, &ms)) == ST_OK) {
			c->stats = (core_store_stats){ms.repos, ms.manifests,	 ms.tags,
						      ms.blobs, ms.stored_bytes, ms.uploads};
			c->stats_at = now;
		}
	}
	*out = c->stats;
	pthread_mutex_unlock(&c->stats_mu);
	return st;
}

size_t core_upstream_count(core *c)
{
	core_settings *s = settings_get(c);
	size_t n = proxy_upstream_count(s->px);

	settings_put(c, s);
	return n;
}

status_t core_upstream_stats_get(core *c, size_t i, core_upstream_stats *out)
{
	core_settings *s = settings_get(c);
	upstream_stats us;
	upstream *up = proxy_upstream_at(s->px, i);

	/* a reload since core_upstream_count may have removed it */
	if (up == NULL) {
		settings_put(c, s);
		return ST_NOT_FOUND;
	}
	upstream_stats_get(up, &us);
	snprintf(out->name, sizeof(out->name), "%s", upstream_get_spec(up)->name);
	settings_put(c, s);
	out->hits = us.hits;
	out->misses = us.misses;
	out->requests = us.requests;
	out->bytes = us.bytes;
	out->errors = us.errors;
	out->reachable = us.reachable;
	return ST_OK;
}

status_t core_probe_url(const char *url, unsigned timeout_sec, long *out_code, char *body,
			size_t bodylen, char *err, size_t errlen)
{
	return probe_get(url, timeout_sec, out_code, body, bodylen, err, errlen);
}
