/*
 * h_ops.c - what operators and their tools ask: GET /metrics (Prometheus'
 * text format), GET /healthz (the process answers) and GET /readyz (it can
 * serve: core_ready).
 *
 * None of them changes anything a client can see: /metrics reads counters
 * and the store's counts (reused for CORE_STATS_MAX_AGE_SEC, so scrapes
 * cannot make the index work harder), /readyz makes and removes one probe
 * file in the data folder. /healthz and /readyz are never behind auth (a
 * probe has no credentials); /metrics is only with metrics_auth = same
 * (access.c). Served on the registry's listeners, or with metrics_listen
 * on a plain-HTTP listener of their own (and /metrics only there).
 *
 * Every label value comes from a fixed set (routes, methods, statuses,
 * configured upstream names, the index of a notify line): no repository,
 * digest, user name or receiver URL (it may hold credentials) ever becomes
 * a series, so the number of series is bounded by configuration. The
 * garbage collection families count this process's collections (the
 * core's core_gc_totals_get): a `registry gc` run by another process is
 * not in them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "server.h"

#ifndef REGISTRY_VERSION
#define REGISTRY_VERSION "unknown"
#endif

#define OPS_WHY_MAX 512 /* a /readyz refusal's sentence */

/* ---- label values ---- */

static const char *const route_names[HTTP_STAT_ROUTES] = {
    [R_BASE] = "base",	     [R_CATALOG] = "catalog",
    [R_TAGS] = "tags",	     [R_MANIFEST] = "manifest",
    [R_BLOB] = "blob",	     [R_UPLOAD_START] = "upload_start",
    [R_UPLOAD] = "upload",   [R_REFERRERS] = "referrers",
    [R_TOKEN] = "token",     [R_METRICS] = "metrics",
    [R_HEALTHZ] = "healthz", [R_READYZ] = "readyz",
    [R_UI] = "ui",	     [R__COUNT] = "none", /* no route matched */
};

/* By bit of http_method (M_GET is bit 0), then anything else. */
static const char *const method_names[HTTP_STAT_METHODS] = {"GET",   "HEAD",   "PUT",  "POST",
							    "PATCH", "DELETE", "other"};

/* The statuses reply.c and the handlers answer with, then any other, then
 * none (the connection ended before a reply was queued). */
static const unsigned codes[HTTP_STAT_CODES - 2] = {200, 201, 202, 204, 206, 307, 400,
						    401, 403, 404, 405, 409, 413, 415,
						    416, 429, 500, 502, 503, 507};
static const char *const code_names[HTTP_STAT_CODES] = {
    "200", "201", "202", "204", "206", "307", "400", "401", "403", "404",   "405",
    "409", "413", "415", "416", "429", "500", "502", "503", "507", "other", "none"};

size_t http_stat_code_index(unsigned status)
{
	if (status == 0)
		return HTTP_STAT_CODES - 1;
	for (size_t i = 0; i < HTTP_STAT_CODES - 2; i++)
		if (codes[i] == status)
			return i;
	return HTTP_STAT_CODES - 2;
}

const char *http_stat_route(size_t i)
{
	return i < HTTP_STAT_ROUTES ? route_names[i] : "none";
}

const char *http_stat_method(size_t i)
{
	return i < HTTP_STAT_METHODS ? method_names[i] : "other";
}

const char *http_stat_code(size_t i)
{
	return i < HTTP_STAT_CODES ? code_names[i] : "other";
}

/* ---- where each is served ---- */

status_t ops_served(const request *r)
{
	const config *cfg = &r->srv->cfg;
	bool op = r->route != NULL && (r->route->kind == R_METRICS || r->route->kind == R_HEALTHZ ||
				       r->route->kind == R_READYZ);

	if (r->ops)
		return op ? ST_OK : ST_NOT_ROUTE;
	if (r->route != NULL && r->route->kind == R_METRICS &&
	    (!cfg->metrics || cfg->metrics_listen[0] != '\0'))
		return ST_NOT_ROUTE;
	if (r->route != NULL && r->route->kind == R_UI && !cfg->ui)
		return ST_NOT_ROUTE; /* ui = off: no page, and / is no redirect */
	return ST_OK;
}

