/*
 * test_auth.c - auth/auth.c, the gate, and auth/throttle.c, in process:
 * each mode against no credentials, a wrong password, a user without the
 * right and a user with it; the challenges word for word; tokens from the
 * token endpoint used on the gate (scopes granted, narrowed, refused;
 * expiry); the users file re-read when it changes; failed-login throttling.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "../../auth/addrlist.h"
#include "../../auth/auth.h"
#include "../../auth/b64.h"
#include "../../auth/htpasswd.h"
#include "../../auth/throttle.h"

static char dir[64], users[128], keypath[128];
static auth *a;
static auth_result res;
static char err[512];

static char *const groups[] = {"team-a: alice"};
static char *const rules[] = {"team-a/** @team-a pull,push,delete", "team-a/** bob pull",
			      "public/** anonymous pull"};

static void write_users(void)
{
	auth_htpasswd *h = NULL;

	ck_assert_int_eq(auth_htpasswd_new(&h), ST_OK);
	ck_assert_int_eq(auth_htpasswd_set(h, "alice", "pw-alice", 4), ST_OK);
	ck_assert_int_eq(auth_htpasswd_set(h, "bob", "pw-bob", 4), ST_OK);
	ck_assert_int_eq(auth_htpasswd_save(h, users), ST_OK);
	auth_htpasswd_free(h);
}

static void setup(void)
{
	a = NULL;
	memset(&res, 0, sizeof(res));
	snprintf(dir, sizeof(dir), "/tmp/test_auth.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(users, sizeof(users), "%s/htpasswd", dir);
	snprintf(keypath, sizeof(keypath), "%s/token.key", dir);
	write_users();
}

static void teardown(void)
{
	char cmd[128];

	auth_principal_free(res.who);
	res.who = NULL;
	auth_free(a);
	a = NULL;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static auth_options options(auth_mode mode)
{
	auth_options o = {0};

	o.mode = mode;
	o.realm = "test realm";
	o.users_path = users;
	o.groups = groups;
	o.ngroups = 1;
	o.rules = rules;
	o.nrules = 3;
	o.service = "registry";
	o.issuer = "registry";
	o.key_path = keypath;
	o.token_lifetime_sec = 300;
	o.fail_limit = 100;
	o.fail_window_sec = 60;
	return o;
}

static void make(auth_mode mode)
{
	auth_options o = options(mode);

	ck_assert_msg(auth_new(&a, &o, err, sizeof(err)) == ST_OK, "%s", err);
}

/* "Basic base64(user:pw)" into out. */
static const char *basic(char *out, const char *user, const char *pw)
{
	char plain[256], b64[400];

	snprintf(plain, sizeof(plain), "%s:%s", user, pw);
	auth_b64_encode(b64, plain, strlen(plain), false);
	sprintf(out, "Basic %s", b64);
	return out;
}

/* Runs the gate; frees any previous principal. */
static status_t check(const char *action, const char *repo, const char *authz)
{
	auth_request req = {action, repo, authz, "192.0.2.1", "reg.example:5000", false, NULL};

	auth_principal_free(res.who);
	res.who = NULL;
	return auth_check(a, &req, &res);
}

START_TEST(mode_none)
{
	auth_options o = options(AUTH_MODE_NONE);

	ck_assert_int_eq(auth_new(&a, &o, err, sizeof(err)), ST_OK);
	ck_assert_ptr_null(a);
	ck_assert_int_eq(check("push", "x", NULL), ST_OK);
	ck_assert_ptr_null(res.who);
	ck_assert(auth_allowed(NULL, NULL, "delete", "x"));
	ck_assert_int_eq(auth_get_mode(NULL), AUTH_MODE_NONE);
}
END_TEST

START_TEST(modes_parse)
{
	auth_mode m;

	ck_assert_int_eq(auth_mode_parse("basic", &m), ST_OK);
	ck_assert_int_eq(m, AUTH_MODE_BASIC);
	ck_assert_int_eq(auth_mode_parse("token", &m), ST_OK);
	ck_assert_int_eq(m, AUTH_MODE_TOKEN);
	ck_assert_int_eq(auth_mode_parse("none", &m), ST_OK);
	ck_assert_int_eq(auth_mode_parse("Basic", &m), ST_INVALID);
	ck_assert(auth_quotable("registry"));
	ck_assert(!auth_quotable("a\"b"));
	ck_assert(!auth_quotable(""));
	ck_assert(!auth_quotable("tab\there"));
}
END_TEST

START_TEST(basic_matrix)
{
	char h[512];

	make(AUTH_MODE_BASIC);
	/* no credentials */
	ck_assert_int_eq(check("pull", "team-a/app", NULL), ST_UNAUTHORIZED);
	ck_assert_str_eq(res.challenge, "Basic realm=\"test realm\",charset=\"UTF-8\"");
	ck_assert_int_eq(check("login", NULL, NULL), ST_UNAUTHORIZED);
	ck_assert_int_eq(check("pull", "public/x", NULL), ST_OK); /* anonymous may */
	ck_assert_str_eq(auth_principal_name(res.who), "");
	ck_assert_int_eq(check("push", "public/x", NULL), ST_UNAUTHORIZED);
	ck_assert_int_eq(check("catalog", NULL, NULL), ST_OK); /* anonymous has pulls */
	/* wrong password, unknown user, malformed credentials */
	ck_assert_int_eq(check("pull", "team-a/app", basic(h, "alice", "nope")), ST_UNAUTHORIZED);
	ck_assert_str_eq(res.detail, "wrong user name or password");
	ck_assert(strncmp(res.challenge, "Basic ", 6) == 0);
	ck_assert_int_eq(check("pull", "team-a/app", basic(h, "eve", "x")), ST_UNAUTHORIZED);
	ck_assert_int_eq(check("pull", "team-a/app", "Basic !!!"), ST_UNAUTHORIZED);
	ck_assert_int_eq(check("pull", "team-a/app", "Basic YWxpY2U="), ST_UNAUTHORIZED);
	ck_assert_int_eq(check("pull", "team-a/app", "Bearer abc"), ST_UNAUTHORIZED);
	ck_assert_int_eq(check("pull", "team-a/app", "Digest x"), ST_UNAUTHORIZED);
	/* a user without the right: 403 */
	ck_assert_int_eq(check("push", "team-a/app", basic(h, "bob", "pw-bob")), ST_DENIED);
	ck_assert_str_eq(res.detail, "bob may not push team-a/app");
	ck_assert_str_eq(res.challenge, "");
	ck_assert_int_eq(check("delete", "team-a/app", basic(h, "bob", "pw-bob")), ST_DENIED);
	ck_assert_int_eq(check("pull", "other/x", basic(h, "bob", "pw-bob")), ST_DENIED);
	/* the user with the right */
	ck_assert_int_eq(check("pull", "team-a/app", basic(h, "bob", "pw-bob")), ST_OK);
	ck_assert_str_eq(auth_principal_name(res.who), "bob");
	ck_assert_int_eq(check("push", "team-a/app", basic(h, "alice", "pw-alice")), ST_OK);
	ck_assert_int_eq(check("delete", "team-a/app/x", basic(h, "alice", "pw-alice")), ST_OK);
	ck_assert_int_eq(check("login", NULL, basic(h, "alice", "pw-alice")), ST_OK);
	ck_assert_int_eq(check("catalog", NULL, basic(h, "bob", "pw-bob")), ST_OK);
	/* after the gate */
	ck_assert(auth_allowed(a, res.who, "pull", "team-a/app"));
	ck_assert(auth_allowed(a, res.who, "pull", "public/y"));
	ck_assert(!auth_allowed(a, res.who, "push", "team-a/app"));
	ck_assert(!auth_allowed(a, res.who, "pull", "team-b/app"));
	ck_assert(auth_allowed(a, NULL, "pull", "public/y"));
	ck_assert(!auth_allowed(a, NULL, "pull", "team-a/app"));
	ck_assert(!auth_allowed(a, res.who, "fly", "team-a/app"));
	/* misuse */
	ck_assert_int_eq(check("fly", "x", NULL), ST_INVALID);
	ck_assert_int_eq(check("pull", NULL, NULL), ST_INVALID);
	ck_assert_int_eq(auth_check(a, NULL, &res), ST_INVALID);
}
END_TEST

