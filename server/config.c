/*
 * config.c - the registry's settings: built-in defaults, the file, then
 * command-line flags (see config.h).
 *
 * Every key is one row of `keys`, with the function that checks and stores
 * its value; the file loader and the flags go through the same function
 * (config_set), so a value means the same wherever it comes from. Each value
 * is range-checked here, once, so the rest of the program can trust a config
 * it is handed. A file error names the file and line; no key may appear
 * twice, so a forgotten earlier line cannot silently win or lose.
 */
#include "config.h"

#include "../auth/addrlist.h"
#include "../auth/auth.h"
#include "../auth/rules.h"
#include "../proxy/upstream.h"
#include "../storage/blobstore.h"
#include "../storage/meta.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define THREADS_MAX 256
#define MAX_CONNECTIONS_MAX 65536
#define TOKEN_LIFETIME_MAX_SEC (7 * 86400)
#define REFRESH_LIFETIME_MAX_SEC (3650u * 86400u)
#define AUTH_FAIL_LIMIT_MAX 1000000
#define AUTH_FAIL_WINDOW_MAX_SEC 86400
#define PROXY_RETRIES_MAX 10

/*
 * Parses digits-only s with an optional one-letter suffix from `suffixes`
 * (scaled by the matching entry of `mult`) into *out, up to max. Returns 0,
 * or -1 for anything else: no digits, a sign, a space, an unknown suffix,
 * or a value over max.
 */
static int parse_scaled(const char *s, const char *suffixes, const uint64_t *mult, uint64_t max,
			uint64_t *out)
{
	const char *p = s;
	uint64_t v = 0, m = 1;

	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');
		if (v > (max - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (*p != '\0') {
		const char *hit = strchr(suffixes, *p);
		if (hit == NULL || p[1] != '\0')
			return -1;
		m = mult[hit - suffixes];
	}
	if (v != 0 && v > max / m)
		return -1;
	*out = v * m;
	return 0;
}

static int parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	return parse_scaled(s, "", NULL, max, out);
}

/* "4M" -> bytes; K, M, G are powers of 1024, either case. */
static int parse_size(const char *s, uint64_t *out)
{
	static const uint64_t mult[] = {
	    1024, 1024, 1024 * 1024, 1024 * 1024, 1024 * 1024 * 1024, 1024 * 1024 * 1024};
	return parse_scaled(s, "kKmMgG", mult, INT64_MAX, out);
}

/* "24h" -> seconds; a bare number is seconds. The result fits uint32_t. */
static int parse_duration(const char *s, uint64_t *out)
{
	static const uint64_t mult[] = {1, 60, 3600, 86400};
	return parse_scaled(s, "smhd", mult, UINT32_MAX, out);
}

static status_t set_string(char *dst, size_t dstlen, const char *key, const char *value, char *err,
			   size_t errlen)
{
	size_t n = strlen(value);

	if (n == 0) {
		status_errf(err, errlen, "%s may not be empty", key);
		return ST_INVALID;
	}
	if (n >= dstlen) {
		status_errf(err, errlen, "%s is longer than %zu bytes", key, dstlen - 1);
		return ST_INVALID;
	}
	memcpy(dst, value, n + 1);
	return ST_OK;
}

static status_t set_listen(config *c, const char *value, char *err, size_t errlen)
{
	uint16_t port;

	if (config_listen_split(value, NULL, 0, &port) != ST_OK) {
		status_errf(
		    err, errlen,
		    "invalid listen '%s' (expected HOST:PORT, [IPV6]:PORT or :PORT, port 0-65535)",
		    value);
		return ST_INVALID;
	}
	return set_string(c->listen, sizeof(c->listen), "listen", value, err, errlen);
}

static status_t set_data(config *c, const char *value, char *err, size_t errlen)
{
	return set_string(c->data, sizeof(c->data), "data", value, err, errlen);
}

static status_t set_log_level(config *c, const char *value, char *err, size_t errlen)
{
	if (log_level_parse(value, &c->log_level) != 0) {
		status_errf(err, errlen,
			    "invalid log_level '%s' (expected error, warn, info or debug)", value);
		return ST_INVALID;
	}
	return ST_OK;
}

static status_t set_delete_enabled(config *c, const char *value, char *err, size_t errlen)
{
	static const char *const yes[] = {"true", "yes", "on"}, *const no[] = {"false", "no",
									       "off"};

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcmp(value, yes[i]) == 0) {
			c->delete_enabled = true;
			return ST_OK;
		}
		if (strcmp(value, no[i]) == 0) {
			c->delete_enabled = false;
			return ST_OK;
		}
	}
	status_errf(err, errlen,
		    "invalid delete_enabled '%s' (expected true, false, yes, no, on or off)",
		    value);
	return ST_INVALID;
}

