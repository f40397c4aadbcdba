/*
 * upstream.c - the libcurl client for one upstream registry (upstream.h).
 *
 * Every request goes through xfer_run: build the URL and headers, add the
 * Authorization this upstream wants for the scope (a cached Bearer token,
 * or Basic once the upstream asked for it), perform, and decide:
 *   401 with a challenge -> get a token (or switch to Basic), go again at
 *                           once (at most twice);
 *   429, 5xx, a connection failure -> back off (UPSTREAM_BACKOFF_MS, doubled
 *                           each time, capped) and go again, up to `retries`;
 *   anything else         -> the answer.
 * A blob transfer counts the bytes it delivered; a repeated attempt asks for
 * the rest with Range and drops whatever an upstream that ignores Range
 * sends again, so the sink never sees a byte twice.
 *
 * Tokens live in a small table keyed by scope, under up_mu, each until
 * UPSTREAM_TOKEN_SLACK_SEC before it expires. The table, the "wants Basic"
 * flag and the cancel flag are the only mutable state of an upstream.
 */
#include "upstream.h"

#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/curl_load.h"

#include "../common/log.h"
#include "../common/metrics.h"

#define UPSTREAM_TOKENS 64		     /* cached tokens (scopes) per upstream */
#define UPSTREAM_TOKEN_SLACK_SEC 10	     /* a token is renewed this long before it expires */
#define UPSTREAM_TOKEN_MIN_SEC 60	     /* the spec's floor for expires_in */
#define UPSTREAM_TOKEN_MAX_BYTES (64 * 1024) /* a token response larger than this is refused */
#define UPSTREAM_ERROR_BODY_MAX (16 * 1024)  /* error bodies kept, for the log */
#define UPSTREAM_TAGS_MAX_BYTES (16 * 1024 * 1024)
#define UPSTREAM_TAG_PAGES_MAX 1000
#define UPSTREAM_BACKOFF_MS 250 /* first wait before a retry */
#define UPSTREAM_BACKOFF_MAX_MS 8000
#define UPSTREAM_REDIRECTS_MAX 8
#define UPSTREAM_AUTH_ROUNDS 2 /* 401s answered in one request */
#define UPSTREAM_URL_FULL_MAX (UPSTREAM_URL_MAX + 1024)

const char *const upstream_manifest_types[] = {
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    NULL,
};

typedef struct {
	char scope[512];
	char *token;
	time_t expires;
	time_t used;
} token_slot;

struct upstream {
	upstream_spec up_spec;
	upstream_options up_opt;
	char up_ua[128];
	char *up_userpwd; /* "user:password", or NULL */
	pthread_mutex_t up_mu;
	token_slot up_tokens[UPSTREAM_TOKENS];
	bool up_wants_basic;	      /* it answered a Basic challenge */
	upstream_challenge up_bearer; /* its last Bearer challenge (scheme NONE: none yet) */
	atomic_int up_cancel;
	time_t up_down_until; /* unreachable until then (under up_mu) */
	bool up_down;	      /* said to be unreachable, not yet said to be back (up_mu) */
	CURLSH *up_share;
	pthread_mutex_t up_share_mu[CURL_LOCK_DATA_LAST];
	/* for /metrics (upstream_stats) */
	metrics_counter up_hits, up_misses, up_requests, up_bytes, up_errors;
	atomic_bool up_no_connection; /* the last request could not connect */
};

/* ---------------------------------------------------------------------- */
/* spec lines                                                             */
/* ---------------------------------------------------------------------- */

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
}

/* A registry name usable as the first component of a repository path. */
static bool name_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= UPSTREAM_NAME_MAX)
		return false;
	if (!isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!name_char(s[i]))
			return false;
		if (i > 0 && !isalnum((unsigned char)s[i]) && !isalnum((unsigned char)s[i - 1]))
			return false; /* no "..", "-." and the like */
	}
	return true;
}

/* One namespace pattern: [!]then [a-z0-9._*?-]+. */
static bool ns_pattern_valid(const char *s, size_t n)
{
	if (n > 0 && s[0] == '!')
		s++, n--;
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!name_char(s[i]) && s[i] != '*' && s[i] != '?')
			return false;
	return true;
}

static status_t copy_field(char *dst, size_t dstlen, const char *src, size_t n, const char *what,
			   char *err, size_t errlen)
{
	if (n == 0) {
		status_errf(err, errlen, "empty %s", what);
		return ST_INVALID;
	}
	if (n >= dstlen) {
		status_errf(err, errlen, "%s longer than %zu bytes", what, dstlen - 1);
		return ST_INVALID;
	}
	memcpy(dst, src, n);
	dst[n] = '\0';
	return ST_OK;
}

static bool url_valid(const char *u)
{
	const char *host;

	if (strncmp(u, "http://", 7) == 0)
		host = u + 7;
	else if (strncmp(u, "https://", 8) == 0)
		host = u + 8;
	else
		return false;
	if (*host == '\0' || *host == '/')
		return false;
	for (const char *p = u; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == '"' || *p == '\\' || *p == '?' || *p == '#')
			return false;
	return true;
}

