/*
 * events.c - notifications (events.h): the `notify` lines, the events'
 * JSON, the queue's writers and one delivery thread per receiver.
 *
 * The queue lives in the metadata index (meta_events_*), one row per
 * (receiver, event), so a receiver that is down or slow, or a registry
 * that is killed, loses nothing: a row goes only after its receiver
 * answered 2xx to a POST that carried it. Each receiver's thread POSTs its
 * rows oldest first (seq order, which is commit order), a batch per
 * request, and waits for the answer before the next: events of one
 * repository arrive in the order they happened, and a batch that failed is
 * sent again whole, with the same event ids (at-least-once: receivers
 * deduplicate by id). Failures back off exponentially, from
 * EVENTS_BACKOFF_MIN_MS to EVENTS_BACKOFF_MAX_MS, and never drop an event.
 *
 * Nothing here is on a request's path but building an event and the
 * writes (a push's rows ride in its own transaction; a pull only appends
 * to a buffer in memory): a slow receiver holds up its own thread only.
 * Pull events are the cheap kind: buffered, written every second or when
 * EVENTS_PULLS_FLUSH are waiting (one transaction for all), dropped and
 * counted past EVENTS_PULLS_MAX. A crash loses the buffered ones, and a
 * pull may reach a receiver after a change that came later.
 */
#include "core_impl.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "../common/log.h"
#include "../common/curl_load.h"

#define EVENTS_MEDIA_TYPE "application/vnd.docker.distribution.events.v2+json"
#define EVENTS_SIGNATURE_HEADER "X-Registry-Signature"
#define EVENTS_BATCH 32		      /* events per POST, at most */
#define EVENTS_BODY_MAX (1024 * 1024) /* bytes per POST: no new event past it */
#define EVENTS_BACKOFF_MIN_MS 500     /* the first retry after a failure */
#define EVENTS_BACKOFF_MAX_MS 30000   /* retries are never further apart */
#define EVENTS_IDLE_MS 1000	      /* an idle thread looks at the queue this often */
#define EVENTS_PULLS_FLUSH 256	      /* buffered pulls that wake a writer */
#define EVENTS_PULLS_MAX 4096	      /* buffered pulls past which they are dropped */
#define EVENTS_SECRET_MAX 4096	      /* bytes of a secret file */
#define EVENTS_TIMEOUT_DEFAULT_SEC 10 /* timeout= */
#define EVENTS_TIMEOUT_MAX_SEC 300
#define EVENTS_DEFAULT_ACTIONS (EVENTS_PUSH | EVENTS_DELETE | EVENTS_MOUNT)

typedef struct {
	events *ev;
	events_spec spec;
	char *key; /* the secret's bytes; NULL: unsigned */
	size_t keylen;
	pthread_t th;
	bool started;
	/* under ev->mu */
	bool wake; /* rows were queued: look now */
	bool failing;
	uint64_t queued, delivered, failures;
	uint64_t dropped; /* its pull events dropped: buffer full, or not written */
	int last_status;
} endpoint;

struct events {
	core *c;
	endpoint *ep;
	size_t n;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	atomic_bool stopping; /* set under mu; read bare by a transfer's progress */
	/* buffered pulls (under mu): rows whose endpoint is borrowed, repo and
	 * body owned */
	meta_event *pulls;
	size_t npulls, cap;
	pthread_mutex_t flush_mu; /* one flush at a time: pulls stay in order */
	bool curl_ready;
	char instance[40], host[256];
};

static const struct {
	const char *name;
	unsigned bit;
} actions[] = {{"push", EVENTS_PUSH},
	       {"delete", EVENTS_DELETE},
	       {"pull", EVENTS_PULL},
	       {"mount", EVENTS_MOUNT}};
#define NACTIONS (sizeof(actions) / sizeof(actions[0]))

static unsigned action_bit(const char *name, size_t len)
{
	for (size_t i = 0; i < NACTIONS; i++)
		if (strlen(actions[i].name) == len && strncmp(actions[i].name, name, len) == 0)
			return actions[i].bit;
	return 0;
}

/* ---- the notify line ---- */

