/*
 * auth.h - access control: the gate every request passes before its
 * handler, and the token endpoint.
 *
 * Modes (registry.conf `auth`):
 *   none   everything is allowed (the default); no gate at all.
 *   basic  HTTP Basic credentials checked against the users file (htpasswd,
 *          bcrypt) on every request; a 401 carries
 *          `WWW-Authenticate: Basic realm="..."`.
 *   token  Docker's registry token specification: requests carry
 *          `Authorization: Bearer JWT`; a 401 carries
 *          `WWW-Authenticate: Bearer realm="URL/token",service="...",scope="..."`.
 *          Tokens come from our own /token endpoint (signed with our key)
 *          or from an external token server whose issuer name and public
 *          key are trusted in the configuration.
 * What a principal may do is decided by the rules (rules.h).
 *
 * Outcomes: ST_OK; ST_UNAUTHORIZED (no, bad or expired credentials, or a
 * token lacking a scope the caller could get: answer 401 with the
 * challenge); ST_DENIED (valid credentials without the right: 403);
 * ST_TOO_MANY_REQUESTS (too many failed logins from the address: 429);
 * ST_UNAVAILABLE (the failed-login counts are shared and cannot be read,
 * so no password is checked: 503, throttle.h).
 *
 * Nothing here knows HTTP: the caller hands over plain strings (action,
 * repository, the Authorization header, client address, Host header) and
 * turns the outcome into a reply. An auth object is read-only after
 * auth_new but for its internal caches, and safe to share between threads.
 */
#ifndef AUTH_AUTH_H
#define AUTH_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "../common/status.h"

#define AUTH_CHALLENGE_MAX 768 /* WWW-Authenticate value, with NUL */
#define AUTH_SCOPES_MAX 32     /* scopes honoured in one token request */
#define AUTH_CACHE_SLOTS 256   /* verified credentials remembered */
#define AUTH_CACHE_SEC 60      /* ...for this long, or until the users file changes */

typedef enum {
	AUTH_MODE_NONE = 0,
	AUTH_MODE_BASIC,
	AUTH_MODE_TOKEN,
} auth_mode;

typedef struct auth auth;
typedef struct auth_principal auth_principal;

/* What auth_new needs, from the configuration. Strings are copied. */
typedef struct {
	auth_mode mode;
	const char *realm;	/* Basic realm */
	const char *users_path; /* htpasswd file; may be absent at start */
	char *const *groups;	/* "NAME: USER ..." lines */
	size_t ngroups;
	char *const *rules; /* "PATTERN WHO ACTIONS" lines */
	size_t nrules;
	/* token mode */
	const char *service;	 /* audience of tokens, `service` of challenges */
	const char *issuer;	 /* `iss` of the tokens we sign */
	const char *key_path;	 /* our signing key (PEM); made if absent */
	const char *token_realm; /* realm URL of challenges; NULL/"" = from Host */
	uint32_t token_lifetime_sec;
	uint32_t refresh_lifetime_sec; /* refresh tokens (offline access); 0 = none */
	char *const *trust;	       /* "ISSUER PEM-PATH": external token servers */
	size_t ntrust;
	/* failed-login throttling (throttle.h); limit 0 = off */
	uint32_t fail_limit, fail_window_sec;
	/* NULL: the auth makes its own throttle from the two above. Else one
	 * to share (a reloaded configuration keeps counting the failures of
	 * the one it replaces): borrowed, it must outlive the auth. */
	struct auth_throttle *throttle;
	/* The name the rules see for a repository a token is asked for: a
	 * mirrored name's cache name ("library/alpine" -> "docker.io/library/
	 * alpine"). Writes it into out (outlen bytes) and returns out, or
	 * returns repo itself. NULL: every name is itself. */
	const char *(*rule_name)(void *arg, const char *repo, char *out, size_t outlen);
	void *rule_name_arg;
} auth_options;

/* One request to the gate. */
typedef struct {
	const char *action;	   /* "pull", "push", "delete", "catalog" or "login" (/v2/) */
	const char *repo;	   /* repository name, for pull, push and delete */
	const char *authorization; /* the Authorization header, or NULL */
	const char *remote;	   /* client address text, for throttling */
	const char *host;	   /* the Host header (realm URL), or NULL */
	bool tls;		   /* came over HTTPS (realm URL scheme) */
	const char *alias;	   /* or NULL: another name of repo, whose rule_name is
				      repo, so a token's grant for it counts for repo */
} auth_request;

/* What the gate says besides its status. */
typedef struct {
	auth_principal *who;		    /* with ST_OK (NULL in mode none): caller frees */
	char challenge[AUTH_CHALLENGE_MAX]; /* with ST_UNAUTHORIZED */
	unsigned retry_after;		    /* seconds, with ST_TOO_MANY_REQUESTS or
					       ST_UNAVAILABLE */
	unsigned delay_ms;		    /* hold the answer this long (a login after
					       failed ones: throttle.h), whatever it is */
	char detail[400];		    /* for the error body; may be "" */
	char user[256]; /* the user the credentials named, for the logs: also with
			   ST_DENIED, and from auth_token_issue; "" anonymous or
			   unknown (AUTH_NAME_MAX, rules.h) */
} auth_result;

/* "none", "basic", "token" -> mode. ST_OK or ST_INVALID. */
status_t auth_mode_parse(const char *s, auth_mode *out);

/* Whether s may appear in a challenge's quoted string (realm, service):
 * printable ASCII but '"' and '\\', 1-255 bytes. */
