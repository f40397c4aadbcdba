/*
 * events.h - notifications: what happened (push, delete, pull, mount),
 * POSTed as JSON to the receivers `notify` lines name. Inside core/ only
 * (core.h has what the server sees: core_notify_check, core_events_stats).
 *
 * An event is one JSON object in distribution's format; it goes into the
 * metadata index's queue (meta_events_*) once per receiver that wants it,
 * and a delivery thread per receiver POSTs the queue in order, oldest
 * first, a batch per request, removing rows only once the receiver
 * answered 2xx. Pushes are queued in the manifest's own transaction
 * (events_prepare, then meta_manifest_put with the rows, then
 * events_committed), so an acknowledged push always has its events queued;
 * deletes and mounts right after their write commits; pulls are buffered
 * in memory and written in batches (a crash loses the last second's).
 */
#ifndef CORE_EVENTS_H
#define CORE_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/status.h"
#include "../storage/meta.h"
#include "core.h"

typedef struct events events;

/* The actions an endpoint may ask for (events=). */
enum {
	EVENTS_PUSH = 1,
	EVENTS_DELETE = 2,
	EVENTS_PULL = 4,
	EVENTS_MOUNT = 8,
};

#define EVENTS_URL_MAX 1024
#define EVENTS_REPOS_MAX 1024
#define EVENTS_PATH_MAX 4096

/* One `notify` line, parsed. */
typedef struct {
	char url[EVENTS_URL_MAX];
	unsigned actions;	      /* EVENTS_*; the default: push, delete, mount */
	char repos[EVENTS_REPOS_MAX]; /* comma-separated globs; "" matches every name */
	char secret[EVENTS_PATH_MAX]; /* the file holding the HMAC key; "" none */
	uint32_t timeout_sec;	      /* of one POST, connecting included */
} events_spec;

/* Parses a notify line into *out. ST_OK, or ST_INVALID with a message in
 * err (may be NULL). */
status_t events_spec_parse(events_spec *out, const char *line, char *err, size_t errlen);

/* Whether repository name matches the comma-separated globs of repos ("":
 * any): `*` is any run of characters but '/', `**` any run at all. */
bool events_repo_match(const char *repos, const char *name);

/*
 * The event queue for the notify lines of c (nlines may be 0: then *out is
 * NULL and every call below does nothing). Reads each secret file, counts
 * what is queued, drops (with a warning) the queue of a receiver no line
 * names any more, loads libcurl and starts a delivery thread per line.
 * ST_OK with *out (events_free); ST_INVALID (a bad line or secret file,
 * logged); ST_IO.
 */
status_t events_new(events **out, core *c, char *const *lines, size_t nlines);

/* Stops the delivery threads (a POST in flight is cut), writes the pulls
 * still buffered, frees everything. NULL is a no-op. */
void events_free(events *ev);

/* What happened, to whom: the target of an event. */
typedef struct {
	const char *action;	/* "push", "delete", "pull", "mount" */
	const char *digest;	/* may be NULL (a tag's delete) */
	const char *tag;	/* may be NULL */
	const char *media_type; /* may be NULL */
	uint64_t size;		/* 0: not said */
} events_target;

/* Rows for the receivers that want t (in q's repository). */
typedef struct {
	meta_event *v;
	size_t n;
} events_batch;

/* Builds *out: one row per receiver that wants t (none: n 0). ST_OK or
 * ST_NOMEM. events_batch_free either way. */
status_t events_prepare(events *ev, const core_req *q, const events_target *t, events_batch *out);
/* The batch's rows are committed: wakes their receivers' threads, frees it. */
void events_committed(events *ev, events_batch *b);
void events_batch_free(events_batch *b);

/* A delete or a mount: queued now, in its own transaction (logged on failure). */
void events_emit(events *ev, const core_req *q, const events_target *t);

/* A pull: buffered, written within a second or so (see the top). */
void events_pull(events *ev, const core_req *q, const events_target *t);

/* The stats of receiver i (< core_events_stats' count). */
size_t events_stats(events *ev, core_events_stat *out, size_t max);

/* The HMAC-SHA256 of body under key, as "sha256=" and 64 hex digits, into
 * out (EVENTS_SIGNATURE_MAX bytes). */
#define EVENTS_SIGNATURE_MAX 72
void events_sign(const char *key, size_t keylen, const char *body, size_t len,
		 char out[EVENTS_SIGNATURE_MAX]);

#endif
