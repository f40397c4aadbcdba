/*
 * auth.c - the gate and the token endpoint (see auth.h).
 *
 * A decision is two steps. Identify: no Authorization header is anonymous;
 * Basic credentials are checked against the users file (after the
 * throttle, and through a short-lived cache of verified credentials so a
 * push of many requests costs one bcrypt run); a Bearer token is verified
 * (jwt.h) against our own key and the trusted issuers'. Authorize: in
 * basic mode the rules say what the user (or anonymous) may do; in token
 * mode the token's `access` claim does, and the rules only tell a token
 * that could be widened (401, ask for a new one) from a user who may not
 * (403).
 *
 * Shared state and its locks: the users list (rwlock; swapped when the
 * file's identity or mtime changes), the credentials cache (mutex), the
 * throttle (its own mutex). Keys and rules never change after auth_new.
 */
#include "auth.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "../oci/digest.h"
#include "../oci/ref.h"
#include "../common/log.h"
#include "b64.h"
#include "htpasswd.h"
#include "jwt.h"
#include "rules.h"
#include "throttle.h"
#include "../common/metrics.h"

#define CREDENTIALS_MAX 1024 /* decoded "user:password", bytes */
#define REPO_NAME_MAX REF_NAME_MAX
#define PATH_MAX_AUTH 4096

typedef enum { ACT_LOGIN, ACT_CATALOG, ACT_PULL, ACT_PUSH, ACT_DELETE } action;

struct auth_principal {
	char name[AUTH_NAME_MAX]; /* "" = anonymous */
	bool has_token;		  /* identified by a bearer token */
	bool builtin;		  /* ...that we issued */
	json_t *access;		  /* the token's access claim (a reference) */
};

typedef struct {
	unsigned char mac[32];
	time_t until; /* 0 = free */
} cache_slot;

typedef struct {
	bool present;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
} file_stamp;

struct auth {
	auth_mode mode;
	char realm[256];
	char users_path[PATH_MAX_AUTH];
	auth_rules *rules;
	auth_throttle *throttle;
	bool own_throttle;	       /* made here, not auth_options.throttle */
	metrics_counter failed_logins; /* for /metrics */

	pthread_rwlock_t users_lock;
	auth_htpasswd *users; /* under users_lock */
	pthread_mutex_t stamp_mu;
	file_stamp stamp;		      /* under stamp_mu */
	char unlock_path[PATH_MAX_AUTH + 16]; /* USERS.unlock: `registry user unlock` */
	pthread_mutex_t unlock_mu;
	file_stamp unlock_stamp; /* under unlock_mu */

	pthread_mutex_t cache_mu;
	unsigned char cache_key[32];
	cache_slot cache[AUTH_CACHE_SLOTS];
	size_t cache_next;

	/* token mode */
	char service[256], issuer[256], token_realm[512];
	uint32_t lifetime, refresh_lifetime;
	char refresh_aud[300]; /* audience of refresh tokens: service + "#refresh" */
	auth_key *key;
	auth_key **trusted; /* external issuers' keys, ntrusted slots */
	size_t ntrusted;
	auth_jwt_trust *trust;
	size_t ntrust;
	const char *(*rule_name)(void *arg, const char *repo, char *out, size_t outlen);
	void *rule_name_arg;
};

_Static_assert(sizeof(((auth_result *)NULL)->user) == AUTH_NAME_MAX, "a whole user name");

status_t auth_mode_parse(const char *s, auth_mode *out)
{
	if (s == NULL)
		return ST_INVALID;
	if (strcmp(s, "none") == 0)
		*out = AUTH_MODE_NONE;
	else if (strcmp(s, "basic") == 0)
		*out = AUTH_MODE_BASIC;
	else if (strcmp(s, "token") == 0)
		*out = AUTH_MODE_TOKEN;
	else
		return ST_INVALID;
	return ST_OK;
}

bool auth_quotable(const char *s)
{
	size_t n;

	if (s == NULL || (n = strlen(s)) == 0 || n > 255)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e || *s == '"' || *s == '\\')
			return false;
	return true;
}

void auth_stats_get(const auth *a, auth_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (a == NULL)
		return;
	out->failed_logins = metrics_get(&a->failed_logins);
	auth_throttle_lockouts(a->throttle, &out->lockouts_user, &out->lockouts_address);
}

auth_mode auth_get_mode(const auth *a)
{
	return a ? a->mode : AUTH_MODE_NONE;
}

/* ---- the users file, re-read when it changes ---- */

static void stamp_of(const char *path, file_stamp *out)
{
	struct stat sb;

	memset(out, 0, sizeof(*out));
	if (stat(path, &sb) != 0)
		return;
	out->present = true;
	out->dev = sb.st_dev;
	out->ino = sb.st_ino;
	out->size = sb.st_size;
	out->mtime = sb.st_mtim;
}

static bool stamp_same(const file_stamp *x, const file_stamp *y)
{
	return x->present == y->present && x->dev == y->dev && x->ino == y->ino &&
	       x->size == y->size && x->mtime.tv_sec == y->mtime.tv_sec &&
	       x->mtime.tv_nsec == y->mtime.tv_nsec;
}

static void cache_clear(auth *a)
{
	pthread_mutex_lock(&a->cache_mu);
	OPENSSL_cleanse(a->cache, sizeof(a->cache));
	pthread_mutex_unlock(&a->cache_mu);
}

/*
 * Loads the users file into *out. ST_OK (an absent file is an empty list);
 * else the file's error, in err.
 */
static status_t users_read(const char *path, auth_htpasswd **out, char *err, size_t errlen)
{
	status_t st = auth_htpasswd_load(out, path, err, errlen);

	if (st == ST_NOT_FOUND)
		return auth_htpasswd_new(out);
	return st;
}

/* Re-reads the users file if it changed since last time. A file that no
 * longer parses leaves the previous list in force, with a warning. */
