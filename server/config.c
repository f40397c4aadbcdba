/*
 * config.c - the registry's settings: built-in defaults, the file, then
 * command-line flags (see config.h).
 *
 * Configuration as data, as nginx's command tables: every key is one row of
 * `keys` (name, type, the field it is stored in, bounds, the wording of a
 * bad value's message, the default as a user would write it, and an optional
 * extra check). A handful of typed setters (string, number, bool, list) do
 * the parsing; key_set runs the row's check, then its type's setter. The
 * file loader, the flags (config_set) and config_defaults all go through
 * key_set, so a value means the same wherever it comes from and a default
 * cannot disagree with the parser. Each value is range-checked here, once,
 * so the rest of the program can trust a config it is handed. A file error
 * names the file and line; only list keys may appear twice, so a forgotten
 * earlier line cannot silently win or lose. tests/unit/test_config_table.c
 * checks the table against registry.conf and the README's key table.
 */
#include "config.h"

#include "../auth/addrlist.h"
#include "../auth/auth.h"
#include "../auth/rules.h"
#include "../core/core.h"
#include "accesslog.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MINUTE_SEC 60u
#define HOUR_SEC (60u * MINUTE_SEC)
#define DAY_SEC (24u * HOUR_SEC)
#define KIB 1024ull
#define MIB (1024ull * KIB)
#define GIB (1024ull * MIB)

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

/* The message of a value its type or check refuses. Returns ST_INVALID. */
static status_t bad_value(const config_key *k, const char *value, char *err, size_t errlen)
{
	status_errf(err, errlen, "invalid %s '%s' (expected %s)", k->name, value, k->expect);
	return ST_INVALID;
}

/* ---- the typed setters: each stores a valid value, or changes nothing ---- */

static status_t set_string(const config_key *k, char *dst, const char *value, char *err,
			   size_t errlen)
{
	size_t n = strlen(value);

	if (n == 0) {
		status_errf(err, errlen, "%s may not be empty", k->name);
		return ST_INVALID;
	}
	if (n >= k->size) {
		status_errf(err, errlen, "%s is longer than %zu bytes", k->name, k->size - 1);
		return ST_INVALID;
	}
	memcpy(dst, value, n + 1);
	return ST_OK;
}

/* A size ("4M": K, M, G are powers of 1024, either case), a duration ("24h":
 * s, m, h, d; bare is seconds) or a plain number, from k->min to k->max. */
static status_t set_number(const config_key *k, void *field, const char *value, char *err,
			   size_t errlen)
{
	static const uint64_t size_mult[] = {KIB, KIB, MIB, MIB, GIB, GIB};
	static const uint64_t duration_mult[] = {1, MINUTE_SEC, HOUR_SEC, DAY_SEC};
	uint64_t v;
	int rc;

	if (k->type == CONFIG_SIZE)
		rc = parse_scaled(value, "kKmMgG", size_mult, k->max, &v);
	else if (k->type == CONFIG_DURATION)
		rc = parse_scaled(value, "smhd", duration_mult, k->max, &v);
	else
		rc = parse_scaled(value, "", NULL, k->max, &v);
	if (rc != 0 || v < k->min)
		return bad_value(k, value, err, errlen);
	if (k->size == sizeof(uint64_t))
		*(uint64_t *)field = v;
	else
		*(uint32_t *)field = (uint32_t)v; /* k->max fits: test_config_table checks */
	return ST_OK;
}

static status_t set_bool(const config_key *k, bool *field, const char *value, char *err,
			 size_t errlen)
{
	static const char *const yes[] = {"true", "yes", "on"}, *const no[] = {"false", "no",
									       "off"};

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcmp(value, yes[i]) == 0 || strcmp(value, no[i]) == 0) {
			*field = strcmp(value, yes[i]) == 0;
			return ST_OK;
		}
	}
	return bad_value(k, value, err, errlen);
}

