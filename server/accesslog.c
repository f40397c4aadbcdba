/*
 * accesslog.c - the access log (see accesslog.h).
 *
 * The combined format is Apache's and nginx's "combined" with three fields
 * after the user agent, so their parsers (goaccess, fail2ban, awk scripts)
 * read it as is:
 *   ADDR - USER [TIME] "METHOD PATH PROTO" STATUS BYTES "REFERER" "AGENT" SECONDS "REPO" "DIGEST"
 * The JSON format is one object per line with named fields.
 */
#include "accesslog.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct accesslog {
	pthread_rwlock_t lock;
	int fd;		 /* -1: off; STDERR_FILENO (not ours); or our file */
	bool own;	 /* fd is our file (closed and reopened) */
	char path[4096]; /* the file's name, when own */
	accesslog_format fmt;
};

status_t accesslog_format_parse(const char *s, accesslog_format *out)
{
	if (strcmp(s, "combined") == 0)
		*out = ACCESSLOG_COMBINED;
	else if (strcmp(s, "json") == 0)
		*out = ACCESSLOG_JSON;
	else
		return ST_INVALID;
	return ST_OK;
}

status_t accesslog_new(accesslog **out)
{
	accesslog *al = calloc(1, sizeof(*al));

	*out = NULL;
	if (al == NULL)
		return ST_NOMEM;
	pthread_rwlock_init(&al->lock, NULL);
	al->fd = -1;
	*out = al;
	return ST_OK;
}

void accesslog_free(accesslog *al)
{
	if (al == NULL)
		return;
	if (al->own)
		close(al->fd);
	pthread_rwlock_destroy(&al->lock);
	free(al);
}

static int open_log(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);

	if (fd < 0)
		status_errf(err, errlen, "cannot open access log %s: %s", path, strerror(errno));
	return fd;
}

status_t accesslog_configure(accesslog *al, const char *target, accesslog_format fmt, char *err,
			     size_t errlen)
{
	int fd = -1, old = -1;
	bool own = false;

	if (strcmp(target, "stderr") == 0) {
		fd = STDERR_FILENO;
	} else if (strcmp(target, "off") != 0) {
		if (strlen(target) >= sizeof(al->path)) {
			status_errf(err, errlen, "access log name too long");
			return ST_INVALID;
		}
		if ((fd = open_log(target, err, errlen)) < 0)
			return ST_IO;
		own = true;
	}
	pthread_rwlock_wrlock(&al->lock);
	if (al->own)
		old = al->fd;
	al->fd = fd;
	al->own = own;
	snprintf(al->path, sizeof(al->path), "%s", own ? target : "");
	al->fmt = fmt;
	pthread_rwlock_unlock(&al->lock);
	if (old >= 0)
		close(old);
	return ST_OK;
}

status_t accesslog_reopen(accesslog *al, char *err, size_t errlen)
{
	status_t st = ST_OK;
	int fd;

	pthread_rwlock_wrlock(&al->lock);
	if (al->own) {
		if ((fd = open_log(al->path, err, errlen)) < 0) {
			st = ST_IO;
		} else {
			close(al->fd);
			al->fd = fd;
		}
	}
	pthread_rwlock_unlock(&al->lock);
	return st;
}

bool accesslog_enabled(accesslog *al)
{
	bool on;

	pthread_rwlock_rdlock(&al->lock);
	on = al->fd >= 0;
	pthread_rwlock_unlock(&al->lock);
	return on;
}

/* ---- formatting: an appender that never overflows ---- */

/* The most bytes of each field written, before escaping (which makes each
 * byte at most 6): bounded so that a whole line always fits in
 * ACCESSLOG_LINE_MAX and a JSON line is never cut. */
#define F_REMOTE 64
#define F_USER 128
#define F_METHOD 16
#define F_PATH 1024
#define F_AGENT 512
#define F_REPO 256
_Static_assert(6 * (F_REMOTE + F_USER + 2 * F_METHOD + F_PATH + 2 * F_AGENT + 2 * F_REPO) + 512 <
		   ACCESSLOG_LINE_MAX,
	       "an access log line always fits");

typedef struct {
	char *buf;
	size_t len, n; /* n < len always: room for the final '\n' */
} out_buf;

static void put(out_buf *o, const char *s, size_t n)
{
	if (n > o->len - 1 - o->n)
		n = o->len - 1 - o->n;
	memcpy(o->buf + o->n, s, n);
	o->n += n;
}

static void puts_(out_buf *o, const char *s)
{
	put(o, s, strlen(s));
}