static void users_refresh(auth *a)
{
	file_stamp now;
	auth_htpasswd *fresh = NULL, *old;
	char err[512];

	stamp_of(a->users_path, &now);
	pthread_mutex_lock(&a->stamp_mu);
	if (stamp_same(&now, &a->stamp)) {
		pthread_mutex_unlock(&a->stamp_mu);
		return;
	}
	a->stamp = now;
	if (users_read(a->users_path, &fresh, err, sizeof(err)) != ST_OK) {
		log_warn("auth: keeping the previous users: %s", err);
		pthread_mutex_unlock(&a->stamp_mu);
		return;
	}
	pthread_rwlock_wrlock(&a->users_lock);
	old = a->users;
	a->users = fresh;
	pthread_rwlock_unlock(&a->users_lock);
	pthread_mutex_unlock(&a->stamp_mu);
	cache_clear(a);
	auth_htpasswd_free(old);
	log_info("auth: users file %s %s, %zu user(s)", a->users_path,
		 now.present ? "read" : "absent", auth_htpasswd_count(fresh));
}

/* ---- lifting lockouts: the unlock file ---- */

/*
 * `registry user unlock` reaches a running registry through a small file
 * beside the users file, USERS.unlock, which is watched the same way: one
 * line per request, "user NAME TIME" or "addr ADDRESS TIME", each lifting
 * the locks and counts that started at or before TIME. Lines are never
 * consumed (so the writer needs no reply and a line read twice lifts
 * nothing new); the writer drops those older than the longest window.
 */
#define UNLOCK_KEEP_SEC 86400 /* auth_fail_window is at most 1d */
#define UNLOCK_LINE_MAX 512

static void unlock_path_of(const char *users_path, char *out, size_t len)
{
	snprintf(out, len, "%s.unlock", users_path);
}

/* Applies the unlock file if it changed since last time. */
static void unlocks_refresh(auth *a)
{
	file_stamp now;
	FILE *f;
	char line[UNLOCK_LINE_MAX], kind[8], what[AUTH_NAME_MAX];
	long long when;

	if (a->throttle == NULL)
		return;
	stamp_of(a->unlock_path, &now);
	pthread_mutex_lock(&a->unlock_mu);
	if (stamp_same(&now, &a->unlock_stamp)) {
		pthread_mutex_unlock(&a->unlock_mu);
		return;
	}
	a->unlock_stamp = now;
	if (now.present && (f = fopen(a->unlock_path, "r")) != NULL) {
		while (fgets(line, sizeof(line), f) != NULL) {
			if (sscanf(line, "%7s %255s %lld", kind, what, &when) != 3)
				continue;
			if (strcmp(kind, "user") == 0 && auth_user_name_ok(what))
				auth_throttle_unlock(a->throttle, NULL, what, (time_t)when,
						     "`registry user unlock`");
			else if (strcmp(kind, "addr") == 0 && strlen(what) < AUTH_ADDR_MAX)
				auth_throttle_unlock(a->throttle, what, NULL, (time_t)when,
						     "`registry user unlock --address`");
		}
		fclose(f);
	}
	pthread_mutex_unlock(&a->unlock_mu);
}

status_t auth_unlock_add(const char *users_path, const char *user, const char *addr, time_t now,
			 char *err, size_t errlen)
{
	char path[PATH_MAX_AUTH + 16], tmp[PATH_MAX_AUTH + 32], line[UNLOCK_LINE_MAX];
	char kind[8], what[AUTH_NAME_MAX];
	long long when;
	FILE *in = NULL, *out = NULL;
	int fd = -1;
	bool made = false;
	status_t st = ST_IO;

	if (users_path == NULL || (user == NULL) == (addr == NULL) ||
	    (user != NULL && !auth_user_name_ok(user)) ||
	    (addr != NULL && (addr[0] == '\0' || strlen(addr) >= AUTH_ADDR_MAX ||
			      strpbrk(addr, " \t\n") != NULL)) ||
	    strlen(users_path) >= PATH_MAX_AUTH) {
		status_errf(err, errlen, "nothing to unlock");
		return ST_INVALID;
	}
	unlock_path_of(users_path, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path);
	if ((fd = mkstemp(tmp)) < 0 || !(made = true) || (out = fdopen(fd, "w")) == NULL) {
		status_errf(err, errlen, "%s: %s", tmp, strerror(errno));
		goto done;
	}
	fd = -1;
	fprintf(out, "# `registry user unlock` requests for the running registry\n");
	/* Keep the other recent requests: a registry may not have read them. */
	if ((in = fopen(path, "r")) != NULL) {
		while (fgets(line, sizeof(line), in) != NULL)
			if (sscanf(line, "%7s %255s %lld", kind, what, &when) == 3 &&
			    when >= (long long)now - UNLOCK_KEEP_SEC &&
			    strcmp(what, user ? user : addr) != 0)
				fputs(line, out);
		fclose(in);
	}
	fprintf(out, "%s %s %lld\n", user ? "user" : "addr", user ? user : addr, (long long)now);
	if (fflush(out) != 0 || fsync(fileno(out)) != 0) {
		status_errf(err, errlen, "%s: %s", tmp, strerror(errno));
		goto done;
	}
	if (fclose(out) != 0) {
		out = NULL;
		status_errf(err, errlen, "%s: %s", tmp, strerror(errno));
		goto done;
	}
	out = NULL;
	if (rename(tmp, path) != 0) {
		status_errf(err, errlen, "%s: %s", path, strerror(errno));
		goto done;
	}
	made = false;
	st = ST_OK;
done:
	if (out != NULL)
		fclose(out);
	if (fd >= 0)
		close(fd);
	if (made)
		unlink(tmp);
	return st;
}

/* ---- verified-credentials cache ---- */

static void cache_mac(auth *a, const char *user, const char *password, unsigned char *mac)
{
	unsigned int len = 32;
	size_t ul = strlen(user), pl = strlen(password);
	unsigned char buf[CREDENTIALS_MAX + 2];

	/* user NUL password: no two (user, password) pairs give the same input */
	memcpy(buf, user, ul + 1);
	memcpy(buf + ul + 1, password, pl);
	HMAC(EVP_sha256(), a->cache_key, sizeof(a->cache_key), buf, ul + 1 + pl, mac, &len);
	OPENSSL_cleanse(buf, sizeof(buf));
}

static bool cache_hit(auth *a, const unsigned char *mac, time_t now)
{
	bool hit = false;

	pthread_mutex_lock(&a->cache_mu);
	for (size_t i = 0; i < AUTH_CACHE_SLOTS; i++)
		if (a->cache[i].until > now && CRYPTO_memcmp(a->cache[i].mac, mac, 32) == 0)
			hit = true;
	pthread_mutex_unlock(&a->cache_mu);
	return hit;
}

