/*
 * throttle.h - failed logins per (client address, user name) and per
 * client address.
 *
 * Two counts are kept for a failed login: one for the address and the
 * user name tried, one for the address alone. After `limit` failures for
 * one (address, user) within `window` seconds of the first, that user's
 * logins from that address are refused for `window` seconds (the caller
 * answers 429 TOOMANYREQUESTS); after AUTH_THROTTLE_ADDR_FACTOR x `limit`
 * failures from one address, whatever the names, every login from it is.
 * A successful login clears its own (address, user) count only: logging in
 * with one's own account between guesses at another's password resets
 * nothing that matters, and the address's count, which no success clears,
 * stops a guesser who sprays many user names.
 * Before a lock, every login attempt for a (address, user) with failures
 * in its window is slowed: its answer, right or wrong, is held for
 * AUTH_THROTTLE_DELAY_MS doubled per earlier failure, up to
 * AUTH_THROTTLE_DELAY_MAX_MS (a typo costs nothing, a guessing loop
 * waits seconds per try; holding right answers too means an early
 * timeout tells a guesser nothing).
 * A lock's start is logged (warn) and so is its end (info, at the first
 * login attempt after it lapsed, or when it is lifted). The table has a
 * fixed number of slots; when it is full the entry seen longest ago is
 * forgotten, so memory stays bounded whatever the number of clients.
 * Thread-safe.
 *
 * Shared counts. Replicas of one registry behind a load balancer must
 * count the same failures, or a guesser gets N x the limit. Given a store
 * (auth_throttle_use_store; the server gives one when metadata =
 * postgres), every count lives there instead of in the table: the limits,
 * the delays and the logging above hold cluster-wide. Each lock's start,
 * end and lifting is logged once, by the replica that saw it; a success
 * clears the (address, user) count on every replica; an unlock lifts the
 * shared counts. The store is defined here, as function pointers, so auth
 * depends on nothing below it.
 *
 * A store that cannot answer fails closed: the login is refused
 * (auth_throttle_check: ST_UNAVAILABLE, answered 503 with Retry-After
 * AUTH_THROTTLE_RETRY_SEC) without a password being checked. The counts
 * are the only bound on online guessing, and failing open would make an
 * outage of the database an unmetered password oracle (GET /v2/ needs no
 * metadata otherwise); the registry cannot serve pulls or pushes without
 * its database anyway, so refusing logins costs almost nothing more.
 * Counting a failure or clearing one that cannot be written is logged and
 * dropped (the answer is already decided).
 */
#ifndef AUTH_THROTTLE_H
#define AUTH_THROTTLE_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <time.h>

#include "../common/status.h"
#include "rules.h"

#define AUTH_THROTTLE_SLOTS 2048	/* (address, user) and address entries at once */
#define AUTH_ADDR_MAX 64		/* address text, with NUL */
#define AUTH_THROTTLE_ADDR_FACTOR 5	/* an address's limit is this x the per-user one */
#define AUTH_THROTTLE_DELAY_MS 250	/* after the first failure */
#define AUTH_THROTTLE_DELAY_MAX_MS 4000 /* the most an answer is held */

#define AUTH_THROTTLE_RETRY_SEC 5 /* Retry-After while a shared store cannot answer */

typedef struct auth_throttle auth_throttle;

/* ---- a shared store ---- */

/* One count as a store holds it: failures 0 when there is none. */
typedef struct {
	unsigned failures;
	bool known;	       /* the user is someone's name: may be logged */
	int64_t blocked_until; /* seconds since the epoch; 0: not locked */
} auth_throttle_count;

/* Told of a count that ended while it was a lock (user "": the address's
 * own), once across the cluster: by the one caller that removed it. */
typedef void (*auth_throttle_ended_fn)(void *ctx, const char *addr, const char *user, bool known);

/*
 * The operations of a store shared by replicas, each atomic by itself.
 * arg is the one given to auth_throttle_use_store; user NULL (or "") is
 * the address's own count. A count lapses at the end of its window
 * (window_sec after its first failure) or of its lock, and lapsed counts
 * read as absent. Each returns ST_OK or a failure (any other status).
 */