status_t ops_begin(request *r)
{
	return ST_OK;
}

/* ---- /healthz and /readyz ---- */

static enum MHD_Result reply_text(request *r, const char *text, const char *type)
{
	char *body = strdup(text);
	struct MHD_Response *resp;

	if (body == NULL)
		return MHD_NO;
	if ((resp = reply_buffer(r, body, strlen(body))) == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", type);
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	return reply_send(r, resp, 200);
}

enum MHD_Result healthz_finish(request *r)
{
	return reply_text(r, "ok\n", "text/plain; charset=utf-8");
}

/* 200 "ready", or 503 UNAVAILABLE with the reason as the error's detail. */
enum MHD_Result readyz_finish(request *r)
{
	char why[OPS_WHY_MAX] = "";

	if (core_ready(r->srv->core, r->gen->cfg.min_free_bytes, why, sizeof(why)) != ST_OK)
		return reply_error(r, ST_UNAVAILABLE, why);
	return reply_text(r, "ready\n", "text/plain; charset=utf-8");
}

/* ---- /metrics ---- */

static void write_http(metrics_out *o, server *srv)
{
	http_stats *hs = &srv->stats;
	unsigned active;

	metrics_family(o, "registry_http_requests_total", "counter",
		       "HTTP requests answered, by route, method and status code.");
	for (size_t ro = 0; ro < HTTP_STAT_ROUTES; ro++)
		for (size_t m = 0; m < HTTP_STAT_METHODS; m++)
			for (size_t c = 0; c < HTTP_STAT_CODES; c++) {
				uint64_t v = metrics_get(&hs->hs_requests[ro][m][c]);
				if (v > 0)
					metrics_sample_u64(o, "registry_http_requests_total", v,
							   "route", http_stat_route(ro), "method",
							   http_stat_method(m), "code",
							   http_stat_code(c), NULL);
			}
	metrics_family(o, "registry_http_request_duration_seconds", "histogram",
		       "Time from a request's headers to the end of its reply, by route.");
	for (size_t ro = 0; ro < HTTP_STAT_ROUTES; ro++)
		if (metrics_get(&hs->hs_latency[ro].mh_count) > 0)
			metrics_hist_write(o, "registry_http_request_duration_seconds",
					   &hs->hs_latency[ro], "route", http_stat_route(ro), NULL);
	metrics_family(o, "registry_http_received_bytes_total", "counter",
		       "Request body bytes received.");
	metrics_sample_u64(o, "registry_http_received_bytes_total", metrics_get(&hs->hs_bytes_in),
			   NULL);
	metrics_family(o, "registry_http_sent_bytes_total", "counter",
		       "Response body bytes sent (HEAD answers send none).");
	metrics_sample_u64(o, "registry_http_sent_bytes_total", metrics_get(&hs->hs_bytes_out),
			   NULL);
	metrics_family(o, "registry_http_connections", "gauge",
		       "Client connections open, on every listener.");
	metrics_sample_i64(o, "registry_http_connections", metrics_gauge_get(&hs->hs_connections),
			   NULL);
	pthread_mutex_lock(&srv->stop_mu);
	active = srv->active;
	pthread_mutex_unlock(&srv->stop_mu);
	metrics_family(o, "registry_http_requests_in_flight", "gauge",
		       "Requests begun and not yet finished (this scrape included).");
	metrics_sample_u64(o, "registry_http_requests_in_flight", active, NULL);
}

static void write_store(metrics_out *o, core *c)
{
	static const struct {
		const char *name, *help;
		size_t off;
	} g[] = {
	    {"registry_upload_sessions", "Upload sessions open.",
	     offsetof(core_store_stats, uploads)},
	    {"registry_repositories", "Repositories.", offsetof(core_store_stats, repos)},
	    {"registry_manifests", "Distinct manifests (each digest once).",
	     offsetof(core_store_stats, manifests)},
	    {"registry_tags", "Tags, over all repositories.", offsetof(core_store_stats, tags)},
	    {"registry_blobs", "Distinct blobs linked to a repository (each digest once).",
	     offsetof(core_store_stats, blobs)},
	    {"registry_stored_bytes",
	     "Bytes of those blobs and manifests, each digest once (what garbage collection "
	     "has not removed yet is not counted).",
	     offsetof(core_store_stats, stored_bytes)},
	};
	core_store_stats ss;

	if (core_store_stats_get(c, &ss) != ST_OK)
		return; /* logged by the index; the page goes on without them */
	for (size_t i = 0; i < sizeof(g) / sizeof(g[0]); i++) {
		metrics_family(o, g[i].name, "gauge", g[i].help);
		metrics_sample_u64(o, g[i].name, *(const uint64_t *)((const char *)&ss + g[i].off),
				   NULL);
	}
}

static void write_upstreams(metrics_out *o, core *c)
{
	static const struct {
		const char *name, *type, *help;
		size_t off; /* a uint64_t of core_upstream_stats; 0: reachable */
	} f[] = {
	    {"registry_cache_hits_total", "counter",
	     "Reads of a mirrored repository answered from the cache alone.",
	     offsetof(core_upstream_stats, hits)},
	    {"registry_cache_misses_total", "counter",
	     "Reads of a mirrored repository that asked the upstream (a fetch, or a tag's check).",
	     offsetof(core_upstream_stats, misses)},
	    {"registry_upstream_requests_total", "counter",
	     "Requests sent to the upstream (retries of one counted once).",
	     offsetof(core_upstream_stats, requests)},
	    {"registry_upstream_received_bytes_total", "counter",
	     "Body bytes received from the upstream.", offsetof(core_upstream_stats, bytes)},
	    {"registry_upstream_errors_total", "counter",
	     "Upstream requests that failed (unreachable, denied, 5xx...; a 404 is no error).",
	     offsetof(core_upstream_stats, errors)},
	    {"registry_upstream_reachable", "gauge",
	     "1 unless the last request to the upstream could not connect; 0 for an offline one.",
	     0},
	};
	size_t n = core_upstream_count(c);
	core_upstream_stats us;

	for (size_t k = 0; k < sizeof(f) / sizeof(f[0]) && n > 0; k++) {
		metrics_family(o, f[k].name, f[k].type, f[k].help);
		for (size_t i = 0; i < n; i++) {
			if (core_upstream_stats_get(c, i, &us) != ST_OK)
				continue;
			metrics_sample_u64(o, f[k].name,
					   f[k].off
					       ? *(const uint64_t *)((const char *)&us + f[k].off)
					       : (uint64_t)us.reachable,
					   "upstream", us.name, NULL);
		}
	}
}

/* Receivers are named by their notify line's index (0, 1, ... in file
 * order; the start-up log line of each says which is which): a URL may
 * hold a user and password, and is long. */
#define OPS_RECEIVERS_MAX 64 /* receivers reported; any past it are left out */

static void write_events(metrics_out *o, core *c)
{
	static const struct {
		const char *name, *type, *help;
		size_t off; /* a uint64_t of core_events_stat */
	} f[] = {
	    {"registry_events_queued", "gauge",
	     "Events waiting in the receiver's queue in registry.db (not yet acknowledged).",
	     offsetof(core_events_stat, queued)},
	    {"registry_events_delivered_total", "counter",
	     "Events the receiver acknowledged with a 2xx, since start.",
	     offsetof(core_events_stat, delivered)},
	    {"registry_events_failed_posts_total", "counter",
	     "POSTs to the receiver that got no 2xx (each retry counted), since start.",
	     offsetof(core_events_stat, failures)},
	    {"registry_events_dropped_total", "counter",
	     "Pull events for the receiver dropped before they were queued (buffer full).",
	     offsetof(core_events_stat, pulls_dropped)},
	};
	core_events_stat st[OPS_RECEIVERS_MAX];
	size_t n = core_events_stats(c, st, OPS_RECEIVERS_MAX);
	char idx[24];

	if (n > OPS_RECEIVERS_MAX)
		n = OPS_RECEIVERS_MAX;
	for (size_t k = 0; k < sizeof(f) / sizeof(f[0]) && n > 0; k++) {
		metrics_family(o, f[k].name, f[k].type, f[k].help);
		for (size_t i = 0; i < n; i++) {
			snprintf(idx, sizeof(idx), "%zu", i);
			metrics_sample_u64(o, f[k].name,
					   *(const uint64_t *)((const char *)&st[i] + f[k].off),
					   "receiver", idx, NULL);
		}
	}
}

/* Garbage collection: the collector's runs (core_collect). The last run's
 * gauges appear once there was one. */
static void write_gc(metrics_out *o, core *c)
{
	static const struct {
		const char *kind;
		size_t off; /* a uint64_t of core_gc_totals */
	} k[] = {
	    {"tags", offsetof(core_gc_totals, tags)},
	    {"manifests", offsetof(core_gc_totals, manifests)},
	    {"links", offsetof(core_gc_totals, links)},
	    {"blobs", offsetof(core_gc_totals, blobs)},
	    {"orphans", offsetof(core_gc_totals, orphans)},
	    {"uploads", offsetof(core_gc_totals, uploads)},
	};
	core_gc_totals t;
	core_gc_report last;
	int64_t when;

	core_gc_totals_get(c, &t);
	metrics_family(o, "registry_gc_runs_total", "counter",
		       "Garbage collections this process ran (retention, then what nothing "
		       "references), dry runs included.");
	metrics_sample_u64(o, "registry_gc_runs_total", t.runs, NULL);
	metrics_family(o, "registry_gc_removed_total", "counter",
		       "What the collections removed, by kind (tags: by retention; uploads: idle "
		       "sessions). Dry runs remove nothing.");
	for (size_t i = 0; i < sizeof(k) / sizeof(k[0]); i++)
		metrics_sample_u64(o, "registry_gc_removed_total",
				   *(const uint64_t *)((const char *)&t + k[i].off), "kind",
				   k[i].kind, NULL);
	metrics_family(o, "registry_gc_freed_bytes_total", "counter",
		       "Bytes of the blob and orphan files the collections removed.");
	metrics_sample_u64(o, "registry_gc_freed_bytes_total", t.bytes, NULL);
	if (core_gc_last(c, &last, &when) != ST_OK)
		return;
	metrics_family(o, "registry_gc_duration_seconds", "gauge",
		       "How long the last collection took.");
	metrics_sample_f64(o, "registry_gc_duration_seconds", last.seconds, NULL);
	metrics_family(o, "registry_gc_last_run_timestamp_seconds", "gauge",
		       "When the last collection ended (Unix time).");
	metrics_sample_i64(o, "registry_gc_last_run_timestamp_seconds", when, NULL);
}

static void write_auth(metrics_out *o, const auth *a)
{
	auth_stats as;

	if (a == NULL)
		return; /* auth = none: nobody logs in */
	auth_stats_get(a, &as);
	metrics_family(o, "registry_auth_failed_logins_total", "counter",
		       "Logins refused for a wrong password or an unknown user name.");
	metrics_sample_u64(o, "registry_auth_failed_logins_total", as.failed_logins, NULL);
	metrics_family(o, "registry_auth_lockouts_total", "counter",
		       "Lockouts begun after auth_fail_limit failures: of one user from one "
		       "address (scope user), or of a whole address (scope address).");
	metrics_sample_u64(o, "registry_auth_lockouts_total", as.lockouts_user, "scope", "user",
			   NULL);
	metrics_sample_u64(o, "registry_auth_lockouts_total", as.lockouts_address, "scope",
			   "address", NULL);
}

enum MHD_Result metrics_finish(request *r)
{
	metrics_out o = {0};
	struct MHD_Response *resp;
	size_t len;
	char *body;

	metrics_family(&o, "registry_build_info", "gauge", "The running version, as a label.");
	metrics_sample_u64(&o, "registry_build_info", 1, "version", REGISTRY_VERSION, NULL);
	write_http(&o, r->srv);
	write_store(&o, r->srv->core);
	write_upstreams(&o, r->srv->core);
	write_events(&o, r->srv->core);
	write_gc(&o, r->srv->core);
	write_auth(&o, r->gen->auth); /* a reload starts its counts afresh: a counter reset */
	if ((body = metrics_out_take(&o, &len)) == NULL)
		return reply_error(r, ST_NOMEM, "out of memory writing the metrics");
	if ((resp = reply_buffer(r, body, len)) == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	return reply_send(r, resp, 200);
}