status_t upstream_spec_parse(upstream_spec *out, const char *line, char *err, size_t errlen)
{
	const char *p = line, *w;
	size_t n;
	int field = 0;
	status_t st;

	if (out == NULL || line == NULL) {
		status_errf(err, errlen, "missing upstream");
		return ST_INVALID;
	}
	memset(out, 0, sizeof(*out));
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		w = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
		n = (size_t)(p - w);
		if (field == 0) {
			if ((st = copy_field(out->name, sizeof(out->name), w, n, "upstream name",
					     err, errlen)) != ST_OK)
				return st;
			if (!name_valid(out->name)) {
				status_errf(
				    err, errlen,
				    "invalid upstream name '%s' (lowercase host name such as "
				    "docker.io, no port)",
				    out->name);
				return ST_INVALID;
			}
		} else if (field == 1) {
			if ((st = copy_field(out->url, sizeof(out->url), w, n, "upstream URL", err,
					     errlen)) != ST_OK)
				return st;
			if (strcmp(out->url, "offline") == 0) {
				out->offline = true;
				field++;
				continue;
			}
			while (strlen(out->url) > 8 && out->url[strlen(out->url) - 1] == '/')
				out->url[strlen(out->url) - 1] = '\0';
			if (!url_valid(out->url)) {
				status_errf(
				    err, errlen,
				    "invalid upstream URL '%s' (expected http:// or https://, "
				    "no query; or offline)",
				    out->url);
				return ST_INVALID;
			}
		} else if (n > 11 && strncmp(w, "namespaces=", 11) == 0) {
			if ((st = copy_field(out->namespaces, sizeof(out->namespaces), w + 11,
					     n - 11, "namespaces", err, errlen)) != ST_OK)
				return st;
			for (const char *q = out->namespaces; *q;) {
				size_t k = strcspn(q, ",");
				if (!ns_pattern_valid(q, k)) {
					status_errf(
					    err, errlen,
					    "invalid namespace pattern '%.*s' (letters, digits, "
					    "'.', '-', '_', globs '*' '?', '!' to exclude)",
					    (int)k, q);
					return ST_INVALID;
				}
				q += k;
				if (*q == ',')
					q++;
			}
		} else if (n > 12 && strncmp(w, "credentials=", 12) == 0) {
			if ((st = copy_field(out->credentials, sizeof(out->credentials), w + 12,
					     n - 12, "credentials file", err, errlen)) != ST_OK)
				return st;
		} else if (n > 3 && strncmp(w, "ca=", 3) == 0) {
			if ((st = copy_field(out->ca_file, sizeof(out->ca_file), w + 3, n - 3,
					     "CA file", err, errlen)) != ST_OK)
				return st;
		} else {
			status_errf(err, errlen,
				    "unknown upstream option '%.*s' (expected namespaces=, "
				    "credentials= or ca=)",
				    (int)n, w);
			return ST_INVALID;
		}
		field++;
	}
	if (field < 2) {
		status_errf(err, errlen,
			    "expected NAME URL|offline [namespaces=...] [credentials=FILE] "
			    "[ca=FILE]");
		return ST_INVALID;
	}
	return ST_OK;
}

bool upstream_spec_serves(const upstream_spec *spec, const char *repo)
{
	char first[UPSTREAM_NAME_MAX * 2], pat[UPSTREAM_NS_MAX];
	size_t n = strcspn(repo, "/");
	bool yes = false;

	if (n == 0 || n >= sizeof(first))
		return false;
	memcpy(first, repo, n);
	first[n] = '\0';
	for (const char *q = spec->namespaces; *q;) {
		size_t k = strcspn(q, ",");
		bool neg = q[0] == '!';
		memcpy(pat, q + neg, k - neg);
		pat[k - neg] = '\0';
		if (fnmatch(pat, first, 0) == 0) {
			if (neg)
				return false;
			yes = true;
		}
		q += k;
		if (*q == ',')
			q++;
	}
	return yes;
}

/* ---------------------------------------------------------------------- */
/* challenges, Accept, Content-Range                                      */
/* ---------------------------------------------------------------------- */

static bool tchar(char c)
{
	return isalnum((unsigned char)c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/*
 * Reads one auth-param at *pp: name=token or name="quoted". Fills name and
 * value (NUL-terminated, bounded). Returns 1 on a param, 0 at the end of
 * the challenge (next scheme or end of string), -1 if malformed or too long.
 */
static int read_param(const char **pp, char *name, size_t namelen, char *value, size_t valuelen)
{
	const char *p = *pp, *start;
	size_t n = 0;

	while (*p == ' ' || *p == '\t' || *p == ',')
		p++;
	if (*p == '\0') {
		*pp = p;
		return 0;
	}
	start = p;
	while (tchar(*p))
		p++;
	if (p == start)
		return -1;
	{
		const char *q = p;
		while (*q == ' ' || *q == '\t')
			q++;
		if (*q != '=') {
			/* a new scheme begins here */
			*pp = start;
			return 0;
		}
		if ((size_t)(p - start) >= namelen)
			return -1;
		memcpy(name, start, (size_t)(p - start));
		name[p - start] = '\0';
		p = q + 1;
	}
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '"') {
		for (p++; *p != '"'; p++) {
			if (*p == '\0')
				return -1;
			if (*p == '\\' && p[1] != '\0')
				p++;
			if (n + 1 >= valuelen)
				return -1;
			value[n++] = *p;
		}
		p++;
	} else {
		while (tchar(*p) || *p == '/' || *p == ':' || *p == '=') {
			if (n + 1 >= valuelen)
				return -1;
			value[n++] = *p++;
		}
		if (n == 0)
			return -1;
	}
	value[n] = '\0';
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p != '\0' && *p != ',')
		return -1;
	*pp = p;
	return 1;
}

status_t upstream_challenge_parse(upstream_challenge *out, const char *header)
{
	upstream_challenge best, cur;
	const char *p = header;
	char scheme[32], name[32], value[1024];
	bool have = false, other = false;

	if (out == NULL)
		return ST_INVALID;
	memset(out, 0, sizeof(*out));
	memset(&best, 0, sizeof(best));
	if (header == NULL)
		return ST_INVALID;
	for (;;) {
		const char *s;
		size_t n;
		int r;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		s = p;
		while (tchar(*p))
			p++;
		n = (size_t)(p - s);
		if (n == 0 || n >= sizeof(scheme) || (*p != ' ' && *p != ',' && *p != '\0'))
			return ST_INVALID;
		memcpy(scheme, s, n);
		scheme[n] = '\0';
		memset(&cur, 0, sizeof(cur));
		if (strcasecmp(scheme, "Bearer") == 0)
			cur.scheme = UPSTREAM_AUTH_BEARER;
		else if (strcasecmp(scheme, "Basic") == 0)
			cur.scheme = UPSTREAM_AUTH_BASIC;
		else
			cur.scheme = UPSTREAM_AUTH_NONE;
		while ((r = read_param(&p, name, sizeof(name), value, sizeof(value))) == 1) {
			char *dst = NULL;
			size_t dstlen = 0;
			if (strcasecmp(name, "realm") == 0)
				dst = cur.realm, dstlen = sizeof(cur.realm);
			else if (strcasecmp(name, "service") == 0)
				dst = cur.service, dstlen = sizeof(cur.service);
			else if (strcasecmp(name, "scope") == 0)
				dst = cur.scope, dstlen = sizeof(cur.scope);
			else if (strcasecmp(name, "error") == 0)
				dst = cur.error, dstlen = sizeof(cur.error);
			if (dst != NULL) {
				if (strlen(value) >= dstlen)
					return ST_INVALID;
				strcpy(dst, value);
			}
		}
		if (r < 0)
			return ST_INVALID;
		if (cur.scheme == UPSTREAM_AUTH_BEARER && cur.realm[0] == '\0')
			return ST_INVALID;
		if (cur.scheme == UPSTREAM_AUTH_NONE) {
			other = true;
			continue;
		}
		if (!have ||
		    (cur.scheme == UPSTREAM_AUTH_BEARER && best.scheme != UPSTREAM_AUTH_BEARER)) {
			best = cur;
			have = true;
		}
	}
	if (!have)
		return other ? ST_UNSUPPORTED : ST_INVALID;
	*out = best;
	return ST_OK;
}