bool auth_quotable(const char *s);

/*
 * Builds the gate: parses groups and rules, reads the users file (warns if
 * absent; it is re-read whenever it changes), and in token mode loads (or
 * makes) the signing key and the trusted keys. Mode none gives *out = NULL,
 * which every function here takes as "allow everything".
 * ST_OK; ST_INVALID or ST_IO with err saying what (a bad rule, users file,
 * key); ST_NOMEM.
 */
status_t auth_new(auth **out, const auth_options *o, char *err, size_t errlen);
/* NULL is a no-op. */
void auth_free(auth *a);

/* What the gate counted since it was built (for /metrics). */
typedef struct {
	uint64_t failed_logins;	   /* wrong passwords and unknown user names */
	uint64_t lockouts_user;	   /* (address, user) locks started */
	uint64_t lockouts_address; /* whole-address locks started */
} auth_stats;

/* Fills *out; all zero for NULL (auth off). */
void auth_stats_get(const auth *a, auth_stats *out);

/* The mode (AUTH_MODE_NONE for NULL). */
auth_mode auth_get_mode(const auth *a);

/* Decides req; see the outcomes above. out is always written. */
status_t auth_check(auth *a, const auth_request *req, auth_result *out);

/*
 * Whether who may do action to repo, for decisions after the gate: the
 * source of a cross-repository mount, the catalog's entries. True when a
 * is NULL. who NULL is anonymous.
 */
bool auth_allowed(auth *a, const auth_principal *who, const char *action, const char *repo);

/* who's user name ("" for anonymous). */
const char *auth_principal_name(const auth_principal *who);
/* NULL is a no-op. */
void auth_principal_free(auth_principal *who);

/*
 * Asks the registry serving the users file users_path to lift the failed-
 * login locks (and forget the counts) of user at every address, or (user
 * NULL) of every user at addr, as they stand at now: appends the request
 * to USERS.unlock (rewritten atomically; the caller holds the users file's
 * lock, auth_htpasswd_lock), which a running registry watches like the
 * users file. ST_OK; ST_INVALID (neither or both of user and addr, or a
 * bad one); ST_IO with err.
 */
status_t auth_unlock_add(const char *users_path, const char *user, const char *addr, time_t now,
			 char *err, size_t errlen);

/* ---- web sessions (the web UI's login: server/ui_session.c) ---- */

#define AUTH_USER_PRINT_MAX 33 /* a user's password fingerprint, hex, with NUL */

/*
 * A login form's user and password, checked exactly as Basic credentials
 * (the same users file, cache and failed-login counts: a form is no way
 * around the lockout). ST_OK with out->who (a principal the rules judge, in
 * basic and token mode alike) and out->user; ST_UNAUTHORIZED (out->detail);
 * ST_TOO_MANY_REQUESTS or ST_UNAVAILABLE (out->retry_after); ST_INVALID for
 * a NULL a (no access control: there is nobody to log in as).
 */
status_t auth_login(auth *a, const char *user, const char *password, const char *remote,
		    auth_result *out);

/*
 * A principal for user, whose session the caller verified, if the user is
 * still in the users file (re-read when it changed): a removed user's
 * sessions stop at once. *out (may be NULL) gets the caller's principal;
 * fp the fingerprint of the user's password hash, which a session binds
 * to, so a changed password ends it too. ST_OK; ST_UNAUTHORIZED (no such
 * user, or a NULL a); ST_NOMEM.
 */
status_t auth_user_principal(auth *a, const char *user, char fp[AUTH_USER_PRINT_MAX],
			     auth_principal **out);

/* The anonymous caller of a page without a session, judged by the rules as
 * anonymous (in token mode too, where a request without a token is
 * refused everything: a browser has no token, and the rules say what
 * anonymous may see). ST_OK with *out (the caller's; NULL for a NULL a);
 * ST_NOMEM. */
status_t auth_anonymous_principal(auth *a, auth_principal **out);

/* A request to the token endpoint. */
typedef struct {
	/* who: at most one of these; none is anonymous */
	const char *authorization; /* Basic credentials (GET) */
	const char *user;	   /* OAuth2 password grant (POST): user... */
	const char *password;	   /* ...and password */
	const char *refresh_token; /* OAuth2 refresh_token grant (POST) */
	bool offline;		   /* also issue a refresh token (a user's only) */
	const char *remote;
	const char *service;	   /* the `service` parameter, or NULL */
	const char *const *scopes; /* `scope` parameters (each may hold several) */
	size_t nscopes;
} auth_token_request;

/*
 * Issues a token for what the caller may have of what it asks: the
 * granted subset of each scope goes into the `access` claim; nothing
 * granted is not an error (an empty access list, as for `docker login`).
 * ST_OK with *out_json = {"token","access_token","expires_in","issued_at"
 * [,"refresh_token"]} (caller frees); ST_NOT_ROUTE when not in token mode;
 * ST_INVALID (unknown service); ST_UNAUTHORIZED (bad credentials or refresh
 * token, with res->challenge a Basic one); ST_TOO_MANY_REQUESTS;
 * ST_UNAVAILABLE (as auth_check); ST_NOMEM; ST_IO.
 *
 * A refresh token is a JWT we sign for a user, with its own audience (so
 * the gate never takes it for an access token) and a fingerprint of the
 * user's password hash: deleting the user or changing the password
 * revokes every refresh token issued before.
 */
status_t auth_token_issue(auth *a, const auth_token_request *req, char **out_json,
			  auth_result *res);

#endif