/* "10s", "2m", "30" (seconds): 1 s to EVENTS_TIMEOUT_MAX_SEC. */
static bool parse_timeout(const char *s, uint32_t *out)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || v > EVENTS_TIMEOUT_MAX_SEC)
		return false;
	if (*end == 'm' && end[1] == '\0')
		v *= 60;
	else if (!(*end == '\0' || (*end == 's' && end[1] == '\0')))
		return false;
	if (v < 1 || v > EVENTS_TIMEOUT_MAX_SEC)
		return false;
	*out = (uint32_t)v;
	return true;
}

/* Copies the n bytes at s into out[max]; false if they do not fit. */
static bool copy_word(char *out, size_t max, const char *s, size_t n)
{
	if (n == 0 || n >= max)
		return false;
	memcpy(out, s, n);
	out[n] = '\0';
	return true;
}

status_t events_spec_parse(events_spec *out, const char *line, char *err, size_t errlen)
{
	const char *p = line;
	bool seen_events = false;

	memset(out, 0, sizeof(*out));
	out->actions = EVENTS_DEFAULT_ACTIONS;
	out->timeout_sec = EVENTS_TIMEOUT_DEFAULT_SEC;
	if (line == NULL) {
		status_errf(err, errlen, "empty notify line");
		return ST_INVALID;
	}
	p += strspn(p, " \t");
	size_t n = strcspn(p, " \t");
	if ((strncmp(p, "http://", 7) != 0 && strncmp(p, "https://", 8) != 0) ||
	    n <= (size_t)(p[4] == 's' ? 8 : 7) || !copy_word(out->url, sizeof(out->url), p, n)) {
		status_errf(err, errlen,
			    "invalid notify '%.200s' (expected an http:// or https:// URL first, "
			    "then events=, repos=, secret=, timeout=)",
			    line);
		return ST_INVALID;
	}
	for (size_t i = 0; out->url[i]; i++) {
		if ((unsigned char)out->url[i] < 0x21 || out->url[i] == 0x7f ||
		    out->url[i] == '"') {
			status_errf(err, errlen, "invalid notify URL '%.200s'", out->url);
			return ST_INVALID;
		}
	}
	for (p += n;;) {
		p += strspn(p, " \t");
		if (*p == '\0')
			break;
		n = strcspn(p, " \t");
		const char *eq = memchr(p, '=', n);
		size_t klen = eq ? (size_t)(eq - p) : n, vlen = eq ? n - klen - 1 : 0;
		const char *v = eq ? eq + 1 : "";
		char val[EVENTS_PATH_MAX];

		if (eq == NULL || vlen == 0 || !copy_word(val, sizeof(val), v, vlen)) {
			status_errf(err, errlen, "notify: '%.*s' is not KEY=VALUE", (int)n, p);
			return ST_INVALID;
		}
		if (klen == 6 && strncmp(p, "events", 6) == 0 && !seen_events) {
			seen_events = true;
			out->actions = 0;
			/* every element named: "push," is a mistake, not "push" */
			for (const char *a = val;; a++) {
				size_t alen = strcspn(a, ",");
				unsigned bit = action_bit(a, alen);
				if (bit == 0) {
					status_errf(err, errlen,
						    "notify: unknown event '%.*s' (expected push, "
						    "delete, pull, mount)",
						    (int)alen, a);
					return ST_INVALID;
				}
				out->actions |= bit;
				a += alen;
				if (*a == '\0')
					break;
			}
		} else if (klen == 5 && strncmp(p, "repos", 5) == 0 && out->repos[0] == '\0') {
			if (!copy_word(out->repos, sizeof(out->repos), v, vlen) ||
			    strstr(val, ",,") || val[0] == ',' || val[vlen - 1] == ',') {
				status_errf(err, errlen, "notify: invalid repos '%s'", val);
				return ST_INVALID;
			}
		} else if (klen == 6 && strncmp(p, "secret", 6) == 0 && out->secret[0] == '\0') {
			memcpy(out->secret, val, vlen + 1);
		} else if (klen == 7 && strncmp(p, "timeout", 7) == 0) {
			if (!parse_timeout(val, &out->timeout_sec)) {
				status_errf(err, errlen,
					    "notify: invalid timeout '%s' (expected 1s to %ds)",
					    val, EVENTS_TIMEOUT_MAX_SEC);
				return ST_INVALID;
			}
		} else {
			status_errf(err, errlen,
				    "notify: unknown or repeated option '%.*s' (expected events=, "
				    "repos=, secret=, timeout=)",
				    (int)klen, p);
			return ST_INVALID;
		}
		p += n;
	}
	return ST_OK;
}