static status_t set_max_manifest_size(config *c, const char *value, char *err, size_t errlen)
{
	uint64_t v;

	if (parse_size(value, &v) != 0 || v == 0) {
		status_errf(err, errlen,
			    "invalid max_manifest_size '%s' (expected a size above 0, such as 4M)",
			    value);
		return ST_INVALID;
	}
	c->max_manifest_bytes = v;
	return ST_OK;
}

static status_t set_upload_ttl(config *c, const char *value, char *err, size_t errlen)
{
	uint64_t v;

	if (parse_duration(value, &v) != 0 || v == 0) {
		status_errf(err, errlen,
			    "invalid upload_ttl '%s' (expected a duration above 0, such as 24h)",
			    value);
		return ST_INVALID;
	}
	c->upload_ttl_sec = (uint32_t)v;
	return ST_OK;
}

static status_t set_threads(config *c, const char *value, char *err, size_t errlen)
{
	uint64_t v;

	if (parse_uint(value, THREADS_MAX, &v) != 0) {
		status_errf(err, errlen, "invalid threads '%s' (expected a number from 0 to %d)",
			    value, THREADS_MAX);
		return ST_INVALID;
	}
	c->threads = (uint32_t)v;
	return ST_OK;
}

static status_t set_max_connections(config *c, const char *value, char *err, size_t errlen)
{
	uint64_t v;

	if (parse_uint(value, MAX_CONNECTIONS_MAX, &v) != 0 || v == 0) {
		status_errf(err, errlen,
			    "invalid max_connections '%s' (expected a number from 1 to %d)", value,
			    MAX_CONNECTIONS_MAX);
		return ST_INVALID;
	}
	c->max_connections = (uint32_t)v;
	return ST_OK;
}

/* 0 is allowed: libmicrohttpd then never closes an idle connection. */
static status_t set_connection_timeout(config *c, const char *value, char *err, size_t errlen)
{
	uint64_t v;

	if (parse_duration(value, &v) != 0) {
		status_errf(err, errlen,
			    "invalid connection_timeout '%s' (expected a duration, such as 60s)",
			    value);
		return ST_INVALID;
	}
	c->connection_timeout_sec = (uint32_t)v;
	return ST_OK;
}

/* ---- backends: only names storage/ implements pass ---- */

static status_t set_storage(config *c, const char *value, char *err, size_t errlen)
{
	if (blobstore_backend_find(value) == NULL) {
		status_errf(err, errlen, "invalid storage '%s' (expected filesystem)", value);
		return ST_INVALID;
	}
	return set_string(c->storage, sizeof(c->storage), "storage", value, err, errlen);
}

static status_t set_metadata(config *c, const char *value, char *err, size_t errlen)
{
	if (meta_backend_find(value) == NULL) {
		status_errf(err, errlen, "invalid metadata '%s' (expected sqlite)", value);
		return ST_INVALID;
	}
	return set_string(c->metadata, sizeof(c->metadata), "metadata", value, err, errlen);
}

/* ---- access control and TLS ---- */

static status_t set_auth(config *c, const char *value, char *err, size_t errlen)
{
	auth_mode m;

	if (auth_mode_parse(value, &m) != ST_OK) {
		status_errf(err, errlen, "invalid auth '%s' (expected none, basic or token)",
			    value);
		return ST_INVALID;
	}
	c->auth_mode = (int)m;
	return ST_OK;
}

/* A value that goes into a challenge's quoted string. */
static status_t set_quotable(char *dst, size_t dstlen, const char *key, const char *value,
			     char *err, size_t errlen)
{
	if (!auth_quotable(value)) {
		status_errf(err, errlen,
			    "invalid %s '%s' (1-255 printable ASCII characters, no '\"' or '\\')",
			    key, value);
		return ST_INVALID;
	}
	return set_string(dst, dstlen, key, value, err, errlen);
}

