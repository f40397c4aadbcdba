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
 *
 * With a store (throttle.h, "Shared counts") the table is left empty and
 * each call is one or two of the store's operations, made without the
 * mutex held (they are I/O); the policy (limits, delays, what is logged)
 * stays here, so both paths say the same things.
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
	const auth_throttle_store *store;	/* NULL: the table below counts */
	void *store_arg;
	bool store_down; /* under mu: the store's last answer was a failure */
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

void auth_throttle_use_store(auth_throttle *t, const auth_throttle_store *ops, void *arg)
{
	if (t == NULL)
		return;
	t->store = ops;
	t->store_arg = arg;
}

/* "'bob' at 192.0.2.1", "an unknown user name at ...", or the address. */
static void describe_key(const char *addr, const char *user, bool known, char *out, size_t len)
{
	if (user == NULL || user[0] == '\0')
		snprintf(out, len, "%s", addr);
	else if (known)
		snprintf(out, len, "'%s' at %s", user, addr);
	else
		snprintf(out, len, "an unknown user name at %s", addr);
}

static void describe(const slot *s, char *out, size_t len)
{
	describe_key(s->addr, s->user, s->known, out, len);
}

/* Counts and logs a lock that `failures` failures of (addr, user; "": the
 * address's own) just started. */
static void lock_started(auth_throttle *t, const char *addr, const char *user, bool known,
			 unsigned failures)
{
	metrics_add(user[0] == '\0' ? &t->locks_addr : &t->locks_user, 1);
	if (user[0] == '\0')
		log_warn("auth: %u failed logins from %s within %u s: refused for %u s", failures,
			 addr, t->window, t->window);
	else if (known)
		log_warn("auth: %u failed logins as '%s' from %s within %u s: refused for %u s",
			 failures, user, addr, t->window, t->window);
	else
		log_warn("auth: %u failed logins with an unknown user name from %s within %u s: "
			 "refused for %u s",
			 failures, addr, t->window, t->window);
}