static void printf_(out_buf *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void printf_(out_buf *o, const char *fmt, ...)
{
	char tmp[128];
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (r > 0)
		put(o, tmp, (size_t)r < sizeof(tmp) ? (size_t)r : sizeof(tmp) - 1);
}

/* At most max bytes of s, with '"', '\\', control and non-ASCII bytes
 * escaped: \xHH in combined (as nginx writes), \u00HH in JSON (which keeps
 * any line valid JSON); "-" for a missing value in combined. */
static void put_escaped(out_buf *o, const char *s, size_t max, bool json)
{
	if (s == NULL || *s == '\0') {
		if (!json)
			puts_(o, "-");
		return;
	}
	for (const unsigned char *p = (const unsigned char *)s; *p && max > 0; p++, max--) {
		if (*p < 0x20 || *p >= 0x7f || *p == '"' || *p == '\\')
			printf_(o, json ? "\\u%04x" : "\\x%02X", *p);
		else
			put(o, (const char *)p, 1);
	}
}

static void put_json_field(out_buf *o, const char *name, const char *value, size_t max)
{
	if (value == NULL || *value == '\0')
		return;
	printf_(o, ",\"%s\":\"", name);
	put_escaped(o, value, max, true);
	puts_(o, "\"");
}

static void format_combined(out_buf *o, const accesslog_entry *e)
{
	static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	struct tm tm;

	gmtime_r(&e->when.tv_sec, &tm);
	put_escaped(o, e->remote, F_REMOTE, false);
	puts_(o, " - ");
	put_escaped(o, e->user, F_USER, false);
	printf_(o, " [%02d/%s/%04d:%02d:%02d:%02d +0000] \"", tm.tm_mday, mon[tm.tm_mon],
		tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
	put_escaped(o, e->method, F_METHOD, false);
	puts_(o, " ");
	put_escaped(o, e->path, F_PATH, false);
	puts_(o, " ");
	put_escaped(o, e->proto, F_METHOD, false);
	if (e->status)
		printf_(o, "\" %u %llu \"", e->status, (unsigned long long)e->bytes);
	else
		printf_(o, "\" - %llu \"", (unsigned long long)e->bytes);
	put_escaped(o, e->referer, F_AGENT, false);
	puts_(o, "\" \"");
	put_escaped(o, e->user_agent, F_AGENT, false);
	printf_(o, "\" %llu.%06llu \"", (unsigned long long)(e->duration_us / 1000000),
		(unsigned long long)(e->duration_us % 1000000));
	put_escaped(o, e->repo, F_REPO, false);
	puts_(o, "\" \"");
	put_escaped(o, e->digest, F_REPO, false);
	puts_(o, "\"");
}

static void format_json(out_buf *o, const accesslog_entry *e)
{
	struct tm tm;
	char ts[32];

	gmtime_r(&e->when.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	printf_(o, "{\"time\":\"%s.%03ldZ\"", ts, e->when.tv_nsec / 1000000);
	put_json_field(o, "remote", e->remote, F_REMOTE);
	put_json_field(o, "user", e->user, F_USER);
	put_json_field(o, "method", e->method, F_METHOD);
	put_json_field(o, "path", e->path, F_PATH);
	put_json_field(o, "proto", e->proto, F_METHOD);
	printf_(o, ",\"status\":%u,\"bytes\":%llu,\"duration_ms\":%llu.%03llu", e->status,
		(unsigned long long)e->bytes, (unsigned long long)(e->duration_us / 1000),
		(unsigned long long)(e->duration_us % 1000));
	put_json_field(o, "user_agent", e->user_agent, F_AGENT);
	put_json_field(o, "referer", e->referer, F_AGENT);
	put_json_field(o, "repository", e->repo, F_REPO);
	put_json_field(o, "digest", e->digest, F_REPO);
	puts_(o, "}");
}

size_t accesslog_format_line(char *buf, size_t len, accesslog_format fmt, const accesslog_entry *e)
{
	out_buf o = {buf, len, 0};

	if (fmt == ACCESSLOG_JSON)
		format_json(&o, e);
	else
		format_combined(&o, e);
	buf[o.n++] = '\n';
	return o.n;
}

void accesslog_write(accesslog *al, const accesslog_entry *e)
{
	char line[ACCESSLOG_LINE_MAX];
	size_t n;

	pthread_rwlock_rdlock(&al->lock);
	if (al->fd >= 0) {
		n = accesslog_format_line(line, sizeof(line), al->fmt, e);
		if (write(al->fd, line, n) < 0) {
			/* a full disk: the request was served; nothing to tell */
		}
	}
	pthread_rwlock_unlock(&al->lock);
}