status_t core_notify_check(const char *line, char *url_out, char *err, size_t errlen)
{
	events_spec spec;

	if (events_spec_parse(&spec, line, err, errlen) != ST_OK)
		return ST_INVALID;
	if (url_out != NULL)
		snprintf(url_out, CORE_NOTIFY_URL_MAX, "%s", spec.url);
	return ST_OK;
}

/* Whether the glob pattern p (plen bytes) matches all of s. */
static bool glob_match(const char *p, size_t plen, const char *s)
{
	while (plen > 0) {
		if (*p == '*') {
			bool deep = plen > 1 && p[1] == '*';
			size_t skip = deep ? 2 : 1;
			/* the rest of the pattern, tried at each point `*` may stop */
			for (const char *t = s;; t++) {
				if (glob_match(p + skip, plen - skip, t))
					return true;
				if (*t == '\0' || (!deep && *t == '/'))
					return false;
			}
		}
		if (*s == '\0' || *s != *p)
			return false;
		p++, plen--, s++;
	}
	return *s == '\0';
}

bool events_repo_match(const char *repos, const char *name)
{
	if (repos == NULL || repos[0] == '\0')
		return true;
	for (const char *p = repos; *p;) {
		size_t n = strcspn(p, ",");
		if (glob_match(p, n, name))
			return true;
		p += n + (p[n] == ',');
	}
	return false;
}

/* ---- the events' JSON ---- */

/* A random (version 4) UUID into out[37]. */
static void uuid_new(char out[37])
{
	unsigned char b[16];

	if (RAND_bytes(b, sizeof(b)) != 1) {
		/* Unique still: the time and the address of a local. */
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		uint64_t x = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
		uint64_t y = (uint64_t)(uintptr_t)&ts ^ (uint64_t)getpid();
		memcpy(b, &x, 8);
		memcpy(b + 8, &y, 8);
	}
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
		 b[13], b[14], b[15]);
}

/* Now, as RFC 3339 in UTC with nanoseconds (as distribution writes it). */
static void timestamp_now(char out[40])
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, 40 - n, ".%09uZ", (unsigned)(ts.tv_nsec % 1000000000L));
}

/* Sets key to s unless s is NULL or empty. */
static void set_str(json_t *o, const char *key, const char *s)
{
	if (s != NULL && s[0] != '\0')
		json_object_set_new(o, key, json_string(s));
}

/* One event as distribution's JSON (an element of "events"), or NULL. */
static char *event_json(const events *ev, const core_req *q, const events_target *t)
{
	json_t *o = json_object(), *target = json_object(), *request = json_object(),
	       *actor = json_object(), *source = json_object();
	char id[37], ts[40], *s = NULL;

	if (o == NULL || target == NULL || request == NULL || actor == NULL || source == NULL)
		goto done;
	uuid_new(id);
	timestamp_now(ts);
	set_str(o, "id", id);
	set_str(o, "timestamp", ts);
	set_str(o, "action", t->action);
	set_str(target, "mediaType", t->media_type);
	if (t->size > 0) {
		json_object_set_new(target, "size", json_integer((json_int_t)t->size));
		json_object_set_new(target, "length", json_integer((json_int_t)t->size));
	}
	set_str(target, "digest", t->digest);
	set_str(target, "repository", q->name);
	set_str(target, "tag", t->tag);
	set_str(request, "id", q->o_id);
	set_str(request, "addr", q->o_addr);
	set_str(request, "host", q->o_host);
	set_str(request, "method", q->o_method);
	set_str(request, "useragent", q->o_agent);
	set_str(actor, "name", q->actor);
	set_str(source, "addr", ev->host);
	set_str(source, "instanceID", ev->instance);
	json_object_set(o, "target", target);
	json_object_set(o, "request", request);
	json_object_set(o, "actor", actor);
	json_object_set(o, "source", source);
	s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
done:
	json_decref(o);
	json_decref(target);
	json_decref(request);
	json_decref(actor);
	json_decref(source);
	return s;
}

