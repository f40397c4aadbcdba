/*
 * test_metrics.c - the counters and the text exposition: exact lines,
 * escaping, cumulative histogram buckets whose +Inf equals _count, bucket
 * edges (le is "less than or equal"), and counting from several threads.
 */
#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/metrics.h"

static char *take(metrics_out *o)
{
	size_t n = 0;
	char *s = metrics_out_take(o, &n);

	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(strlen(s), n);
	return s;
}

START_TEST(family_and_samples)
{
	metrics_out o = {0};
	char *s;

	metrics_family(&o, "x_requests_total", "counter", "Requests.\nSecond \\ line");
	metrics_sample_u64(&o, "x_requests_total", 42, "route", "blob", "method", "GET", NULL);
	metrics_sample_i64(&o, "x_open", -3, NULL);
	metrics_sample_f64(&o, "x_ratio", 0.5, "a", "q\"uo\\te\nnl", NULL);
	s = take(&o);
	ck_assert_str_eq(s, "# HELP x_requests_total Requests.\\nSecond \\\\ line\n"
			    "# TYPE x_requests_total counter\n"
			    "x_requests_total{route=\"blob\",method=\"GET\"} 42\n"
			    "x_open -3\n"
			    "x_ratio{a=\"q\\\"uo\\\\te\\nnl\"} 0.5\n");
	free(s);
	metrics_out_free(&o); /* after take: nothing left, no double free */
	metrics_out_free(NULL);
}
END_TEST

START_TEST(empty_take)
{
	metrics_out o = {0};
	char *s = take(&o);

	ck_assert_str_eq(s, "");
	free(s);
}
END_TEST

START_TEST(histogram)
{
	metrics_hist h = {0};
	metrics_out o = {0};
	char *s;

	metrics_observe_us(&h, 1000);	  /* exactly 1 ms: le="0.001" */
	metrics_observe_us(&h, 1001);	  /* just above: le="0.0025" */
	metrics_observe_us(&h, 20000000); /* 20 s: only +Inf */
	metrics_hist_write(&o, "x_seconds", &h, "route", "tags", NULL);
	s = take(&o);
	ck_assert_ptr_nonnull(strstr(s, "x_seconds_bucket{route=\"tags\",le=\"0.001\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(s, "x_seconds_bucket{route=\"tags\",le=\"0.0025\"} 2\n"));
	ck_assert_ptr_nonnull(strstr(s, "x_seconds_bucket{route=\"tags\",le=\"10\"} 2\n"));
	ck_assert_ptr_nonnull(strstr(s, "x_seconds_bucket{route=\"tags\",le=\"+Inf\"} 3\n"));
	ck_assert_ptr_nonnull(strstr(s, "x_seconds_sum{route=\"tags\"} 20.002001\n"));
	ck_assert_ptr_nonnull(strstr(s, "x_seconds_count{route=\"tags\"} 3\n"));
	/* buckets in order, +Inf last */
	ck_assert(strstr(s, "le=\"0.001\"") < strstr(s, "le=\"0.0025\""));
	ck_assert(strstr(s, "le=\"10\"") < strstr(s, "le=\"+Inf\""));
	free(s);
}
END_TEST

START_TEST(histogram_no_labels)
{
	metrics_hist h = {0};
	metrics_out o = {0};
	char *s;

	metrics_hist_write(&o, "y_seconds", &h, NULL);
	s = take(&o);
	ck_assert_ptr_nonnull(strstr(s, "y_seconds_bucket{le=\"+Inf\"} 0\n"));
	ck_assert_ptr_nonnull(strstr(s, "y_seconds_count 0\n"));
	free(s);
}
END_TEST

#define THREADS 4
#define ADDS 100000

static void *adder(void *arg)
{
	metrics_counter *c = arg;

	for (int i = 0; i < ADDS; i++)
		metrics_add(c, 1);
	return NULL;
}

START_TEST(threads_lose_nothing)
{
	metrics_counter c = {0};
	metrics_gauge g = {0};
	pthread_t t[THREADS];

	for (int i = 0; i < THREADS; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, adder, &c), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	ck_assert_uint_eq(metrics_get(&c), (uint64_t)THREADS * ADDS);
	metrics_gauge_add(&g, 2);
	metrics_gauge_add(&g, -5);
	ck_assert_int_eq(metrics_gauge_get(&g), -3);
}
END_TEST

START_TEST(large_page)
{
	metrics_out o = {0};
	char *s;

	/* past the first buffer, several doublings */
	for (int i = 0; i < 2000; i++)
		metrics_sample_u64(&o, "z_total", (uint64_t)i, "i", "some-label-value", NULL);
	s = take(&o);
	ck_assert_ptr_nonnull(strstr(s, "z_total{i=\"some-label-value\"} 1999\n"));
	ck_assert_uint_gt(strlen(s), 40000);
	free(s);
}
END_TEST

Suite *make_metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, family_and_samples);
	tcase_add_test(tc, empty_take);
	tcase_add_test(tc, histogram);
	tcase_add_test(tc, histogram_no_labels);
	tcase_add_test(tc, threads_lose_nothing);
	tcase_add_test(tc, large_page);
	suite_add_tcase(s, tc);
	return s;
}