START_TEST(basic_users_file_changes)
{
	char h[512];
	auth_htpasswd *u = NULL;

	make(AUTH_MODE_BASIC);
	ck_assert_int_eq(check("login", NULL, basic(h, "alice", "pw-alice")), ST_OK);
	/* change alice's password and add carol, as `registry user add` does */
	ck_assert_int_eq(auth_htpasswd_load(&u, users, NULL, 0), ST_OK);
	ck_assert_int_eq(auth_htpasswd_set(u, "alice", "new", 4), ST_OK);
	ck_assert_int_eq(auth_htpasswd_set(u, "carol", "pw-carol", 4), ST_OK);
	ck_assert_int_eq(auth_htpasswd_save(u, users), ST_OK);
	auth_htpasswd_free(u);
	/* the cached old password is forgotten with the old file */
	ck_assert_int_eq(check("login", NULL, basic(h, "alice", "pw-alice")), ST_UNAUTHORIZED);
	ck_assert_int_eq(check("login", NULL, basic(h, "alice", "new")), ST_OK);
	ck_assert_int_eq(check("login", NULL, basic(h, "carol", "pw-carol")), ST_OK);
	/* a broken file leaves the last good list in force */
	{
		FILE *f = fopen(users, "w");
		fputs("garbage without colon\n", f);
		fclose(f);
	}
	ck_assert_int_eq(check("login", NULL, basic(h, "carol", "pw-carol")), ST_OK);
	/* no file: nobody */
	unlink(users);
	ck_assert_int_eq(check("login", NULL, basic(h, "carol", "pw-carol")), ST_UNAUTHORIZED);
}
END_TEST

START_TEST(bad_options)
{
	auth_options o = options(AUTH_MODE_BASIC);
	char *const bad_rules[] = {"x @nope pull"};
	char *const bad_groups[] = {"g: a", "g: b"};
	FILE *f;

	o.rules = bad_rules;
	o.nrules = 1;
	ck_assert_int_eq(auth_new(&a, &o, err, sizeof(err)), ST_INVALID);
	ck_assert_str_eq(err, "rule 'x ...' names group @nope, which is not defined");
	o = options(AUTH_MODE_BASIC);
	o.groups = bad_groups;
	o.ngroups = 2;
	ck_assert_int_eq(auth_new(&a, &o, err, sizeof(err)), ST_INVALID);
	ck_assert_str_eq(err, "group 'g' defined twice");
	/* a users file that does not parse stops start-up */
	f = fopen(users, "w");
	fputs("alice:x\nalice:y\n", f);
	fclose(f);
	o = options(AUTH_MODE_BASIC);
	ck_assert_int_eq(auth_new(&a, &o, err, sizeof(err)), ST_INVALID);
	ck_assert(strstr(err, ":2: user 'alice' listed twice") != NULL);
	/* token mode with an untrusted-looking trust line */
	unlink(users);
	o = options(AUTH_MODE_TOKEN);
	{
		char *const trust[] = {"registry /dev/null"};
		o.trust = trust;
		o.ntrust = 1;
		ck_assert_int_eq(auth_new(&a, &o, err, sizeof(err)), ST_INVALID);
		ck_assert_str_eq(err, "auth_token_trust 'registry': that issuer is this registry's "
				      "own (auth_token_issuer)");
	}
	ck_assert_ptr_null(a);
	ck_assert_int_eq(auth_new(&a, NULL, err, sizeof(err)), ST_INVALID);
}
END_TEST

/* Asks the token endpoint; returns the token (caller frees) or NULL. */
static char *token(const char *authz, const char *scope1, const char *scope2, status_t want)
{
	const char *scopes[2] = {scope1, scope2};
	auth_token_request tr = {.authorization = authz,
				 .remote = "192.0.2.1",
				 .service = "registry",
				 .scopes = scopes,
				 .nscopes = (size_t)(scope1 != NULL) + (scope2 != NULL)};
	auth_result r;
	char *json = NULL, *t = NULL;
	json_t *j;
	status_t st = auth_token_issue(a, &tr, &json, &r);

	ck_assert_int_eq(st, want);
	if (st != ST_OK) {
		ck_assert_ptr_null(json);
		memcpy(&res.challenge, r.challenge, sizeof(r.challenge));
		return NULL;
	}
	j = json_loads(json, 0, NULL);
	ck_assert_ptr_nonnull(j);
	ck_assert_str_eq(json_string_value(json_object_get(j, "token")),
			 json_string_value(json_object_get(j, "access_token")));
	ck_assert_int_eq(json_integer_value(json_object_get(j, "expires_in")), 300);
	ck_assert_ptr_nonnull(json_string_value(json_object_get(j, "issued_at")));
	t = strdup(json_string_value(json_object_get(j, "token")));
	json_decref(j);
	free(json);
	return t;
}

static const char *bearer(char *out, const char *t)
{
	sprintf(out, "Bearer %s", t);
	return out;
}

/* rule_name for the mirror test: "library/..." is cached as "docker.io/library/...". */
static const char *cache_name(void *arg, const char *repo, char *out, size_t outlen)
{
	if (strncmp(repo, "library/", 8) != 0)
		return repo;
	snprintf(out, outlen, "docker.io/%s", repo);
	return out;
}

/* The gate with an alias, as access_gate asks for a mirrored name. */
static status_t check_alias(const char *repo, const char *alias, const char *authz)
{
	auth_request req = {"pull", repo, authz, "192.0.2.1", "reg.example", false, alias};

	auth_principal_free(res.who);
	res.who = NULL;
	return auth_check(a, &req, &res);
}

/* A token is granted by the rules on the cache name of what it is asked
 * for, and counts for the cache name only through the alias the gate gives
 * (the name dockerd sent). */