void events_sign(const char *key, size_t keylen, const char *body, size_t len,
		 char out[EVENTS_SIGNATURE_MAX])
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	int off;

	HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)body, len, mac, &maclen);
	off = snprintf(out, EVENTS_SIGNATURE_MAX, "sha256=");
	for (unsigned i = 0; i < maclen && off + 3 <= EVENTS_SIGNATURE_MAX; i++)
		off += snprintf(out + off, (size_t)(EVENTS_SIGNATURE_MAX - off), "%02x", mac[i]);
}

/* ---- queueing ---- */

void events_batch_free(events_batch *b)
{
	if (b == NULL)
		return;
	/* every row shares one body */
	if (b->n > 0)
		free((char *)b->v[0].body);
	free(b->v);
	b->v = NULL;
	b->n = 0;
}

status_t events_prepare(events *ev, const core_req *q, const events_target *t, events_batch *out)
{
	unsigned bit = action_bit(t->action, strlen(t->action));
	size_t want = 0;
	char *body;

	out->v = NULL;
	out->n = 0;
	if (ev == NULL)
		return ST_OK;
	for (size_t i = 0; i < ev->n; i++)
		if ((ev->ep[i].spec.actions & bit) &&
		    events_repo_match(ev->ep[i].spec.repos, q->name))
			want++;
	if (want == 0)
		return ST_OK;
	if ((body = event_json(ev, q, t)) == NULL)
		return ST_NOMEM;
	if ((out->v = calloc(want, sizeof(*out->v))) == NULL) {
		free(body);
		return ST_NOMEM;
	}
	for (size_t i = 0; i < ev->n; i++) {
		if (!(ev->ep[i].spec.actions & bit) ||
		    !events_repo_match(ev->ep[i].spec.repos, q->name))
			continue;
		out->v[out->n++] = (meta_event){ev->ep[i].spec.url, q->name, body};
	}
	return ST_OK;
}

/* The endpoint whose URL is the string at url (rows borrow it), or NULL. */
static endpoint *endpoint_of(events *ev, const char *url)
{
	for (size_t i = 0; i < ev->n; i++)
		if (ev->ep[i].spec.url == url)
			return &ev->ep[i];
	return NULL;
}

/* n pull rows of v were dropped: counted per receiver. Under ev->mu. */
static void rows_dropped(events *ev, const meta_event *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		endpoint *e = endpoint_of(ev, v[i].endpoint);
		if (e != NULL)
			e->dropped++;
	}
}

/* n rows of v were committed: counted, and their threads woken. */
static void rows_queued(events *ev, const meta_event *v, size_t n)
{
	pthread_mutex_lock(&ev->mu);
	for (size_t i = 0; i < n; i++) {
		endpoint *e = endpoint_of(ev, v[i].endpoint);
		if (e != NULL) {
			e->queued++;
			e->wake = true;
		}
	}
	pthread_cond_broadcast(&ev->cv);
	pthread_mutex_unlock(&ev->mu);
}

void events_committed(events *ev, events_batch *b)
{
	if (ev != NULL && b->n > 0)
		rows_queued(ev, b->v, b->n);
	events_batch_free(b);
}

void events_emit(events *ev, const core_req *q, const events_target *t)
{
	events_batch b;
	status_t st;
	meta *db;

	if (ev == NULL)
		return;
	if ((st = events_prepare(ev, q, t, &b)) == ST_OK && b.n > 0 &&
	    (st = core_db(ev->c, &db)) == ST_OK)
		st = meta_events_add(db, b.v, b.n);
	if (st != ST_OK) {
		log_error("events: the %s event of %s could not be queued: %s", t->action, q->name,
			  status_str(st));
		events_batch_free(&b);
		return;
	}
	events_committed(ev, &b);
}

