/*
 * config.h - the registry's configuration: built-in defaults, then the
 * file, then command-line flags.
 *
 * File format (registry.conf): one `key = value` per line; `#` starts a
 * comment (outside quotes); blank lines ignored; values may be quoted with
 * "..." (no escapes: a quoted value runs to the next quote); sizes accept
 * K, M, G suffixes (powers of 1024); durations accept s, m, h, d (a bare
 * number is seconds). An unknown key, a bad value, a repeated key or a line
 * without '=' is an error reported as "FILE:LINE: message". The list keys
 * (auth_rule, auth_group, auth_token_trust, upstream, quota, immutable,
 * retain, notify) are the exception: each line
 * adds one entry, and the config then owns memory (config_free).
 */
#ifndef CONFIG_H
#define CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/log.h"
#include "../common/status.h"

/* Defaults that other code prints (the usage text); the key table in
 * config.c applies them, with every other key's default. */
#define CONFIG_DEFAULT_LISTEN "0.0.0.0:5000"
#define CONFIG_DEFAULT_DATA "./data"
#define CONFIG_PATH_MAX 4096
#define CONFIG_USERS_FILE "htpasswd"	  /* in the data folder, unless auth_users */
#define CONFIG_TOKEN_KEY_FILE "token.key" /* in the data folder, unless auth_token_key */
#define CONFIG_LIST_MAX 4096		  /* entries of one repeatable key */

/* The values of a key that may be given more than once, in file order. */
typedef struct {
	char **v;
	size_t n;
} config_list;

typedef struct {
	char listen[256];	    /* "HOST:PORT", "[v6]:PORT" or ":PORT" */
	char data[CONFIG_PATH_MAX]; /* data folder */
	log_level log_level;
	char access_log[CONFIG_PATH_MAX]; /* "off", "stderr" or a file (accesslog.h) */
	int access_log_format;		  /* an accesslog_format */
	bool delete_enabled;		  /* else DELETE gets 405 */
	uint64_t max_manifest_bytes;	  /* larger manifest PUTs get 413 */
	uint32_t upload_ttl_sec;	  /* idle upload sessions expire after this */
	uint32_t gc_interval_sec;	  /* the server collects garbage this often; 0 never */
	uint32_t gc_delay_sec;		  /* unreferenced for this long before it goes */
	uint32_t gc_untagged_sec;	  /* untagged manifests go after this; 0 never */
	bool gc_dry_run;		  /* collections only report what they would remove */
	uint32_t threads;		  /* worker threads, 0 = number of cores */
	uint32_t max_connections;
	uint32_t connection_timeout_sec; /* idle connection timeout */
	char storage[32];		 /* blob store backend: "filesystem" or "s3" */
	/* storage = s3 (storage/blobstore_s3.h) */
	char s3_endpoint[512];
	char s3_bucket[256];
	char s3_region[64];
	char s3_credentials[CONFIG_PATH_MAX]; /* ACCESS:SECRET; "" = AWS_* variables */
	bool s3_path_style;
	char s3_prefix[256];
	char s3_ca[CONFIG_PATH_MAX];
	uint64_t s3_part_size;
	bool s3_redirect;
	uint64_t s3_memory;  /* upload buffers in all */
	char metadata[32];   /* metadata index backend: "sqlite" or "postgres" */
	char postgres[1024]; /* metadata = postgres: libpq conninfo or URI */
	char postgres_password_file[CONFIG_PATH_MAX]; /* its password; "": libpq's own */

	/* access control (auth/auth.h): mode 0 is none */
	int auth_mode;			      /* an auth_mode */
	char auth_realm[256];		      /* Basic realm */
	char auth_users[CONFIG_PATH_MAX];     /* htpasswd file; "" = DATA/htpasswd */
	config_list auth_groups;	      /* "NAME: USER ..." */
	config_list auth_rules;		      /* "PATTERN WHO ACTIONS" */
	char auth_token_service[256];	      /* token audience and challenge service */
	char auth_token_issuer[256];	      /* iss of our tokens */
	char auth_token_key[CONFIG_PATH_MAX]; /* signing key; "" = DATA/token.key */
	char auth_token_realm[512];	      /* challenge realm URL; "" = from Host */
	uint32_t auth_token_lifetime_sec;
	uint32_t auth_token_refresh_lifetime_sec; /* 0: no refresh tokens */
	config_list auth_token_trust;		  /* "ISSUER PEM-FILE" of external token servers */
	uint32_t auth_fail_limit;		  /* failed logins per address before 429 */
	uint32_t auth_fail_window_sec;
	char auth_trusted_proxies[1024]; /* addresses whose X-Forwarded-For is believed */
	/* TLS: both set = HTTPS on listen; listen_plain adds a plain HTTP listener */
	char tls_cert[CONFIG_PATH_MAX]; /* PEM certificate (chain) */
	char tls_key[CONFIG_PATH_MAX];	/* PEM private key */
	char listen_plain[256];		/* "" = none */

	/* the pull-through cache (proxy/proxy.h) */
	config_list upstreams; /* "NAME URL|offline [namespaces=P,...] [credentials=F] [ca=F]" */
	uint32_t proxy_revalidate_sec; /* 0: a cached tag is re-checked on every pull */
	uint32_t proxy_negative_sec;   /* 0: upstream 404s are not remembered */
	uint32_t proxy_timeout_sec;
	uint32_t proxy_retries;
	uint32_t proxy_unreachable_sec; /* 0: an unreachable upstream is asked on every miss */
	uint64_t proxy_cache_max_bytes; /* 0 = unbounded */
	uint32_t proxy_cache_keep_sec;

	/* observability (server/h_ops.c) */
	bool metrics;		  /* GET /metrics */
	char metrics_listen[256]; /* "" = /metrics on the main listeners */
	int metrics_auth;	  /* a config_metrics_auth */
	uint64_t min_free_bytes;  /* /readyz fails below this free space */
	/* the storage lifecycle: policies (core/policy.c) and scrub */
	config_list quotas;	/* "PATTERN SIZE" */
	config_list immutables; /* "PATTERN TAGGLOB" */
	config_list retains; /* "PATTERN keep=N [tags=GLOB] [pushed_within=D] [pulled_within=D]" */
	uint32_t scrub_interval_sec; /* 0: no scrub by the server */
	uint64_t scrub_rate_bytes;   /* bytes read per second by a scrub */
	/* events (core/events.c) */
	config_list notify; /* "URL [events=...] [repos=...] [secret=FILE] [timeout=D]" */
	/* the web UI (server/ui_*.c) */
	bool ui;		 /* pages under /ui/, and / redirecting there */
	uint32_t ui_session_sec; /* a login lasts this long */
} config;