status_t upstream_accept_value(char *out, size_t outlen)
{
	size_t n = 0;

	if (out == NULL || outlen == 0)
		return ST_INVALID;
	out[0] = '\0';
	for (size_t i = 0; upstream_manifest_types[i] != NULL; i++) {
		int w = snprintf(out + n, outlen - n, "%s%s", i ? ", " : "",
				 upstream_manifest_types[i]);
		if (w < 0 || (size_t)w >= outlen - n) {
			out[0] = '\0';
			return ST_INVALID;
		}
		n += (size_t)w;
	}
	return ST_OK;
}

static int parse_u64(const char **pp, uint64_t *out)
{
	const char *p = *pp;
	uint64_t v = 0;

	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	*pp = p;
	*out = v;
	return 0;
}

status_t upstream_content_range_parse(const char *v, uint64_t *out_first, uint64_t *out_total)
{
	uint64_t first, last, total = UPSTREAM_SIZE_UNKNOWN;
	const char *p = v;

	if (v == NULL || strncasecmp(p, "bytes ", 6) != 0)
		return ST_INVALID;
	p += 6;
	while (*p == ' ')
		p++;
	if (parse_u64(&p, &first) != 0 || *p++ != '-' || parse_u64(&p, &last) != 0 || *p++ != '/')
		return ST_INVALID;
	if (*p == '*')
		p++;
	else if (parse_u64(&p, &total) != 0)
		return ST_INVALID;
	if (*p != '\0' || last < first || (total != UPSTREAM_SIZE_UNKNOWN && last >= total))
		return ST_INVALID;
	*out_first = first;
	*out_total = total;
	return ST_OK;
}