void events_pull(events *ev, const core_req *q, const events_target *t)
{
	events_batch b;
	bool full = false;

	if (ev == NULL || events_prepare(ev, q, t, &b) != ST_OK || b.n == 0) {
		events_batch_free(&b);
		return;
	}
	pthread_mutex_lock(&ev->mu);
	if (ev->npulls + b.n > EVENTS_PULLS_MAX) {
		rows_dropped(ev, b.v, b.n);
		full = true;
	} else if (ev->npulls + b.n > ev->cap) {
		size_t cap = ev->cap ? ev->cap * 2 : 64;
		while (cap < ev->npulls + b.n)
			cap *= 2;
		meta_event *v = realloc(ev->pulls, cap * sizeof(*v));
		if (v == NULL) {
			rows_dropped(ev, b.v, b.n);
			full = true;
		} else {
			ev->pulls = v;
			ev->cap = cap;
		}
	}
	for (size_t i = 0; !full && i < b.n; i++) {
		meta_event *r = &ev->pulls[ev->npulls];
		r->endpoint = b.v[i].endpoint;
		r->repo = strdup(b.v[i].repo);
		r->body = strdup(b.v[i].body);
		if (r->repo == NULL || r->body == NULL) {
			free((char *)r->repo);
			free((char *)r->body);
			rows_dropped(ev, &b.v[i], 1);
			continue;
		}
		ev->npulls++;
	}
	if (ev->npulls >= EVENTS_PULLS_FLUSH)
		pthread_cond_broadcast(&ev->cv);
	pthread_mutex_unlock(&ev->mu);
	events_batch_free(&b);
}

/* Writes the buffered pulls (one transaction), from a delivery thread or
 * at the end. A failure drops them, counted and logged. */
static void pulls_flush(events *ev)
{
	meta_event *v;
	size_t n;
	status_t st;
	meta *db;

	pthread_mutex_lock(&ev->flush_mu);
	pthread_mutex_lock(&ev->mu);
	v = ev->pulls;
	n = ev->npulls;
	ev->pulls = NULL;
	ev->npulls = ev->cap = 0;
	pthread_mutex_unlock(&ev->mu);
	if (n > 0) {
		if ((st = core_db(ev->c, &db)) == ST_OK)
			st = meta_events_add(db, v, n);
		if (st == ST_OK) {
			rows_queued(ev, v, n);
		} else {
			log_error("events: %zu pull event(s) could not be queued: %s", n,
				  status_str(st));
			pthread_mutex_lock(&ev->mu);
			rows_dropped(ev, v, n);
			pthread_mutex_unlock(&ev->mu);
		}
	}
	for (size_t i = 0; i < n; i++) {
		free((char *)v[i].repo);
		free((char *)v[i].body);
	}
	free(v);
	pthread_mutex_unlock(&ev->flush_mu);
}

/* ---- delivery ---- */

/* A POST's body: {"events":[row,row,...]}, and the last row's seq. */
typedef struct {
	char *buf;
	size_t len, cap;
	size_t n;
	int64_t last;
	bool nomem;
} envelope;

static bool env_append(envelope *e, const char *s, size_t n)
{
	if (e->len + n + 1 > e->cap) {
		size_t cap = e->cap ? e->cap : 4096;
		while (cap < e->len + n + 1)
			cap *= 2;
		char *b = realloc(e->buf, cap);
		if (b == NULL) {
			e->nomem = true;
			return false;
		}
		e->buf = b;
		e->cap = cap;
	}
	memcpy(e->buf + e->len, s, n);
	e->len += n;
	e->buf[e->len] = '\0';
	return true;
}

static int env_row(void *arg, int64_t seq, const char *repo, const char *body)
{
	envelope *e = arg;
	size_t blen = strlen(body);

	/* one row always goes, however large: else it would block the queue */
	if (e->n > 0 && e->len + blen + 2 > EVENTS_BODY_MAX)
		return 1;
	if (!env_append(e, e->n == 0 ? "{\"events\":[" : ",", e->n == 0 ? 11 : 1) ||
	    !env_append(e, body, blen))
		return 1;
	e->n++;
	e->last = seq;
	return 0;
}

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
	return size * n;
}

/* Stops a transfer when the registry stops. */
static int progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	events *ev = arg;
	return atomic_load(&ev->stopping) ? 1 : 0;
}