static void cache_put(auth *a, const unsigned char *mac, time_t now)
{
	pthread_mutex_lock(&a->cache_mu);
	memcpy(a->cache[a->cache_next].mac, mac, 32);
	a->cache[a->cache_next].until = now + AUTH_CACHE_SEC;
	a->cache_next = (a->cache_next + 1) % AUTH_CACHE_SLOTS;
	pthread_mutex_unlock(&a->cache_mu);
}

/* ---- construction ---- */

static status_t load_trust(auth *a, const auth_options *o, char *err, size_t errlen)
{
	size_t n = o->ntrust + 1;
	status_t st;

	if ((a->trust = calloc(n, sizeof(*a->trust))) == NULL ||
	    (a->trusted = calloc(n, sizeof(*a->trusted))) == NULL)
		return ST_NOMEM;
	a->ntrusted = o->ntrust;
	a->trust[0].issuer = a->issuer;
	a->trust[0].key = a->key;
	a->trust[0].low_s = true; /* auth_jwt_sign makes no other */
	a->ntrust = 1;
	for (size_t i = 0; i < o->ntrust; i++) {
		char issuer[256], path[PATH_MAX_AUTH];
		const char *sp = o->trust[i] + strcspn(o->trust[i], " \t");
		const char *p = sp + strspn(sp, " \t");
		size_t ilen = (size_t)(sp - o->trust[i]);

		if (ilen == 0 || ilen >= sizeof(issuer) || *p == '\0' ||
		    strlen(p) >= sizeof(path)) {
			status_errf(err, errlen, "auth_token_trust '%s': expected ISSUER PEM-FILE",
				    o->trust[i]);
			return ST_INVALID;
		}
		memcpy(issuer, o->trust[i], ilen);
		issuer[ilen] = '\0';
		snprintf(path, sizeof(path), "%s", p);
		if (strcmp(issuer, a->issuer) == 0) {
			status_errf(err, errlen,
				    "auth_token_trust '%s': that issuer is this registry's own "
				    "(auth_token_issuer)",
				    issuer);
			return ST_INVALID;
		}
		if ((st = auth_key_load_public(&a->trusted[i], path, err, errlen)) != ST_OK)
			return st;
		if ((a->trust[a->ntrust].issuer = strdup(issuer)) == NULL)
			return ST_NOMEM;
		a->trust[a->ntrust].key = a->trusted[i];
		a->ntrust++;
	}
	return ST_OK;
}

static status_t copy_field(char *dst, size_t len, const char *src, const char *what, char *err,
			   size_t errlen)
{
	if (src == NULL)
		src = "";
	if (strlen(src) >= len) {
		status_errf(err, errlen, "%s is longer than %zu bytes", what, len - 1);
		return ST_INVALID;
	}
	memcpy(dst, src, strlen(src) + 1);
	return ST_OK;
}

status_t auth_new(auth **out, const auth_options *o, char *err, size_t errlen)
{
	auth *a = NULL;
	status_t st;

	*out = NULL;
	if (o == NULL)
		return ST_INVALID;
	if (o->mode == AUTH_MODE_NONE)
		return ST_OK;
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return ST_NOMEM;
	a->mode = o->mode;
	pthread_rwlock_init(&a->users_lock, NULL);
	pthread_mutex_init(&a->stamp_mu, NULL);
	pthread_mutex_init(&a->unlock_mu, NULL);
	pthread_mutex_init(&a->cache_mu, NULL);
	if ((st = copy_field(a->realm, sizeof(a->realm), o->realm ? o->realm : "registry", "realm",
			     err, errlen)) != ST_OK ||
	    (st = copy_field(a->users_path, sizeof(a->users_path), o->users_path, "users path", err,
			     errlen)) != ST_OK ||
	    (st = copy_field(a->service, sizeof(a->service), o->service ? o->service : "registry",
			     "service", err, errlen)) != ST_OK ||
	    (st = copy_field(a->issuer, sizeof(a->issuer), o->issuer ? o->issuer : "registry",
			     "issuer", err, errlen)) != ST_OK ||
	    (st = copy_field(a->token_realm, sizeof(a->token_realm), o->token_realm, "token realm",
			     err, errlen)) != ST_OK)
		goto fail;
	a->lifetime = o->token_lifetime_sec ? o->token_lifetime_sec : 300;
	a->refresh_lifetime = o->refresh_lifetime_sec;
	a->rule_name = o->rule_name;
	a->rule_name_arg = o->rule_name_arg;
	snprintf(a->refresh_aud, sizeof(a->refresh_aud), "%s#refresh", a->service);
	/* getrandom, not RAND_bytes: OpenSSL's first RAND_bytes sets up its
	 * providers and DRBG (2 MiB resident), which can wait for a request. */
	if (getrandom(a->cache_key, sizeof(a->cache_key), 0) != (ssize_t)sizeof(a->cache_key)) {
		status_errf(err, errlen, "no randomness for the credentials cache");
		st = ST_IO;
		goto fail;
	}
	if ((st = auth_rules_new(&a->rules)) != ST_OK)
		goto fail;
	for (size_t i = 0; i < o->ngroups; i++)
		if ((st = auth_rules_add_group(a->rules, o->groups[i], err, errlen)) != ST_OK)
			goto fail;
	for (size_t i = 0; i < o->nrules; i++)
		if ((st = auth_rules_add(a->rules, o->rules[i], err, errlen)) != ST_OK)
			goto fail;
	if ((st = auth_rules_check(a->rules, err, errlen)) != ST_OK)
		goto fail;
	a->throttle = o->throttle;
	a->own_throttle = o->throttle == NULL;
	if (a->own_throttle &&
	    (st = auth_throttle_new(&a->throttle, o->fail_limit, o->fail_window_sec)) != ST_OK)
		goto fail;

	stamp_of(a->users_path, &a->stamp);
	/* Requests made before this start have nothing left to lift. */
	unlock_path_of(a->users_path, a->unlock_path, sizeof(a->unlock_path));
	stamp_of(a->unlock_path, &a->unlock_stamp);
	if ((st = users_read(a->users_path, &a->users, err, errlen)) != ST_OK)
		goto fail;
	if (!a->stamp.present)
		log_warn("auth: users file %s does not exist (yet): only what anonymous may do "
			 "is allowed; `registry user add NAME` creates it",
			 a->users_path);
	for (size_t i = 0; i < auth_htpasswd_count(a->users); i++)
		if (!auth_htpasswd_usable(a->users, i))
			log_warn("auth: %s: user '%s' has no bcrypt hash and cannot log in",
				 a->users_path, auth_htpasswd_user(a->users, i));

	if (a->mode == AUTH_MODE_TOKEN) {
		if ((st = auth_key_load(&a->key, o->key_path, true, err, errlen)) != ST_OK)
			goto fail;
		if ((st = load_trust(a, o, err, errlen)) != ST_OK)
			goto fail;
	}
	*out = a;
	return ST_OK;
fail:
	auth_free(a);
	return st;
}