START_TEST(token_mirror_names)
{
	static char *const mrules[] = {"docker.io/** alice pull", "library/** bob pull"};
	auth_options o = options(AUTH_MODE_TOKEN);
	char h[512], b[4096], *ta, *tb;

	o.rules = mrules;
	o.nrules = 2;
	o.rule_name = cache_name;
	ck_assert_msg(auth_new(&a, &o, err, sizeof(err)) == ST_OK, "%s", err);
	ta = token(basic(h, "alice", "pw-alice"), "repository:library/x:pull", NULL, ST_OK);
	tb = token(basic(h, "bob", "pw-bob"), "repository:library/x:pull", NULL, ST_OK);
	ck_assert_ptr_nonnull(ta);
	ck_assert_ptr_nonnull(tb);
	/* alice may pull all of docker.io: her token for library/x opens the cache
	 * name when the client sent library/x */
	ck_assert_int_eq(check_alias("docker.io/library/x", "library/x", bearer(b, ta)), ST_OK);
	/* ...not when it sent another spelling (?ns=: no alias) */
	ck_assert_int_eq(check_alias("docker.io/library/x", NULL, bearer(b, ta)), ST_UNAUTHORIZED);
	/* bob's rule on library/... is about the name as sent: it grants nothing
	 * for what is read from the cache */
	ck_assert_int_eq(check_alias("docker.io/library/x", "library/x", bearer(b, tb)), ST_DENIED);
	free(ta);
	free(tb);
}
END_TEST

START_TEST(token_matrix)
{
	char h[512], b[4096], *t;

	make(AUTH_MODE_TOKEN);
	/* no token: the challenge sends the client to /token */
	ck_assert_int_eq(check("pull", "team-a/app", NULL), ST_UNAUTHORIZED);
	ck_assert_str_eq(res.challenge,
			 "Bearer realm=\"http://reg.example:5000/token\","
			 "service=\"registry\",scope=\"repository:team-a/app:pull\"");
	ck_assert_int_eq(check("push", "team-a/app", NULL), ST_UNAUTHORIZED);
	ck_assert_str_eq(res.challenge,
			 "Bearer realm=\"http://reg.example:5000/token\","
			 "service=\"registry\",scope=\"repository:team-a/app:pull,push\"");
	ck_assert_int_eq(check("login", NULL, NULL), ST_UNAUTHORIZED);
	ck_assert_str_eq(res.challenge,
			 "Bearer realm=\"http://reg.example:5000/token\",service=\"registry\"");
	ck_assert_int_eq(check("catalog", NULL, NULL), ST_UNAUTHORIZED);
	ck_assert(strstr(res.challenge, "scope=\"registry:catalog:*\"") != NULL);
	/* Basic credentials are not taken by the registry in token mode */
	ck_assert_int_eq(check("pull", "team-a/app", basic(h, "alice", "pw-alice")),
			 ST_UNAUTHORIZED);

	/* wrong password at the token endpoint: 401 with a Basic challenge */
	t = token(basic(h, "alice", "nope"), "repository:team-a/app:pull", NULL, ST_UNAUTHORIZED);
	ck_assert_str_eq(res.challenge, "Basic realm=\"test realm\",charset=\"UTF-8\"");
	t = token("Bearer x", NULL, NULL, ST_UNAUTHORIZED);

	/* a user without the right gets a token without it, then 403 */
	t = token(basic(h, "bob", "pw-bob"), "repository:team-a/app:pull,push", NULL, ST_OK);
	ck_assert_int_eq(check("pull", "team-a/app", bearer(b, t)), ST_OK);
	ck_assert_str_eq(auth_principal_name(res.who), "bob");
	ck_assert_int_eq(check("push", "team-a/app", bearer(b, t)), ST_DENIED);
	ck_assert_str_eq(res.detail, "bob may not push team-a/app");
	ck_assert_int_eq(check("pull", "team-a/other", bearer(b, t)), ST_UNAUTHORIZED);
	ck_assert(strstr(res.challenge, "error=\"insufficient_scope\"") != NULL);
	ck_assert_int_eq(check("login", NULL, bearer(b, t)), ST_OK);
	free(t);

	/* the user with the right */
	t = token(basic(h, "alice", "pw-alice"), "repository:team-a/app:pull,push",
		  "repository:team-a/src:pull", ST_OK);
	ck_assert_int_eq(check("push", "team-a/app", bearer(b, t)), ST_OK);
	ck_assert_int_eq(check("pull", "team-a/app", bearer(b, t)), ST_OK);
	ck_assert(auth_allowed(a, res.who, "pull", "team-a/src"));
	ck_assert(!auth_allowed(a, res.who, "pull", "team-b/x"));
	/* delete is hers by the rules, but not in this token: ask again */
	ck_assert_int_eq(check("delete", "team-a/app", bearer(b, t)), ST_UNAUTHORIZED);
	ck_assert(strstr(res.challenge,
			 "scope=\"repository:team-a/app:delete\",error=\"insufficient_scope\"") !=
		  NULL);
	ck_assert_int_eq(check("catalog", NULL, bearer(b, t)), ST_UNAUTHORIZED);
	free(t);
	t = token(basic(h, "alice", "pw-alice"), "repository:team-a/app:*", "registry:catalog:*",
		  ST_OK);
	ck_assert_int_eq(check("delete", "team-a/app", bearer(b, t)), ST_OK);
	ck_assert_int_eq(check("catalog", NULL, bearer(b, t)), ST_OK);
	/* a token is bound to its service */
	free(t);

	/* anonymous: a token with what anonymous may do */
	t = token(NULL, "repository:public/x:pull,push", "repository:team-a/app:pull", ST_OK);
	ck_assert_int_eq(check("pull", "public/x", bearer(b, t)), ST_OK);
	ck_assert_int_eq(check("push", "public/x", bearer(b, t)), ST_UNAUTHORIZED);
	ck_assert_int_eq(check("pull", "team-a/app", bearer(b, t)), ST_UNAUTHORIZED);
	free(t);

	/* a broken or foreign token */
	ck_assert_int_eq(check("pull", "public/x", "Bearer x.y.z"), ST_UNAUTHORIZED);
	ck_assert(strstr(res.challenge, "error=\"invalid_token\"") != NULL);
	ck_assert_str_eq(res.detail, "invalid token: malformed token");
}
END_TEST

START_TEST(token_scopes)
{
	char h[512], b[4096], *t;
	const char *scopes[] = {"repository:team-a/app:pull repository:team-a/b:push",
				"repository:Bad Name:pull", "nonsense", "repository:team-a/c:fly",
				"registry:catalog:*"};
	auth_token_request tr = {.remote = "192.0.2.1", .scopes = scopes, .nscopes = 5};
	auth_result r;
	char *json = NULL;
	json_t *j, *claims = NULL;
	size_t n;

	make(AUTH_MODE_TOKEN);
	tr.authorization = basic(h, "alice", "pw-alice");
	ck_assert_int_eq(auth_token_issue(a, &tr, &json, &r), ST_OK);
	j = json_loads(json, 0, NULL);
	t = strdup(json_string_value(json_object_get(j, "token")));
	json_decref(j);
	free(json);
	/* look inside: two repositories and the catalog, nothing else */
	{
		char *dot1 = strchr(t, '.'), *dot2 = strrchr(t, '.'), buf[2048];
		ck_assert_int_eq(auth_b64_decode(buf, sizeof(buf), &n, dot1 + 1,
						 (size_t)(dot2 - dot1 - 1), true),
				 ST_OK);
		claims = json_loadb(buf, n, 0, NULL);
	}
	ck_assert_ptr_nonnull(claims);
	ck_assert_str_eq(json_string_value(json_object_get(claims, "sub")), "alice");
	ck_assert_str_eq(json_string_value(json_object_get(claims, "aud")), "registry");
	ck_assert_uint_eq(json_array_size(json_object_get(claims, "access")), 3);
	json_decref(claims);
	ck_assert_int_eq(check("pull", "team-a/app", bearer(b, t)), ST_OK);
	ck_assert_int_eq(check("push", "team-a/b", bearer(b, t)), ST_OK);
	ck_assert_int_eq(check("pull", "team-a/b", bearer(b, t)), ST_UNAUTHORIZED);
	free(t);
	/* another service, and not in token mode */
	tr.service = "elsewhere";
	ck_assert_int_eq(auth_token_issue(a, &tr, &json, &r), ST_INVALID);
	ck_assert_str_eq(r.detail, "unknown service 'elsewhere'");
	auth_free(a);
	make(AUTH_MODE_BASIC);
	tr.service = NULL;
	ck_assert_int_eq(auth_token_issue(a, &tr, &json, &r), ST_NOT_ROUTE);
	ck_assert_int_eq(auth_token_issue(NULL, &tr, &json, &r), ST_NOT_ROUTE);
}
END_TEST