/* POSTs body to e; returns the HTTP status, or -1 with err set. */
static int post(endpoint *e, CURL **hp, const char *body, size_t len, char *err, size_t errlen)
{
	struct curl_slist *h = NULL, *t;
	char sig[EVENTS_SIGNATURE_MAX + 32];
	long code = 0;
	CURLcode rc;
	CURL *c;

	if (*hp == NULL && (*hp = libcurl.easy_init()) == NULL) {
		snprintf(err, errlen, "cannot start a transfer");
		return -1;
	}
	c = *hp;
	h = libcurl.slist_append(NULL, "Content-Type: " EVENTS_MEDIA_TYPE);
	if (h != NULL && (t = libcurl.slist_append(h, "Expect:")) != NULL)
		h = t;
	if (h != NULL && e->key != NULL) {
		int off = snprintf(sig, sizeof(sig), "%s: ", EVENTS_SIGNATURE_HEADER);
		events_sign(e->key, e->keylen, body, len, sig + off);
		if ((t = libcurl.slist_append(h, sig)) != NULL)
			h = t;
		else
			h = (libcurl.slist_free_all(h), NULL);
	}
	if (h == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	libcurl.easy_setopt(c, CURLOPT_URL, e->spec.url);
	libcurl.easy_setopt(c, CURLOPT_POST, 1L);
	libcurl.easy_setopt(c, CURLOPT_POSTFIELDS, body);
	libcurl.easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	libcurl.easy_setopt(c, CURLOPT_HTTPHEADER, h);
	libcurl.easy_setopt(c, CURLOPT_USERAGENT, "registry (notifications)");
	libcurl.easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)e->spec.timeout_sec * 1000L);
	libcurl.easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)e->spec.timeout_sec * 1000L);
	libcurl.easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	libcurl.easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	libcurl.easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	libcurl.easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	libcurl.easy_setopt(c, CURLOPT_XFERINFOFUNCTION, progress);
	libcurl.easy_setopt(c, CURLOPT_XFERINFODATA, e->ev);
	rc = libcurl.easy_perform(c);
	libcurl.easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	libcurl.slist_free_all(h);
	if (rc != CURLE_OK) {
		snprintf(err, errlen, "%s", libcurl.easy_strerror(rc));
		return -1;
	}
	libcurl.easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	snprintf(err, errlen, "HTTP %ld", code);
	return (int)code;
}

/* Waits ms, or until stopping (or, wakeable, until e's rows are queued). */
static void wait_ms(events *ev, endpoint *e, long ms, bool wakeable)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&ev->mu);
	while (!atomic_load(&ev->stopping) && !(wakeable && e->wake) &&
	       !(wakeable && ev->npulls >= EVENTS_PULLS_FLUSH))
		if (pthread_cond_timedwait(&ev->cv, &ev->mu, &until) == ETIMEDOUT)
			break;
	if (wakeable)
		e->wake = false;
	pthread_mutex_unlock(&ev->mu);
}

static void *deliver_main(void *arg)
{
	endpoint *e = arg;
	events *ev = e->ev;
	long backoff = 0;
	CURL *h = NULL;
	char err[256], lock[EVENTS_URL_MAX + 32];
	meta *db;

	snprintf(lock, sizeof(lock), "registry events %s", e->spec.url);
	while (!atomic_load(&ev->stopping)) {
		envelope env = {0};
		bool got = false;
		int code;

		pulls_flush(ev);
		if (core_db(ev->c, &db) != ST_OK) {
			wait_ms(ev, e, EVENTS_IDLE_MS, false);
			continue;
		}
		/* One deliverer per endpoint among the replicas sharing the queue
		 * (on SQLite always granted), so each event is sent once: it holds
		 * the lock from reading a batch to its ack. */
		if (meta_lock_try(db, lock, &got) != ST_OK || !got) {
			wait_ms(ev, e, EVENTS_IDLE_MS, false);
			continue;
		}
		if (meta_events_next(db, e->spec.url, EVENTS_BATCH, env_row, &env) != ST_OK ||
		    env.nomem) {
			meta_unlock(db, lock);
			free(env.buf);
			wait_ms(ev, e, EVENTS_IDLE_MS, false);
			continue;
		}
		if (env.n == 0) {
			meta_unlock(db, lock);
			pthread_mutex_lock(&ev->mu);
			e->queued = 0; /* the index says so: trust it over the count */
			pthread_mutex_unlock(&ev->mu);
			wait_ms(ev, e, EVENTS_IDLE_MS, true);
			continue;
		}
		env_append(&env, "]}", 2);
		code = env.nomem ? -1 : post(e, &h, env.buf, env.len, err, sizeof(err));
		free(env.buf);
		if (code >= 200 && code < 300) {
			/* A failed ack sends them again: at-least-once. */
			if (meta_events_ack(db, e->spec.url, env.last) != ST_OK)
				log_warn("events: %s: delivered, but not removed from the queue",
					 e->spec.url);
			meta_unlock(db, lock);
			pthread_mutex_lock(&ev->mu);
			e->queued -= e->queued < env.n ? e->queued : env.n;
			e->delivered += env.n;
			e->last_status = code;
			if (e->failing)
				log_info("events: %s: delivering again (%llu queued)", e->spec.url,
					 (unsigned long long)e->queued);
			e->failing = false;
			pthread_mutex_unlock(&ev->mu);
			backoff = 0;
			continue;
		}
		meta_unlock(db, lock);
		if (atomic_load(&ev->stopping))
			break;
		backoff = backoff == 0
			      ? EVENTS_BACKOFF_MIN_MS
			      : (backoff * 2 > EVENTS_BACKOFF_MAX_MS ? EVENTS_BACKOFF_MAX_MS
								     : backoff * 2);
		pthread_mutex_lock(&ev->mu);
		e->failures++;
		e->last_status = code;
		if (!e->failing)
			log_warn("events: %s: %s; retrying with backoff (%llu queued, none lost)",
				 e->spec.url, err, (unsigned long long)e->queued);
		e->failing = true;
		pthread_mutex_unlock(&ev->mu);
		wait_ms(ev, e, backoff, false);
	}
	if (h != NULL)
		libcurl.easy_cleanup(h);
	return NULL;
}