void auth_free(auth *a)
{
	if (a == NULL)
		return;
	auth_rules_free(a->rules);
	if (a->own_throttle)
		auth_throttle_free(a->throttle);
	auth_htpasswd_free(a->users);
	auth_key_free(a->key);
	for (size_t i = 1; i < a->ntrust; i++)
		free((char *)a->trust[i].issuer);
	for (size_t i = 0; a->trusted && i < a->ntrusted; i++)
		auth_key_free(a->trusted[i]);
	free(a->trusted);
	free(a->trust);
	pthread_rwlock_destroy(&a->users_lock);
	pthread_mutex_destroy(&a->stamp_mu);
	pthread_mutex_destroy(&a->unlock_mu);
	pthread_mutex_destroy(&a->cache_mu);
	OPENSSL_cleanse(a->cache_key, sizeof(a->cache_key));
	free(a);
}

/* ---- principals ---- */

const char *auth_principal_name(const auth_principal *who)
{
	return who ? who->name : "";
}

void auth_principal_free(auth_principal *who)
{
	if (who == NULL)
		return;
	json_decref(who->access);
	free(who);
}

static status_t action_parse(const char *s, action *out)
{
	static const struct {
		const char *name;
		action a;
	} names[] = {{"login", ACT_LOGIN},
		     {"catalog", ACT_CATALOG},
		     {"pull", ACT_PULL},
		     {"push", ACT_PUSH},
		     {"delete", ACT_DELETE}};

	for (size_t i = 0; s && i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i].name) == 0) {
			*out = names[i].a;
			return ST_OK;
		}
	return ST_INVALID;
}

static unsigned action_bit(action a)
{
	return a == ACT_PULL	 ? AUTH_PULL
	       : a == ACT_PUSH	 ? AUTH_PUSH
	       : a == ACT_DELETE ? AUTH_DELETE
				 : 0;
}

/* Whether a token's access claim grants `act` on (type, name). */
static bool access_covers(json_t *access, const char *type, const char *name, const char *act)
{
	size_t i, k;
	json_t *e, *v;

	if (!json_is_array(access))
		return false;
	json_array_foreach(access, i, e)
	{
		const char *t = json_string_value(json_object_get(e, "type"));
		const char *n = json_string_value(json_object_get(e, "name"));
		json_t *acts = json_object_get(e, "actions");

		if (t == NULL || n == NULL || strcmp(t, type) != 0 || strcmp(n, name) != 0 ||
		    !json_is_array(acts))
			continue;
		json_array_foreach(acts, k, v)
		{
			const char *s = json_string_value(v);
			if (s && (strcmp(s, act) == 0 || strcmp(s, "*") == 0))
				return true;
		}
	}
	return false;
}

static const char *action_name(action a)
{
	return a == ACT_PULL ? "pull" : a == ACT_PUSH ? "push" : "delete";
}

bool auth_allowed(auth *a, const auth_principal *who, const char *act_name, const char *repo)
{
	action act;
	const char *user = who ? who->name : NULL;

	if (a == NULL || a->mode == AUTH_MODE_NONE)
		return true;
	if (action_parse(act_name, &act) != ST_OK || action_bit(act) == 0 || repo == NULL)
		return false;
	if (who != NULL && who->has_token) {
		if (access_covers(who->access, "repository", repo, action_name(act)))
			return true;
		/* Tokens we issued stand for a user of ours, whose rules we know. */
		return who->builtin && (auth_rules_eval(a->rules, user, repo) & action_bit(act));
	}
	if (a->mode == AUTH_MODE_TOKEN)
		return false;
	return (auth_rules_eval(a->rules, user, repo) & action_bit(act)) != 0;
}

/* ---- challenges ---- */

static bool host_ok(const char *h)
{
	size_t n;

	if (h == NULL || (n = strlen(h)) == 0 || n > 255)
		return false;
	for (; *h; h++)
		if (!((*h >= 'a' && *h <= 'z') || (*h >= 'A' && *h <= 'Z') ||
		      (*h >= '0' && *h <= '9') || strchr(".-:[]", *h)))
			return false;
	return true;
}

/* The Bearer challenge; scope and error may be NULL. */
static void bearer_challenge(const auth *a, const auth_request *req, const char *scope,
			     const char *error, auth_result *out)
{
	char realm[600];
	int n;

	if (a->token_realm[0])
		snprintf(realm, sizeof(realm), "%s", a->token_realm);
	else
		snprintf(realm, sizeof(realm), "%s://%s/token", req->tls ? "https" : "http",
			 host_ok(req->host) ? req->host : "localhost");
	n = snprintf(out->challenge, sizeof(out->challenge), "Bearer realm=\"%s\",service=\"%s\"",
		     realm, a->service);
	if (scope && n > 0 && (size_t)n < sizeof(out->challenge))
		n += snprintf(out->challenge + n, sizeof(out->challenge) - (size_t)n,
			      ",scope=\"%s\"", scope);
	if (error && n > 0 && (size_t)n < sizeof(out->challenge))
		snprintf(out->challenge + n, sizeof(out->challenge) - (size_t)n, ",error=\"%s\"",
			 error);
}

static void basic_challenge(const auth *a, auth_result *out)
{
	snprintf(out->challenge, sizeof(out->challenge), "Basic realm=\"%s\",charset=\"UTF-8\"",
		 a->realm);
}

