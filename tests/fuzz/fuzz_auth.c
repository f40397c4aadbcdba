/*
 * fuzz_auth.c - the access-control parsers that see request bytes
 * (auth/): the Authorization header through the gate (Basic credentials in
 * basic mode, a bearer JWT in token mode), the token endpoint's scope
 * parameters, base64 and the glob matcher.
 *
 * Input: the first byte picks the target, the rest is its text (for the
 * glob: the first half is the pattern, the second the name). Two gates
 * are made once, over a users file and a signing key in a temporary folder;
 * throttling is off so inputs do not depend on each other. Promises
 * checked: only the documented statuses; a 401 always carries a challenge
 * of the mode's scheme; ST_OK always names a principal; a token the
 * endpoint issues is accepted by the gate it came from.
 */
#include "fuzz.h"

#include <unistd.h>

#include "../../auth/auth.h"
#include "../../auth/b64.h"
#include "../../auth/htpasswd.h"
#include "../../auth/rules.h"

static auth *basic_gate, *token_gate;
static char dir[] = "/tmp/fuzz_auth.XXXXXX";

static void cleanup(void)
{
	char path[64];

	auth_free(basic_gate);
	auth_free(token_gate);
	snprintf(path, sizeof(path), "%s/htpasswd", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/token.key", dir);
	unlink(path);
	rmdir(dir);
}

static void setup(void)
{
	static char *const rules[] = {"team/** alice pull,push", "public/** anonymous pull"};
	char users[64], key[64];
	auth_htpasswd *h = NULL;
	auth_options o = {0};

	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(users, sizeof(users), "%s/htpasswd", dir);
	snprintf(key, sizeof(key), "%s/token.key", dir);
	if (auth_htpasswd_new(&h) != ST_OK || auth_htpasswd_set(h, "alice", "pw", 4) != ST_OK ||
	    auth_htpasswd_save(h, users) != ST_OK)
		abort();
	auth_htpasswd_free(h);
	o.mode = AUTH_MODE_BASIC;
	o.users_path = users;
	o.rules = rules;
	o.nrules = 2;
	o.key_path = key;
	o.token_lifetime_sec = 300;
	if (auth_new(&basic_gate, &o, NULL, 0) != ST_OK)
		abort();
	o.mode = AUTH_MODE_TOKEN;
	if (auth_new(&token_gate, &o, NULL, 0) != ST_OK)
		abort();
	atexit(cleanup);
}

static void gate(auth *a, const char *authz, const char *scheme)
{
	static const char *const actions[] = {"login", "catalog", "pull", "push", "delete"};
	auth_result res;

	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++) {
		auth_request req = {actions[i], "team/app", authz, "192.0.2.1", "h:1", false, NULL};
		status_t st = auth_check(a, &req, &res);
		FUZZ_ASSERT(st == ST_OK || st == ST_UNAUTHORIZED || st == ST_DENIED);
		if (st == ST_UNAUTHORIZED)
			FUZZ_ASSERT(strncmp(res.challenge, scheme, strlen(scheme)) == 0);
		if (st == ST_OK) {
			FUZZ_ASSERT(res.who != NULL);
			FUZZ_ASSERT(strlen(auth_principal_name(res.who)) < AUTH_NAME_MAX);
		}
		auth_principal_free(res.who);
	}
}

/* Scopes from the text (split at newlines), then the token on the gate. */
static void token(const char *text)
{
	const char *scopes[8];
	char *copy = strdup(text), *save = NULL, *tok, *json = NULL, authz[8192];
	size_t n = 0;
	auth_token_request tr = {
	    .authorization = "Basic YWxpY2U6cHc=", .remote = "192.0.2.1", .scopes = scopes};
	auth_result res;
	const char *t, *end;

	if (copy == NULL)
		return;
	for (tok = strtok_r(copy, "\n", &save); tok && n < 8; tok = strtok_r(NULL, "\n", &save))
		scopes[n++] = tok;
	tr.nscopes = n;
	FUZZ_ASSERT(auth_token_issue(token_gate, &tr, &json, &res) == ST_OK);
	t = strstr(json, "\"token\":\"");
	FUZZ_ASSERT(t != NULL);
	t += 9;
	end = strchr(t, '"');
	FUZZ_ASSERT(end != NULL && (size_t)(end - t) < sizeof(authz) - 8);
	snprintf(authz, sizeof(authz), "Bearer %.*s", (int)(end - t), t);
	{
		auth_request req = {"login", NULL, authz, "192.0.2.1", NULL, false, NULL};
		FUZZ_ASSERT(auth_check(token_gate, &req, &res) == ST_OK);
		FUZZ_ASSERT(strcmp(auth_principal_name(res.who), "alice") == 0);
		auth_principal_free(res.who);
	}
	free(json);
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s, buf[4096];
	size_t n;

	if (basic_gate == NULL)
		setup();
	if (size == 0)
		return 0;
	if ((s = fuzz_cstr(data + 1, size - 1)) == NULL)
		return 0;
	switch (data[0] % 6) {
	case 0:
		gate(basic_gate, s, "Basic ");
		break;
	case 1:
		gate(token_gate, s, "Bearer ");
		break;
	case 2:
		token(s);
		break;
	case 3:
		if (auth_b64_decode(buf, sizeof(buf), &n, s, strlen(s), data[0] & 8) == ST_OK)
			FUZZ_ASSERT(n <= sizeof(buf));
		break;
	case 4: {
		char *name = s + strlen(s) / 2;
		char pattern[1100];
		snprintf(pattern, sizeof(pattern), "%.*s", (int)(name - s), s);
		(void)auth_glob_match(pattern, name);
		FUZZ_ASSERT(auth_glob_match("**", name) == (strlen(name) <= 1023));
		break;
	}
	default: {
		auth_rules *rs = NULL;
		if (auth_rules_new(&rs) == ST_OK) {
			if (auth_rules_add(rs, s, NULL, 0) == ST_OK)
				FUZZ_ASSERT(auth_rules_count(rs) == 1);
			auth_rules_add_group(rs, s, NULL, 0);
			(void)auth_rules_eval(rs, "alice", "team/app");
		}
		auth_rules_free(rs);
		break;
	}
	}
	free(s);
	return 0;
}