/* ---- opening and closing ---- */

/* Reads e's secret file (trailing newlines dropped). */
static status_t read_secret(endpoint *e)
{
	char buf[EVENTS_SECRET_MAX + 1];
	size_t n;
	FILE *f;

	if (e->spec.secret[0] == '\0')
		return ST_OK;
	if ((f = fopen(e->spec.secret, "r")) == NULL) {
		log_error("notify %s: cannot read secret file %s: %s", e->spec.url, e->spec.secret,
			  strerror(errno));
		return ST_INVALID;
	}
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	if (n == 0 || n > EVENTS_SECRET_MAX) {
		log_error("notify %s: secret file %s is empty or longer than %d bytes", e->spec.url,
			  e->spec.secret, EVENTS_SECRET_MAX);
		return ST_INVALID;
	}
	if ((e->key = malloc(n)) == NULL)
		return ST_NOMEM;
	memcpy(e->key, buf, n);
	e->keylen = n;
	return ST_OK;
}

/* events_new's count of what is queued: per configured endpoint, and the
 * queues of endpoints no line names (to drop). */
typedef struct {
	events *ev;
	char **gone;
	size_t ngone;
	uint64_t gone_rows;
	bool nomem;
} count_ctx;

static int count_row(void *arg, const char *url, uint64_t n)
{
	count_ctx *x = arg;

	for (size_t i = 0; i < x->ev->n; i++) {
		if (strcmp(x->ev->ep[i].spec.url, url) == 0) {
			x->ev->ep[i].queued = n;
			return 0;
		}
	}
	char **g = realloc(x->gone, (x->ngone + 1) * sizeof(*g));
	if (g == NULL || (g[x->ngone] = strdup(url)) == NULL) {
		if (g != NULL)
			x->gone = g;
		x->nomem = true;
		return 1;
	}
	x->gone = g;
	x->ngone++;
	log_warn("events: %llu event(s) queued for %s, which no notify line names any more: "
		 "dropped",
		 (unsigned long long)n, url);
	return 0;
}

/* Counts the queues; drops those of receivers no longer configured. */
static status_t queues_open(events *ev)
{
	count_ctx x = {.ev = ev};
	status_t st;
	meta *db;

	if ((st = core_db(ev->c, &db)) != ST_OK)
		return st;
	st = meta_events_count(db, count_row, &x);
	if (st == ST_OK && x.nomem)
		st = ST_NOMEM;
	for (size_t i = 0; i < x.ngone; i++) {
		if (st == ST_OK)
			st = meta_events_ack(db, x.gone[i], INT64_MAX);
		free(x.gone[i]);
	}
	free(x.gone);
	return st;
}