static status_t set_auth_realm(config *c, const char *value, char *err, size_t errlen)
{
	return set_quotable(c->auth_realm, sizeof(c->auth_realm), "auth_realm", value, err, errlen);
}

static status_t set_auth_users(config *c, const char *value, char *err, size_t errlen)
{
	return set_string(c->auth_users, sizeof(c->auth_users), "auth_users", value, err, errlen);
}

/* Appends a copy of value to l. */
static status_t list_add(config_list *l, const char *key, const char *value, char *err,
			 size_t errlen)
{
	char **v, *copy;

	if (l->n >= CONFIG_LIST_MAX) {
		status_errf(err, errlen, "more than %d %s lines", CONFIG_LIST_MAX, key);
		return ST_INVALID;
	}
	if ((copy = strdup(value)) == NULL ||
	    (v = realloc(l->v, (l->n + 1) * sizeof(*v))) == NULL) {
		free(copy);
		status_errf(err, errlen, "out of memory");
		return ST_NOMEM;
	}
	v[l->n++] = copy;
	l->v = v;
	return ST_OK;
}

static void list_free(config_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* Rules and groups are parsed here only to check them (auth_new parses
 * them again), so a mistake is reported with its FILE:LINE. */
static status_t set_auth_rule(config *c, const char *value, char *err, size_t errlen)
{
	auth_rules *rs = NULL;
	status_t st;

	if ((st = auth_rules_new(&rs)) == ST_OK)
		st = auth_rules_add(rs, value, err, errlen);
	auth_rules_free(rs);
	return st == ST_OK ? list_add(&c->auth_rules, "auth_rule", value, err, errlen) : st;
}

static status_t set_auth_group(config *c, const char *value, char *err, size_t errlen)
{
	auth_rules *rs = NULL;
	status_t st;

	if ((st = auth_rules_new(&rs)) == ST_OK)
		st = auth_rules_add_group(rs, value, err, errlen);
	auth_rules_free(rs);
	for (size_t i = 0; st == ST_OK && i < c->auth_groups.n; i++) {
		size_t n = strcspn(c->auth_groups.v[i], ": \t");
		const char *name = value + strspn(value, " \t");
		if (strncmp(c->auth_groups.v[i], name, n) == 0 && strcspn(name, ": \t") == n) {
			status_errf(err, errlen, "group '%.*s' defined twice", (int)n, name);
			st = ST_INVALID;
		}
	}
	return st == ST_OK ? list_add(&c->auth_groups, "auth_group", value, err, errlen) : st;
}

static status_t set_auth_token_service(config *c, const char *value, char *err, size_t errlen)
{
	return set_quotable(c->auth_token_service, sizeof(c->auth_token_service),
			    "auth_token_service", value, err, errlen);
}

static status_t set_auth_token_issuer(config *c, const char *value, char *err, size_t errlen)
{
	if (strchr(value, ' ') || strchr(value, '\t')) {
		status_errf(err, errlen, "invalid auth_token_issuer '%s' (no spaces)", value);
		return ST_INVALID;
	}
	return set_quotable(c->auth_token_issuer, sizeof(c->auth_token_issuer), "auth_token_issuer",
			    value, err, errlen);
}

static status_t set_auth_token_key(config *c, const char *value, char *err, size_t errlen)
{
	return set_string(c->auth_token_key, sizeof(c->auth_token_key), "auth_token_key", value,
			  err, errlen);
}

static status_t set_auth_token_realm(config *c, const char *value, char *err, size_t errlen)
{
	if ((strncmp(value, "http://", 7) != 0 && strncmp(value, "https://", 8) != 0) ||
	    !auth_quotable(value) || strchr(value, ' ')) {
		status_errf(err, errlen,
			    "invalid auth_token_realm '%s' (expected an http:// or https:// URL)",
			    value);
		return ST_INVALID;
	}
	return set_string(c->auth_token_realm, sizeof(c->auth_token_realm), "auth_token_realm",
			  value, err, errlen);
}

static status_t set_auth_token_lifetime(config *c, const char *value, char *err, size_t errlen)
{
	uint64_t v;

	if (parse_duration(value, &v) != 0 || v == 0 || v > TOKEN_LIFETIME_MAX_SEC) {
		status_errf(err, errlen,
			    "invalid auth_token_lifetime '%s' (expected a duration from 1s to 7d)",
			    value);
		return ST_INVALID;
	}
	c->auth_token_lifetime_sec = (uint32_t)v;
	return ST_OK;
}

static status_t set_auth_token_refresh_lifetime(config *c, const char *value, char *err,
						size_t errlen)
{
	uint64_t v;

	if (parse_duration(value, &v) != 0 || v > REFRESH_LIFETIME_MAX_SEC) {
		status_errf(err, errlen,
			    "invalid auth_token_refresh_lifetime '%s' (expected a duration up to "
			    "3650d, or 0 for no refresh tokens)",
			    value);
		return ST_INVALID;
	}
	c->auth_token_refresh_lifetime_sec = (uint32_t)v;
	return ST_OK;
}

static status_t set_auth_token_trust(config *c, const char *value, char *err, size_t errlen)
{
	size_t n = strcspn(value, " \t");
	const char *path = value + n + strspn(value + n, " \t");

	if (n == 0 || *path == '\0' || strcspn(path, " \t") != strlen(path)) {
		status_errf(err, errlen,
			    "invalid auth_token_trust '%s' (expected ISSUER PEM-FILE: the issuer "
			    "name, then its public key or certificate)",
			    value);
		return ST_INVALID;
	}
	return list_add(&c->auth_token_trust, "auth_token_trust", value, err, errlen);
}

static status_t set_auth_fail_limit(config *c, const char *value, char *err, size_t errlen)
{
	uint64_t v;

	if (parse_uint(value, AUTH_FAIL_LIMIT_MAX, &v) != 0) {
		status_errf(err, errlen,
			    "invalid auth_fail_limit '%s' (expected a number from 0 (off) to %d)",
			    value, AUTH_FAIL_LIMIT_MAX);
		return ST_INVALID;
	}
	c->auth_fail_limit = (uint32_t)v;
	return ST_OK;
}

static status_t set_auth_fail_window(config *c, const char *value, char *err, size_t errlen)
{
	uint64_t v;

	if (parse_duration(value, &v) != 0 || v == 0 || v > AUTH_FAIL_WINDOW_MAX_SEC) {
		status_errf(err, errlen,
			    "invalid auth_fail_window '%s' (expected a duration from 1s to 1d)",
			    value);
		return ST_INVALID;
	}
	c->auth_fail_window_sec = (uint32_t)v;
	return ST_OK;
}

/* Checked whole here, so a mistake has its FILE:LINE; access_open parses
 * it again. */
static status_t set_auth_trusted_proxies(config *c, const char *value, char *err, size_t errlen)
{
	auth_addrlist *l = NULL;
	char msg[256];

	if (auth_addrlist_parse(&l, value, msg, sizeof(msg)) != ST_OK) {
		status_errf(err, errlen,
			    "invalid auth_trusted_proxies: %s (expected IP addresses or "
			    "ADDRESS/PREFIX networks, separated by spaces or commas)",
			    msg);
		return ST_INVALID;
	}
	auth_addrlist_free(l);
	return set_string(c->auth_trusted_proxies, sizeof(c->auth_trusted_proxies),
			  "auth_trusted_proxies", value, err, errlen);
}

static status_t set_tls_cert(config *c, const char *value, char *err, size_t errlen)
{
	return set_string(c->tls_cert, sizeof(c->tls_cert), "tls_cert", value, err, errlen);
}

static status_t set_tls_key(config *c, const char *value, char *err, size_t errlen)
{
	return set_string(c->tls_key, sizeof(c->tls_key), "tls_key", value, err, errlen);
}

static status_t set_listen_plain(config *c, const char *value, char *err, size_t errlen)
{
	uint16_t port;

	if (config_listen_split(value, NULL, 0, &port) != ST_OK) {
		status_errf(
		    err, errlen,
		    "invalid listen_plain '%s' (expected HOST:PORT, [IPV6]:PORT or :PORT, port "
		    "0-65535)",
		    value);
		return ST_INVALID;
	}
	return set_string(c->listen_plain, sizeof(c->listen_plain), "listen_plain", value, err,
			  errlen);
}

/* ---- the pull-through cache (proxy/) ---- */

/* Checked whole here (upstream_spec_parse), so a mistake has its FILE:LINE;
 * proxy_new parses it again. Two upstreams may not share a name. */
static status_t set_upstream(config *c, const char *value, char *err, size_t errlen)
{
	upstream_spec spec, other;

	if (upstream_spec_parse(&spec, value, err, errlen) != ST_OK)
		return ST_INVALID;
	for (size_t i = 0; i < c->upstreams.n; i++) {
		if (upstream_spec_parse(&other, c->upstreams.v[i], NULL, 0) == ST_OK &&
		    strcmp(other.name, spec.name) == 0) {
			status_errf(err, errlen, "upstream '%s' defined twice", spec.name);
			return ST_INVALID;
		}
	}
	return list_add(&c->upstreams, "upstream", value, err, errlen);
}

/* A duration from min to max seconds into *out. */
static status_t set_seconds(uint32_t *out, const char *key, const char *value, uint64_t min,
			    uint64_t max, const char *range, char *err, size_t errlen)
{
	uint64_t v;

	if (parse_duration(value, &v) != 0 || v < min || v > max) {
		status_errf(err, errlen, "invalid %s '%s' (expected a duration from %s)", key,
			    value, range);
		return ST_INVALID;
	}
	*out = (uint32_t)v;
	return ST_OK;
}

static status_t set_proxy_revalidate(config *c, const char *value, char *err, size_t errlen)
{
	return set_seconds(&c->proxy_revalidate_sec, "proxy_revalidate", value, 0, 30 * 86400,
			   "0 (every pull) to 30d", err, errlen);
}

static status_t set_proxy_negative_ttl(config *c, const char *value, char *err, size_t errlen)
{
	return set_seconds(&c->proxy_negative_sec, "proxy_negative_ttl", value, 0, 86400,
			   "0 (off) to 1d", err, errlen);
}

static status_t set_proxy_timeout(config *c, const char *value, char *err, size_t errlen)
{
	return set_seconds(&c->proxy_timeout_sec, "proxy_timeout", value, 1, 3600, "1s to 1h", err,
			   errlen);
}

static status_t set_proxy_unreachable_ttl(config *c, const char *value, char *err, size_t errlen)
{
	return set_seconds(&c->proxy_unreachable_sec, "proxy_unreachable_ttl", value, 0, 3600,
			   "0 (off) to 1h", err, errlen);
}

static status_t set_proxy_retries(config *c, const char *value, char *err, size_t errlen)
{
	uint64_t v;

	if (parse_uint(value, PROXY_RETRIES_MAX, &v) != 0) {
		status_errf(err, errlen,
			    "invalid proxy_retries '%s' (expected a number from 0 to %d)", value,
			    PROXY_RETRIES_MAX);
		return ST_INVALID;
	}
	c->proxy_retries = (uint32_t)v;
	return ST_OK;
}

static status_t set_proxy_cache_max(config *c, const char *value, char *err, size_t errlen)
{
	uint64_t v;

	if (parse_size(value, &v) != 0) {
		status_errf(
		    err, errlen,
		    "invalid proxy_cache_max '%s' (expected a size such as 50G, or 0 for no "
		    "bound)",
		    value);
		return ST_INVALID;
	}
	c->proxy_cache_max_bytes = v;
	return ST_OK;
}

static status_t set_proxy_cache_keep(config *c, const char *value, char *err, size_t errlen)
{
	return set_seconds(&c->proxy_cache_keep_sec, "proxy_cache_keep", value, 0, 365 * 86400,
			   "0 to 365d", err, errlen);
}

static const struct {
	const char *name;
	status_t (*set)(config *c, const char *value, char *err, size_t errlen);
} keys[] = {
    {"listen", set_listen},
    {"data", set_data},
    {"log_level", set_log_level},
    {"delete_enabled", set_delete_enabled},
    {"max_manifest_size", set_max_manifest_size},
    {"upload_ttl", set_upload_ttl},
    {"threads", set_threads},
    {"max_connections", set_max_connections},
    {"connection_timeout", set_connection_timeout},
    {"storage", set_storage},
    {"metadata", set_metadata},
    {"auth", set_auth},
    {"auth_realm", set_auth_realm},
    {"auth_users", set_auth_users},
    {"auth_group", set_auth_group},
    {"auth_rule", set_auth_rule},
    {"auth_token_service", set_auth_token_service},
    {"auth_token_issuer", set_auth_token_issuer},
    {"auth_token_key", set_auth_token_key},
    {"auth_token_realm", set_auth_token_realm},
    {"auth_token_lifetime", set_auth_token_lifetime},
    {"auth_token_refresh_lifetime", set_auth_token_refresh_lifetime},
    {"auth_token_trust", set_auth_token_trust},
    {"auth_fail_limit", set_auth_fail_limit},
    {"auth_fail_window", set_auth_fail_window},
    {"auth_trusted_proxies", set_auth_trusted_proxies},
    {"tls_cert", set_tls_cert},
    {"tls_key", set_tls_key},
    {"listen_plain", set_listen_plain},
    {"upstream", set_upstream},
    {"proxy_revalidate", set_proxy_revalidate},
    {"proxy_negative_ttl", set_proxy_negative_ttl},
    {"proxy_timeout", set_proxy_timeout},
    {"proxy_retries", set_proxy_retries},
    {"proxy_unreachable_ttl", set_proxy_unreachable_ttl},
    {"proxy_cache_max", set_proxy_cache_max},
    {"proxy_cache_keep", set_proxy_cache_keep},
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

/* Keys that may appear on many lines, each adding an entry. */
static int key_repeatable(const char *key)
{
	return strcmp(key, "auth_rule") == 0 || strcmp(key, "auth_group") == 0 ||
	       strcmp(key, "auth_token_trust") == 0 || strcmp(key, "upstream") == 0;
}

/* Index of key in `keys`, or -1. */
static int key_find(const char *key)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strcmp(key, keys[i].name) == 0)
			return (int)i;
	return -1;
}

