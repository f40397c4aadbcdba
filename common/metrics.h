/*
 * metrics.h - counters, gauges and histograms any layer may keep, and the
 * Prometheus text exposition format (version 0.0.4) they are written in.
 *
 * There is no global registry: each module keeps its own counters (in its
 * own struct, one per object: a server, an upstream, the login throttle)
 * and says what they hold through a stats function of its own header; the
 * server's /metrics handler asks each and writes the families here. So
 * nothing below the server calls up to publish a number, and a unit test
 * can make two of anything without them adding up.
 *
 * Counting is one relaxed atomic add on a counter that lives as long as its
 * owner: no lock, no allocation, nothing on the request path that another
 * thread waits for. A scrape reads each counter once; values read in one
 * scrape are each exact but not a snapshot of one instant (as in every
 * Prometheus client library).
 *
 * Names and labels follow Prometheus' conventions: counters end in _total,
 * times are seconds (_seconds), sizes bytes (_bytes), and label values
 * come from small fixed sets (routes, methods, status codes, configured
 * upstream names), never from digests, repository or user names.
 */
#ifndef METRICS_H
#define METRICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A value that only goes up (requests, bytes). */
typedef struct {
	_Atomic uint64_t mc_v;
} metrics_counter;

/* A value that goes up and down (connections open, sessions open). */
typedef struct {
	_Atomic int64_t mg_v;
} metrics_gauge;

static inline void metrics_add(metrics_counter *c, uint64_t n)
{
	atomic_fetch_add_explicit(&c->mc_v, n, memory_order_relaxed);
}

static inline uint64_t metrics_get(const metrics_counter *c)
{
	return atomic_load_explicit(&((metrics_counter *)c)->mc_v, memory_order_relaxed);
}

static inline void metrics_gauge_add(metrics_gauge *g, int64_t d)
{
	atomic_fetch_add_explicit(&g->mg_v, d, memory_order_relaxed);
}

static inline int64_t metrics_gauge_get(const metrics_gauge *g)
{
	return atomic_load_explicit(&((metrics_gauge *)g)->mg_v, memory_order_relaxed);
}

/*
 * A latency histogram with fixed bucket bounds (METRICS_LATENCY_BOUNDS, in
 * seconds, from 1 ms to 10 s: a manifest GET takes well under a
 * millisecond, a large blob seconds). Each observation adds to one bucket
 * (not cumulative: metrics_hist_write sums them when it writes), to the
 * count and to the sum, kept in microseconds so it stays an integer.
 */
#define METRICS_HIST_BUCKETS 13
#define METRICS_LATENCY_BOUNDS                                                                     \
	{                                                                                          \
		0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10             \
	}

typedef struct {
	metrics_counter mh_bucket[METRICS_HIST_BUCKETS + 1]; /* the last one: above every bound */
	metrics_counter mh_count;
	metrics_counter mh_sum_us;
} metrics_hist;

/* Records one observation of us microseconds. */
void metrics_observe_us(metrics_hist *h, uint64_t us);

/* ---- the text exposition ---- */

/* A growing text buffer. Start it zeroed; metrics_out_take or _free it. */
typedef struct {
	char *mo_buf;
	size_t mo_len, mo_cap;
	bool mo_failed; /* an allocation failed: the text is incomplete */
} metrics_out;

/* "# HELP name help" and "# TYPE name type" (type: "counter", "gauge",
 * "histogram"). help is escaped as the format wants (\\ and \n). */
void metrics_family(metrics_out *o, const char *name, const char *type, const char *help);

/*
 * One sample: name{labels} value. The labels are pairs of const char *
 * (name, value) ended by a NULL name; values are escaped (\\, \", \n).
 * _u64 writes an integer, _i64 a signed one, _f64 a float.
 */
void metrics_sample_u64(metrics_out *o, const char *name, uint64_t v, ...);
void metrics_sample_i64(metrics_out *o, const char *name, int64_t v, ...);
void metrics_sample_f64(metrics_out *o, const char *name, double v, ...);

/*
 * A histogram's samples: name_bucket{labels,le="..."} (cumulative, +Inf
 * last), name_sum (seconds) and name_count, labels as above. Reads each
 * counter once: the count written is the sum of the buckets written, so
 * the +Inf bucket always equals _count, as Prometheus requires.
 */
void metrics_hist_write(metrics_out *o, const char *name, const metrics_hist *h, ...);

/* The text (NUL-terminated; its length in *out_len), now the caller's to
 * free; NULL (and the buffer freed) if an allocation failed. */
char *metrics_out_take(metrics_out *o, size_t *out_len);

/* Frees the buffer. NULL is a no-op. */
void metrics_out_free(metrics_out *o);

#endif