/* The scope a request needs, for its challenge. */
static void scope_of(action act, const char *repo, char *out, size_t len)
{
	out[0] = '\0';
	if (act == ACT_CATALOG)
		snprintf(out, len, "registry:catalog:*");
	else if (act == ACT_PULL)
		snprintf(out, len, "repository:%s:pull", repo);
	else if (act == ACT_PUSH)
		snprintf(out, len, "repository:%s:pull,push", repo);
	else if (act == ACT_DELETE)
		snprintf(out, len, "repository:%s:delete", repo);
}

/* ---- identification ---- */

/*
 * Checks a user name and password, throttled per remote address. ST_OK
 * with who->name; ST_UNAUTHORIZED; ST_TOO_MANY_REQUESTS with
 * out->retry_after; ST_UNAVAILABLE (with out->retry_after) when shared
 * counts cannot be read. out->delay_ms says how long to hold the answer.
 */
static status_t check_password(auth *a, const char *user, const char *password, const char *remote,
			       auth_principal *who, auth_result *out)
{
	unsigned char mac[32];
	time_t now = time(NULL);
	const char *name = auth_user_name_ok(user) ? user : NULL; /* what the throttle counts */
	unsigned left, delay_ms;
	bool known;
	status_t st;

	unlocks_refresh(a);
	if (auth_throttle_check(a->throttle, remote, name, now, &left, &delay_ms) != ST_OK) {
		/* fail closed (throttle.h): no password is checked uncounted */
		out->retry_after = left;
		snprintf(out->detail, sizeof(out->detail),
			 "logins cannot be checked now; retry in %u s", left);
		return ST_UNAVAILABLE;
	}
	if (left > 0) {
		out->retry_after = left;
		snprintf(out->detail, sizeof(out->detail),
			 "too many failed logins from this address; retry in %u s", left);
		return ST_TOO_MANY_REQUESTS;
	}
	out->delay_ms = delay_ms;
	if (name == NULL) {
		snprintf(out->detail, sizeof(out->detail), "wrong user name or password");
		metrics_add(&a->failed_logins, 1);
		auth_throttle_fail(a->throttle, remote, NULL, false, now);
		log_info("auth: failed login with an unknown user name from %s",
			 remote ? remote : "?");
		return ST_UNAUTHORIZED;
	}
	users_refresh(a);
	cache_mac(a, user, password, mac);
	if (cache_hit(a, mac, now)) {
		st = ST_OK;
		/* A right password clears its count, cached or not; a held
		 * answer says there is one (so a cached login costs a shared
		 * store nothing otherwise). */
		if (out->delay_ms > 0)
			auth_throttle_success(a->throttle, remote, user, now);
	} else {
		pthread_rwlock_rdlock(&a->users_lock);
		st = auth_htpasswd_verify(a->users, user, password);
		known = auth_htpasswd_has(a->users, user);
		pthread_rwlock_unlock(&a->users_lock);
		if (st == ST_OK) {
			cache_put(a, mac, now);
			auth_throttle_success(a->throttle, remote, user, now);
		} else if (st == ST_UNAUTHORIZED) {
			metrics_add(&a->failed_logins, 1);
			auth_throttle_fail(a->throttle, remote, user, known, now);
			/* An unknown name is not logged: it may be a password
			 * typed in the wrong field. */
			if (known)
				log_info("auth: failed login as '%s' from %s", user,
					 remote ? remote : "?");
			else
				log_info("auth: failed login with an unknown user name from %s",
					 remote ? remote : "?");
			snprintf(out->detail, sizeof(out->detail), "wrong user name or password");
		}
	}
	OPENSSL_cleanse(mac, sizeof(mac));
	if (st == ST_OK)
		snprintf(who->name, sizeof(who->name), "%.255s", user);
	return st;
}

/* Checks Basic credentials (the base64 after "Basic "): check_password's
 * outcomes; empty ones (":") are ST_OK with who left anonymous. */
static status_t check_basic(auth *a, const char *b64, const char *remote, auth_principal *who,
			    auth_result *out)
{
	char buf[CREDENTIALS_MAX + 1], *colon;
	size_t n = 0;
	status_t st = ST_UNAUTHORIZED;

	while (*b64 == ' ')
		b64++;
	if (auth_b64_decode(buf, sizeof(buf) - 1, &n, b64, strlen(b64), false) != ST_OK ||
	    memchr(buf, '\0', n) != NULL) {
		snprintf(out->detail, sizeof(out->detail), "malformed Basic credentials");
		goto done;
	}
	buf[n] = '\0';
	/* podman sends empty credentials (":") when it has none: that is an
	 * anonymous caller, not a wrong password. */
	if (strcmp(buf, ":") == 0) {
		st = ST_OK;
		goto done;
	}
	if ((colon = strchr(buf, ':')) == NULL) {
		snprintf(out->detail, sizeof(out->detail), "malformed Basic credentials");
		goto done;
	}
	*colon = '\0';
	st = check_password(a, buf, colon + 1, remote, who, out);
done:
	OPENSSL_cleanse(buf, sizeof(buf));
	return st;
}

/* Verifies a bearer token. ST_OK with who filled; ST_UNAUTHORIZED. */
static status_t check_bearer(auth *a, const char *token, auth_principal *who, auth_result *out)
{
	json_t *claims = NULL;
	const char *why = NULL, *sub, *iss;
	status_t st;

	while (*token == ' ')
		token++;
	st = auth_jwt_verify(&claims, token, a->trust, a->ntrust, a->service, time(NULL), &why);
	if (st != ST_OK) {
		snprintf(out->detail, sizeof(out->detail), "invalid token: %s",
			 why ? why : "unusable");
		return st == ST_NOMEM ? ST_NOMEM : ST_UNAUTHORIZED;
	}
	sub = json_string_value(json_object_get(claims, "sub"));
	iss = json_string_value(json_object_get(claims, "iss"));
	if (sub != NULL && strlen(sub) < sizeof(who->name))
		snprintf(who->name, sizeof(who->name), "%s", sub);
	who->has_token = true;
	who->builtin = iss != NULL && strcmp(iss, a->issuer) == 0;
	/* A token we issued to a user who has since been removed is revoked
	 * with them (the users file is re-read when it changes). */
	if (who->builtin && who->name[0] != '\0') {
		bool known;
		users_refresh(a);
		pthread_rwlock_rdlock(&a->users_lock);
		known = auth_htpasswd_has(a->users, who->name);
		pthread_rwlock_unlock(&a->users_lock);
		if (!known) {
			snprintf(out->detail, sizeof(out->detail),
				 "invalid token: the user was removed");
			json_decref(claims);
			return ST_UNAUTHORIZED;
		}
	}
	who->access = json_incref(json_object_get(claims, "access"));
	json_decref(claims);
	return ST_OK;
}

