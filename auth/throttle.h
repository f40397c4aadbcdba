/*
 * throttle.h - failed logins per client address.
 *
 * After `limit` failed logins from one address within `window` seconds of
 * its first failure, every login attempt from it, right or wrong, is
 * refused for `window` seconds (the caller answers 429 TOOMANYREQUESTS).
 * Before that, every login attempt from an address with failures in its
 * window is slowed: its answer, right or wrong, is held for
 * AUTH_THROTTLE_DELAY_MS doubled per earlier failure, up to
 * AUTH_THROTTLE_DELAY_MAX_MS (a typo costs nothing, a guessing loop
 * waits seconds per try; holding right answers too means an early
 * timeout tells a guesser nothing).
 * A successful login clears the address's count. The table has a fixed
 * number of slots; when it is full the address seen longest ago is
 * forgotten, so memory stays bounded whatever the number of clients.
 * Thread-safe.
 */
#ifndef AUTH_THROTTLE_H
#define AUTH_THROTTLE_H

#include <stddef.h>
#include <time.h>

#include "../common/status.h"

#define AUTH_THROTTLE_SLOTS 1024	/* addresses remembered at once */
#define AUTH_ADDR_MAX 64		/* address text, with NUL */
#define AUTH_THROTTLE_DELAY_MS 250	/* after the first failure */
#define AUTH_THROTTLE_DELAY_MAX_MS 4000 /* the most an answer is held */

typedef struct auth_throttle auth_throttle;

/* limit 0 turns throttling off. ST_OK with *out, ST_NOMEM. */
status_t auth_throttle_new(auth_throttle **out, unsigned limit, unsigned window_sec);
/* NULL is a no-op. */
void auth_throttle_free(auth_throttle *t);

/* 0 if addr may try to log in at now, else the seconds until it may. */
unsigned auth_throttle_blocked(auth_throttle *t, const char *addr, time_t now);
/* Milliseconds to hold the answer to a login attempt from addr at now,
 * from the failures before it (0 for none). */
unsigned auth_throttle_delay_ms(auth_throttle *t, const char *addr, time_t now);
/* Records a failed login from addr at now. */
void auth_throttle_fail(auth_throttle *t, const char *addr, time_t now);
/* Records a successful one: the address starts afresh. */
void auth_throttle_success(auth_throttle *t, const char *addr);

#endif