START_TEST(token_expiry_and_realm)
{
	auth_options o = options(AUTH_MODE_TOKEN);
	char h[512], b[4096], *t;
	auth_request req = {"pull", "public/x", NULL, "192.0.2.1", "reg.example", true, NULL};

	o.token_lifetime_sec = 1;
	o.token_realm = "https://auth.example/token";
	ck_assert_int_eq(auth_new(&a, &o, err, sizeof(err)), ST_OK);
	ck_assert_int_eq(auth_check(a, &req, &res), ST_UNAUTHORIZED);
	ck_assert_str_eq(res.challenge, "Bearer realm=\"https://auth.example/token\","
					"service=\"registry\",scope=\"repository:public/x:pull\"");
	auth_free(a);
	o.token_realm = NULL;
	ck_assert_int_eq(auth_new(&a, &o, err, sizeof(err)), ST_OK);
	ck_assert_int_eq(auth_check(a, &req, &res), ST_UNAUTHORIZED);
	ck_assert(strncmp(res.challenge, "Bearer realm=\"https://reg.example/token\"", 40) == 0);
	req.host = "evil\"host";
	ck_assert_int_eq(auth_check(a, &req, &res), ST_UNAUTHORIZED);
	ck_assert(strncmp(res.challenge, "Bearer realm=\"https://localhost/token\"", 38) == 0);
	{
		const char *scopes[] = {"repository:public/x:pull"};
		auth_token_request tr = {.authorization = basic(h, "bob", "pw-bob"),
					 .remote = "192.0.2.1",
					 .scopes = scopes,
					 .nscopes = 1};
		auth_result r;
		char *json = NULL;
		json_t *j;
		ck_assert_int_eq(auth_token_issue(a, &tr, &json, &r), ST_OK);
		j = json_loads(json, 0, NULL);
		t = strdup(json_string_value(json_object_get(j, "token")));
		json_decref(j);
		free(json);
	}
	ck_assert_int_eq(check("pull", "public/x", bearer(b, t)), ST_OK);
	sleep(2);
	ck_assert_int_eq(check("pull", "public/x", bearer(b, t)), ST_UNAUTHORIZED);
	ck_assert_str_eq(res.detail, "invalid token: expired");
	free(t);
}
END_TEST

/* The value of key in a token reply, malloc'd, or NULL. */
static char *reply_field(const char *json, const char *key)
{
	json_t *j = json_loads(json, 0, NULL);
	const char *v = json_string_value(json_object_get(j, key));
	char *out = v ? strdup(v) : NULL;

	json_decref(j);
	return out;
}

START_TEST(refresh_tokens)
{
	auth_options o = options(AUTH_MODE_TOKEN);
	const char *scopes[] = {"repository:team-a/x:pull"};
	auth_token_request tr = {0};
	auth_htpasswd *u = NULL;
	char *json = NULL, *refresh, *access, h[512];
	auth_result r;

	o.refresh_lifetime_sec = 3600;
	ck_assert_msg(auth_new(&a, &o, err, sizeof(err)) == ST_OK, "%s", err);
	/* a password grant asking for offline access */
	tr.user = "bob";
	tr.password = "pw-bob";
	tr.offline = true;
	tr.remote = "192.0.2.9";
	tr.scopes = scopes;
	tr.nscopes = 1;
	ck_assert_int_eq(auth_token_issue(a, &tr, &json, &r), ST_OK);
	refresh = reply_field(json, "refresh_token");
	ck_assert_ptr_nonnull(refresh);
	free(json);
	/* not an access token: another audience */
	snprintf(h, sizeof(h), "Bearer %s", refresh);
	ck_assert_int_eq(check("pull", "team-a/x", h), ST_UNAUTHORIZED);
	/* the refresh grant: a token for bob, no new refresh token */
	memset(&tr, 0, sizeof(tr));
	tr.refresh_token = refresh;
	tr.offline = true;
	tr.scopes = scopes;
	tr.nscopes = 1;
	ck_assert_int_eq(auth_token_issue(a, &tr, &json, &r), ST_OK);
	ck_assert_ptr_null(strstr(json, "refresh_token"));
	access = reply_field(json, "access_token");
	free(json);
	snprintf(h, sizeof(h), "Bearer %s", access);
	ck_assert_int_eq(check("pull", "team-a/x", h), ST_OK);
	ck_assert_str_eq(auth_principal_name(res.who), "bob");
	/* an access token is not a refresh token */
	tr.refresh_token = access;
	ck_assert_int_eq(auth_token_issue(a, &tr, &json, &r), ST_UNAUTHORIZED);
	free(access);
	/* removing bob revokes it */
	ck_assert_int_eq(auth_htpasswd_load(&u, users, NULL, 0), ST_OK);
	ck_assert_int_eq(auth_htpasswd_del(u, "bob"), ST_OK);
	ck_assert_int_eq(auth_htpasswd_save(u, users), ST_OK);
	auth_htpasswd_free(u);
	tr.refresh_token = refresh;
	ck_assert_int_eq(auth_token_issue(a, &tr, &json, &r), ST_UNAUTHORIZED);
	ck_assert_ptr_nonnull(strstr(r.detail, "revoked"));
	free(refresh);
	/* anonymous callers get none; nor does anyone with a lifetime of 0 */
	memset(&tr, 0, sizeof(tr));
	tr.offline = true;
	ck_assert_int_eq(auth_token_issue(a, &tr, &json, &r), ST_OK);
	ck_assert_ptr_null(strstr(json, "refresh_token"));
	free(json);
	auth_free(a);
	o.refresh_lifetime_sec = 0;
	ck_assert_msg(auth_new(&a, &o, err, sizeof(err)) == ST_OK, "%s", err);
	tr.user = "alice";
	tr.password = "pw-alice";
	ck_assert_int_eq(auth_token_issue(a, &tr, &json, &r), ST_OK);
	ck_assert_ptr_null(strstr(json, "refresh_token"));
	free(json);
}
END_TEST