/* Appends a copy of value to l. */
static status_t list_add(const config_key *k, config_list *l, const char *value, char *err,
			 size_t errlen)
{
	char **v, *copy;

	if (l->n >= CONFIG_LIST_MAX) {
		status_errf(err, errlen, "more than %d %s lines", CONFIG_LIST_MAX, k->name);
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

/* ---- checks beyond the type, and the parsers of CONFIG_CUSTOM keys ---- */

static status_t check_listen(const config_key *k, void *field, const char *value, char *err,
			     size_t errlen)
{
	uint16_t port;

	if (config_listen_split(value, NULL, 0, &port) != ST_OK)
		return bad_value(k, value, err, errlen);
	return ST_OK;
}

static status_t parse_log_level(const config_key *k, void *field, const char *value, char *err,
				size_t errlen)
{
	return log_level_parse(value, field) == 0 ? ST_OK : bad_value(k, value, err, errlen);
}

static status_t parse_access_log_format(const config_key *k, void *field, const char *value,
					char *err, size_t errlen)
{
	accesslog_format f;

	if (accesslog_format_parse(value, &f) != ST_OK)
		return bad_value(k, value, err, errlen);
	*(int *)field = (int)f;
	return ST_OK;
}

static status_t parse_auth(const config_key *k, void *field, const char *value, char *err,
			   size_t errlen)
{
	auth_mode m;

	if (auth_mode_parse(value, &m) != ST_OK)
		return bad_value(k, value, err, errlen);
	*(int *)field = (int)m;
	return ST_OK;
}

/* S3 endpoints: a URL without a path (the bucket goes in the path or the host). */
static status_t check_s3_endpoint(const config_key *k, void *field, const char *value, char *err,
				  size_t errlen)
{
	const char *host = strncmp(value, "http://", 7) == 0	? value + 7
			   : strncmp(value, "https://", 8) == 0 ? value + 8
								: NULL;

	if (host == NULL || *host == '\0' || strchr(host, '/') != NULL)
		return bad_value(k, value, err, errlen);
	return ST_OK;
}

/* Key prefixes end in '/', so blobs/ and uploads/ stay under them. */
static status_t check_s3_prefix(const config_key *k, void *field, const char *value, char *err,
				size_t errlen)
{
	size_t n = strlen(value);

	if (n > 0 && (value[n - 1] != '/' || value[0] == '/'))
		return bad_value(k, value, err, errlen);
	return ST_OK;
}

/* Backends: only the names storage/ implements pass. */
static status_t check_storage(const config_key *k, void *field, const char *value, char *err,
			      size_t errlen)
{
	return core_storage_known(value) ? ST_OK : bad_value(k, value, err, errlen);
}

static status_t check_metadata(const config_key *k, void *field, const char *value, char *err,
			       size_t errlen)
{
	return core_metadata_known(value) ? ST_OK : bad_value(k, value, err, errlen);
}

/* A value that goes into a challenge's quoted string. */
static status_t check_quotable(const config_key *k, void *field, const char *value, char *err,
			       size_t errlen)
{
	if (!auth_quotable(value)) {
		status_errf(err, errlen,
			    "invalid %s '%s' (1-255 printable ASCII characters, no '\"' or '\\')",
			    k->name, value);
		return ST_INVALID;
	}
	return ST_OK;
}

static status_t check_issuer(const config_key *k, void *field, const char *value, char *err,
			     size_t errlen)
{
	if (strchr(value, ' ') || strchr(value, '\t')) {
		status_errf(err, errlen, "invalid %s '%s' (no spaces)", k->name, value);
		return ST_INVALID;
	}
	return check_quotable(k, field, value, err, errlen);
}

static status_t check_token_realm(const config_key *k, void *field, const char *value, char *err,
				  size_t errlen)
{
	if ((strncmp(value, "http://", 7) != 0 && strncmp(value, "https://", 8) != 0) ||
	    !auth_quotable(value) || strchr(value, ' '))
		return bad_value(k, value, err, errlen);
	return ST_OK;
}

/* Rules and groups are parsed here only to check them (auth_new parses
 * them again), so a mistake is reported with its FILE:LINE. */
static status_t check_rule(const config_key *k, void *field, const char *value, char *err,
			   size_t errlen)
{
	auth_rules *rs = NULL;
	status_t st;

	if ((st = auth_rules_new(&rs)) == ST_OK)
		st = auth_rules_add(rs, value, err, errlen);
	auth_rules_free(rs);
	return st;
}

/* Also: two groups may not share a name. */
static status_t check_group(const config_key *k, void *field, const char *value, char *err,
			    size_t errlen)
{
	const config_list *groups = field;
	auth_rules *rs = NULL;
	status_t st;

	if ((st = auth_rules_new(&rs)) == ST_OK)
		st = auth_rules_add_group(rs, value, err, errlen);
	auth_rules_free(rs);
	for (size_t i = 0; st == ST_OK && i < groups->n; i++) {
		size_t n = strcspn(groups->v[i], ": \t");
		const char *name = value + strspn(value, " \t");
		if (strncmp(groups->v[i], name, n) == 0 && strcspn(name, ": \t") == n) {
			status_errf(err, errlen, "group '%.*s' defined twice", (int)n, name);
			st = ST_INVALID;
		}
	}
	return st;
}

/* "ISSUER PEM-FILE": two words (the file is read by access_open). */
static status_t check_token_trust(const config_key *k, void *field, const char *value, char *err,
				  size_t errlen)
{
	size_t n = strcspn(value, " \t");
	const char *path = value + n + strspn(value + n, " \t");

	if (n == 0 || *path == '\0' || strcspn(path, " \t") != strlen(path))
		return bad_value(k, value, err, errlen);
	return ST_OK;
}

/* Checked whole here, so a mistake has its FILE:LINE; access_open parses
 * it again. */
static status_t check_trusted_proxies(const config_key *k, void *field, const char *value,
				      char *err, size_t errlen)
{
	auth_addrlist *l = NULL;
	char msg[256];

	if (auth_addrlist_parse(&l, value, msg, sizeof(msg)) != ST_OK) {
		status_errf(err, errlen,
			    "invalid %s: %s (expected IP addresses or ADDRESS/PREFIX networks, "
			    "separated by spaces or commas)",
			    k->name, msg);
		return ST_INVALID;
	}
	auth_addrlist_free(l);
	return ST_OK;
}

/* Checked whole here (through the core), so a mistake has its FILE:LINE;
 * the core parses it again when it opens. Two upstreams may not share a
 * name. */
static status_t check_upstream(const config_key *k, void *field, const char *value, char *err,
			       size_t errlen)
{
	const config_list *upstreams = field;
	char name[CORE_UPSTREAM_NAME_MAX], other[CORE_UPSTREAM_NAME_MAX];

	if (core_upstream_check(value, name, err, errlen) != ST_OK)
		return ST_INVALID;
	for (size_t i = 0; i < upstreams->n; i++) {
		if (core_upstream_check(upstreams->v[i], other, NULL, 0) == ST_OK &&
		    strcmp(other, name) == 0) {
			status_errf(err, errlen, "upstream '%s' defined twice", name);
			return ST_INVALID;
		}
	}
	return ST_OK;
}

static status_t parse_metrics_auth(const config_key *k, void *field, const char *value, char *err,
				   size_t errlen)
{
	if (strcmp(value, "none") == 0)
		*(int *)field = CONFIG_METRICS_AUTH_NONE;
	else if (strcmp(value, "same") == 0)
		*(int *)field = CONFIG_METRICS_AUTH_SAME;
	else
		return bad_value(k, value, err, errlen);
	return ST_OK;
}

/* The storage policies: checked whole here (through the core), so a
 * mistake has its FILE:LINE; the core parses them again when it opens. */
static status_t check_policy(const config_key *k, void *field, const char *value, char *err,
			     size_t errlen)
{
	return core_policy_check(k->name, value, err, errlen);
}

/* Checked whole here (through the core), so a mistake has its FILE:LINE;
 * the core parses it again when it opens. A URL names a queue: two lines
 * may not share one. */
static status_t check_notify(const config_key *k, void *field, const char *value, char *err,
			     size_t errlen)
{
	const config_list *notify = field;
	char url[CORE_NOTIFY_URL_MAX], other[CORE_NOTIFY_URL_MAX];

	if (core_notify_check(value, url, err, errlen) != ST_OK)
		return ST_INVALID;
	for (size_t i = 0; i < notify->n; i++) {
		if (core_notify_check(notify->v[i], other, NULL, 0) == ST_OK &&
		    strcmp(other, url) == 0) {
			status_errf(err, errlen, "notify %s given twice", url);
			return ST_INVALID;
		}
	}
	return ST_OK;
}

/* ---- the table ---- */

#define FIELD(f) .offset = offsetof(config, f), .size = sizeof(((config *)NULL)->f)
#define LISTEN_EXPECT "HOST:PORT, [IPV6]:PORT or :PORT, port 0-65535"

/* In registry.conf's order. A NULL def leaves the field zero: an empty
 * string, 0, or a list with no entries. `.restart`: a reload cannot apply
 * the key (the listeners and their daemons' options, the data folder and
 * its backends, the background threads started with it, the event
 * receivers' threads); the others take effect on SIGHUP (server/reload.c;
 * the core's through core_settings_new). */
static const config_key keys[] = {
    {"listen", CONFIG_STRING, FIELD(listen), .restart = true, .expect = LISTEN_EXPECT,
     .def = CONFIG_DEFAULT_LISTEN, .check = check_listen},
    {"data", CONFIG_PATH, FIELD(data), .restart = true, .def = CONFIG_DEFAULT_DATA},
    {"log_level", CONFIG_CUSTOM, FIELD(log_level), .expect = "error, warn, info or debug",
     .def = "info", .check = parse_log_level},
    {"access_log", CONFIG_PATH, FIELD(access_log), .def = "off"},
    {"access_log_format", CONFIG_CUSTOM, FIELD(access_log_format), .expect = "combined or json",
     .def = "combined", .check = parse_access_log_format},
    {"delete_enabled", CONFIG_BOOL, FIELD(delete_enabled),
     .expect = "true, false, yes, no, on or off", .def = "true"},
    {"max_manifest_size", CONFIG_SIZE, FIELD(max_manifest_bytes), .min = 1, .max = INT64_MAX,
     .expect = "a size above 0, such as 4M", .def = "4M"},
    {"upload_ttl", CONFIG_DURATION, FIELD(upload_ttl_sec), .min = 1, .max = UINT32_MAX,
     .expect = "a duration above 0, such as 24h", .def = "24h"},
    /* garbage collection (core/gc.c); the collector runs if gc_interval is not 0 at start */
    {"gc_interval", CONFIG_DURATION, FIELD(gc_interval_sec), .max = 365 * DAY_SEC,
     .expect = "a duration up to 365d, or 0 for no collection by the server", .def = "1h"},
    {"gc_delay", CONFIG_DURATION, FIELD(gc_delay_sec), .max = 365 * DAY_SEC,
     .expect = "a duration up to 365d, such as 1h", .def = "1h"},
    {"gc_untagged", CONFIG_DURATION, FIELD(gc_untagged_sec), .max = 3650 * DAY_SEC,
     .expect = "a duration up to 3650d, or 0 to keep untagged manifests", .def = "7d"},
    {"gc_dry_run", CONFIG_BOOL, FIELD(gc_dry_run), .expect = "true, false, yes, no, on or off",
     .def = "false"},
    {"threads", CONFIG_UINT, FIELD(threads), .restart = true, .max = 256,
     .expect = "a number from 0 to 256", .def = "0"},
    {"max_connections", CONFIG_UINT, FIELD(max_connections), .restart = true, .min = 1,
     .max = 65536, .expect = "a number from 1 to 65536", .def = "1024"},
    /* 0 is allowed: libmicrohttpd then never closes an idle connection. */
    {"connection_timeout", CONFIG_DURATION, FIELD(connection_timeout_sec), .restart = true,
     .max = UINT32_MAX, .expect = "a duration, such as 60s", .def = "60s"},
    {"storage", CONFIG_STRING, FIELD(storage), .restart = true, .expect = "filesystem or s3",
     .def = "filesystem", .check = check_storage},
    /* storage = s3: the bucket and how to reach it (storage/blobstore_s3.h) */
    {"s3_endpoint", CONFIG_STRING, FIELD(s3_endpoint), .restart = true,
     .expect = "http(s)://HOST[:PORT]", .check = check_s3_endpoint},
    {"s3_bucket", CONFIG_STRING, FIELD(s3_bucket), .restart = true, .expect = "a bucket name"},
    {"s3_region", CONFIG_STRING, FIELD(s3_region), .restart = true, .expect = "a region name",
     .def = "us-east-1"},
    {"s3_credentials", CONFIG_PATH, FIELD(s3_credentials), .restart = true},
    {"s3_path_style", CONFIG_BOOL, FIELD(s3_path_style), .restart = true, .expect = "on or off",
     .def = "on"},
    {"s3_prefix", CONFIG_STRING, FIELD(s3_prefix), .restart = true,
     .expect = "a key prefix ending in /", .check = check_s3_prefix},
    {"s3_ca", CONFIG_PATH, FIELD(s3_ca), .restart = true},
    {"s3_part_size", CONFIG_SIZE, FIELD(s3_part_size), .restart = true, .min = 5 * MIB,
     .max = 5 * GIB, .expect = "a size from 5M to 5G (5242880 to 5368709120 bytes)", .def = "16M"},
    {"s3_redirect", CONFIG_BOOL, FIELD(s3_redirect), .restart = true, .expect = "on or off",
     .def = "off"},
    {"s3_memory", CONFIG_SIZE, FIELD(s3_memory), .restart = true, .min = 10 * MIB, .max = INT64_MAX,
     .expect = "a size of at least 10M", .def = "256M"},
    {"metadata", CONFIG_STRING, FIELD(metadata), .restart = true, .expect = "sqlite or postgres",
     .def = "sqlite", .check = check_metadata},
    /* Restart: every connection of every thread is opened with it. */
    {"postgres", CONFIG_STRING, FIELD(postgres), .restart = true,
     .expect = "a libpq connection string or postgresql:// URI"},
    {"postgres_password_file", CONFIG_PATH, FIELD(postgres_password_file), .restart = true},

    /* access control and TLS (auth/) */
    {"auth", CONFIG_CUSTOM, FIELD(auth_mode), .expect = "none, basic or token", .def = "none",
     .check = parse_auth},
    {"auth_realm", CONFIG_STRING, FIELD(auth_realm), .def = "registry", .check = check_quotable},
    {"auth_users", CONFIG_PATH, FIELD(auth_users)}, /* empty: DATA/htpasswd */
    {"auth_group", CONFIG_LIST, FIELD(auth_groups), .check = check_group},
    {"auth_rule", CONFIG_LIST, FIELD(auth_rules), .check = check_rule},
    {"auth_token_service", CONFIG_STRING, FIELD(auth_token_service), .def = "registry",
     .check = check_quotable},
    {"auth_token_issuer", CONFIG_STRING, FIELD(auth_token_issuer), .def = "registry",
     .check = check_issuer},
    {"auth_token_key", CONFIG_PATH, FIELD(auth_token_key)}, /* empty: DATA/token.key */
    /* empty: built from the scheme and Host of each request */
    {"auth_token_realm", CONFIG_STRING, FIELD(auth_token_realm),
     .expect = "an http:// or https:// URL", .check = check_token_realm},
    {"auth_token_lifetime", CONFIG_DURATION, FIELD(auth_token_lifetime_sec), .min = 1,
     .max = 7 * DAY_SEC, .expect = "a duration from 1s to 7d", .def = "5m"},
    {"auth_token_refresh_lifetime", CONFIG_DURATION, FIELD(auth_token_refresh_lifetime_sec),
     .max = 3650 * DAY_SEC, .expect = "a duration up to 3650d, or 0 for no refresh tokens",
     .def = "90d"},
    {"auth_token_trust", CONFIG_LIST, FIELD(auth_token_trust),
     .expect = "ISSUER PEM-FILE: the issuer name, then its public key or certificate",
     .check = check_token_trust},
    {"auth_fail_limit", CONFIG_UINT, FIELD(auth_fail_limit), .restart = true, .max = 1000000,
     .expect = "a number from 0 (off) to 1000000", .def = "10"},
    {"auth_fail_window", CONFIG_DURATION, FIELD(auth_fail_window_sec), .restart = true, .min = 1,
     .max = DAY_SEC, .expect = "a duration from 1s to 1d", .def = "5m"},
    {"auth_trusted_proxies", CONFIG_STRING, FIELD(auth_trusted_proxies),
     .check = check_trusted_proxies},
    {"tls_cert", CONFIG_PATH, FIELD(tls_cert)},
    {"tls_key", CONFIG_PATH, FIELD(tls_key)},
    {"listen_plain", CONFIG_STRING, FIELD(listen_plain), .restart = true, .expect = LISTEN_EXPECT,
     .check = check_listen},

    /* the pull-through cache (proxy/) */
    {"upstream", CONFIG_LIST, FIELD(upstreams), .check = check_upstream},
    {"proxy_revalidate", CONFIG_DURATION, FIELD(proxy_revalidate_sec), .max = 30 * DAY_SEC,
     .expect = "a duration from 0 (every pull) to 30d", .def = "5m"},
    {"proxy_negative_ttl", CONFIG_DURATION, FIELD(proxy_negative_sec), .max = DAY_SEC,
     .expect = "a duration from 0 (off) to 1d", .def = "1m"},
    {"proxy_timeout", CONFIG_DURATION, FIELD(proxy_timeout_sec), .min = 1, .max = HOUR_SEC,
     .expect = "a duration from 1s to 1h", .def = "30s"},
    {"proxy_retries", CONFIG_UINT, FIELD(proxy_retries), .max = 10,
     .expect = "a number from 0 to 10", .def = "3"},
    {"proxy_unreachable_ttl", CONFIG_DURATION, FIELD(proxy_unreachable_sec), .max = HOUR_SEC,
     .expect = "a duration from 0 (off) to 1h", .def = "30s"},
    {"proxy_cache_max", CONFIG_SIZE, FIELD(proxy_cache_max_bytes), .max = INT64_MAX,
     .expect = "a size such as 50G, or 0 for no bound", .def = "0"},
    {"proxy_cache_keep", CONFIG_DURATION, FIELD(proxy_cache_keep_sec), .max = 365 * DAY_SEC,
     .expect = "a duration from 0 to 365d", .def = "7d"},

    /* observability (server/h_ops.c) */
    {"metrics", CONFIG_BOOL, FIELD(metrics), .restart = true,
     .expect = "true, false, yes, no, on or off", .def = "on"},
    {"metrics_listen", CONFIG_STRING, FIELD(metrics_listen), .restart = true,
     .expect = LISTEN_EXPECT, .check = check_listen},
    {"metrics_auth", CONFIG_CUSTOM, FIELD(metrics_auth), .expect = "none or same", .def = "none",
     .check = parse_metrics_auth},
    {"min_free_space", CONFIG_SIZE, FIELD(min_free_bytes), .max = INT64_MAX,
     .expect = "a size such as 1G, or 0 for no check", .def = "1G"},

    /* the storage lifecycle (core/policy.c, retain.c, scrub.c) */
    {"quota", CONFIG_LIST, FIELD(quotas), .check = check_policy},
    {"immutable", CONFIG_LIST, FIELD(immutables), .check = check_policy},
    {"retain", CONFIG_LIST, FIELD(retains), .check = check_policy},
    {"scrub_interval", CONFIG_DURATION, FIELD(scrub_interval_sec), .max = 365 * DAY_SEC,
     .expect = "a duration from 0 (off) to 365d", .def = "0"},
    {"scrub_rate", CONFIG_SIZE, FIELD(scrub_rate_bytes), .min = 1024 * 1024, .max = INT64_MAX,
     .expect = "a size of at least 1M (bytes read per second)", .def = "50M"},

    /* events (core/events.c): the delivery threads run with these */
    {"notify", CONFIG_LIST, FIELD(notify), .restart = true, .check = check_notify},

    /* the web UI (server/ui_*.c) */
    {"ui", CONFIG_BOOL, FIELD(ui), .restart = true, .expect = "true, false, yes, no, on or off",
     .def = "on"},
    {"ui_session", CONFIG_DURATION, FIELD(ui_session_sec), .min = 60, .max = 30 * DAY_SEC,
     .expect = "a duration from 1m to 30d", .def = "12h"},
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

size_t config_keys(const config_key **out)
{
	*out = keys;
	return NKEYS;
}

/* Index of key in `keys`, or -1. */
static int key_find(const char *key)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strcmp(key, keys[i].name) == 0)
			return (int)i;
	return -1;
}

/* Sets k's field in c from value: k's check, then its type's setter. On
 * failure the field is unchanged and err says why (no FILE:LINE). */
static status_t key_set(config *c, const config_key *k, const char *value, char *err, size_t errlen)
{
	void *field = (char *)c + k->offset;
	status_t st;

	if (k->check != NULL && (st = k->check(k, field, value, err, errlen)) != ST_OK)
		return st;
	switch (k->type) {
	case CONFIG_STRING:
	case CONFIG_PATH:
		return set_string(k, field, value, err, errlen);
	case CONFIG_SIZE:
	case CONFIG_DURATION:
	case CONFIG_UINT:
		return set_number(k, field, value, err, errlen);
	case CONFIG_BOOL:
		return set_bool(k, field, value, err, errlen);
	case CONFIG_CUSTOM:
		return ST_OK; /* its check stored the value */
	case CONFIG_LIST:
		return list_add(k, field, value, err, errlen);
	}
	return ST_INVALID;
}

void config_defaults(config *c)
{
	status_t st;

	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < NKEYS; i++) {
		if (keys[i].def == NULL)
			continue;
		st = key_set(c, &keys[i], keys[i].def, NULL, 0);
		/* Only a mistake in the table fails; test_config_table would say. */
		assert(st == ST_OK);
		(void)st;
	}
}