void config_defaults(config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->listen, sizeof(c->listen), "%s", CONFIG_DEFAULT_LISTEN);
	snprintf(c->data, sizeof(c->data), "%s", CONFIG_DEFAULT_DATA);
	c->log_level = LOG_INFO;
	c->delete_enabled = true;
	c->max_manifest_bytes = CONFIG_DEFAULT_MAX_MANIFEST_BYTES;
	c->upload_ttl_sec = CONFIG_DEFAULT_UPLOAD_TTL_SEC;
	c->threads = CONFIG_DEFAULT_THREADS;
	c->max_connections = CONFIG_DEFAULT_MAX_CONNECTIONS;
	c->connection_timeout_sec = CONFIG_DEFAULT_CONNECTION_TIMEOUT_SEC;
	snprintf(c->storage, sizeof(c->storage), "%s", BLOBSTORE_DEFAULT_BACKEND);
	snprintf(c->metadata, sizeof(c->metadata), "%s", META_DEFAULT_BACKEND);
	c->auth_mode = AUTH_MODE_NONE;
	snprintf(c->auth_realm, sizeof(c->auth_realm), "%s", CONFIG_DEFAULT_AUTH_REALM);
	snprintf(c->auth_token_service, sizeof(c->auth_token_service), "%s",
		 CONFIG_DEFAULT_TOKEN_SERVICE);
	snprintf(c->auth_token_issuer, sizeof(c->auth_token_issuer), "%s",
		 CONFIG_DEFAULT_TOKEN_ISSUER);
	c->auth_token_lifetime_sec = CONFIG_DEFAULT_TOKEN_LIFETIME_SEC;
	c->auth_token_refresh_lifetime_sec = CONFIG_DEFAULT_REFRESH_LIFETIME_SEC;
	c->auth_fail_limit = CONFIG_DEFAULT_AUTH_FAIL_LIMIT;
	c->auth_fail_window_sec = CONFIG_DEFAULT_AUTH_FAIL_WINDOW_SEC;
	c->proxy_revalidate_sec = CONFIG_DEFAULT_PROXY_REVALIDATE_SEC;
	c->proxy_negative_sec = CONFIG_DEFAULT_PROXY_NEGATIVE_SEC;
	c->proxy_timeout_sec = CONFIG_DEFAULT_PROXY_TIMEOUT_SEC;
	c->proxy_retries = CONFIG_DEFAULT_PROXY_RETRIES;
	c->proxy_unreachable_sec = CONFIG_DEFAULT_PROXY_UNREACHABLE_SEC;
	c->proxy_cache_max_bytes = CONFIG_DEFAULT_PROXY_CACHE_MAX_BYTES;
	c->proxy_cache_keep_sec = CONFIG_DEFAULT_PROXY_CACHE_KEEP_SEC;
}

