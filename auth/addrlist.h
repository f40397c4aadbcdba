/*
 * addrlist.h - a list of IP addresses and networks ("192.0.2.10",
 * "10.0.0.0/8", "::1", "fd00::/8"), and finding a client's address behind
 * trusted reverse proxies from X-Forwarded-For (auth_trusted_proxies).
 *
 * Only the proxies listed are believed: a client that is not one of them
 * could write any X-Forwarded-For it likes, and so choose the address its
 * failed logins count for. Nothing here knows HTTP beyond that header's
 * comma-separated form.
 */
#ifndef AUTH_ADDRLIST_H
#define AUTH_ADDRLIST_H

#include <stdbool.h>
#include <stddef.h>

#include "../common/status.h"

#define AUTH_ADDRLIST_MAX 64 /* entries in one list */

typedef struct auth_addrlist auth_addrlist;

/*
 * Parses spec: addresses or ADDRESS/PREFIX networks, IPv4 or IPv6,
 * separated by spaces or commas. ST_OK with *out (free with
 * auth_addrlist_free; an empty spec gives an empty list); ST_INVALID with
 * err naming the bad entry; ST_NOMEM.
 */
status_t auth_addrlist_parse(auth_addrlist **out, const char *spec, char *err, size_t errlen);
/* NULL is a no-op. */
void auth_addrlist_free(auth_addrlist *l);

/* Whether the address text addr is in l (false for NULL or unparsable). */
bool auth_addrlist_has(const auth_addrlist *l, const char *addr);

/*
 * The client's address into out (len bytes, as inet_ntop writes it): the
 * peer itself, unless the peer is a trusted proxy (in l) and xff (the
 * X-Forwarded-For header, may be NULL) names others; then the right-most
 * of those that is not a trusted proxy, walking from the right and
 * stopping at the first entry that is not an address (whatever is left of
 * it may be forged).
 */
void auth_addrlist_client(const auth_addrlist *l, const char *peer, const char *xff, char *out,
			  size_t len);

#endif