START_TEST(throttling_in_the_gate)
{
	auth_options o = options(AUTH_MODE_BASIC);
	auth_stats stats;
	char h[512];

	o.fail_limit = 3;
	o.fail_window_sec = 60;
	ck_assert_int_eq(auth_new(&a, &o, err, sizeof(err)), ST_OK);
	ck_assert_int_eq(check("login", NULL, basic(h, "alice", "x1")), ST_UNAUTHORIZED);
	ck_assert_uint_eq(res.delay_ms, 0); /* a first typo is answered at once */
	ck_assert_int_eq(check("login", NULL, basic(h, "alice", "x2")), ST_UNAUTHORIZED);
	ck_assert_uint_eq(res.delay_ms, AUTH_THROTTLE_DELAY_MS);
	/* bob's count is his own: no hold for his first attempt */
	ck_assert_int_eq(check("login", NULL, basic(h, "bob", "pw-bob")), ST_OK);
	ck_assert_uint_eq(res.delay_ms, 0);
	/* ...and his success does not clear alice's */
	ck_assert_int_eq(check("login", NULL, basic(h, "alice", "x3")), ST_UNAUTHORIZED);
	ck_assert_uint_eq(res.delay_ms, 2 * AUTH_THROTTLE_DELAY_MS);
	/* counted for /metrics: three failures, one (address, user) lock */
	auth_stats_get(a, &stats);
	ck_assert_uint_eq(stats.failed_logins, 3);
	ck_assert_uint_eq(stats.lockouts_user, 1);
	ck_assert_uint_eq(stats.lockouts_address, 0);
	/* locked: even the right password */
	ck_assert_int_eq(check("login", NULL, basic(h, "alice", "pw-alice")), ST_TOO_MANY_REQUESTS);
	ck_assert_uint_gt(res.retry_after, 0);
	auth_stats_get(a, &stats); /* a refusal is no failed login */
	ck_assert_uint_eq(stats.failed_logins, 3);
	ck_assert_uint_le(res.retry_after, 60);
	/* bob, from the same address, is not */
	ck_assert_int_eq(check("login", NULL, basic(h, "bob", "pw-bob")), ST_OK);
	/* a cached right password clears a count as a checked one does */
	ck_assert_int_eq(check("login", NULL, basic(h, "bob", "x1")), ST_UNAUTHORIZED);
	ck_assert_int_eq(check("login", NULL, basic(h, "bob", "pw-bob")), ST_OK);
	ck_assert_uint_eq(res.delay_ms, AUTH_THROTTLE_DELAY_MS);
	ck_assert_int_eq(check("login", NULL, basic(h, "bob", "x2")), ST_UNAUTHORIZED);
	ck_assert_uint_eq(res.delay_ms, 0);
	/* anonymous requests are not logins and go on */
	ck_assert_int_eq(check("pull", "public/x", NULL), ST_OK);
	/* another address is not affected */
	{
		auth_request req = {"login", NULL, basic(h, "alice", "pw-alice"), "192.0.2.2", NULL,
				    false,   NULL};
		auth_principal_free(res.who);
		res.who = NULL;
		ck_assert_int_eq(auth_check(a, &req, &res), ST_OK);
	}
	/* `registry user unlock alice` (the file a running registry watches) */
	ck_assert_int_eq(auth_unlock_add(users, "alice", NULL, time(NULL), err, sizeof(err)),
			 ST_OK);
	ck_assert_int_eq(check("login", NULL, basic(h, "alice", "pw-alice")), ST_OK);
	ck_assert_int_eq(check("login", NULL, basic(h, "alice", "x4")), ST_UNAUTHORIZED);
	ck_assert_uint_eq(res.delay_ms, 0); /* forgotten, not only unlocked */
	/* misuse */
	ck_assert_int_eq(auth_unlock_add(users, NULL, NULL, 0, err, sizeof(err)), ST_INVALID);
	ck_assert_int_eq(auth_unlock_add(users, "alice", "192.0.2.1", 0, err, sizeof(err)),
			 ST_INVALID);
	ck_assert_int_eq(auth_unlock_add(users, "bad name", NULL, 0, err, sizeof(err)), ST_INVALID);
}
END_TEST

/* Names sprayed from one address: each name's count stays under the limit,
 * the address's own (AUTH_THROTTLE_ADDR_FACTOR x) stops them. */
START_TEST(throttling_sprayed_names)
{
	auth_options o = options(AUTH_MODE_BASIC);
	char h[512], name[32];
	unsigned n = 3 * AUTH_THROTTLE_ADDR_FACTOR;
	auth_stats stats;

	o.fail_limit = 3;
	o.fail_window_sec = 60;
	ck_assert_int_eq(auth_new(&a, &o, err, sizeof(err)), ST_OK);
	for (unsigned i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "user%u", i);
		ck_assert_int_eq(check("login", NULL, basic(h, name, "pw")), ST_UNAUTHORIZED);
		ck_assert_uint_eq(res.delay_ms, 0);
	}
	ck_assert_int_eq(check("login", NULL, basic(h, "alice", "pw-alice")), ST_TOO_MANY_REQUESTS);
	auth_stats_get(a, &stats);
	ck_assert_uint_eq(stats.failed_logins, n);
	ck_assert_uint_eq(stats.lockouts_address, 1);
	ck_assert_uint_eq(stats.lockouts_user, 0);
	auth_stats_get(NULL, &stats); /* auth off */
	ck_assert_uint_eq(stats.failed_logins + stats.lockouts_user + stats.lockouts_address, 0);
	/* lifted for the address */
	ck_assert_int_eq(auth_unlock_add(users, NULL, "192.0.2.1", time(NULL), err, sizeof(err)),
			 ST_OK);
	ck_assert_int_eq(check("login", NULL, basic(h, "alice", "pw-alice")), ST_OK);
	/* names that are no names count for the address only */
	for (unsigned i = 0; i < n; i++)
		ck_assert_int_eq(check("login", NULL, basic(h, "@bad", "pw")), ST_UNAUTHORIZED);
	ck_assert_int_eq(check("login", NULL, basic(h, "bob", "pw-bob")), ST_TOO_MANY_REQUESTS);
}
END_TEST

/* podman's empty credentials (`Authorization: Basic Og==`) are anonymous. */
START_TEST(empty_basic_is_anonymous)
{
	char h[512];

	make(AUTH_MODE_BASIC);
	ck_assert_int_eq(check("pull", "public/x", "Basic Og=="), ST_OK);
	ck_assert_str_eq(auth_principal_name(res.who), "");
	ck_assert_int_eq(check("pull", "team-a/x", "Basic Og=="), ST_UNAUTHORIZED);
	ck_assert_str_eq(res.challenge, "Basic realm=\"test realm\",charset=\"UTF-8\"");
	ck_assert_int_eq(check("login", NULL, "Basic Og=="), ST_UNAUTHORIZED);
	/* an empty user with a password is no anonymous caller */
	ck_assert_int_eq(check("pull", "public/x", basic(h, "", "pw")), ST_UNAUTHORIZED);
	auth_free(a);
	/* the token endpoint: an anonymous token */
	make(AUTH_MODE_TOKEN);
	{
		const char *scopes[] = {"repository:public/x:pull"};
		auth_token_request tr = {.authorization = "Basic Og==",
					 .remote = "192.0.2.1",
					 .scopes = scopes,
					 .nscopes = 1};
		auth_result r;
		char *json = NULL;
		ck_assert_int_eq(auth_token_issue(a, &tr, &json, &r), ST_OK);
		ck_assert_ptr_nonnull(strstr(json, "\"token\""));
		free(json);
	}
}
END_TEST