void config_free(config *c)
{
	if (c == NULL)
		return;
	list_free(&c->auth_groups);
	list_free(&c->auth_rules);
	list_free(&c->auth_token_trust);
	list_free(&c->upstreams);
}

/* path if set, else DATA/file. */
static status_t data_path(const config *c, const char *path, const char *file, char *out,
			  size_t outlen)
{
	int n = path[0] ? snprintf(out, outlen, "%s", path)
			: snprintf(out, outlen, "%s/%s", c->data, file);

	return n >= 0 && (size_t)n < outlen ? ST_OK : ST_INVALID;
}

status_t config_users_path(const config *c, char *out, size_t outlen)
{
	return data_path(c, c->auth_users, CONFIG_USERS_FILE, out, outlen);
}

status_t config_token_key_path(const config *c, char *out, size_t outlen)
{
	return data_path(c, c->auth_token_key, CONFIG_TOKEN_KEY_FILE, out, outlen);
}

status_t config_set(config *c, const char *key, const char *value, char *err, size_t errlen)
{
	int k;

	if (c == NULL || key == NULL || value == NULL) {
		status_errf(err, errlen, "missing key or value");
		return ST_INVALID;
	}
	if ((k = key_find(key)) < 0) {
		status_errf(err, errlen, "unknown key '%s'", key);
		return ST_INVALID;
	}
	return keys[k].set(c, value, err, errlen);
}

