/*
 * throttle.c - failed-login counting per address (see throttle.h).
 *
 * A flat array of slots searched linearly under one mutex: it is only
 * touched when credentials are checked, and 1024 short string compares cost
 * far less than the bcrypt run that follows.
 */
#include "throttle.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
	char addr[AUTH_ADDR_MAX]; /* "" = free */
	unsigned failures;
	time_t first;	      /* first failure of the current window */
	time_t blocked_until; /* 0 = not blocked */
	time_t seen;	      /* last activity, for eviction */
} slot;

struct auth_throttle {
	pthread_mutex_t mu;
	unsigned limit, window;
	size_t used;
	slot slots[AUTH_THROTTLE_SLOTS];
};

status_t auth_throttle_new(auth_throttle **out, unsigned limit, unsigned window_sec)
{
	auth_throttle *t = calloc(1, sizeof(*t));

	*out = NULL;
	if (t == NULL)
		return ST_NOMEM;
	pthread_mutex_init(&t->mu, NULL);
	t->limit = limit;
	t->window = window_sec ? window_sec : 1;
	*out = t;
	return ST_OK;
}

void auth_throttle_free(auth_throttle *t)
{
	if (t == NULL)
		return;
	pthread_mutex_destroy(&t->mu);
	free(t);
}

static slot *lookup(auth_throttle *t, const char *addr)
{
	if (t->used == 0)
		return NULL;
	for (size_t i = 0; i < AUTH_THROTTLE_SLOTS; i++)
		if (t->slots[i].addr[0] && strcmp(t->slots[i].addr, addr) == 0)
			return &t->slots[i];
	return NULL;
}

static void slot_clear(auth_throttle *t, slot *s)
{
	memset(s, 0, sizeof(*s));
	t->used--;
}

/* Forgets what has lapsed in s at now; true if s is still in use. */
static int slot_live(auth_throttle *t, slot *s, time_t now)
{
	if (s->blocked_until != 0 && now >= s->blocked_until) {
		slot_clear(t, s);
		return 0;
	}
	if (s->blocked_until == 0 && now - s->first >= (time_t)t->window) {
		slot_clear(t, s);
		return 0;
	}
	return 1;
}

unsigned auth_throttle_blocked(auth_throttle *t, const char *addr, time_t now)
{
	slot *s;
	unsigned left = 0;

	if (t == NULL || t->limit == 0 || addr == NULL)
		return 0;
	pthread_mutex_lock(&t->mu);
	if ((s = lookup(t, addr)) != NULL && slot_live(t, s, now) && s->blocked_until != 0)
		left = (unsigned)(s->blocked_until - now);
	pthread_mutex_unlock(&t->mu);
	return left;
}

unsigned auth_throttle_delay_ms(auth_throttle *t, const char *addr, time_t now)
{
	slot *s;
	unsigned ms = 0;

	if (t == NULL || t->limit == 0 || addr == NULL)
		return 0;
	pthread_mutex_lock(&t->mu);
	if ((s = lookup(t, addr)) != NULL && slot_live(t, s, now) && s->failures > 0) {
		ms = AUTH_THROTTLE_DELAY_MS;
		for (unsigned i = 1; i < s->failures && ms < AUTH_THROTTLE_DELAY_MAX_MS; i++)
			ms *= 2;
		if (ms > AUTH_THROTTLE_DELAY_MAX_MS)
			ms = AUTH_THROTTLE_DELAY_MAX_MS;
	}
	pthread_mutex_unlock(&t->mu);
	return ms;
}

void auth_throttle_fail(auth_throttle *t, const char *addr, time_t now)
{
	slot *s;

	if (t == NULL || t->limit == 0 || addr == NULL)
		return;
	pthread_mutex_lock(&t->mu);
	if ((s = lookup(t, addr)) != NULL && !slot_live(t, s, now))
		s = NULL;
	if (s == NULL) {
		slot *oldest = &t->slots[0];
		for (size_t i = 0; i < AUTH_THROTTLE_SLOTS && s == NULL; i++) {
			if (t->slots[i].addr[0] == '\0')
				s = &t->slots[i];
			else if (t->slots[i].seen < oldest->seen)
				oldest = &t->slots[i];
		}
		if (s == NULL) {
			s = oldest;
			slot_clear(t, s);
		}
		snprintf(s->addr, sizeof(s->addr), "%s", addr);
		s->first = now;
		t->used++;
	}
	s->seen = now;
	if (s->blocked_until == 0 && ++s->failures >= t->limit)
		s->blocked_until = now + (time_t)t->window;
	pthread_mutex_unlock(&t->mu);
}

void auth_throttle_success(auth_throttle *t, const char *addr)
{
	slot *s;

	if (t == NULL || t->limit == 0 || addr == NULL)
		return;
	pthread_mutex_lock(&t->mu);
	if ((s = lookup(t, addr)) != NULL && s->blocked_until == 0)
		slot_clear(t, s);
	pthread_mutex_unlock(&t->mu);
}
