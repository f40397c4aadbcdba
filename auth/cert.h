/*
 * cert.h - a small certificate authority for `registry cert`: one CA and a
 * server certificate it signs, for the host names and IP addresses the
 * registry is reached by, so clients trust the registry by trusting the CA
 * (docker's /etc/docker/certs.d/HOST:PORT/ca.crt, podman's and skopeo's
 * --cert-dir, the system store).
 *
 * Files written in the folder: ca.crt and ca.key (made once, reused while
 * both exist, so clients keep trusting it when the server certificate is
 * renewed or gets more names), server.crt and server.key (new each time).
 * Keys are ECDSA P-256, mode 0600; certificates mode 0644; each file is
 * written to a temporary name and renamed.
 */
#ifndef AUTH_CERT_H
#define AUTH_CERT_H

#include <stdbool.h>
#include <stddef.h>

#include "../common/status.h"

#define AUTH_CERT_CA_DAYS 3650	   /* life of a new CA */
#define AUTH_CERT_DAYS_DEFAULT 825 /* life of a server certificate */
#define AUTH_CERT_DAYS_MAX 36500
#define AUTH_CERT_NAMES_MAX 64

/* Whether s is a usable subject name: an IPv4 or IPv6 address, or a DNS
 * name (letters, digits, '-', dots between labels, optionally "*." first). */
bool auth_cert_name_ok(const char *s);

/*
 * Writes the CA (unless dir holds one already) and a server certificate
 * for names[0..n) (the first is also its common name) valid for days, into
 * dir (created with mode 0700 if absent, its missing parents with 0755). ST_OK, *out_ca_reused (may
 * be NULL) telling whether an existing CA signed it; ST_INVALID (a name, n, days, or a CA whose key
 * does not match its certificate); ST_IO; err says what went wrong.
 */
status_t auth_cert_make(const char *dir, const char *const *names, size_t n, unsigned days,
			bool *out_ca_reused, char *err, size_t errlen);

#endif