/* Who is asking: anonymous, a user (Basic) or a token holder (Bearer). */
static status_t identify(auth *a, const char *authorization, const char *remote,
			 auth_principal *who, auth_result *out)
{
	if (authorization == NULL || authorization[0] == '\0')
		return ST_OK;
	if (strncasecmp(authorization, "Basic ", 6) == 0) {
		if (a->mode != AUTH_MODE_BASIC) {
			snprintf(out->detail, sizeof(out->detail),
				 "this registry takes bearer tokens from its token service");
			return ST_UNAUTHORIZED;
		}
		return check_basic(a, authorization + 6, remote, who, out);
	}
	if (strncasecmp(authorization, "Bearer ", 7) == 0) {
		if (a->mode != AUTH_MODE_TOKEN) {
			snprintf(out->detail, sizeof(out->detail),
				 "this registry takes Basic credentials");
			return ST_UNAUTHORIZED;
		}
		return check_bearer(a, authorization + 7, who, out);
	}
	snprintf(out->detail, sizeof(out->detail), "unsupported authorization scheme");
	return ST_UNAUTHORIZED;
}

/* ---- the gate ---- */

static status_t authorize_basic(auth *a, action act, const char *repo, const auth_principal *who,
				auth_result *out)
{
	const char *user = who->name[0] ? who->name : NULL;

	if (act == ACT_LOGIN)
		return user ? ST_OK : ST_UNAUTHORIZED;
	if (act == ACT_CATALOG)
		return user || auth_rules_any_pull(a->rules, NULL) ? ST_OK : ST_UNAUTHORIZED;
	if (auth_rules_eval(a->rules, user, repo) & action_bit(act))
		return ST_OK;
	if (user == NULL)
		return ST_UNAUTHORIZED;
	snprintf(out->detail, sizeof(out->detail), "%.100s may not %s %.255s", user,
		 action_name(act), repo);
	return ST_DENIED;
}

static status_t authorize_token(auth *a, action act, const char *repo, const char *alias,
				const auth_principal *who, const char **error, auth_result *out)
{
	const char *user = who->name[0] ? who->name : NULL;

	if (!who->has_token)
		return ST_UNAUTHORIZED;
	if (act == ACT_LOGIN)
		return ST_OK;
	if (act == ACT_CATALOG) {
		if (access_covers(who->access, "registry", "catalog", "*"))
			return ST_OK;
		*error = "insufficient_scope";
		return ST_UNAUTHORIZED;
	}
	if (access_covers(who->access, "repository", repo, action_name(act)))
		return ST_OK;
	/* dockerd asks for "library/alpine" when it pulls it through a mirror;
	 * our token endpoint granted that by the rules on the cache name. */
	if (alias != NULL && access_covers(who->access, "repository", alias, action_name(act)))
		return ST_OK;
	/* A user of ours whom the rules refuse gets 403; anyone else may yet
	 * get a token that covers the request. */
	if (user != NULL && who->builtin &&
	    !(auth_rules_eval(a->rules, user, repo) & action_bit(act))) {
		snprintf(out->detail, sizeof(out->detail), "%.100s may not %s %.255s", user,
			 action_name(act), repo);
		return ST_DENIED;
	}
	*error = "insufficient_scope";
	return ST_UNAUTHORIZED;
}

status_t auth_check(auth *a, const auth_request *req, auth_result *out)
{
	auth_principal who = {0};
	action act;
	const char *error = NULL;
	char scope[REPO_NAME_MAX + 64];
	status_t st;

	memset(out, 0, sizeof(*out));
	if (a == NULL || a->mode == AUTH_MODE_NONE)
		return ST_OK;
	if (req == NULL || action_parse(req->action, &act) != ST_OK ||
	    (action_bit(act) && (req->repo == NULL || strlen(req->repo) >= REPO_NAME_MAX)))
		return ST_INVALID;
	st = identify(a, req->authorization, req->remote, &who, out);
	if (st == ST_UNAUTHORIZED && a->mode == AUTH_MODE_TOKEN)
		error = "invalid_token";
	if (st == ST_OK)
		snprintf(out->user, sizeof(out->user), "%s", who.name);
	if (st == ST_OK)
		st = a->mode == AUTH_MODE_BASIC
			 ? authorize_basic(a, act, req->repo, &who, out)
			 : authorize_token(a, act, req->repo, req->alias, &who, &error, out);
	if (st == ST_UNAUTHORIZED) {
		if (a->mode == AUTH_MODE_BASIC) {
			basic_challenge(a, out);
		} else {
			scope_of(act, req->repo, scope, sizeof(scope));
			bearer_challenge(a, req, scope[0] ? scope : NULL, error, out);
		}
		if (out->detail[0] == '\0')
			snprintf(out->detail, sizeof(out->detail), "authentication required");
	}
	if (st == ST_OK) {
		if ((out->who = malloc(sizeof(*out->who))) == NULL) {
			st = ST_NOMEM;
		} else {
			*out->who = who;
			who.access = NULL; /* moved */
		}
	}
	json_decref(who.access);
	return st;
}

/* ---- web sessions ---- */

static void password_print(auth *a, const char *user, char fp[33]);

/* A principal the rules judge: in token mode one of our own tokens' users
 * (builtin, no access claim), so auth_allowed asks the rules as for Basic. */
static status_t session_principal(auth *a, const char *user, auth_principal **out)
{
	auth_principal *who = calloc(1, sizeof(*who));

	if (who == NULL)
		return ST_NOMEM;
	snprintf(who->name, sizeof(who->name), "%s", user);
	who->has_token = a->mode == AUTH_MODE_TOKEN;
	who->builtin = who->has_token;
	*out = who;
	return ST_OK;
}