static int is_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

/*
 * Splits one line (modified in place) into *key and *value, both pointing
 * into it; *key is NULL for a blank or comment line. Returns NULL, or a
 * static message for a malformed line.
 */
static const char *line_split(char *line, char **key, char **value)
{
	char *p = line, *end;

	*key = *value = NULL;
	while (is_blank(*p))
		p++;
	if (*p == '\0' || *p == '#')
		return NULL;
	if (*p == '=')
		return "missing key before '='";
	*key = p;
	while (*p && !is_blank(*p) && *p != '=' && *p != '#')
		p++;
	end = p;
	while (is_blank(*p))
		p++;
	if (*p != '=')
		return "missing '=' after the key";
	*end = '\0';
	p++;
	while (is_blank(*p))
		p++;
	if (*p == '"') {
		/* A quoted value runs to the next quote; there are no escapes. */
		*value = ++p;
		if ((end = strchr(p, '"')) == NULL)
			return "unterminated quoted value";
		*end = '\0';
		for (p = end + 1; is_blank(*p); p++)
			;
		if (*p != '\0' && *p != '#')
			return "unexpected text after the closing quote";
		return NULL;
	}
	*value = p;
	end = strchr(p, '#');
	if (end == NULL)
		end = p + strlen(p);
	while (end > p && is_blank(end[-1]))
		end--;
	*end = '\0';
	return NULL;
}