/* ---- a shared store in memory: throttle.h's contract, for the tests ---- */

#define FAKE_ROWS 5000

typedef struct {
	bool used;
	char addr[AUTH_ADDR_MAX], user[AUTH_NAME_MAX]; /* user "": the address's own */
	bool known;
	unsigned failures;
	int64_t first, blocked_until, expires;
} fake_row;

typedef struct {
	fake_row *rows;
	bool down;	  /* every operation fails, as an unreachable database */
	int calls, ended; /* operations asked; lapsed locks told */
} fake_store;

static fake_row *fake_find(fake_store *f, const char *addr, const char *user)
{
	for (int i = 0; i < FAKE_ROWS; i++)
		if (f->rows[i].used && strcmp(f->rows[i].addr, addr) == 0 &&
		    strcmp(f->rows[i].user, user ? user : "") == 0)
			return &f->rows[i];
	return NULL;
}

static void fake_copy(auth_throttle_count *out, const fake_row *r)
{
	memset(out, 0, sizeof(*out));
	if (r == NULL)
		return;
	out->failures = r->failures;
	out->known = r->known;
	out->blocked_until = r->blocked_until;
}

static status_t fake_check(void *arg, const char *addr, const char *user, time_t now,
			   auth_throttle_count *out_addr, auth_throttle_count *out_user,
			   auth_throttle_ended_fn ended, void *ctx)
{
	fake_store *f = arg;

	f->calls++;
	fake_copy(out_addr, NULL);
	fake_copy(out_user, NULL);
	if (f->down)
		return ST_IO;
	for (int i = 0; i < FAKE_ROWS; i++) {
		fake_row *r = &f->rows[i];
		if (!r->used || r->expires > now)
			continue;
		if (r->blocked_until != 0) {
			f->ended++;
			ended(ctx, r->addr, r->user, r->known);
		}
		r->used = false;
	}
	fake_copy(out_addr, fake_find(f, addr, ""));
	if (user != NULL && user[0] != '\0')
		fake_copy(out_user, fake_find(f, addr, user));
	return ST_OK;
}

static status_t fake_fail(void *arg, const char *addr, const char *user, bool known, unsigned limit,
			  unsigned window_sec, time_t now, auth_throttle_count *out)
{
	fake_store *f = arg;
	fake_row *r;

	f->calls++;
	fake_copy(out, NULL);
	if (f->down)
		return ST_IO;
	if ((r = fake_find(f, addr, user)) != NULL && r->expires <= now)
		r->used = false; /* lapsed: starts again */
	if (r == NULL || !r->used) {
		for (r = f->rows; r->used; r++)
			ck_assert(r < f->rows + FAKE_ROWS - 1);
		memset(r, 0, sizeof(*r));
		r->used = true;
		snprintf(r->addr, sizeof(r->addr), "%s", addr);
		snprintf(r->user, sizeof(r->user), "%s", user ? user : "");
		r->first = now;
		r->expires = now + window_sec;
	}
	r->known = r->known || known;
	if (++r->failures >= limit && r->blocked_until == 0)
		r->blocked_until = r->expires = now + window_sec;
	fake_copy(out, r);
	return ST_OK;
}

static status_t fake_clear(void *arg, const char *addr, const char *user)
{
	fake_store *f = arg;
	fake_row *r;

	f->calls++;
	if (f->down)
		return ST_IO;
	if ((r = fake_find(f, addr, user)) != NULL && r->blocked_until == 0)
		r->used = false;
	return ST_OK;
}

static status_t fake_unlock(void *arg, const char *addr, const char *user, time_t before,
			    auth_throttle_ended_fn lifted, void *ctx, size_t *out_n)
{
	fake_store *f = arg;

	f->calls++;
	*out_n = 0;
	if (f->down)
		return ST_IO;
	for (int i = 0; i < FAKE_ROWS; i++) {
		fake_row *r = &f->rows[i];
		if (!r->used || r->first > before || (addr != NULL && strcmp(r->addr, addr) != 0) ||
		    (user != NULL && strcmp(r->user, user) != 0))
			continue;
		if (r->blocked_until != 0)
			lifted(ctx, r->addr, r->user, r->known);
		r->used = false;
		(*out_n)++;
	}
	return ST_OK;
}

static const auth_throttle_store fake_ops = {fake_check, fake_fail, fake_clear, fake_unlock};

static fake_store *fake_new(void)
{
	fake_store *f = calloc(1, sizeof(*f));

	ck_assert_ptr_nonnull(f);
	f->rows = calloc(FAKE_ROWS, sizeof(*f->rows));
	ck_assert_ptr_nonnull(f->rows);
	return f;
}

static void fake_free(fake_store *f)
{
	if (f == NULL)
		return;
	free(f->rows);
	free(f);
}

/* A throttle for throttle_unit's run _i: 0 its own table, 1 a store (the
 * same behaviour is expected of both). */
static auth_throttle *throttle_for(int run, fake_store *f, unsigned limit, unsigned window)
{
	auth_throttle *t = NULL;

	ck_assert_int_eq(auth_throttle_new(&t, limit, window), ST_OK);
	if (run == 1)
		auth_throttle_use_store(t, &fake_ops, f);
	return t;
}