status_t auth_login(auth *a, const char *user, const char *password, const char *remote,
		    auth_result *out)
{
	auth_principal who = {0};
	status_t st;

	memset(out, 0, sizeof(*out));
	if (a == NULL || a->mode == AUTH_MODE_NONE)
		return ST_INVALID;
	if (user == NULL || password == NULL || strlen(password) > AUTH_PASSWORD_MAX) {
		snprintf(out->detail, sizeof(out->detail), "wrong user name or password");
		return ST_UNAUTHORIZED;
	}
	if ((st = check_password(a, user, password, remote, &who, out)) != ST_OK)
		return st;
	snprintf(out->user, sizeof(out->user), "%s", who.name);
	return session_principal(a, who.name, &out->who);
}

status_t auth_user_principal(auth *a, const char *user, char fp[AUTH_USER_PRINT_MAX],
			     auth_principal **out)
{
	if (out != NULL)
		*out = NULL;
	fp[0] = '\0';
	if (a == NULL || a->mode == AUTH_MODE_NONE || !auth_user_name_ok(user))
		return ST_UNAUTHORIZED;
	password_print(a, user, fp);
	if (fp[0] == '\0')
		return ST_UNAUTHORIZED;
	return out != NULL ? session_principal(a, user, out) : ST_OK;
}

status_t auth_anonymous_principal(auth *a, auth_principal **out)
{
	*out = NULL;
	if (a == NULL || a->mode == AUTH_MODE_NONE)
		return ST_OK;
	return session_principal(a, "", out);
}

/* ---- the token endpoint ---- */

/* Adds the granted part of one scope "TYPE:NAME:ACTIONS" to access. */
static status_t grant_scope(auth *a, const char *user, const char *scope, size_t len,
			    json_t *access)
{
	const char *c1 = memchr(scope, ':', len), *c2 = NULL, *rname;
	char name[REPO_NAME_MAX], rbuf[REPO_NAME_MAX];
	unsigned want = 0, got;
	json_t *acts;

	for (const char *p = scope + len; p > scope; p--)
		if (p[-1] == ':') {
			c2 = p - 1;
			break;
		}
	if (c1 == NULL || c2 == NULL || c2 <= c1)
		return ST_OK; /* not a scope: ignored, as unknown ones are */
	if ((size_t)(c2 - c1 - 1) >= sizeof(name))
		return ST_OK;
	memcpy(name, c1 + 1, (size_t)(c2 - c1 - 1));
	name[c2 - c1 - 1] = '\0';

	if ((size_t)(c1 - scope) == 8 && memcmp(scope, "registry", 8) == 0) {
		if (strcmp(name, "catalog") != 0 ||
		    (user == NULL && !auth_rules_any_pull(a->rules, NULL)))
			return ST_OK;
		acts = json_pack("[s]", "*");
		return json_array_append_new(access,
					     json_pack("{s:s,s:s,s:o}", "type", "registry", "name",
						       "catalog", "actions", acts)) == 0
			   ? ST_OK
			   : ST_NOMEM;
	}
	if ((size_t)(c1 - scope) != 10 || memcmp(scope, "repository", 10) != 0 ||
	    ref_name_check(name) != ST_OK)
		return ST_OK; /* no request could use it: nothing is signed for it */
	for (const char *p = c2 + 1; p < scope + len;) {
		size_t n = strcspn(p, ",");
		if (n > (size_t)(scope + len - p))
			n = (size_t)(scope + len - p);
		if (n == 4 && memcmp(p, "pull", 4) == 0)
			want |= AUTH_PULL;
		else if (n == 4 && memcmp(p, "push", 4) == 0)
			want |= AUTH_PUSH;
		else if (n == 6 && memcmp(p, "delete", 6) == 0)
			want |= AUTH_DELETE;
		else if (n == 1 && *p == '*')
			want |= AUTH_ALL;
		p += n + 1;
	}
	/* The grant is for the name asked for, decided on the name the gate
	 * will check it against (a mirrored name's cache name). */
	rname = a->rule_name ? a->rule_name(a->rule_name_arg, name, rbuf, sizeof(rbuf)) : name;
	if ((got = want & auth_rules_eval(a->rules, user, rname)) == 0)
		return ST_OK;
	if ((acts = json_array()) == NULL)
		return ST_NOMEM;
	if (got & AUTH_PULL)
		json_array_append_new(acts, json_string("pull"));
	if (got & AUTH_PUSH)
		json_array_append_new(acts, json_string("push"));
	if (got & AUTH_DELETE)
		json_array_append_new(acts, json_string("delete"));
	return json_array_append_new(access, json_pack("{s:s,s:s,s:o}", "type", "repository",
						       "name", name, "actions", acts)) == 0
		   ? ST_OK
		   : ST_NOMEM;
}

/* ---- refresh tokens ---- */

/* A short fingerprint of user's stored password hash into fp ("" if the
 * user is gone): what a refresh token is bound to. */
static void password_print(auth *a, const char *user, char fp[33])
{
	const char *hash;
	char d[DIGEST_MAX];

	fp[0] = '\0';
	users_refresh(a);
	pthread_rwlock_rdlock(&a->users_lock);
	hash = auth_htpasswd_hash_of(a->users, user);
	if (hash != NULL && digest_buffer(d, DIGEST_SHA256, hash, strlen(hash)) == ST_OK)
		snprintf(fp, 33, "%.32s", d + strlen("sha256:"));
	pthread_rwlock_unlock(&a->users_lock);
}

/* A refresh token for user into *out (caller frees). */
static status_t refresh_issue(auth *a, const char *user, time_t now, char **out)
{
	json_t *claims;
	char *claims_s = NULL, fp[33], jti[33];
	unsigned char rnd[16];
	status_t st;

	*out = NULL;
	password_print(a, user, fp);
	if (fp[0] == '\0')
		return ST_UNAUTHORIZED;
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return ST_IO;
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(jti + 2 * i, 3, "%02x", rnd[i]);
	claims =
	    json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:s,s:s}", "iss", a->issuer, "sub", user, "aud",
		      a->refresh_aud, "exp", (json_int_t)(now + (time_t)a->refresh_lifetime), "nbf",
		      (json_int_t)now, "iat", (json_int_t)now, "jti", jti, "pwh", fp);
	if (claims == NULL || (claims_s = json_dumps(claims, JSON_COMPACT)) == NULL)
		st = ST_NOMEM;
	else
		st = auth_jwt_sign(out, a->key, claims_s);
	json_decref(claims);
	free(claims_s);
	return st;
}

