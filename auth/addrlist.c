/*
 * addrlist.c - IP address lists and X-Forwarded-For (see addrlist.h).
 *
 * Entries are kept as 16 bytes (IPv4 as IPv4-mapped IPv6) and a prefix
 * length, so one comparison serves both families, and "127.0.0.1" matches
 * a peer that the kernel reports as "::ffff:127.0.0.1" on a dual-stack
 * socket.
 */
#include "addrlist.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ADDR_TEXT_MAX 64

typedef struct {
	unsigned char a[16];
	unsigned prefix; /* bits that must match, 0-128 */
} net;

struct auth_addrlist {
	net v[AUTH_ADDRLIST_MAX];
	size_t n;
};

/* Text to 16 bytes; *v4 says whether it was IPv4. false if not an address. */
static bool to_bytes(const char *s, unsigned char out[16], bool *v4)
{
	unsigned char b4[4];

	if (inet_pton(AF_INET6, s, out) == 1) {
		*v4 = false;
		return true;
	}
	if (inet_pton(AF_INET, s, b4) != 1)
		return false;
	memset(out, 0, 10);
	out[10] = out[11] = 0xff;
	memcpy(out + 12, b4, 4);
	*v4 = true;
	return true;
}

static bool net_has(const net *n, const unsigned char a[16])
{
	unsigned full = n->prefix / 8, rest = n->prefix % 8;

	if (memcmp(n->a, a, full) != 0)
		return false;
	return rest == 0 || ((n->a[full] ^ a[full]) & (0xff << (8 - rest))) == 0;
}

status_t auth_addrlist_parse(auth_addrlist **out, const char *spec, char *err, size_t errlen)
{
	auth_addrlist *l;
	char tok[ADDR_TEXT_MAX], *slash, *end;
	const char *p = spec ? spec : "";
	bool v4;

	*out = NULL;
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return ST_NOMEM;
	while (*(p += strspn(p, " \t,")) != '\0') {
		size_t len = strcspn(p, " \t,");
		net *n = &l->v[l->n];
		unsigned long bits;

		if (len >= sizeof(tok) || l->n == AUTH_ADDRLIST_MAX) {
			status_errf(err, errlen, "'%.*s': too long, or more than %d entries",
				    (int)(len < 64 ? len : 64), p, AUTH_ADDRLIST_MAX);
			goto bad;
		}
		memcpy(tok, p, len);
		tok[len] = '\0';
		p += len;
		if ((slash = strchr(tok, '/')) != NULL)
			*slash = '\0';
		if (!to_bytes(tok, n->a, &v4)) {
			status_errf(err, errlen, "'%s' is not an IPv4 or IPv6 address", tok);
			goto bad;
		}
		n->prefix = 128;
		if (slash != NULL) {
			bits = strtoul(slash + 1, &end, 10);
			if (slash[1] < '0' || slash[1] > '9' || *end != '\0' ||
			    bits > (v4 ? 32 : 128)) {
				status_errf(err, errlen, "'%s/%s': bad prefix length", tok,
					    slash + 1);
				goto bad;
			}
			n->prefix = (unsigned)bits + (v4 ? 96 : 0);
		}
		l->n++;
	}
	*out = l;
	return ST_OK;
bad:
	free(l);
	return ST_INVALID;
}

void auth_addrlist_free(auth_addrlist *l)
{
	free(l);
}

static bool has_bytes(const auth_addrlist *l, const unsigned char a[16])
{
	for (size_t i = 0; l != NULL && i < l->n; i++)
		if (net_has(&l->v[i], a))
			return true;
	return false;
}

bool auth_addrlist_has(const auth_addrlist *l, const char *addr)
{
	unsigned char a[16];
	bool v4;

	return addr != NULL && to_bytes(addr, a, &v4) && has_bytes(l, a);
}

/* a as inet_ntop writes it (IPv4-mapped back to dotted IPv4). */
static void to_text(const unsigned char a[16], bool v4, char *out, size_t len)
{
	char buf[INET6_ADDRSTRLEN];

	if (v4)
		inet_ntop(AF_INET, a + 12, buf, sizeof(buf));
	else
		inet_ntop(AF_INET6, a, buf, sizeof(buf));
	snprintf(out, len, "%s", buf);
}

void auth_addrlist_client(const auth_addrlist *l, const char *peer, const char *xff, char *out,
			  size_t len)
{
	unsigned char a[16];
	char tok[ADDR_TEXT_MAX];
	const char *end;
	bool v4;

	snprintf(out, len, "%s", peer ? peer : "");
	if (l == NULL || l->n == 0 || xff == NULL || !auth_addrlist_has(l, peer))
		return;
	/* Right to left: each hop was added by the one after it, and only a
	 * trusted one vouches for the hop before. */
	for (end = xff + strlen(xff); end > xff;) {
		const char *start = end, *s, *e;
		while (start > xff && start[-1] != ',')
			start--;
		for (s = start; s < end && (*s == ' ' || *s == '\t'); s++)
			;
		for (e = end; e > s && (e[-1] == ' ' || e[-1] == '\t'); e--)
			;
		if ((size_t)(e - s) >= sizeof(tok))
			return;
		memcpy(tok, s, (size_t)(e - s));
		tok[e - s] = '\0';
		if (!to_bytes(tok, a, &v4))
			return;
		to_text(a, v4, out, len);
		if (!has_bytes(l, a))
			return;
		end = start > xff ? start - 1 : xff;
	}
}