/* ---------------------------------------------------------------------- */
/* the client                                                             */
/* ---------------------------------------------------------------------- */

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access a, void *arg)
{
	upstream *up = arg;
	if ((unsigned)data < CURL_LOCK_DATA_LAST)
		pthread_mutex_lock(&up->up_share_mu[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *arg)
{
	upstream *up = arg;
	if ((unsigned)data < CURL_LOCK_DATA_LAST)
		pthread_mutex_unlock(&up->up_share_mu[data]);
}

/* Reads "USER:PASSWORD" (one line) from path into *out. */
static status_t read_credentials(const char *path, char **out)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	*out = NULL;
	if (f == NULL) {
		log_error("cannot read upstream credentials %s: %s", path, strerror(errno));
		return ST_INVALID;
	}
	n = getline(&line, &cap, f);
	fclose(f);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	if (n <= 0 || strchr(line, ':') == NULL || line[0] == ':') {
		log_error("%s: expected one line USER:PASSWORD", path);
		free(line);
		return ST_INVALID;
	}
	*out = line;
	return ST_OK;
}

status_t upstream_new(upstream **out, const upstream_spec *spec, const upstream_options *opt)
{
	upstream *up;
	status_t st;

	*out = NULL;
	if ((up = calloc(1, sizeof(*up))) == NULL)
		return ST_NOMEM;
	up->up_spec = *spec;
	up->up_opt = *opt;
	snprintf(up->up_ua, sizeof(up->up_ua), "%s",
		 opt->user_agent ? opt->user_agent : "registry-proxy");
	up->up_opt.user_agent = up->up_ua;
	pthread_mutex_init(&up->up_mu, NULL);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&up->up_share_mu[i], NULL);
	atomic_init(&up->up_cancel, 0);
	if (spec->credentials[0] &&
	    (st = read_credentials(spec->credentials, &up->up_userpwd)) != ST_OK) {
		upstream_free(up);
		return st;
	}
	if (!spec->offline && (up->up_share = libcurl.share_init()) != NULL) {
		libcurl.share_setopt(up->up_share, CURLSHOPT_LOCKFUNC, share_lock);
		libcurl.share_setopt(up->up_share, CURLSHOPT_UNLOCKFUNC, share_unlock);
		libcurl.share_setopt(up->up_share, CURLSHOPT_USERDATA, up);
		libcurl.share_setopt(up->up_share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
		libcurl.share_setopt(up->up_share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
		libcurl.share_setopt(up->up_share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
	}
	*out = up;
	return ST_OK;
}

bool upstream_unreachable(upstream *up)
{
	bool down;

	pthread_mutex_lock(&up->up_mu);
	down = up->up_down_until > time(NULL);
	pthread_mutex_unlock(&up->up_mu);
	return down;
}

/*
 * A request found up unreachable: remember it for unreachable_sec (0: not
 * at all), and say so if it was not known. Returns whether it was known
 * already (the caller's own failure is then not worth a warning).
 */
static bool mark_unreachable(upstream *up, const char *why)
{
	bool known;

	if (up->up_opt.unreachable_sec == 0)
		return false;
	pthread_mutex_lock(&up->up_mu);
	known = up->up_down;
	up->up_down = true;
	up->up_down_until = time(NULL) + (time_t)up->up_opt.unreachable_sec;
	pthread_mutex_unlock(&up->up_mu);
	if (!known)
		log_warn("upstream %s (%s) is unreachable (%s): not asked again for %u s; cached "
			 "content is served meanwhile, a miss gets 503",
			 up->up_spec.name, up->up_spec.url, why, up->up_opt.unreachable_sec);
	return known;
}

/* A request got an HTTP answer from up: if it was said to be unreachable,
 * say it is back. */
static void mark_reachable(upstream *up)
{
	bool was;

	pthread_mutex_lock(&up->up_mu);
	was = up->up_down;
	up->up_down = false;
	up->up_down_until = 0;
	pthread_mutex_unlock(&up->up_mu);
	if (was)
		log_info("upstream %s (%s) is reachable again", up->up_spec.name, up->up_spec.url);
}

void upstream_stats_get(upstream *up, upstream_stats *out)
{
	out->hits = metrics_get(&up->up_hits);
	out->misses = metrics_get(&up->up_misses);
	out->requests = metrics_get(&up->up_requests);
	out->bytes = metrics_get(&up->up_bytes);
	out->errors = metrics_get(&up->up_errors);
	out->reachable = !up->up_spec.offline && !atomic_load(&up->up_no_connection);
}

void upstream_count_lookup(upstream *up, bool hit)
{
	metrics_add(hit ? &up->up_hits : &up->up_misses, 1);
}

void upstream_cancel(upstream *up)
{
	if (up != NULL)
		atomic_store(&up->up_cancel, 1);
}

void upstream_free(upstream *up)
{
	if (up == NULL)
		return;
	if (up->up_share)
		libcurl.share_cleanup(up->up_share);
	for (int i = 0; i < UPSTREAM_TOKENS; i++)
		free(up->up_tokens[i].token);
	if (up->up_userpwd) {
		memset(up->up_userpwd, 0, strlen(up->up_userpwd));
		free(up->up_userpwd);
	}
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&up->up_share_mu[i]);
	pthread_mutex_destroy(&up->up_mu);
	free(up);
}

const upstream_spec *upstream_get_spec(const upstream *up)
{
	return &up->up_spec;
}

/* ---- tokens ---- */

/* A copy of the cached token for scope into out, if one is valid. */
static bool token_get(upstream *up, const char *scope, char **out)
{
	time_t now = time(NULL);
	bool hit = false;

	*out = NULL;
	pthread_mutex_lock(&up->up_mu);
	for (int i = 0; i < UPSTREAM_TOKENS; i++) {
		token_slot *t = &up->up_tokens[i];
		if (t->token && strcmp(t->scope, scope) == 0 && t->expires > now) {
			t->used = now;
			*out = strdup(t->token);
			hit = *out != NULL;
			break;
		}
	}
	pthread_mutex_unlock(&up->up_mu);
	return hit;
}

static void token_put(upstream *up, const char *scope, const char *token, time_t expires)
{
	token_slot *victim = NULL;
	char *copy = strdup(token);

	if (copy == NULL || strlen(scope) >= sizeof(victim->scope)) {
		free(copy);
		return;
	}
	pthread_mutex_lock(&up->up_mu);
	for (int i = 0; i < UPSTREAM_TOKENS; i++) {
		token_slot *t = &up->up_tokens[i];
		if (t->token && strcmp(t->scope, scope) == 0) {
			victim = t;
			break;
		}
		if (victim == NULL || t->token == NULL ||
		    (victim->token != NULL && t->used < victim->used))
			victim = t;
	}
	free(victim->token);
	snprintf(victim->scope, sizeof(victim->scope), "%s", scope);
	victim->token = copy;
	victim->expires = expires;
	victim->used = time(NULL);
	pthread_mutex_unlock(&up->up_mu);
}

/* ---- one transfer ---- */

typedef enum { BODY_BUFFER, BODY_SINK } body_mode;

typedef struct {
	upstream *up;
	CURL *h;
	/* the response head (reset at each status line: redirects, 100) */
	long code;
	char content_type[256];
	char digest[DIGEST_MAX];
	char content_range[128];
	char www_auth[2048];
	uint64_t content_length; /* UPSTREAM_SIZE_UNKNOWN when absent */
	char link_next[2048];	 /* tags: the next page */
	/* the body */
	body_mode mode;
	char *buf;
	size_t len, cap, max;
	bool too_large;
	/* sink mode */
	const upstream_sink *sink;
	uint64_t offset;    /* where the caller wants to start */
	uint64_t delivered; /* bytes given to the sink, over all attempts */
	uint64_t skip;	    /* bytes of this attempt's body to drop */
	bool started;	    /* on_start was called */
	bool attempt_began; /* this attempt's first body byte was seen */
	status_t sink_st;   /* what the sink said */
	bool bad_range;
} xfer;

static void head_reset(xfer *x)
{
	x->code = 0;
	x->content_type[0] = x->digest[0] = x->content_range[0] = x->www_auth[0] = '\0';
	x->link_next[0] = '\0';
	x->content_length = UPSTREAM_SIZE_UNKNOWN;
}

/* Copies header value [v, v+n) without surrounding blanks into dst. */
static void header_copy(char *dst, size_t dstlen, const char *v, size_t n)
{
	while (n > 0 && (*v == ' ' || *v == '\t'))
		v++, n--;
	while (n > 0 &&
	       (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\r' || v[n - 1] == '\n'))
		n--;
	if (n >= dstlen)
		n = dstlen - 1;
	memcpy(dst, v, n);
	dst[n] = '\0';
}

/* `<URL>; rel="next"` -> URL */
static void link_next(char *dst, size_t dstlen, const char *v)
{
	const char *lt = strchr(v, '<'), *gt = lt ? strchr(lt, '>') : NULL;

	if (lt == NULL || gt == NULL || strstr(gt, "next") == NULL)
		return;
	if ((size_t)(gt - lt - 1) >= dstlen)
		return;
	memcpy(dst, lt + 1, (size_t)(gt - lt - 1));
	dst[gt - lt - 1] = '\0';
}

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
	xfer *x = arg;
	size_t len = size * n;
	const char *colon;
	size_t klen;

	if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		head_reset(x);
		return len;
	}
	if ((colon = memchr(data, ':', len)) == NULL)
		return len;
	klen = (size_t)(colon - data);
	colon++;
#define IS(k) (klen == sizeof(k) - 1 && strncasecmp(data, k, klen) == 0)
	if (IS("Content-Type")) {
		header_copy(x->content_type, sizeof(x->content_type), colon,
			    len - (size_t)(colon - data));
		x->content_type[strcspn(x->content_type, "; \t")] = '\0';
	} else if (IS("Docker-Content-Digest")) {
		header_copy(x->digest, sizeof(x->digest), colon, len - (size_t)(colon - data));
	} else if (IS("Content-Range")) {
		header_copy(x->content_range, sizeof(x->content_range), colon,
			    len - (size_t)(colon - data));
	} else if (IS("Content-Length")) {
		char v[32], *end;
		unsigned long long cl;
		header_copy(v, sizeof(v), colon, len - (size_t)(colon - data));
		errno = 0;
		cl = strtoull(v, &end, 10);
		if (errno == 0 && end != v && *end == '\0')
			x->content_length = cl;
	} else if (IS("WWW-Authenticate")) {
		char v[sizeof(x->www_auth)];
		header_copy(v, sizeof(v), colon, len - (size_t)(colon - data));
		/* several challenges: keep a Bearer one */
		if (x->www_auth[0] == '\0' || strncasecmp(v, "Bearer", 6) == 0)
			memcpy(x->www_auth, v, sizeof(v));
	} else if (IS("Link")) {
		char v[sizeof(x->link_next) + 64];
		header_copy(v, sizeof(v), colon, len - (size_t)(colon - data));
		link_next(x->link_next, sizeof(x->link_next), v);
	}
#undef IS
	return len;
}

/* Buffers up to x->max bytes; past that the transfer is stopped. */
static size_t buffer_data(xfer *x, const char *data, size_t len)
{
	if (len > x->max - x->len) {
		x->too_large = true;
		return 0;
	}
	if (x->len + len + 1 > x->cap) {
		size_t cap = x->cap ? x->cap : 4096;
		char *p;
		while (cap < x->len + len + 1)
			cap *= 2;
		if ((p = realloc(x->buf, cap)) == NULL)
			return 0;
		x->buf = p;
		x->cap = cap;
	}
	memcpy(x->buf + x->len, data, len);
	x->len += len;
	x->buf[x->len] = '\0';
	return len;
}

/* The first body byte of a 200/206 in sink mode: where does it start? */
static status_t sink_begin(xfer *x)
{
	uint64_t want = x->offset + x->delivered, first = 0, total = UPSTREAM_SIZE_UNKNOWN;

	if (x->code == 206) {
		if (upstream_content_range_parse(x->content_range, &first, &total) != ST_OK ||
		    first > want) {
			x->bad_range = true;
			return ST_BAD_GATEWAY;
		}
		x->skip = want - first;
	} else {
		total = x->content_length;
		x->skip = want;
	}
	if (!x->started) {
		x->started = true;
		if (x->sink->on_start)
			return x->sink->on_start(x->sink->arg, total);
	}
	return ST_OK;
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
	xfer *x = arg;
	size_t len = size * n;

	if (x->code == 0)
		libcurl.easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &x->code);
	metrics_add(&x->up->up_bytes, len);
	if (x->mode == BODY_SINK && (x->code == 200 || x->code == 206)) {
		size_t drop;
		if (!x->attempt_began) {
			x->attempt_began = true;
			if ((x->sink_st = sink_begin(x)) != ST_OK)
				return 0;
		}
		drop = x->skip < len ? (size_t)x->skip : len;
		x->skip -= drop;
		if (len > drop) {
			if ((x->sink_st =
				 x->sink->on_data(x->sink->arg, data + drop, len - drop)) != ST_OK)
				return 0;
			x->delivered += len - drop;
		}
		return len;
	}
	if (x->mode == BODY_SINK && len > x->max - x->len)
		return len; /* an error page we only keep the start of */
	return buffer_data(x, data, len) == len ? len : 0;
}

static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	xfer *x = arg;

	if (atomic_load(&x->up->up_cancel))
		return 1;
	if (x->sink && x->sink->cancelled && x->sink->cancelled(x->sink->arg))
		return 1;
	return 0;
}