/* Who may read /metrics (metrics_auth). */
typedef enum {
	CONFIG_METRICS_AUTH_NONE = 0, /* anyone who can reach it */
	CONFIG_METRICS_AUTH_SAME,     /* any valid credentials, as GET /v2/ wants */
} config_metrics_auth;

/* How a key's value is parsed and stored (see config_key). */
typedef enum {
	CONFIG_STRING,	 /* text of 1 to size-1 bytes, into a char array */
	CONFIG_PATH,	 /* a file or folder name: stored as a CONFIG_STRING */
	CONFIG_SIZE,	 /* bytes, K/M/G suffixes (powers of 1024), into a uint64_t */
	CONFIG_DURATION, /* seconds, s/m/h/d suffixes (bare: seconds), into a uint32_t */
	CONFIG_UINT,	 /* a plain decimal number, into a uint32_t */
	CONFIG_BOOL,	 /* true/false, yes/no, on/off, into a bool */
	CONFIG_CUSTOM,	 /* the key's check parses the value and stores it (enums) */
	CONFIG_LIST,	 /* may repeat: each line appends one entry to a config_list */
} config_type;

typedef struct config_key config_key;

/*
 * One row of the key table: everything the loader, config_set and
 * config_defaults know about a key. Only CONFIG_LIST keys may appear on more
 * than one line of a file.
 */
struct config_key {
	const char *name; /* as written in the file */
	config_type type;
	size_t offset;	   /* of the field in config */
	size_t size;	   /* of the field (a string's capacity, NUL included) */
	uint64_t min, max; /* numbers: accepted range, in bytes or seconds */
	/* a refused value's message: "invalid NAME 'VALUE' (expected EXPECT)" */
	const char *expect;
	/* the default as a user would write it ("4M", "24h"), applied through
	 * the same setter as a file's value; NULL: empty, zero or no entries */
	const char *def;
	/* NULL, or a check beyond the type's (run before the value is stored;
	 * a CONFIG_CUSTOM key's check also stores it). field is the key's field
	 * in the config (a list: the entries so far). ST_OK, or a status with a
	 * message in err. */
	status_t (*check)(const config_key *k, void *field, const char *value, char *err,
			  size_t errlen);
	/* a reload (SIGHUP) cannot apply a change: the running value stays and
	 * the log names the key (server/reload.c) */
	bool restart;
};

/* The key table, in the order registry.conf documents it, into *out (a
 * static array, never freed); returns the number of keys. */
size_t config_keys(const config_key **out);

/* Fills c with the built-in defaults: zero, then each key's default
 * through its setter (c must hold no lists: config_free it first if it
 * was used). */
void config_defaults(config *c);

/* Frees the lists c holds (repeatable keys) and empties them; the rest of
 * c is left as it is. NULL is a no-op. */
void config_free(config *c);

/* A deep copy of src into dst (which holds no lists). ST_OK or ST_NOMEM
 * (dst then holds no lists). */
status_t config_copy(config *dst, const config *src);

/* Whether a and b hold the same value for key k. */
bool config_key_equal(const config *a, const config *b, const config_key *k);

/* Sets key k of dst to src's value (a list: a copy of its entries). ST_OK
 * or ST_NOMEM (the key is then empty in dst). */
status_t config_key_copy(config *dst, const config *src, const config_key *k);

/* The users file and token key paths, with their defaults in the data
 * folder resolved, into out (outlen bytes). ST_OK or ST_INVALID (too long). */
status_t config_users_path(const config *c, char *out, size_t outlen);
status_t config_token_key_path(const config *c, char *out, size_t outlen);

/*
 * Reads the file at path over c. ST_OK; ST_NOT_FOUND if it cannot be
 * opened; ST_INVALID for a bad line (or a NULL argument); ST_IO (ST_NOMEM)
 * if reading fails. On failure err (of errlen bytes; may be NULL) holds
 * "PATH:LINE: message" (or "PATH: reason"); c may be partly updated (and
 * hold lists: config_free it either way).
 */
status_t config_load(config *c, const char *path, char *err, size_t errlen);

/*
 * Sets one key from a string, as a file line would (flags use this).
 * ST_OK or ST_INVALID with a message in err (no FILE:LINE prefix).
 */
status_t config_set(config *c, const char *key, const char *value, char *err, size_t errlen);

/*
 * Splits c->listen into host (empty = any; brackets of an IPv6 address
 * removed) and port (0-65535; 0 = any free port, which the server then
 * logs). ST_OK, or ST_INVALID, also when the host
 * does not fit in hostlen bytes. host may be NULL to only check listen.
 */
status_t config_listen_split(const char *listen, char *host, size_t hostlen, uint16_t *out_port);

#endif