/*
 * Every @group a rule names must be defined (in any order in the file):
 * checked once the whole file is read, so the error names the rule's line,
 * whatever the auth mode. lines[i] is the line of c->auth_rules.v[i] (0:
 * not from this file).
 */
static status_t check_rule_groups(const config *c, const char *path, const unsigned *lines,
				  char *err, size_t errlen)
{
	auth_rules *rs = NULL;
	char msg[512];
	status_t st = ST_OK;

	for (size_t i = 0; i < c->auth_rules.n && st == ST_OK; i++) {
		if ((st = auth_rules_new(&rs)) != ST_OK)
			break;
		for (size_t g = 0; g < c->auth_groups.n && st == ST_OK; g++)
			st = auth_rules_add_group(rs, c->auth_groups.v[g], NULL, 0);
		if (st == ST_OK)
			st = auth_rules_add(rs, c->auth_rules.v[i], NULL, 0);
		if (st == ST_OK && (st = auth_rules_check(rs, msg, sizeof(msg))) != ST_OK) {
			if (lines[i] != 0)
				status_errf(err, errlen, "%s:%u: %s", path, lines[i], msg);
			else
				status_errf(err, errlen, "%s: %s", path, msg);
		}
		auth_rules_free(rs);
		rs = NULL;
	}
	return st;
}