START_TEST(throttle_unit)
{
	auth_throttle *t = NULL;
	fake_store *f = fake_new();
	char addr[32];

	t = throttle_for(_i, f, 2, 10);
	ck_assert_uint_eq(auth_throttle_blocked(t, "a", "u", 100), 0);
	ck_assert_uint_eq(auth_throttle_delay_ms(t, "a", "u", 100), 0);
	auth_throttle_fail(t, "a", "u", true, 100);
	ck_assert_uint_eq(auth_throttle_blocked(t, "a", "u", 100), 0);
	ck_assert_uint_eq(auth_throttle_delay_ms(t, "a", "u", 100), AUTH_THROTTLE_DELAY_MS);
	ck_assert_uint_eq(auth_throttle_delay_ms(t, "a", "v", 100), 0); /* another user */
	auth_throttle_fail(t, "a", "u", true, 100);
	auth_throttle_success(t, "a", "v", 100); /* another user's success: no effect */
	ck_assert_uint_eq(auth_throttle_blocked(t, "a", "u", 100), 10);
	ck_assert_uint_eq(auth_throttle_blocked(t, "a", "v", 100), 0);
	ck_assert_uint_eq(auth_throttle_blocked(t, "b", "u", 100), 0);
	auth_throttle_success(t, "a", "u", 100); /* no effect while blocked */
	ck_assert_uint_eq(auth_throttle_blocked(t, "a", "u", 109), 1);
	ck_assert_uint_eq(auth_throttle_blocked(t, "a", "u", 110), 0); /* lapsed */
	/* a success starts its own user afresh */
	auth_throttle_fail(t, "a", "u", true, 120);
	auth_throttle_success(t, "a", "u", 120);
	ck_assert_uint_eq(auth_throttle_delay_ms(t, "a", "u", 120), 0);
	auth_throttle_fail(t, "a", "w", true, 150);
	ck_assert_uint_eq(auth_throttle_delay_ms(t, "a", "w", 159), AUTH_THROTTLE_DELAY_MS);
	ck_assert_uint_eq(auth_throttle_delay_ms(t, "a", "w", 160), 0); /* the window lapsed */
	/* failures further apart than the window do not add up */
	auth_throttle_fail(t, "c", "u", true, 200);
	auth_throttle_fail(t, "c", "u", true, 211);
	ck_assert_uint_eq(auth_throttle_blocked(t, "c", "u", 211), 0);
	/* the address's own count: 2 x factor failures, any names */
	for (int i = 0; i < 2 * AUTH_THROTTLE_ADDR_FACTOR; i++) {
		snprintf(addr, sizeof(addr), "n%d", i);
		ck_assert_uint_eq(auth_throttle_blocked(t, "d", NULL, 300), 0);
		auth_throttle_fail(t, "d", addr, false, 300);
	}
	ck_assert_uint_eq(auth_throttle_blocked(t, "d", "anyone", 300), 10);
	ck_assert_uint_eq(auth_throttle_blocked(t, "d", NULL, 300), 10);
	/* unlock: by user everywhere, by address, and only what started before */
	auth_throttle_fail(t, "e", "u", true, 300);
	auth_throttle_fail(t, "e", "u", true, 300);
	auth_throttle_fail(t, "f", "u", true, 300);
	auth_throttle_fail(t, "f", "u", true, 300);
	ck_assert_uint_eq(auth_throttle_unlock(t, NULL, "u", 299, "test"), 0);
	ck_assert_uint_eq(auth_throttle_unlock(t, NULL, "u", 300, "test"), 2);
	ck_assert_uint_eq(auth_throttle_blocked(t, "e", "u", 301), 0);
	ck_assert_uint_eq(auth_throttle_blocked(t, "f", "u", 301), 0);
	ck_assert_uint_eq(auth_throttle_unlock(t, "d", NULL, 300, "test"),
			  2 * AUTH_THROTTLE_ADDR_FACTOR + 1);
	ck_assert_uint_eq(auth_throttle_blocked(t, "d", "anyone", 301), 0);
	ck_assert_uint_eq(auth_throttle_unlock(t, NULL, NULL, 300, "test"), 0);
	/* more entries than slots: memory stays bounded, the newest counts */
	for (int i = 0; i < AUTH_THROTTLE_SLOTS + 10; i++) {
		snprintf(addr, sizeof(addr), "10.0.%d.%d", i / 256, i % 256);
		auth_throttle_fail(t, addr, "u", true, 400 + i / 1000);
	}
	auth_throttle_fail(t, addr, "u", true, 403);
	ck_assert_uint_gt(auth_throttle_blocked(t, addr, "u", 403), 0);
	auth_throttle_free(t);
	/* the hold doubles per failure up to its cap */
	t = throttle_for(_i, f, 100, 60);
	for (unsigned i = 1, want = AUTH_THROTTLE_DELAY_MS; i < 20; i++, want *= 2) {
		auth_throttle_fail(t, "d", "u", true, 100);
		if (want > AUTH_THROTTLE_DELAY_MAX_MS)
			want = AUTH_THROTTLE_DELAY_MAX_MS;
		ck_assert_uint_eq(auth_throttle_delay_ms(t, "d", "u", 100), want);
	}
	auth_throttle_free(t);
	/* limit 0: off (a store is never asked) */
	f->calls = 0;
	t = throttle_for(_i, f, 0, 10);
	for (int i = 0; i < 10; i++)
		auth_throttle_fail(t, "a", "u", true, 100);
	ck_assert_uint_eq(auth_throttle_blocked(t, "a", "u", 100), 0);
	ck_assert_uint_eq(auth_throttle_delay_ms(t, "a", "u", 100), 0);
	ck_assert_int_eq(f->calls, 0);
	auth_throttle_free(t);
	auth_throttle_free(NULL);
	auth_throttle_use_store(NULL, &fake_ops, f); /* a no-op */
	fake_free(f);
}
END_TEST

/* Two replicas (two throttles) on one store: the counts are the cluster's. */
START_TEST(throttle_shared)
{
	fake_store *f = fake_new();
	auth_throttle *t1 = throttle_for(1, f, 3, 10), *t2 = throttle_for(1, f, 3, 10);
	uint64_t u1, a1, u2, a2;
	unsigned left = 0, ms = 0;

	/* failures spread over both lock after 3 in all, on both */
	auth_throttle_fail(t1, "a", "u", true, 100);
	ck_assert_uint_eq(auth_throttle_delay_ms(t2, "a", "u", 100), AUTH_THROTTLE_DELAY_MS);
	auth_throttle_fail(t2, "a", "u", true, 100);
	ck_assert_uint_eq(auth_throttle_blocked(t1, "a", "u", 100), 0);
	auth_throttle_fail(t1, "a", "u", true, 101);
	ck_assert_uint_eq(auth_throttle_blocked(t1, "a", "u", 101), 10);
	ck_assert_uint_eq(auth_throttle_blocked(t2, "a", "u", 102), 9);
	/* the lock started once, where the third failure was counted */
	auth_throttle_lockouts(t1, &u1, &a1);
	auth_throttle_lockouts(t2, &u2, &a2);
	ck_assert_uint_eq(u1, 1);
	ck_assert_uint_eq(u2, 0);
	ck_assert_uint_eq(a1 + a2, 0);
	/* a success on one replica clears the count on the other */
	auth_throttle_fail(t1, "b", "u", true, 100);
	auth_throttle_fail(t1, "b", "u", true, 100);
	auth_throttle_success(t2, "b", "u", 100);
	ck_assert_uint_eq(auth_throttle_delay_ms(t1, "b", "u", 100), 0);
	/* the end of a lock is told once: by whoever sweeps it first */
	ck_assert_uint_eq(auth_throttle_blocked(t2, "a", "u", 111), 0);
	ck_assert_uint_eq(auth_throttle_blocked(t1, "a", "u", 111), 0);
	ck_assert_int_eq(f->ended, 1);
	/* an unlock on one lifts it for both */
	for (int i = 0; i < 3; i++)
		auth_throttle_fail(i % 2 ? t1 : t2, "c", "v", true, 200);
	ck_assert_uint_gt(auth_throttle_blocked(t1, "c", "v", 200), 0);
	ck_assert_uint_eq(auth_throttle_unlock(t1, NULL, "v", 200, "test"), 1);
	ck_assert_uint_eq(auth_throttle_blocked(t2, "c", "v", 201), 0);
	ck_assert_uint_eq(auth_throttle_delay_ms(t2, "c", "v", 201), 0); /* forgotten */
	/* the store down: fail closed, every login refused for a short while */
	f->down = true;
	ck_assert_int_eq(auth_throttle_check(t1, "d", "w", 300, &left, &ms), ST_UNAVAILABLE);
	ck_assert_uint_eq(left, AUTH_THROTTLE_RETRY_SEC);
	ck_assert_uint_eq(auth_throttle_blocked(t2, "d", "w", 300), AUTH_THROTTLE_RETRY_SEC);
	ck_assert_uint_eq(auth_throttle_blocked(t2, "d", NULL, 300), AUTH_THROTTLE_RETRY_SEC);
	auth_throttle_fail(t1, "d", "w", true, 300); /* dropped, logged */
	auth_throttle_success(t1, "d", "w", 300);    /* dropped, logged */
	ck_assert_uint_eq(auth_throttle_unlock(t1, "d", NULL, 300, "test"), 0);
	f->down = false;
	ck_assert_int_eq(auth_throttle_check(t1, "d", "w", 301, &left, &ms), ST_OK);
	ck_assert_uint_eq(left, 0);
	ck_assert_uint_eq(ms, 0);
	/* misuse: no address, limit 0 */
	ck_assert_int_eq(auth_throttle_check(t1, NULL, "w", 301, &left, &ms), ST_OK);
	ck_assert_uint_eq(left + ms, 0);
	auth_throttle_free(t1);
	auth_throttle_free(t2);
	fake_free(f);
}
END_TEST

