/*
 * reload.c - SIGHUP: a new configuration applied to the running server
 * (see server_reload in server.h).
 *
 * Everything new is built off to the side first: the generation (the
 * configuration, the auth gate with the users file, groups, rules and
 * token keys read again, the trusted proxies), the core's settings (the
 * storage policies, the upstreams and proxy_* keys, delete_enabled, the
 * sizes and delays the core reads: core_settings_new, which shares the
 * running cache when its keys did not change), the TLS certificate and
 * key (checked to be a pair), the access log's file. Any failure there
 * leaves the running server exactly as it was. Then nothing can fail: the
 * access log switches (accesslog_configure opened its file first), the
 * certificate becomes current for new handshakes, the core's settings and
 * the generation are swapped in (requests in flight finish under the ones
 * they started with), and the log level changes. No listener is closed
 * and no connection or upload is touched.
 *
 * Keys the running server cannot change (the key table's `.restart`: the
 * listeners and their daemon's options, the data folder and backends, the
 * background threads' periods, the event receivers; TLS on or off) keep
 * their running values, and each one that differs is named in the log.
 */
#include "server.h"

#include <string.h>

#include "../common/log.h"
#include "access.h"
#include "cli.h"
#include "tls.h"

/*
 * Copies the running value of each restart-only key that cfg changes back
 * into cfg, naming it in the log. Returns how many. ST_NOMEM leaves a
 * list key empty: the caller gives up.
 */
static status_t keep_restart_keys(const config *run, config *cfg, int *out_n)
{
	const config_key *keys;
	size_t n = config_keys(&keys);

	*out_n = 0;
	for (size_t i = 0; i < n; i++) {
		if (!keys[i].restart || config_key_equal(run, cfg, &keys[i]))
			continue;
		log_warn("reload: %s changed, which needs a restart: the running value is kept",
			 keys[i].name);
		(*out_n)++;
		if (config_key_copy(cfg, run, &keys[i]) != ST_OK)
			return ST_NOMEM;
	}
	/* The collector and the scrubber run if their period was not 0 at
	 * start: a period may change, the thread cannot start or stop. */
	if ((run->gc_interval_sec == 0) != (cfg->gc_interval_sec == 0)) {
		log_warn("reload: gc_interval would turn collection by the server %s, which needs "
			 "a restart: the running value is kept",
			 run->gc_interval_sec ? "off" : "on");
		(*out_n)++;
		cfg->gc_interval_sec = run->gc_interval_sec;
	}
	if ((run->scrub_interval_sec == 0) != (cfg->scrub_interval_sec == 0)) {
		log_warn(
		    "reload: scrub_interval would turn scrubbing by the server %s, which needs "
		    "a restart: the running value is kept",
		    run->scrub_interval_sec ? "off" : "on");
		(*out_n)++;
		cfg->scrub_interval_sec = run->scrub_interval_sec;
	}
	/* The daemon was started with or without TLS: a certificate may
	 * change, HTTPS cannot start or stop. */
	if ((run->tls_cert[0] != '\0') != (cfg->tls_cert[0] != '\0') ||
	    (run->tls_key[0] != '\0') != (cfg->tls_key[0] != '\0')) {
		log_warn("reload: tls_cert/tls_key would turn HTTPS %s, which needs a restart: "
			 "the running certificate is kept",
			 run->tls_cert[0] ? "off" : "on");
		(*out_n)++;
		memcpy(cfg->tls_cert, run->tls_cert, sizeof(cfg->tls_cert));
		memcpy(cfg->tls_key, run->tls_key, sizeof(cfg->tls_key));
	}
	return ST_OK;
}

status_t server_reload(server *srv, const config *newcfg, const char *from)
{
	server_gen *run = access_gen_get(srv), *g = NULL;
	tls_creds *creds = NULL;
	core_settings *set = NULL;
	core_options co;
	config cfg = {0};
	char err[1024], serial[80];
	int kept = 0;
	status_t st;

	if ((st = config_copy(&cfg, newcfg)) != ST_OK ||
	    (st = keep_restart_keys(&run->cfg, &cfg, &kept)) != ST_OK) {
		snprintf(err, sizeof(err), "out of memory");
		goto fail;
	}
	if ((st = access_gen_new(srv, &cfg, &g, err, sizeof(err))) != ST_OK)
		goto fail;
	/* the core logs what is wrong (an upstream's credentials file...) */
	cli_core_options(&cfg, true, SERVER_USER_AGENT, false, &co);
	if ((st = core_settings_new(srv->core, &co, &set)) != ST_OK) {
		snprintf(err, sizeof(err),
			 "the core's settings (upstreams, policies) are unusable");
		goto fail;
	}
	if (srv->tls &&
	    (st = tls_creds_load(cfg.tls_cert, cfg.tls_key, &creds, err, sizeof(err))) != ST_OK)
		goto fail;
	/* Last of what may fail: switches the log only when it succeeds. */
	if ((st = accesslog_configure(srv->alog, cfg.access_log,
				      (accesslog_format)cfg.access_log_format, err, sizeof(err))) !=
	    ST_OK)
		goto fail;
	if (creds != NULL)
		tls_creds_use(creds);
	/* the core first: a request that sees the new rules at the gate finds
	 * the new policies and upstreams behind it */
	core_settings_use(srv->core, set);
	access_gen_swap(srv, g);
	log_set_level(cfg.log_level);
	tls_serial(serial, sizeof(serial));
	log_info("reload: configuration from %s applied (auth %s, %zu rule(s), %zu group(s), "
		 "%zu upstream(s), %zu quota(s), %zu immutable, %zu retain, delete %s%s%s, "
		 "access log %s%s)",
		 from,
		 cfg.auth_mode == 0   ? "none"
		 : cfg.auth_mode == 1 ? "basic"
				      : "token",
		 cfg.auth_rules.n, cfg.auth_groups.n, cfg.upstreams.n, cfg.quotas.n,
		 cfg.immutables.n, cfg.retains.n, cfg.delete_enabled ? "on" : "off",
		 srv->tls ? ", TLS certificate serial " : "", srv->tls ? serial : "",
		 cfg.access_log, kept ? "; some keys need a restart, see above" : "");
	config_free(&cfg);
	access_gen_put(srv, run);
	return ST_OK;
fail:
	log_error("reload: %s; the running configuration is kept", err);
	access_gen_free(g);
	core_settings_free(srv->core, set);
	tls_creds_free(creds);
	config_free(&cfg);
	access_gen_put(srv, run);
	return st;
}
