/*
 * tls.h - the HTTPS listener's certificate and key, replaceable while it
 * runs.
 *
 * libmicrohttpd 0.9.75 has no call to change the certificate of a running
 * daemon, but it takes GnuTLS's certificate callback
 * (MHD_OPTION_HTTPS_CERT_CALLBACK), which GnuTLS asks at every handshake.
 * tls_cert_callback answers with the current set: a reload loads and checks
 * the new files off to the side, then makes them current with one atomic
 * store; handshakes from then on get them, connections already set up keep
 * theirs. A replaced set is kept until tls_shutdown (GnuTLS may still use it
 * for a session that began before the swap, and gives no word when it is
 * done): a few KiB per certificate reload.
 * One set of state per process (a process runs one server).
 */
#ifndef SERVER_TLS_H
#define SERVER_TLS_H

#include <stddef.h>

#include "../common/status.h"

typedef struct tls_creds tls_creds;

/*
 * Reads a PEM certificate chain and its private key, and checks that the
 * key is the certificate's. ST_OK with *out; ST_IO (unreadable), ST_INVALID
 * (not PEM, no certificate, a key of another certificate), ST_NOMEM; err
 * says which file and why.
 */
status_t tls_creds_load(const char *cert_path, const char *key_path, tls_creds **out, char *err,
			size_t errlen);
/* Frees a set that never became current. NULL is a no-op. */
void tls_creds_free(tls_creds *c);

/* Makes c current (tls_cert_callback answers with it from now on); the
 * set it replaces is kept until tls_shutdown. Takes c. */
void tls_creds_use(tls_creds *c);

/* The certificate's serial number as hex ("" if none is current), for the
 * log. */
void tls_serial(char *out, size_t outlen);

/* The callback to give MHD_OPTION_HTTPS_CERT_CALLBACK (a
 * gnutls_certificate_retrieve_function2). */
void *tls_cert_callback(void);

/*
 * Lets a client resume its TLS session on a new connection (a ticket, RFC
 * 8446 / RFC 5077, with a key made once per process), so reconnecting
 * clients skip the certificate's signature and the key exchange.
 * libmicrohttpd does not enable it and has no option for it: call with a
 * connection's GnuTLS session (gnutls_session_t) before its handshake,
 * i.e. when the connection starts. ST_OK; ST_NOMEM, ST_INTERNAL (the
 * connection then works, without resumption).
 */
status_t tls_session_resumable(void *session);

/* Frees every set, current and replaced: after the daemons stopped. */
void tls_shutdown(void);

#endif