/* The gate over a shared store that cannot answer: no password is checked
 * (fail closed), the caller is told to retry; anonymous requests go on. */
START_TEST(throttling_store_down)
{
	auth_options o = options(AUTH_MODE_BASIC);
	fake_store *f = fake_new();
	auth_stats stats;
	char h[512];

	o.fail_limit = 3;
	o.throttle = throttle_for(1, f, 3, 60);
	ck_assert_int_eq(auth_new(&a, &o, err, sizeof(err)), ST_OK);
	f->down = true;
	ck_assert_int_eq(check("login", NULL, basic(h, "alice", "pw-alice")), ST_UNAVAILABLE);
	ck_assert_uint_eq(res.retry_after, AUTH_THROTTLE_RETRY_SEC);
	ck_assert_ptr_nonnull(strstr(res.detail, "cannot be checked"));
	ck_assert_int_eq(check("login", NULL, basic(h, "alice", "wrong")), ST_UNAVAILABLE);
	ck_assert_int_eq(check("login", NULL, basic(h, "@bad", "wrong")), ST_UNAVAILABLE);
	auth_stats_get(a, &stats);
	ck_assert_uint_eq(stats.failed_logins, 0); /* nothing was tried */
	ck_assert_int_eq(check("pull", "public/x", NULL), ST_OK);
	/* back: logins and counting go on */
	f->down = false;
	ck_assert_int_eq(check("login", NULL, basic(h, "alice", "pw-alice")), ST_OK);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(check("login", NULL, basic(h, "bob", "x")), ST_UNAUTHORIZED);
	ck_assert_int_eq(check("login", NULL, basic(h, "bob", "pw-bob")), ST_TOO_MANY_REQUESTS);
	auth_free(a);
	a = NULL;
	auth_throttle_free(o.throttle);
	fake_free(f);
}
END_TEST

START_TEST(addrlist_unit)
{
	auth_addrlist *l = NULL;
	char out[64];

	ck_assert_int_eq(
	    auth_addrlist_parse(&l, "127.0.0.1, 10.0.0.0/8 fd00::/8", err, sizeof(err)), ST_OK);
	ck_assert(auth_addrlist_has(l, "127.0.0.1"));
	ck_assert(auth_addrlist_has(l, "::ffff:127.0.0.1")); /* a dual-stack socket's view */
	ck_assert(!auth_addrlist_has(l, "127.0.0.2"));
	ck_assert(auth_addrlist_has(l, "10.200.3.4"));
	ck_assert(!auth_addrlist_has(l, "11.0.0.1"));
	ck_assert(auth_addrlist_has(l, "fd12::1"));
	ck_assert(!auth_addrlist_has(l, "fe80::1"));
	ck_assert(!auth_addrlist_has(l, "junk"));
	ck_assert(!auth_addrlist_has(l, NULL));
	/* the right-most address that is not a trusted proxy */
	auth_addrlist_client(l, "127.0.0.1", "203.0.113.9", out, sizeof(out));
	ck_assert_str_eq(out, "203.0.113.9");
	auth_addrlist_client(l, "127.0.0.1", "198.51.100.1, 203.0.113.9, 10.1.1.1", out,
			     sizeof(out));
	ck_assert_str_eq(out, "203.0.113.9");
	auth_addrlist_client(l, "127.0.0.1", " 10.1.1.1 ,10.2.2.2", out, sizeof(out));
	ck_assert_str_eq(out, "10.1.1.1"); /* all trusted: the left-most */
	auth_addrlist_client(l, "127.0.0.1", "198.51.100.1, junk, 10.1.1.1", out, sizeof(out));
	ck_assert_str_eq(out, "10.1.1.1"); /* stops at what is not an address */
	auth_addrlist_client(l, "127.0.0.1", "junk", out, sizeof(out));
	ck_assert_str_eq(out, "127.0.0.1");
	auth_addrlist_client(l, "127.0.0.1", "", out, sizeof(out));
	ck_assert_str_eq(out, "127.0.0.1");
	auth_addrlist_client(l, "127.0.0.1", NULL, out, sizeof(out));
	ck_assert_str_eq(out, "127.0.0.1");
	auth_addrlist_client(l, "127.0.0.1", "2001:DB8::1", out, sizeof(out));
	ck_assert_str_eq(out, "2001:db8::1"); /* as inet_ntop writes it */
	/* from a peer that is no trusted proxy, the header is ignored */
	auth_addrlist_client(l, "192.0.2.7", "203.0.113.9", out, sizeof(out));
	ck_assert_str_eq(out, "192.0.2.7");
	auth_addrlist_client(NULL, "192.0.2.7", "203.0.113.9", out, sizeof(out));
	ck_assert_str_eq(out, "192.0.2.7");
	auth_addrlist_free(l);
	auth_addrlist_free(NULL);
	ck_assert_int_eq(auth_addrlist_parse(&l, "", err, sizeof(err)), ST_OK);
	ck_assert(!auth_addrlist_has(l, "127.0.0.1"));
	auth_addrlist_free(l);
	ck_assert_int_eq(auth_addrlist_parse(&l, "10.0.0.0/33", err, sizeof(err)), ST_INVALID);
	ck_assert_str_eq(err, "'10.0.0.0/33': bad prefix length");
	ck_assert_int_eq(auth_addrlist_parse(&l, "10.0.0.0/", err, sizeof(err)), ST_INVALID);
	ck_assert_int_eq(auth_addrlist_parse(&l, "proxy.example", err, sizeof(err)), ST_INVALID);
	ck_assert_str_eq(err, "'proxy.example' is not an IPv4 or IPv6 address");
	ck_assert_ptr_null(l);
}
END_TEST

Suite *make_auth_suite(void)
{
	Suite *s = suite_create("auth");
	TCase *tc = tcase_create("gate");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, mode_none);
	tcase_add_test(tc, modes_parse);
	tcase_add_test(tc, basic_matrix);
	tcase_add_test(tc, basic_users_file_changes);
	tcase_add_test(tc, bad_options);
	tcase_add_test(tc, token_matrix);
	tcase_add_test(tc, token_scopes);
	tcase_add_test(tc, token_mirror_names);
	tcase_add_test(tc, token_expiry_and_realm);
	tcase_add_test(tc, refresh_tokens);
	tcase_add_test(tc, throttling_in_the_gate);
	tcase_add_test(tc, throttling_sprayed_names);
	tcase_add_test(tc, throttling_store_down);
	tcase_add_test(tc, empty_basic_is_anonymous);
	suite_add_tcase(s, tc);
	tc = tcase_create("throttle");
	tcase_add_loop_test(tc, throttle_unit, 0, 2);
	tcase_add_test(tc, throttle_shared);
	tcase_add_test(tc, addrlist_unit);
	suite_add_tcase(s, tc);
	return s;
}
