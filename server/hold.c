/*
 * hold.c - held answers (see hold.h).
 *
 * A binary min-heap of (deadline, connection) under one mutex, and a
 * thread that sleeps until the earliest deadline. Connections are
 * suspended and resumed under the mutex, so a resume never comes before
 * its suspend; libmicrohttpd's own lock is only ever taken inside ours.
 */
#include "hold.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

typedef struct {
	uint64_t due; /* CLOCK_MONOTONIC, ns */
	struct MHD_Connection *conn;
} held;

struct hold {
	pthread_mutex_t mu;
	pthread_cond_t cv; /* on CLOCK_MONOTONIC */
	pthread_t thread;
	bool stopping, quit;
	size_t n;
	held heap[HOLD_MAX];
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void heap_push(hold *h, held e)
{
	size_t i = h->n++;

	while (i > 0 && h->heap[(i - 1) / 2].due > e.due) {
		h->heap[i] = h->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	h->heap[i] = e;
}

static held heap_pop(hold *h)
{
	held top = h->heap[0], last = h->heap[--h->n];
	size_t i = 0, c;

	while ((c = 2 * i + 1) < h->n) {
		if (c + 1 < h->n && h->heap[c + 1].due < h->heap[c].due)
			c++;
		if (h->heap[c].due >= last.due)
			break;
		h->heap[i] = h->heap[c];
		i = c;
	}
	if (h->n > 0)
		h->heap[i] = last;
	return top;
}

static void *hold_main(void *arg)
{
	hold *h = arg;
	struct timespec until;

	pthread_mutex_lock(&h->mu);
	while (!h->quit) {
		if (h->n == 0) {
			pthread_cond_wait(&h->cv, &h->mu);
		} else if (h->heap[0].due <= now_ns()) {
			MHD_resume_connection(heap_pop(h).conn);
		} else {
			until.tv_sec = (time_t)(h->heap[0].due / 1000000000u);
			until.tv_nsec = (long)(h->heap[0].due % 1000000000u);
			pthread_cond_timedwait(&h->cv, &h->mu, &until);
		}
	}
	pthread_mutex_unlock(&h->mu);
	return NULL;
}

status_t hold_new(hold **out)
{
	hold *h = calloc(1, sizeof(*h));
	pthread_condattr_t ca;

	*out = NULL;
	if (h == NULL)
		return ST_NOMEM;
	pthread_mutex_init(&h->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&h->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&h->thread, NULL, hold_main, h) != 0) {
		pthread_cond_destroy(&h->cv);
		pthread_mutex_destroy(&h->mu);
		free(h);
		return ST_NOMEM;
	}
	*out = h;
	return ST_OK;
}

bool hold_add(hold *h, struct MHD_Connection *conn, unsigned ms)
{
	if (h == NULL || ms == 0)
		return false;
	pthread_mutex_lock(&h->mu);
	if (h->stopping || h->n >= HOLD_MAX) {
		pthread_mutex_unlock(&h->mu);
		return false;
	}
	MHD_suspend_connection(conn);
	heap_push(h, (held){now_ns() + (uint64_t)ms * 1000000u, conn});
	if (h->heap[0].conn == conn)
		pthread_cond_signal(&h->cv); /* a new earliest deadline */
	pthread_mutex_unlock(&h->mu);
	return true;
}

void hold_release(hold *h)
{
	if (h == NULL)
		return;
	pthread_mutex_lock(&h->mu);
	h->stopping = true;
	while (h->n > 0)
		MHD_resume_connection(heap_pop(h).conn);
	pthread_mutex_unlock(&h->mu);
}

void hold_free(hold *h)
{
	if (h == NULL)
		return;
	hold_release(h);
	pthread_mutex_lock(&h->mu);
	h->quit = true;
	pthread_cond_signal(&h->cv);
	pthread_mutex_unlock(&h->mu);
	pthread_join(h->thread, NULL);
	pthread_cond_destroy(&h->cv);
	pthread_mutex_destroy(&h->mu);
	free(h);
}
