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

typedef struct auth_throttle auth_throttle;

/* limit 0 turns throttling off. ST_OK with *out, ST_NOMEM. */
status_t auth_throttle_new(auth_throttle **out, unsigned limit, unsigned window_sec);
/* NULL is a no-op. */
void auth_throttle_free(auth_throttle *t);

/*
 * 0 if user (NULL: a name that is no name, counted for the address only)
 * may try to log in from addr at now, else the seconds until it may.
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

/*
 * Lifts locks and forgets counts that started at or before `before`:
 * user's at every address (addr NULL), or everything at addr (user NULL),
 * or the one pair. Each lock lifted is logged, naming `why`. Returns the
 * number of entries forgotten.
 */
/* Locks started since t was made: per (address, user) and per address.
 * Zero for NULL. */
void auth_throttle_lockouts(const auth_throttle *t, uint64_t *out_user, uint64_t *out_address);

size_t auth_throttle_unlock(auth_throttle *t, const char *addr, const char *user, time_t before,
			    const char *why);

#endif