/* The hold of a login after `failures` failures (0 for none). */
static unsigned delay_of(unsigned failures)
{
	unsigned ms;

	if (failures == 0)
		return 0;
	ms = AUTH_THROTTLE_DELAY_MS;
	for (unsigned i = 1; i < failures && ms < AUTH_THROTTLE_DELAY_MAX_MS; i++)
		ms *= 2;
	return ms > AUTH_THROTTLE_DELAY_MAX_MS ? AUTH_THROTTLE_DELAY_MAX_MS : ms;
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

/* ---- with a store ---- */

/* Notes whether the store answered; logs only a change, so an outage
 * costs two lines, not one per login. */
static void store_answered(auth_throttle *t, bool ok, const char *what)
{
	bool was;

	pthread_mutex_lock(&t->mu);
	was = t->store_down;
	t->store_down = !ok;
	pthread_mutex_unlock(&t->mu);
	if (!ok && !was)
		log_error("auth: the shared failed-login counts cannot be reached (%s): logins are "
			  "refused until they can",
			  what);
	else if (ok && was)
		log_info("auth: the shared failed-login counts can be reached again");
}

/* auth_throttle_ended_fn: a lapsed lock this process removed. */
static void log_ended(void *ctx, const char *addr, const char *user, bool known)
{
	char what[AUTH_NAME_MAX + AUTH_ADDR_MAX + 40];

	(void)ctx;
	describe_key(addr, user, known, what, sizeof(what));
	log_info("auth: lockout of %s ended", what);
}

/* auth_throttle_ended_fn: a lock this process lifted; ctx is the why. */
static void log_lifted(void *ctx, const char *addr, const char *user, bool known)
{
	char what[AUTH_NAME_MAX + AUTH_ADDR_MAX + 40];

	describe_key(addr, user, known, what, sizeof(what));
	log_info("auth: lockout of %s lifted by %s", what, ctx ? (const char *)ctx : "request");
}

static unsigned left_of(const auth_throttle_count *c, time_t now)
{
	return c->blocked_until > (int64_t)now ? (unsigned)(c->blocked_until - (int64_t)now) : 0;
}

static status_t check_shared(auth_throttle *t, const char *addr, const char *user, time_t now,
			     unsigned *out_left, unsigned *out_delay_ms)
{
	auth_throttle_count ca, cu;
	status_t st = t->store->check(t->store_arg, addr, user, now, &ca, &cu, log_ended, NULL);

	store_answered(t, st == ST_OK, "checking a login");
	if (st != ST_OK) {
		*out_left = AUTH_THROTTLE_RETRY_SEC;
		return ST_UNAVAILABLE;
	}
	*out_left = left_of(&cu, now) > left_of(&ca, now) ? left_of(&cu, now) : left_of(&ca, now);
	*out_delay_ms = delay_of(user != NULL ? cu.failures : ca.failures);
	return ST_OK;
}

static void fail_shared(auth_throttle *t, const char *addr, const char *user, bool known,
			time_t now)
{
	auth_throttle_count c;
	status_t st;

	st = t->store->fail(t->store_arg, addr, NULL, false, t->addr_limit, t->window, now, &c);
	if (st == ST_OK && c.blocked_until != 0 && c.failures == t->addr_limit)
		lock_started(t, addr, "", false, c.failures);
	if (st == ST_OK && user != NULL) {
		st = t->store->fail(t->store_arg, addr, user, known, t->limit, t->window, now, &c);
		if (st == ST_OK && c.blocked_until != 0 && c.failures == t->limit)
			lock_started(t, addr, user, c.known, c.failures);
	}
	store_answered(t, st == ST_OK, "counting a failed login");
}

/* ---- the calls ---- */

status_t auth_throttle_check(auth_throttle *t, const char *addr, const char *user, time_t now,
			     unsigned *out_left, unsigned *out_delay_ms)
{
	slot *su, *sa, *s;

	*out_left = 0;
	*out_delay_ms = 0;
	if (!valid(t, addr))
		return ST_OK;
	if (user != NULL && user[0] == '\0')
		user = NULL;
	if (t->store != NULL)
		return check_shared(t, addr, user, now, out_left, out_delay_ms);
	pthread_mutex_lock(&t->mu);
	scan(t, addr, user, now, &su, &sa);
	if (su != NULL && su->blocked_until != 0)
		*out_left = (unsigned)(su->blocked_until - now);
	if (sa != NULL && sa->blocked_until != 0 && (unsigned)(sa->blocked_until - now) > *out_left)
		*out_left = (unsigned)(sa->blocked_until - now);
	s = user != NULL ? su : sa;
	*out_delay_ms = delay_of(s != NULL ? s->failures : 0);
	pthread_mutex_unlock(&t->mu);
	return ST_OK;
}

unsigned auth_throttle_blocked(auth_throttle *t, const char *addr, const char *user, time_t now)
{
	unsigned left, ms;

	auth_throttle_check(t, addr, user, now, &left, &ms);
	return left;
}

unsigned auth_throttle_delay_ms(auth_throttle *t, const char *addr, const char *user, time_t now)
{
	unsigned left, ms;

	auth_throttle_check(t, addr, user, now, &left, &ms);
	return ms;
}

/* Counts one failure in s against limit; logs the lock it may start. */
static void count(auth_throttle *t, slot *s, unsigned limit, time_t now)
{
	s->seen = now;
	if (s->blocked_until != 0 || ++s->failures < limit)
		return;
	s->blocked_until = now + (time_t)t->window;
	lock_started(t, s->addr, s->user, s->known, s->failures);
}

void auth_throttle_fail(auth_throttle *t, const char *addr, const char *user, bool known,
			time_t now)
{
	slot *su, *sa;

	if (!valid(t, addr))
		return;
	if (user != NULL && user[0] == '\0')
		user = NULL;
	if (t->store != NULL) {
		fail_shared(t, addr, user, known, now);
		return;
	}
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
	if (t->store != NULL) {
		store_answered(t, t->store->clear(t->store_arg, addr, user) == ST_OK,
			       "clearing a success's count");
		return;
	}
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
	if (t->store != NULL) {
		status_t st = t->store->unlock(t->store_arg, addr, user, before, log_lifted,
					       (void *)(why ? why : "request"), &n);
		store_answered(t, st == ST_OK, "lifting a lockout");
		return st == ST_OK ? n : 0;
	}
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