/* Checks a refresh token of ours: signature, audience, expiry, and that
 * its user still exists with the same password. ST_OK with who->name, or
 * ST_UNAUTHORIZED with out->detail. */
static status_t check_refresh(auth *a, const char *token, auth_principal *who, auth_result *out)
{
	auth_jwt_trust self = {a->issuer, a->key, true};
	json_t *claims = NULL;
	const char *why = NULL, *sub, *pwh;
	char fp[33];
	status_t st;

	st = auth_jwt_verify(&claims, token, &self, 1, a->refresh_aud, time(NULL), &why);
	if (st != ST_OK) {
		snprintf(out->detail, sizeof(out->detail), "invalid refresh token: %s",
			 why ? why : "unusable");
		return st == ST_NOMEM ? ST_NOMEM : ST_UNAUTHORIZED;
	}
	sub = json_string_value(json_object_get(claims, "sub"));
	pwh = json_string_value(json_object_get(claims, "pwh"));
	st = ST_UNAUTHORIZED;
	if (sub == NULL || pwh == NULL || !auth_user_name_ok(sub)) {
		snprintf(out->detail, sizeof(out->detail), "invalid refresh token: no user");
		goto done;
	}
	password_print(a, sub, fp);
	if (fp[0] == '\0' || strcmp(fp, pwh) != 0) {
		snprintf(out->detail, sizeof(out->detail),
			 "refresh token revoked: the user was removed or changed password");
		goto done;
	}
	snprintf(who->name, sizeof(who->name), "%s", sub);
	st = ST_OK;
done:
	json_decref(claims);
	return st;
}

status_t auth_token_issue(auth *a, const auth_token_request *req, char **out_json, auth_result *res)
{
	auth_principal who = {0};
	json_t *access = NULL, *claims = NULL, *reply = NULL;
	char *claims_s = NULL, *token = NULL, *refresh = NULL, jti[33], issued[32];
	unsigned char rnd[16];
	const char *user;
	time_t now = time(NULL);
	struct tm tm;
	size_t count = 0;
	status_t st;

	*out_json = NULL;
	memset(res, 0, sizeof(*res));
	if (a == NULL || a->mode != AUTH_MODE_TOKEN || a->key == NULL)
		return ST_NOT_ROUTE;
	if (req->service != NULL && strcmp(req->service, a->service) != 0) {
		snprintf(res->detail, sizeof(res->detail), "unknown service '%.64s'", req->service);
		return ST_INVALID;
	}
	st = ST_OK;
	if (req->refresh_token != NULL) {
		st = check_refresh(a, req->refresh_token, &who, res);
	} else if (req->user != NULL) {
		st = check_password(a, req->user, req->password ? req->password : "", req->remote,
				    &who, res);
	} else if (req->authorization != NULL && req->authorization[0] != '\0') {
		if (strncasecmp(req->authorization, "Basic ", 6) != 0) {
			snprintf(res->detail, sizeof(res->detail),
				 "the token endpoint takes Basic credentials");
			st = ST_UNAUTHORIZED;
		} else {
			st = check_basic(a, req->authorization + 6, req->remote, &who, res);
		}
	}
	if (st != ST_OK) {
		if (st == ST_UNAUTHORIZED)
			basic_challenge(a, res);
		return st;
	}
	user = who.name[0] ? who.name : NULL;
	snprintf(res->user, sizeof(res->user), "%s", who.name);

	st = ST_NOMEM;
	if ((access = json_array()) == NULL)
		goto done;
	for (size_t i = 0; i < req->nscopes; i++) {
		const char *p = req->scopes[i];
		while (p && *p && count < AUTH_SCOPES_MAX) {
			size_t n = strcspn(p, " ");
			if (n > 0) {
				if ((st = grant_scope(a, user, p, n, access)) != ST_OK)
					goto done;
				count++;
			}
			p += n;
			p += strspn(p, " ");
		}
	}
	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		st = ST_IO;
		goto done;
	}
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(jti + 2 * i, 3, "%02x", rnd[i]);
	st = ST_NOMEM;
	claims = json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:s,s:O}", "iss", a->issuer, "sub",
			   user ? user : "", "aud", a->service, "exp",
			   (json_int_t)(now + (time_t)a->lifetime), "nbf", (json_int_t)now, "iat",
			   (json_int_t)now, "jti", jti, "access", access);
	if (claims == NULL || (claims_s = json_dumps(claims, JSON_COMPACT)) == NULL)
		goto done;
	if ((st = auth_jwt_sign(&token, a->key, claims_s)) != ST_OK)
		goto done;
	gmtime_r(&now, &tm);
	strftime(issued, sizeof(issued), "%Y-%m-%dT%H:%M:%SZ", &tm);
	st = ST_NOMEM;
	reply = json_pack("{s:s,s:s,s:I,s:s}", "token", token, "access_token", token, "expires_in",
			  (json_int_t)a->lifetime, "issued_at", issued);
	if (reply == NULL)
		goto done;
	/* A fresh refresh token only for a password; a refresh keeps its own. */
	if (req->offline && user != NULL && req->refresh_token == NULL && a->refresh_lifetime > 0) {
		if ((st = refresh_issue(a, user, now, &refresh)) != ST_OK)
			goto done;
		st = ST_NOMEM;
		if (json_object_set_new(reply, "refresh_token", json_string(refresh)) != 0)
			goto done;
	}
	if ((*out_json = json_dumps(reply, JSON_COMPACT)) == NULL)
		goto done;
	log_debug("auth: token for '%s' with %zu access entr%s", user ? user : "",
		  json_array_size(access), json_array_size(access) == 1 ? "y" : "ies");
	st = ST_OK;
done:
	json_decref(access);
	json_decref(claims);
	json_decref(reply);
	free(claims_s);
	free(token);
	if (refresh != NULL) {
		OPENSSL_cleanse(refresh, strlen(refresh));
		free(refresh);
	}
	return st;
}