void config_free(config *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < NKEYS; i++)
		if (keys[i].type == CONFIG_LIST)
			list_free((config_list *)((char *)c + keys[i].offset));
}

static status_t list_copy(config_list *dst, const config_list *src)
{
	dst->v = NULL;
	dst->n = 0;
	if (src->n == 0)
		return ST_OK;
	if ((dst->v = calloc(src->n, sizeof(*dst->v))) == NULL)
		return ST_NOMEM;
	for (; dst->n < src->n; dst->n++) {
		if ((dst->v[dst->n] = strdup(src->v[dst->n])) == NULL) {
			list_free(dst);
			return ST_NOMEM;
		}
	}
	return ST_OK;
}

status_t config_copy(config *dst, const config *src)
{
	*dst = *src;
	for (size_t i = 0; i < NKEYS; i++) {
		if (keys[i].type != CONFIG_LIST)
			continue;
		((config_list *)((char *)dst + keys[i].offset))->n = 0;
		((config_list *)((char *)dst + keys[i].offset))->v = NULL;
	}
	for (size_t i = 0; i < NKEYS; i++) {
		if (keys[i].type == CONFIG_LIST && config_key_copy(dst, src, &keys[i]) != ST_OK) {
			config_free(dst);
			return ST_NOMEM;
		}
	}
	return ST_OK;
}

