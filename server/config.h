/*
 * config.h - the registry's configuration: built-in defaults, then the
 * file, then command-line flags.
 *
 * File format (registry.conf): one `key = value` per line; `#` starts a
 * comment (outside quotes); blank lines ignored; values may be quoted with
 * "..." (no escapes: a quoted value runs to the next quote); sizes accept
 * K, M, G suffixes (powers of 1024); durations accept s, m, h, d (a bare
 * number is seconds). An unknown key, a bad value, a repeated key or a line
 * without '=' is an error reported as "FILE:LINE: message".
 */
#ifndef CONFIG_H
#define CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/log.h"
#include "../common/status.h"

/* Defaults, with units. */
#define CONFIG_DEFAULT_LISTEN "0.0.0.0:5000"
#define CONFIG_DEFAULT_DATA "./data"
#define CONFIG_DEFAULT_MAX_MANIFEST_BYTES (4u * 1024 * 1024)
#define CONFIG_DEFAULT_UPLOAD_TTL_SEC (24 * 3600)
#define CONFIG_DEFAULT_THREADS 0 /* 0: one per core */
#define CONFIG_DEFAULT_MAX_CONNECTIONS 1024
#define CONFIG_DEFAULT_CONNECTION_TIMEOUT_SEC 60
#define CONFIG_PATH_MAX 4096

typedef struct {
	char listen[256];	     /* "HOST:PORT", "[v6]:PORT" or ":PORT" */
	char data[CONFIG_PATH_MAX];  /* data folder */
	log_level log_level;
	bool delete_enabled;	     /* default true */
	uint64_t max_manifest_bytes; /* larger manifest PUTs get 413 */
	uint32_t upload_ttl_sec;     /* idle upload sessions expire after this */
	uint32_t threads;	     /* worker threads, 0 = number of cores */
	uint32_t max_connections;
	uint32_t connection_timeout_sec; /* idle connection timeout */
} config;

/* Fills c with the built-in defaults. */
void config_defaults(config *c);

/*
 * Reads the file at path over c. ST_OK; ST_NOT_FOUND if it cannot be
 * opened; ST_INVALID for a bad line (or a NULL argument); ST_IO (ST_NOMEM)
 * if reading fails. On failure err (of errlen bytes; may be NULL) holds
 * "PATH:LINE: message" (or "PATH: reason"); c may be partly updated.
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
