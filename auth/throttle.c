/*
 * throttle.c - failed-login counting per (address, user) and per address
 * (see throttle.h).
 *
 * A flat array of slots searched linearly under one mutex: it is only
 * touched when credentials are checked, and a few thousand short string
 * compares cost far less than the bcrypt run that follows. Each search
 * also forgets what has lapsed, so the end of a lock is logged at the
 * first login attempt after it, whoever makes it. An entry with an empty
 * user is its address's own count.
 */
#include "throttle.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/log.h"
#include "../common/metrics.h"

typedef struct {
	char addr[AUTH_ADDR_MAX]; /* "" = free */
	char user[AUTH_NAME_MAX]; /* "" = the address's own count */
	bool known;		  /* user is someone's name: may be logged */
	unsigned failures;
	time_t first;	      /* first failure of the current window */
	time_t blocked_until; /* 0 = not blocked */
	time_t seen;	      /* last activity, for eviction */
} slot;

struct auth_throttle {
	pthread_mutex_t mu;
	unsigned limit, addr_limit, window;
	size_t used;
	metrics_counter locks_user, locks_addr; /* lockouts started, for /metrics */
	slot slots[AUTH_THROTTLE_SLOTS];
};

status_t auth_throttle_new(auth_throttle **out, unsigned limit, unsigned window_sec)
{
	auth_throttle *t = calloc(1, sizeof(*t));
	unsigned long long al = (unsigned long long)limit * AUTH_THROTTLE_ADDR_FACTOR;

	*out = NULL;
	if (t == NULL)
		return ST_NOMEM;
	pthread_mutex_init(&t->mu, NULL);
	t->limit = limit;
	t->addr_limit = al > UINT_MAX ? UINT_MAX : (unsigned)al;
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

/* "'bob' at 192.0.2.1", "an unknown user name at ...", or the address. */
static void describe(const slot *s, char *out, size_t len)
{
	if (s->user[0] == '\0')
		snprintf(out, len, "%s", s->addr);
	else if (s->known)
		snprintf(out, len, "'%s' at %s", s->user, s->addr);
	else
		snprintf(out, len, "an unknown user name at %s", s->addr);
}

static void slot_clear(auth_throttle *t, slot *s)
{
	memset(s, 0, sizeof(*s));
	t->used--;
}

/* Forgets what has lapsed in s at now (logging a lock's end); true if s
 * is still in use. */
static bool slot_live(auth_throttle *t, slot *s, time_t now)
{
	char what[AUTH_NAME_MAX + AUTH_ADDR_MAX + 40];

	if (s->addr[0] == '\0')
		return false;
	if (s->blocked_until != 0 && now >= s->blocked_until) {
		describe(s, what, sizeof(what));
		log_info("auth: lockout of %s ended", what);
		slot_clear(t, s);
		return false;
	}
	if (s->blocked_until == 0 && now - s->first >= (time_t)t->window) {
		slot_clear(t, s);
		return false;
	}
	return true;
}

/* Sweeps lapsed entries and finds (addr, user) and addr's own entry;
 * either out may be NULL. user NULL: only the address's. */
static void scan(auth_throttle *t, const char *addr, const char *user, time_t now, slot **out_user,
		 slot **out_addr)
{
	if (out_user)
		*out_user = NULL;
	if (out_addr)
		*out_addr = NULL;
	if (user != NULL && user[0] == '\0')
		user = NULL;
	for (size_t i = 0; i < AUTH_THROTTLE_SLOTS && t->used > 0; i++) {
		slot *s = &t->slots[i];
		if (!slot_live(t, s, now) || strcmp(s->addr, addr) != 0)
			continue;
		if (s->user[0] == '\0' && out_addr)
			*out_addr = s;
		else if (user != NULL && out_user && strcmp(s->user, user) == 0)
			*out_user = s;
	}
}

/* A free slot (the one seen longest ago, forgotten, if none is). */
static slot *slot_take(auth_throttle *t, const char *addr, const char *user, bool known, time_t now)
{
	slot *s = NULL, *oldest = &t->slots[0];

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
	snprintf(s->user, sizeof(s->user), "%s", user ? user : "");
	s->known = known;
	s->first = now;
	t->used++;
	return s;
}

static bool valid(const auth_throttle *t, const char *addr)
{
	return t != NULL && t->limit != 0 && addr != NULL && addr[0] != '\0';
}

unsigned auth_throttle_blocked(auth_throttle *t, const char *addr, const char *user, time_t now)
{
	slot *su, *sa;
	unsigned left = 0;

	if (!valid(t, addr))
		return 0;
	pthread_mutex_lock(&t->mu);
	scan(t, addr, user, now, &su, &sa);
	if (su != NULL && su->blocked_until != 0)
		left = (unsigned)(su->blocked_until - now);
	if (sa != NULL && sa->blocked_until != 0 && (unsigned)(sa->blocked_until - now) > left)
		left = (unsigned)(sa->blocked_until - now);
	pthread_mutex_unlock(&t->mu);
	return left;
}

unsigned auth_throttle_delay_ms(auth_throttle *t, const char *addr, const char *user, time_t now)
{
	slot *su, *sa, *s;
	unsigned ms = 0;

	if (!valid(t, addr))
		return 0;
	pthread_mutex_lock(&t->mu);
	scan(t, addr, user, now, &su, &sa);
	s = user != NULL && user[0] != '\0' ? su : sa;
	if (s != NULL && s->failures > 0) {
		ms = AUTH_THROTTLE_DELAY_MS;
		for (unsigned i = 1; i < s->failures && ms < AUTH_THROTTLE_DELAY_MAX_MS; i++)
			ms *= 2;
		if (ms > AUTH_THROTTLE_DELAY_MAX_MS)
			ms = AUTH_THROTTLE_DELAY_MAX_MS;
	}
	pthread_mutex_unlock(&t->mu);
	return ms;
}

/* Counts one failure in s against limit; logs the lock it may start. */
static void count(auth_throttle *t, slot *s, unsigned limit, time_t now)
{
	s->seen = now;
	if (s->blocked_until != 0 || ++s->failures < limit)
		return;
	s->blocked_until = now + (time_t)t->window;
	metrics_add(s->user[0] == '\0' ? &t->locks_addr : &t->locks_user, 1);
	if (s->user[0] == '\0')
		log_warn("auth: %u failed logins from %s within %u s: refused for %u s",
			 s->failures, s->addr, t->window, t->window);
	else if (s->known)
		log_warn("auth: %u failed logins as '%s' from %s within %u s: refused for %u s",
			 s->failures, s->user, s->addr, t->window, t->window);
	else
		log_warn("auth: %u failed logins with an unknown user name from %s within %u s: "
			 "refused for %u s",
			 s->failures, s->addr, t->window, t->window);
}

void auth_throttle_fail(auth_throttle *t, const char *addr, const char *user, bool known,
			time_t now)
{
	slot *su, *sa;

	if (!valid(t, addr))
		return;
	if (user != NULL && user[0] == '\0')
		user = NULL;
	pthread_mutex_lock(&t->mu);
	scan(t, addr, user, now, &su, &sa);
	if (sa == NULL)
		sa = slot_take(t, addr, NULL, false, now);
	count(t, sa, t->addr_limit, now);
	if (user != NULL) {
		if (su == NULL)
			su = slot_take(t, addr, user, known, now);
		su->known = su->known || known;
		count(t, su, t->limit, now);
	}
	pthread_mutex_unlock(&t->mu);
}

void auth_throttle_lockouts(const auth_throttle *t, uint64_t *out_user, uint64_t *out_address)
{
	*out_user = t ? metrics_get(&t->locks_user) : 0;
	*out_address = t ? metrics_get(&t->locks_addr) : 0;
}

void auth_throttle_success(auth_throttle *t, const char *addr, const char *user, time_t now)
{
	slot *su;

	if (!valid(t, addr) || user == NULL || user[0] == '\0')
		return;
	pthread_mutex_lock(&t->mu);
	scan(t, addr, user, now, &su, NULL);
	if (su != NULL && su->blocked_until == 0)
		slot_clear(t, su);
	pthread_mutex_unlock(&t->mu);
}

size_t auth_throttle_unlock(auth_throttle *t, const char *addr, const char *user, time_t before,
			    const char *why)
{
	char what[AUTH_NAME_MAX + AUTH_ADDR_MAX + 40];
	size_t n = 0;

	if (t == NULL || t->limit == 0 || (addr == NULL && user == NULL))
		return 0;
	pthread_mutex_lock(&t->mu);
	for (size_t i = 0; i < AUTH_THROTTLE_SLOTS && t->used > 0; i++) {
		slot *s = &t->slots[i];
		if (s->addr[0] == '\0' || s->first > before ||
		    (addr != NULL && strcmp(s->addr, addr) != 0) ||
		    (user != NULL && strcmp(s->user, user) != 0))
			continue;
		if (s->blocked_until != 0) {
			describe(s, what, sizeof(what));
			log_info("auth: lockout of %s lifted by %s", what, why ? why : "request");
		}
		slot_clear(t, s);
		n++;
	}
	pthread_mutex_unlock(&t->mu);
	return n;
}