/* Sleeps ms milliseconds, waking early on cancel. */
static void backoff(upstream *up, unsigned ms)
{
	while (ms > 0 && !atomic_load(&up->up_cancel)) {
		unsigned step = ms < 100 ? ms : 100;
		struct timespec ts = {0, (long)step * 1000000L};
		nanosleep(&ts, NULL);
		ms -= step;
	}
}

/* Fetches a token for scope from the challenge's realm; caches it. */
static status_t token_fetch(upstream *up, const upstream_challenge *ch, const char *scope,
			    char **out)
{
	char *esc_service = NULL, *esc_scope = NULL, url[UPSTREAM_URL_FULL_MAX + 2048];
	xfer x = {0};
	json_t *root = NULL;
	const char *tok;
	json_int_t expires_in = UPSTREAM_TOKEN_MIN_SEC;
	status_t st = ST_BAD_GATEWAY;
	CURLcode rc;
	char errbuf[CURL_ERROR_SIZE] = "";

	*out = NULL;
	if ((x.h = libcurl.easy_init()) == NULL)
		return ST_NOMEM;
	esc_service = libcurl.easy_escape(x.h, ch->service, 0);
	esc_scope = libcurl.easy_escape(x.h, ch->scope[0] ? ch->scope : scope, 0);
	if (esc_service == NULL || esc_scope == NULL) {
		st = ST_NOMEM;
		goto done;
	}
	snprintf(url, sizeof(url), "%s%sservice=%s&scope=%s", ch->realm,
		 strchr(ch->realm, '?') ? "&" : "?", esc_service, esc_scope);
	x.up = up;
	x.mode = BODY_BUFFER;
	x.max = UPSTREAM_TOKEN_MAX_BYTES;
	head_reset(&x);
	libcurl.easy_setopt(x.h, CURLOPT_URL, url);
	libcurl.easy_setopt(x.h, CURLOPT_NOSIGNAL, 1L);
	libcurl.easy_setopt(x.h, CURLOPT_FOLLOWLOCATION, 1L);
	libcurl.easy_setopt(x.h, CURLOPT_MAXREDIRS, (long)UPSTREAM_REDIRECTS_MAX);
	libcurl.easy_setopt(x.h, CURLOPT_PROTOCOLS_STR, "http,https");
	libcurl.easy_setopt(x.h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	libcurl.easy_setopt(x.h, CURLOPT_CONNECTTIMEOUT, (long)up->up_opt.timeout_sec);
	libcurl.easy_setopt(x.h, CURLOPT_TIMEOUT, (long)up->up_opt.timeout_sec * 2);
	libcurl.easy_setopt(x.h, CURLOPT_USERAGENT, up->up_ua);
	libcurl.easy_setopt(x.h, CURLOPT_HEADERFUNCTION, on_header);
	libcurl.easy_setopt(x.h, CURLOPT_HEADERDATA, &x);
	libcurl.easy_setopt(x.h, CURLOPT_WRITEFUNCTION, on_body);
	libcurl.easy_setopt(x.h, CURLOPT_WRITEDATA, &x);
	libcurl.easy_setopt(x.h, CURLOPT_ERRORBUFFER, errbuf);
	if (up->up_share)
		libcurl.easy_setopt(x.h, CURLOPT_SHARE, up->up_share);
	if (up->up_spec.ca_file[0])
		libcurl.easy_setopt(x.h, CURLOPT_CAINFO, up->up_spec.ca_file);
	if (up->up_userpwd) {
		libcurl.easy_setopt(x.h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		libcurl.easy_setopt(x.h, CURLOPT_USERPWD, up->up_userpwd);
	}
	rc = libcurl.easy_perform(x.h);
	if (rc != CURLE_OK) {
		log_warn("upstream %s (%s): token from %s: %s", up->up_spec.name, up->up_spec.url,
			 ch->realm, errbuf[0] ? errbuf : libcurl.easy_strerror(rc));
		st = ST_UNAVAILABLE;
		goto done;
	}
	libcurl.easy_getinfo(x.h, CURLINFO_RESPONSE_CODE, &x.code);
	if (x.code == 401 || x.code == 403) {
		log_warn("upstream %s (%s): token from %s refused (HTTP %ld)%s", up->up_spec.name,
			 up->up_spec.url, ch->realm, x.code,
			 up->up_userpwd ? "" : ": anonymous; set credentials=");
		st = ST_DENIED;
		goto done;
	}
	if (x.code != 200 || x.buf == NULL || (root = json_loadb(x.buf, x.len, 0, NULL)) == NULL ||
	    !json_is_object(root)) {
		log_warn("upstream %s (%s): token from %s: HTTP %ld, not a token", up->up_spec.name,
			 up->up_spec.url, ch->realm, x.code);
		st = x.code >= 500 ? ST_UNAVAILABLE : ST_BAD_GATEWAY;
		goto done;
	}
	tok = json_string_value(json_object_get(root, "token"));
	if (tok == NULL || tok[0] == '\0')
		tok = json_string_value(json_object_get(root, "access_token"));
	if (tok == NULL || tok[0] == '\0' || strpbrk(tok, "\r\n") != NULL) {
		log_warn("upstream %s: token response without a token", up->up_spec.name);
		goto done;
	}
	if (json_is_integer(json_object_get(root, "expires_in")))
		expires_in = json_integer_value(json_object_get(root, "expires_in"));
	if (expires_in < UPSTREAM_TOKEN_MIN_SEC)
		expires_in = UPSTREAM_TOKEN_MIN_SEC;
	if ((*out = strdup(tok)) == NULL) {
		st = ST_NOMEM;
		goto done;
	}
	token_put(up, scope, tok, time(NULL) + (time_t)expires_in - UPSTREAM_TOKEN_SLACK_SEC);
	st = ST_OK;
done:
	json_decref(root);
	libcurl.free(esc_service);
	libcurl.free(esc_scope);
	free(x.buf);
	libcurl.easy_cleanup(x.h);
	return st;
}

static bool transient_curl(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_PARTIAL_FILE:
	case CURLE_GOT_NOTHING:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return true;
	default:
		return false;
	}
}

/*
 * Runs one logical request: method on /v2/<path> (or the absolute URL
 * `abs` when non-NULL: a Link page), with the auth and retry rules above.
 * scope is the token scope ("repository:NAME:pull") or NULL. On return
 * x->code and the head fields describe the last response. ST_OK for a
 * 2xx; otherwise the status to report, logged.
 */
static status_t xfer_run(upstream *up, xfer *x, const char *method, const char *path,
			 const char *abs, const char *scope, const char *accept)
{
	char url[UPSTREAM_URL_FULL_MAX + 2048], hdr[4096], errbuf[CURL_ERROR_SIZE];
	char *token = NULL;
	unsigned attempt = 0, auth_rounds = 0, wait_ms = UPSTREAM_BACKOFF_MS;
	bool head = strcmp(method, "HEAD") == 0;
	status_t st = ST_UNAVAILABLE;
	CURLcode rc = CURLE_OK;
	const char *why = "";
	char whybuf[CURL_ERROR_SIZE + 64];
	bool no_connection = false, answered = false, quiet = false;

	if (abs != NULL)
		snprintf(url, sizeof(url), "%s", abs);
	else
		snprintf(url, sizeof(url), "%s/v2/%s", up->up_spec.url, path);
	if (up->up_spec.offline)
		return ST_UNAVAILABLE; /* never contacted (proxy.c does not ask) */
	if (upstream_unreachable(up)) {
		log_debug("upstream %s: %s %s: unreachable lately, not asked", up->up_spec.name,
			  method, url);
		return ST_UNAVAILABLE;
	}
	if (scope != NULL && !token_get(up, scope, &token)) {
		/* A Bearer upstream: ask for this scope's token before the first
		 * request, as clients do, rather than after a 401. */
		upstream_challenge ch;
		pthread_mutex_lock(&up->up_mu);
		ch = up->up_bearer;
		pthread_mutex_unlock(&up->up_mu);
		if (ch.scheme == UPSTREAM_AUTH_BEARER) {
			ch.scope[0] = '\0';
			if (token_fetch(up, &ch, scope, &token) != ST_OK)
				token = NULL;
		}
	}
	x->up = up;
	metrics_add(&up->up_requests, 1);
	for (;;) {
		struct curl_slist *hdrs = NULL;
		bool basic = false;

		if (atomic_load(&up->up_cancel)) {
			st = ST_UNAVAILABLE;
			why = "shutting down";
			break;
		}
		if ((x->h = libcurl.easy_init()) == NULL) {
			st = ST_NOMEM;
			break;
		}
		head_reset(x);
		x->len = 0;
		x->too_large = false;
		x->attempt_began = false;
		x->skip = 0;
		x->bad_range = false;
		errbuf[0] = '\0';
		libcurl.easy_setopt(x->h, CURLOPT_URL, url);
		libcurl.easy_setopt(x->h, CURLOPT_NOSIGNAL, 1L);
		if (head)
			libcurl.easy_setopt(x->h, CURLOPT_NOBODY, 1L);
		libcurl.easy_setopt(x->h, CURLOPT_FOLLOWLOCATION, 1L);
		libcurl.easy_setopt(x->h, CURLOPT_MAXREDIRS, (long)UPSTREAM_REDIRECTS_MAX);
		libcurl.easy_setopt(x->h, CURLOPT_PROTOCOLS_STR, "http,https");
		libcurl.easy_setopt(x->h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
		libcurl.easy_setopt(x->h, CURLOPT_CONNECTTIMEOUT, (long)up->up_opt.timeout_sec);
		libcurl.easy_setopt(x->h, CURLOPT_LOW_SPEED_LIMIT, 1L);
		libcurl.easy_setopt(x->h, CURLOPT_LOW_SPEED_TIME, (long)up->up_opt.timeout_sec);
		if (x->mode == BODY_BUFFER)
			libcurl.easy_setopt(x->h, CURLOPT_TIMEOUT,
					    (long)up->up_opt.timeout_sec * 4);
		libcurl.easy_setopt(x->h, CURLOPT_USERAGENT, up->up_ua);
		libcurl.easy_setopt(x->h, CURLOPT_HEADERFUNCTION, on_header);
		libcurl.easy_setopt(x->h, CURLOPT_HEADERDATA, x);
		libcurl.easy_setopt(x->h, CURLOPT_WRITEFUNCTION, on_body);
		libcurl.easy_setopt(x->h, CURLOPT_WRITEDATA, x);
		libcurl.easy_setopt(x->h, CURLOPT_NOPROGRESS, 0L);
		libcurl.easy_setopt(x->h, CURLOPT_XFERINFOFUNCTION, on_progress);
		libcurl.easy_setopt(x->h, CURLOPT_XFERINFODATA, x);
		libcurl.easy_setopt(x->h, CURLOPT_ERRORBUFFER, errbuf);
		if (up->up_share)
			libcurl.easy_setopt(x->h, CURLOPT_SHARE, up->up_share);
		if (up->up_spec.ca_file[0])
			libcurl.easy_setopt(x->h, CURLOPT_CAINFO, up->up_spec.ca_file);
		if (accept != NULL) {
			snprintf(hdr, sizeof(hdr), "Accept: %s", accept);
			hdrs = libcurl.slist_append(hdrs, hdr);
		}
		if (token != NULL) {
			snprintf(hdr, sizeof(hdr), "Authorization: Bearer %.4000s", token);
			hdrs = libcurl.slist_append(hdrs, hdr);
		} else if (up->up_userpwd != NULL) {
			bool wants;
			pthread_mutex_lock(&up->up_mu);
			wants = up->up_wants_basic;
			pthread_mutex_unlock(&up->up_mu);
			if (wants) {
				basic = true;
				libcurl.easy_setopt(x->h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
				libcurl.easy_setopt(x->h, CURLOPT_USERPWD, up->up_userpwd);
			}
		}
		if (x->mode == BODY_SINK && x->offset + x->delivered > 0) {
			snprintf(hdr, sizeof(hdr), "Range: bytes=%llu-",
				 (unsigned long long)(x->offset + x->delivered));
			hdrs = libcurl.slist_append(hdrs, hdr);
		}
		if (hdrs != NULL)
			libcurl.easy_setopt(x->h, CURLOPT_HTTPHEADER, hdrs);
		x->sink_st = ST_OK;
		rc = libcurl.easy_perform(x->h);
		if (x->code == 0 || rc == CURLE_OK)
			libcurl.easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &x->code);
		libcurl.easy_cleanup(x->h);
		x->h = NULL;
		libcurl.slist_free_all(hdrs);
		/* no connection at all, as opposed to a failing server */
		no_connection =
		    x->code == 0 &&
		    (rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_COULDNT_RESOLVE_PROXY ||
		     rc == CURLE_COULDNT_CONNECT || rc == CURLE_OPERATION_TIMEDOUT);
		answered = x->code != 0;

		if (x->sink_st != ST_OK && !x->bad_range) {
			st = x->sink_st; /* the sink stopped it: its status, no retry */
			why = "stopped by the cache";
			break;
		}
		if (rc == CURLE_ABORTED_BY_CALLBACK) {
			st = ST_UNAVAILABLE;
			why = "cancelled";
			break;
		}
		if (x->too_large) {
			st = ST_BAD_GATEWAY;
			why = "response too large";
			break;
		}
		if (rc == CURLE_OK && x->code == 401 && auth_rounds < UPSTREAM_AUTH_ROUNDS) {
			upstream_challenge ch;
			status_t cst = upstream_challenge_parse(&ch, x->www_auth);
			auth_rounds++;
			if (cst == ST_OK && ch.scheme == UPSTREAM_AUTH_BEARER) {
				pthread_mutex_lock(&up->up_mu);
				up->up_bearer = ch;
				pthread_mutex_unlock(&up->up_mu);
				free(token);
				token = NULL;
				st = token_fetch(up, &ch, scope ? scope : ch.scope, &token);
				if (st == ST_OK)
					continue;
				why = "no token";
				if (st == ST_UNAVAILABLE)
					goto transient;
				break;
			}
			if (cst == ST_OK && ch.scheme == UPSTREAM_AUTH_BASIC && up->up_userpwd &&
			    !basic) {
				pthread_mutex_lock(&up->up_mu);
				up->up_wants_basic = true;
				pthread_mutex_unlock(&up->up_mu);
				continue;
			}
		}
		if (rc == CURLE_OK && x->code >= 200 && x->code < 300) {
			st = ST_OK;
			break;
		}
		if (rc == CURLE_OK && x->code == 404) {
			st = ST_NOT_FOUND;
			break;
		}
		if (rc == CURLE_OK && (x->code == 401 || x->code == 403)) {
			st = ST_DENIED;
			snprintf(whybuf, sizeof(whybuf), "HTTP %ld (access denied%s)", x->code,
				 up->up_userpwd ? "" : "; anonymous: set credentials=");
			why = whybuf;
			break;
		}
		if (rc == CURLE_OK && x->code == 416 && x->mode == BODY_SINK) {
			st = ST_BAD_GATEWAY;
			why = "HTTP 416 on a resumed transfer";
			break;
		}
		if (x->bad_range) {
			/* a 206 we cannot use: ask again for the whole thing next time */
			st = ST_BAD_GATEWAY;
			why = "unusable Content-Range";
			goto transient;
		}
		if (rc != CURLE_OK && !transient_curl(rc)) {
			st = ST_UNAVAILABLE;
			snprintf(whybuf, sizeof(whybuf), "%s",
				 errbuf[0] ? errbuf : libcurl.easy_strerror(rc));
			why = whybuf;
			break;
		}
		if (rc == CURLE_OK && x->code != 408 && x->code != 429 && x->code < 500) {
			st = ST_BAD_GATEWAY;
			snprintf(whybuf, sizeof(whybuf), "unexpected HTTP %ld", x->code);
			why = whybuf;
			break;
		}
		st = ST_UNAVAILABLE;
	transient:
		if (rc != CURLE_OK)
			snprintf(whybuf, sizeof(whybuf), "%s",
				 errbuf[0] ? errbuf : libcurl.easy_strerror(rc));
		else if (st == ST_UNAVAILABLE)
			snprintf(whybuf, sizeof(whybuf), "HTTP %ld", x->code);
		else
			snprintf(whybuf, sizeof(whybuf), "%s", why);
		why = whybuf;
		if (attempt >= up->up_opt.retries)
			break;
		attempt++;
		log_debug("upstream %s: %s %s: %s; retry %u of %u in %u ms", up->up_spec.name,
			  method, url, why, attempt, up->up_opt.retries, wait_ms);
		backoff(up, wait_ms);
		wait_ms =
		    wait_ms * 2 > UPSTREAM_BACKOFF_MAX_MS ? UPSTREAM_BACKOFF_MAX_MS : wait_ms * 2;
		st = ST_UNAVAILABLE;
	}
	free(token);
	if (st != ST_OK && st != ST_NOT_FOUND)
		metrics_add(&up->up_errors, 1);
	if (answered || no_connection)
		atomic_store(&up->up_no_connection, !answered);
	if (answered)
		mark_reachable(up);
	else if (st == ST_UNAVAILABLE && no_connection && !atomic_load(&up->up_cancel))
		quiet = mark_unreachable(up, why[0] ? why : status_str(st));
	if (st == ST_NOT_FOUND)
		log_debug("upstream %s (%s): %s %s: not found", up->up_spec.name, up->up_spec.url,
			  method, url);
	else if (st != ST_OK)
		log_msg(quiet ? LOG_DEBUG : LOG_WARN, "upstream %s (%s): %s %s failed: %s%s",
			up->up_spec.name, up->up_spec.url, method, url,
			why[0] ? why : status_str(st), attempt ? " (after retries)" : "");
	return st;
}

static void scope_of(char *out, size_t outlen, const char *repo)
{
	snprintf(out, outlen, "repository:%s:pull", repo);
}

status_t upstream_get_manifest(upstream *up, const char *repo, const char *ref, bool head,
			       upstream_manifest *out)
{
	char path[1024], scope[600], accept[512];
	xfer x = {0};
	status_t st;

	memset(out, 0, sizeof(*out));
	if (strlen(repo) + strlen(ref) + 16 >= sizeof(path))
		return ST_INVALID;
	snprintf(path, sizeof(path), "%s/manifests/%s", repo, ref);
	scope_of(scope, sizeof(scope), repo);
	upstream_accept_value(accept, sizeof(accept));
	x.mode = BODY_BUFFER;
	x.max = up->up_opt.max_manifest_bytes;
	st = xfer_run(up, &x, head ? "HEAD" : "GET", path, NULL, scope, accept);
	if (st != ST_OK) {
		free(x.buf);
		return st;
	}
	snprintf(out->media_type, sizeof(out->media_type), "%s", x.content_type);
	if (digest_parse(x.digest, NULL) == ST_OK)
		snprintf(out->digest, sizeof(out->digest), "%s", x.digest);
	if (head) {
		free(x.buf);
		out->size = x.content_length == UPSTREAM_SIZE_UNKNOWN ? 0 : x.content_length;
		return ST_OK;
	}
	if (x.buf == NULL && (x.buf = calloc(1, 1)) == NULL)
		return ST_NOMEM;
	out->body = x.buf;
	out->len = x.len;
	out->size = x.len;
	return ST_OK;
}

void upstream_manifest_free(upstream_manifest *m)
{
	if (m == NULL)
		return;
	free(m->body);
	m->body = NULL;
	m->len = 0;
}

status_t upstream_get_blob(upstream *up, const char *repo, const char *digest, uint64_t offset,
			   const upstream_sink *sink)
{
	char path[1024], scope[600];
	xfer x = {0};
	status_t st;

	if (strlen(repo) + strlen(digest) + 16 >= sizeof(path))
		return ST_INVALID;
	snprintf(path, sizeof(path), "%s/blobs/%s", repo, digest);
	scope_of(scope, sizeof(scope), repo);
	x.mode = BODY_SINK;
	x.max = UPSTREAM_ERROR_BODY_MAX;
	x.sink = sink;
	x.offset = offset;
	st = xfer_run(up, &x, "GET", path, NULL, scope, NULL);
	free(x.buf);
	if (st == ST_OK && !x.started) {
		/* an empty blob: no body callback ever ran */
		x.started = true;
		if (sink->on_start && (st = sink->on_start(sink->arg, offset)) != ST_OK)
			return st;
	}
	return st;
}

status_t upstream_head_blob(upstream *up, const char *repo, const char *digest, uint64_t *out_size)
{
	char path[1024], scope[600];
	xfer x = {0};
	status_t st;

	*out_size = UPSTREAM_SIZE_UNKNOWN;
	if (strlen(repo) + strlen(digest) + 16 >= sizeof(path))
		return ST_INVALID;
	snprintf(path, sizeof(path), "%s/blobs/%s", repo, digest);
	scope_of(scope, sizeof(scope), repo);
	x.mode = BODY_BUFFER;
	x.max = UPSTREAM_ERROR_BODY_MAX;
	st = xfer_run(up, &x, "HEAD", path, NULL, scope, NULL);
	free(x.buf);
	if (st == ST_OK)
		*out_size = x.content_length;
	return st;
}

status_t upstream_get_tags(upstream *up, const char *repo, json_t **out)
{
	char path[1024], scope[600], next[2048];
	json_t *all = json_array();
	status_t st = ST_OK;
	int pages = 0;

	*out = NULL;
	if (all == NULL)
		return ST_NOMEM;
	snprintf(path, sizeof(path), "%s/tags/list", repo);
	scope_of(scope, sizeof(scope), repo);
	next[0] = '\0';
	do {
		xfer x = {0};
		json_t *root, *tags;
		char abs[UPSTREAM_URL_MAX + 2048];

		x.mode = BODY_BUFFER;
		x.max = UPSTREAM_TAGS_MAX_BYTES;
		if (next[0] == '\0') {
			st = xfer_run(up, &x, "GET", path, NULL, scope, NULL);
		} else {
			/* relative Links are the norm: "/v2/NAME/tags/list?last=..." */
			if (next[0] == '/') {
				const char *host = strstr(up->up_spec.url, "://");
				const char *slash = host ? strchr(host + 3, '/') : NULL;
				int n = slash ? (int)(slash - up->up_spec.url)
					      : (int)strlen(up->up_spec.url);
				snprintf(abs, sizeof(abs), "%.*s%s", n, up->up_spec.url, next);
			} else {
				snprintf(abs, sizeof(abs), "%s", next);
			}
			st = xfer_run(up, &x, "GET", NULL, abs, scope, NULL);
		}
		if (st != ST_OK) {
			free(x.buf);
			break;
		}
		root = x.buf ? json_loadb(x.buf, x.len, 0, NULL) : NULL;
		free(x.buf);
		tags = json_object_get(root, "tags");
		if (root == NULL || (!json_is_array(tags) && !json_is_null(tags) && tags != NULL)) {
			json_decref(root);
			st = ST_BAD_GATEWAY;
			break;
		}
		for (size_t i = 0; i < json_array_size(tags); i++)
			if (json_is_string(json_array_get(tags, i)))
				json_array_append(all, json_array_get(tags, i));
		json_decref(root);
		snprintf(next, sizeof(next), "%s", x.link_next);
	} while (next[0] != '\0' && ++pages < UPSTREAM_TAG_PAGES_MAX);
	if (st != ST_OK) {
		json_decref(all);
		return st;
	}
	*out = all;
	return ST_OK;
}