bool config_key_equal(const config *a, const config *b, const config_key *k)
{
	const void *fa = (const char *)a + k->offset, *fb = (const char *)b + k->offset;
	const config_list *la = fa, *lb = fb;

	switch (k->type) {
	case CONFIG_STRING:
	case CONFIG_PATH:
		return strcmp(fa, fb) == 0;
	case CONFIG_LIST:
		if (la->n != lb->n)
			return false;
		for (size_t i = 0; i < la->n; i++)
			if (strcmp(la->v[i], lb->v[i]) != 0)
				return false;
		return true;
	default:
		return memcmp(fa, fb, k->size) == 0;
	}
}

status_t config_key_copy(config *dst, const config *src, const config_key *k)
{
	void *fd = (char *)dst + k->offset;
	const void *fs = (const char *)src + k->offset;

	if (k->type != CONFIG_LIST) {
		memcpy(fd, fs, k->size);
		return ST_OK;
	}
	list_free(fd);
	return list_copy(fd, fs);
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
	return key_set(c, &keys[k], value, err, errlen);
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
		if (first_line[k] != 0 && keys[k].type != CONFIG_LIST) {
			status_errf(err, errlen, "%s:%u: '%s' repeated (first set on line %u)",
				    path, lineno, key, first_line[k]);
			st = ST_INVALID;
			goto done;
		}
		first_line[k] = lineno;
		if (key_set(c, &keys[k], value, msg, sizeof(msg)) != ST_OK) {
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
	if (parse_scaled(p, "", NULL, 65535, &port) != 0)
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