typedef struct {
	/* Removes what lapsed at now (ended(ctx, ...) for each lock), then
	 * reads addr's own count and (addr, user)'s (zeroed when absent). */
	status_t (*check)(void *arg, const char *addr, const char *user, time_t now,
			  auth_throttle_count *out_addr, auth_throttle_count *out_user,
			  auth_throttle_ended_fn ended, void *ctx);
	/* One failure of (addr, user): an absent or lapsed count starts at 1
	 * with its window from now; reaching limit locks it until now +
	 * window_sec; a locked one keeps counting, its lock unchanged. *out
	 * is the count after it (failures == limit: this call locked it). */
	status_t (*fail)(void *arg, const char *addr, const char *user, bool known, unsigned limit,
			 unsigned window_sec, time_t now, auth_throttle_count *out);
	/* A success: forgets (addr, user)'s count unless it is locked. */
	status_t (*clear)(void *arg, const char *addr, const char *user);
	/* auth_throttle_unlock's selection (addr or user may be NULL, not
	 * both); lifted(ctx, ...) for each lock; *out_n: counts forgotten. */
	status_t (*unlock)(void *arg, const char *addr, const char *user, time_t before,
			   auth_throttle_ended_fn lifted, void *ctx, size_t *out_n);
} auth_throttle_store;

/* limit 0 turns throttling off. ST_OK with *out, ST_NOMEM. */
status_t auth_throttle_new(auth_throttle **out, unsigned limit, unsigned window_sec);
/* NULL is a no-op. */
void auth_throttle_free(auth_throttle *t);

/*
 * Keeps t's counts in the store ops (borrowed, with arg: both must outlive
 * t) from now on, instead of in t's own table, which is then unused. Call
 * before t is shared between threads. NULL t is a no-op.
 */
void auth_throttle_use_store(auth_throttle *t, const auth_throttle_store *ops, void *arg);

/*
 * Whether user (NULL: as for auth_throttle_blocked) may try to log in from
 * addr at now, and how long to hold the answer. ST_OK with *out_left (0:
 * may try; else the seconds until it may) and *out_delay_ms (as
 * auth_throttle_delay_ms); ST_UNAVAILABLE when the store cannot answer,
 * with *out_left AUTH_THROTTLE_RETRY_SEC (fail closed: see above).
 */
status_t auth_throttle_check(auth_throttle *t, const char *addr, const char *user, time_t now,
			     unsigned *out_left, unsigned *out_delay_ms);

/*
 * 0 if user (NULL: a name that is no name, counted for the address only)
 * may try to log in from addr at now, else the seconds until it may (a
 * store that cannot answer: AUTH_THROTTLE_RETRY_SEC).
 */
unsigned auth_throttle_blocked(auth_throttle *t, const char *addr, const char *user, time_t now);
/* Milliseconds to hold the answer to a login attempt as user from addr at
 * now, from the failures before it (0 for none). */
unsigned auth_throttle_delay_ms(auth_throttle *t, const char *addr, const char *user, time_t now);
/* Records a failed login as user (NULL as for auth_throttle_blocked) from
 * addr at now. known says whether user is someone's name: only then is it
 * logged (an unknown "name" may be a password typed in the wrong field). */
void auth_throttle_fail(auth_throttle *t, const char *addr, const char *user, bool known,
			time_t now);
/* Records a successful login at now: that (address, user) starts afresh; the
 * address's own count stays. */
void auth_throttle_success(auth_throttle *t, const char *addr, const char *user, time_t now);

/* Locks started since t was made: per (address, user) and per address.
 * Zero for NULL. With a store, those this process started. */
void auth_throttle_lockouts(const auth_throttle *t, uint64_t *out_user, uint64_t *out_address);

/*
 * Lifts locks and forgets counts that started at or before `before`:
 * user's at every address (addr NULL), or everything at addr (user NULL),
 * or the one pair. Each lock lifted is logged, naming `why`. Returns the
 * number of entries forgotten. With a store, the shared counts (every
 * replica's); a store that cannot answer lifts nothing (logged).
 */
size_t auth_throttle_unlock(auth_throttle *t, const char *addr, const char *user, time_t before,
			    const char *why);

#endif