status_t events_new(events **out, core *c, char *const *lines, size_t nlines)
{
	events *ev;
	status_t st;
	char err[512];

	*out = NULL;
	if (nlines == 0)
		return ST_OK;
	if ((ev = calloc(1, sizeof(*ev))) == NULL ||
	    (ev->ep = calloc(nlines, sizeof(*ev->ep))) == NULL) {
		free(ev);
		return ST_NOMEM;
	}
	ev->c = c;
	pthread_mutex_init(&ev->mu, NULL);
	pthread_mutex_init(&ev->flush_mu, NULL);
	pthread_cond_init(&ev->cv, NULL);
	atomic_init(&ev->stopping, false);
	uuid_new(ev->instance);
	if (gethostname(ev->host, sizeof(ev->host)) != 0)
		ev->host[0] = '\0';
	ev->host[sizeof(ev->host) - 1] = '\0';
	for (size_t i = 0; i < nlines; i++) {
		endpoint *e = &ev->ep[i];
		e->ev = ev;
		if (events_spec_parse(&e->spec, lines[i], err, sizeof(err)) != ST_OK) {
			log_error("%s", err);
			st = ST_INVALID;
			goto fail;
		}
		for (size_t j = 0; j < i; j++) {
			if (strcmp(ev->ep[j].spec.url, e->spec.url) == 0) {
				log_error("notify %s given twice", e->spec.url);
				st = ST_INVALID;
				goto fail;
			}
		}
		ev->n++;
		if ((st = read_secret(e)) != ST_OK)
			goto fail;
	}
	if ((st = queues_open(ev)) != ST_OK)
		goto fail;
	if (curl_load() != ST_OK) {
		st = ST_IO;
		goto fail;
	}
	/* counted by libcurl: the cache's init and cleanup pair up apart */
	if (libcurl.global_init(CURL_GLOBAL_DEFAULT) != 0) {
		log_error("cannot initialise libcurl");
		st = ST_IO;
		goto fail;
	}
	ev->curl_ready = true;
	for (size_t i = 0; i < ev->n; i++) {
		endpoint *e = &ev->ep[i];
		if (pthread_create(&e->th, NULL, deliver_main, e) != 0) {
			log_error("events: cannot start the delivery thread of %s", e->spec.url);
			st = ST_IO;
			goto fail;
		}
		e->started = true;
		log_info("notify %s (%s%s%s%s%s%s%s; %llu queued; receiver=\"%zu\" in /metrics)",
			 e->spec.url, e->spec.actions & EVENTS_PUSH ? "push " : "",
			 e->spec.actions & EVENTS_DELETE ? "delete " : "",
			 e->spec.actions & EVENTS_PULL ? "pull " : "",
			 e->spec.actions & EVENTS_MOUNT ? "mount " : "",
			 e->spec.repos[0] ? "of " : "of every repository", e->spec.repos,
			 e->key ? ", signed" : "", (unsigned long long)e->queued, i);
	}
	*out = ev;
	return ST_OK;
fail:
	events_free(ev);
	return st;
}

void events_free(events *ev)
{
	if (ev == NULL)
		return;
	pthread_mutex_lock(&ev->mu);
	atomic_store(&ev->stopping, true);
	pthread_cond_broadcast(&ev->cv);
	pthread_mutex_unlock(&ev->mu);
	for (size_t i = 0; i < ev->n; i++)
		if (ev->ep[i].started)
			pthread_join(ev->ep[i].th, NULL);
	pulls_flush(ev); /* written for the next start to deliver */
	for (size_t i = 0; i < ev->n; i++)
		free(ev->ep[i].key);
	if (ev->curl_ready)
		libcurl.global_cleanup();
	pthread_mutex_destroy(&ev->mu);
	pthread_mutex_destroy(&ev->flush_mu);
	pthread_cond_destroy(&ev->cv);
	free(ev->pulls);
	free(ev->ep);
	free(ev);
}

size_t events_stats(events *ev, core_events_stat *out, size_t max)
{
	if (ev == NULL)
		return 0;
	pthread_mutex_lock(&ev->mu);
	for (size_t i = 0; i < ev->n && i < max; i++) {
		const endpoint *e = &ev->ep[i];
		out[i] = (core_events_stat){
		    .url = e->spec.url,
		    .queued = e->queued + 0,
		    .delivered = e->delivered,
		    .failures = e->failures,
		    .pulls_dropped = e->dropped,
		    .last_status = e->last_status,
		};
	}
	pthread_mutex_unlock(&ev->mu);
	return ev->n;
}

size_t core_events_stats(core *c, core_events_stat *out, size_t max)
{
	return events_stats(c->ev, out, max);
}
