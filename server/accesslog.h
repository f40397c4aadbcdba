/*
 * accesslog.h - one line per request, to stderr or a file (registry.conf
 * `access_log = off|stderr|FILE`, `access_log_format = combined|json`).
 *
 * A line carries the time the request arrived, the client's address, the
 * user (after the gate), method, path, protocol, status, body bytes,
 * duration, user agent, and the repository and digest when there is one.
 * Every field a client chose is escaped (a '"', a '\\', control and
 * non-ASCII bytes) and bounded in length, so a line stays one line and a
 * JSON line stays JSON.
 *
 * Each line is one write(2) to a file opened O_APPEND: lines of concurrent
 * requests never interleave. accesslog_reopen (SIGUSR1) opens the file
 * again by its name, so logrotate can move it and have the next line go to
 * a new file; accesslog_configure (reload) switches target or format.
 * Thread-safe: writers share a read lock, which only those two take
 * exclusively.
 */
#ifndef SERVER_ACCESSLOG_H
#define SERVER_ACCESSLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "../common/status.h"

#define ACCESSLOG_LINE_MAX 20480 /* bytes of a line: each field's length is bounded */

typedef enum { ACCESSLOG_COMBINED = 0, ACCESSLOG_JSON } accesslog_format;

typedef struct accesslog accesslog;

/* One request, as plain strings (NULL or "": not known, written "-" or
 * left out). */
typedef struct {
	struct timespec when; /* arrival, CLOCK_REALTIME */
	uint64_t duration_us;
	const char *remote, *user, *method, *path, *proto;
	unsigned status; /* 0: no reply was sent (the connection was cut) */
	uint64_t bytes;	 /* body bytes of the reply */
	const char *user_agent, *referer, *repo, *digest;
} accesslog_entry;

/* "combined" or "json" -> format. ST_OK or ST_INVALID. */
status_t accesslog_format_parse(const char *s, accesslog_format *out);

/* A log that is off. ST_OK with *out (accesslog_free); ST_NOMEM. */
status_t accesslog_new(accesslog **out);
/* NULL is a no-op. Closes the file. */
void accesslog_free(accesslog *al);

/*
 * Points al at target ("off", "stderr" or a file name, opened for appending
 * and made mode 0640 if new) in format fmt. The file is opened before
 * anything changes: ST_OK; ST_IO with err (the old target stays).
 */
status_t accesslog_configure(accesslog *al, const char *target, accesslog_format fmt, char *err,
			     size_t errlen);

/* Opens the file again by its name (after logrotate moved it). ST_OK (also
 * when the target is no file); ST_IO with err: lines keep going to the old
 * file. */
status_t accesslog_reopen(accesslog *al, char *err, size_t errlen);

/* Whether lines are written at all (callers skip building an entry). */
bool accesslog_enabled(accesslog *al);

/* Writes e's line. */
void accesslog_write(accesslog *al, const accesslog_entry *e);

/* e's line in fmt, with its '\n', into buf (len bytes, at least 2); returns
 * its length. Exposed for the unit tests. */
size_t accesslog_format_line(char *buf, size_t len, accesslog_format fmt, const accesslog_entry *e);

#endif
