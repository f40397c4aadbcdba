/*
 * metrics.c - histograms and the Prometheus text exposition (metrics.h).
 *
 * The writer appends to one buffer that doubles as it grows; the first
 * failed allocation marks it failed and every later write is dropped, so a
 * caller checks once, at metrics_out_take. Floats are written with %.17g
 * (exact round trip); label values and help texts are escaped as the
 * format says, so even a label from configuration cannot break a line.
 */
#include "metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define METRICS_OUT_MIN 4096 /* first buffer: a small registry's whole page */

static const double latency_bounds[METRICS_HIST_BUCKETS] = METRICS_LATENCY_BOUNDS;

void metrics_observe_us(metrics_hist *h, uint64_t us)
{
	size_t i = 0;

	/* le is "less than or equal": 1000 us falls in the 0.001 bucket. */
	while (i < METRICS_HIST_BUCKETS && (double)us > latency_bounds[i] * 1e6)
		i++;
	metrics_add(&h->mh_bucket[i], 1);
	metrics_add(&h->mh_count, 1);
	metrics_add(&h->mh_sum_us, us);
}

/* Room for extra more bytes (and a NUL). false once failed. */
static bool reserve(metrics_out *o, size_t extra)
{
	size_t cap = o->mo_cap ? o->mo_cap : METRICS_OUT_MIN;
	char *p;

	if (o->mo_failed)
		return false;
	while (cap < o->mo_len + extra + 1)
		cap *= 2;
	if (cap == o->mo_cap)
		return true;
	if ((p = realloc(o->mo_buf, cap)) == NULL) {
		o->mo_failed = true;
		return false;
	}
	o->mo_buf = p;
	o->mo_cap = cap;
	return true;
}

static void put(metrics_out *o, const char *s, size_t n)
{
	if (!reserve(o, n))
		return;
	memcpy(o->mo_buf + o->mo_len, s, n);
	o->mo_len += n;
	o->mo_buf[o->mo_len] = '\0';
}

static void puts_(metrics_out *o, const char *s)
{
	put(o, s, strlen(s));
}

/* s with \ and newline escaped, and " too when quoted (label values). */
static void put_escaped(metrics_out *o, const char *s, bool quoted)
{
	for (; *s; s++) {
		if (*s == '\\')
			put(o, "\\\\", 2);
		else if (*s == '\n')
			put(o, "\\n", 2);
		else if (*s == '"' && quoted)
			put(o, "\\\"", 2);
		else
			put(o, s, 1);
	}
}

void metrics_family(metrics_out *o, const char *name, const char *type, const char *help)
{
	puts_(o, "# HELP ");
	puts_(o, name);
	puts_(o, " ");
	put_escaped(o, help, false);
	puts_(o, "\n# TYPE ");
	puts_(o, name);
	puts_(o, " ");
	puts_(o, type);
	puts_(o, "\n");
}

/* name{k="v",...[,le="bound"]}, the labels from ap; no braces when none. */
static void put_series(metrics_out *o, const char *name, va_list ap, const char *le)
{
	const char *k, *v;
	int n = 0;

	puts_(o, name);
	while ((k = va_arg(ap, const char *)) != NULL) {
		v = va_arg(ap, const char *);
		puts_(o, n++ ? "," : "{");
		puts_(o, k);
		puts_(o, "=\"");
		put_escaped(o, v ? v : "", true);
		puts_(o, "\"");
	}
	if (le != NULL) {
		puts_(o, n++ ? "," : "{");
		puts_(o, "le=\"");
		puts_(o, le);
		puts_(o, "\"");
	}
	if (n > 0)
		puts_(o, "}");
}

static void put_value(metrics_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put_value(metrics_out *o, const char *fmt, ...)
{
	char num[48];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(num, sizeof(num), fmt, ap);
	va_end(ap);
	puts_(o, " ");
	put(o, num, n > 0 && (size_t)n < sizeof(num) ? (size_t)n : 0);
	puts_(o, "\n");
}

void metrics_sample_u64(metrics_out *o, const char *name, uint64_t v, ...)
{
	va_list ap;

	va_start(ap, v);
	put_series(o, name, ap, NULL);
	va_end(ap);
	put_value(o, "%llu", (unsigned long long)v);
}

void metrics_sample_i64(metrics_out *o, const char *name, int64_t v, ...)
{
	va_list ap;

	va_start(ap, v);
	put_series(o, name, ap, NULL);
	va_end(ap);
	put_value(o, "%lld", (long long)v);
}

void metrics_sample_f64(metrics_out *o, const char *name, double v, ...)
{
	va_list ap;

	va_start(ap, v);
	put_series(o, name, ap, NULL);
	va_end(ap);
	put_value(o, "%.17g", v);
}

void metrics_hist_write(metrics_out *o, const char *name, const metrics_hist *h, ...)
{
	char series[128], le[32];
	uint64_t cum = 0, sum_us;
	va_list ap;

	for (size_t i = 0; i <= METRICS_HIST_BUCKETS; i++) {
		cum += metrics_get(&h->mh_bucket[i]);
		if (i < METRICS_HIST_BUCKETS)
			snprintf(le, sizeof(le), "%g", latency_bounds[i]);
		else
			snprintf(le, sizeof(le), "+Inf");
		snprintf(series, sizeof(series), "%s_bucket", name);
		va_start(ap, h);
		put_series(o, series, ap, le);
		va_end(ap);
		put_value(o, "%llu", (unsigned long long)cum);
	}
	snprintf(series, sizeof(series), "%s_sum", name);
	va_start(ap, h);
	put_series(o, series, ap, NULL);
	va_end(ap);
	sum_us = metrics_get(&h->mh_sum_us); /* exact: whole microseconds */
	put_value(o, "%llu.%06llu", (unsigned long long)(sum_us / 1000000),
		  (unsigned long long)(sum_us % 1000000));
	snprintf(series, sizeof(series), "%s_count", name);
	va_start(ap, h);
	put_series(o, series, ap, NULL);
	va_end(ap);
	/* the buckets' total, not mh_count: one observation may land between
	 * the two reads, and +Inf must equal _count */
	put_value(o, "%llu", (unsigned long long)cum);
}

char *metrics_out_take(metrics_out *o, size_t *out_len)
{
	char *s;

	if (!reserve(o, 0)) {
		metrics_out_free(o);
		return NULL;
	}
	o->mo_buf[o->mo_len] = '\0';
	s = o->mo_buf;
	*out_len = o->mo_len;
	o->mo_buf = NULL;
	o->mo_len = o->mo_cap = 0;
	return s;
}

void metrics_out_free(metrics_out *o)
{
	if (o == NULL)
		return;
	free(o->mo_buf);
	o->mo_buf = NULL;
	o->mo_len = o->mo_cap = 0;
}