status_t config_load(config *c, const char *path, char *err, size_t errlen)
{
	unsigned first_line[NKEYS] = {0}, *rule_lines = NULL, *grown;
	char *line = NULL, *key, *value, msg[512];
	size_t cap = 0;
	unsigned lineno = 0;
	size_t first_rule_seen = 0;
	ssize_t n;
	FILE *f = NULL;
	status_t st = ST_OK;
	const char *bad;
	int k;

	if (c == NULL || path == NULL) {
		status_errf(err, errlen, "missing config or path");
		return ST_INVALID;
	}
	if ((f = fopen(path, "r")) == NULL) {
		status_errf(err, errlen, "%s: %s", path, strerror(errno));
		return ST_NOT_FOUND;
	}
	for (;;) {
		errno = 0;
		if ((n = getline(&line, &cap, f)) < 0)
			break;
		lineno++;
		if (strlen(line) != (size_t)n) {
			status_errf(err, errlen, "%s:%u: NUL byte in line", path, lineno);
			st = ST_INVALID;
			goto done;
		}
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if ((bad = line_split(line, &key, &value)) != NULL) {
			status_errf(err, errlen, "%s:%u: %s", path, lineno, bad);
			st = ST_INVALID;
			goto done;
		}
		if (key == NULL)
			continue;
		if ((k = key_find(key)) < 0) {
			status_errf(err, errlen, "%s:%u: unknown key '%s'", path, lineno, key);
			st = ST_INVALID;
			goto done;
		}
		if (first_line[k] != 0 && !key_repeatable(key)) {
			status_errf(err, errlen, "%s:%u: '%s' repeated (first set on line %u)",
				    path, lineno, key, first_line[k]);
			st = ST_INVALID;
			goto done;
		}
		first_line[k] = lineno;
		if (keys[k].set(c, value, msg, sizeof(msg)) != ST_OK) {
			status_errf(err, errlen, "%s:%u: %s", path, lineno, msg);
			st = ST_INVALID;
			goto done;
		}
		if (strcmp(key, "auth_rule") == 0) {
			if ((grown = realloc(rule_lines, c->auth_rules.n * sizeof(*grown))) ==
			    NULL) {
				st = ST_NOMEM;
				goto done;
			}
			rule_lines = grown;
			for (size_t i = first_rule_seen; i + 1 < c->auth_rules.n; i++)
				rule_lines[i] = 0; /* set before this file */
			first_rule_seen = c->auth_rules.n;
			rule_lines[c->auth_rules.n - 1] = lineno;
		}
	}
	/* getline also returns -1 on a read or allocation error. */
	if (!feof(f)) {
		st = errno == ENOMEM ? ST_NOMEM : ST_IO;
		status_errf(err, errlen, "%s: %s", path, strerror(errno ? errno : EIO));
		goto done;
	}
	if (rule_lines != NULL)
		st = check_rule_groups(c, path, rule_lines, err, errlen);
done:
	free(rule_lines);
	free(line);
	fclose(f);
	return st;
}

/* Host names and IPv4 addresses: letters, digits, '.', '-', '_'. */
static int is_host_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '.' || ch == '-' || ch == '_';
}

status_t config_listen_split(const char *listen, char *host, size_t hostlen, uint16_t *out_port)
{
	const char *h, *hend, *p;
	uint64_t port;
	size_t n;

	if (listen == NULL || out_port == NULL)
		return ST_INVALID;
	if (listen[0] == '[') {
		/* [v6]:PORT, with an optional %zone after the address. */
		h = listen + 1;
		if ((hend = strchr(h, ']')) == NULL || hend == h || hend[1] != ':')
			return ST_INVALID;
		for (p = h; p < hend; p++)
			if (!is_host_char(*p) && *p != ':' && *p != '%')
				return ST_INVALID;
		if (memchr(h, ':', (size_t)(hend - h)) == NULL)
			return ST_INVALID;
		p = hend + 2;
	} else {
		/* HOST:PORT or :PORT; an IPv6 address needs its brackets. */
		h = listen;
		if ((hend = strchr(h, ':')) == NULL)
			return ST_INVALID;
		for (p = h; p < hend; p++)
			if (!is_host_char(*p))
				return ST_INVALID;
		p = hend + 1;
	}
	/* Port 0 asks the kernel for a free port (the integration tests do). */
	if (parse_uint(p, 65535, &port) != 0)
		return ST_INVALID;
	n = (size_t)(hend - h);
	if (host != NULL) {
		if (n >= hostlen)
			return ST_INVALID;
		memcpy(host, h, n);
		host[n] = '\0';
	}
	*out_port = (uint16_t)port;
	return ST_OK;
}
