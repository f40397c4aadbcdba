/*
 * throttle.h - failed logins per client address.
 *
 * After `limit` failed logins from one address within `window` seconds of
 * its first failure, every login attempt from it, right or wrong, is
 * refused for `window` seconds (the caller answers 429 TOOMANYREQUESTS).
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

#define AUTH_THROTTLE_SLOTS 1024 /* addresses remembered at once */
#define AUTH_ADDR_MAX 64	 /* address text, with NUL */

typedef struct auth_throttle auth_throttle;

/* limit 0 turns throttling off. ST_OK with *out, ST_NOMEM. */
status_t auth_throttle_new(auth_throttle **out, unsigned limit, unsigned window_sec);
/* NULL is a no-op. */
void auth_throttle_free(auth_throttle *t);

/* 0 if addr may try to log in at now, else the seconds until it may. */
unsigned auth_throttle_blocked(auth_throttle *t, const char *addr, time_t now);
/* Records a failed login from addr at now. */
void auth_throttle_fail(auth_throttle *t, const char *addr, time_t now);
/* Records a successful one: the address starts afresh. */
void auth_throttle_success(auth_throttle *t, const char *addr);

#endif
