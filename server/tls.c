/*
 * tls.c - the HTTPS certificate, swapped without a restart (see tls.h).
 *
 * libmicrohttpd's HTTPS is GnuTLS, so the certificate is held in GnuTLS's
 * own forms (a gnutls_pcert_st chain and a gnutls_privkey_t), ready for the
 * handshake callback. `current` is read by every handshake without a lock
 * (an acquire load pairs with the release store in tls_creds_use); the
 * retired list is touched only by reloads and the shutdown. The session
 * ticket key (tls_session_resumable) is made once per process: a reload
 * keeps it, so sessions resumed across a reload keep the certificate they
 * began with, as a connection kept open does.
 */
#include "tls.h"

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define TLS_CHAIN_MAX 16	   /* certificates in one chain file */
#define TLS_FILE_MAX (1024 * 1024) /* largest certificate or key file */

struct tls_creds {
	gnutls_pcert_st certs[TLS_CHAIN_MAX];
	unsigned ncerts;
	gnutls_privkey_t key;
	char serial[80];
	tls_creds *retired_next;
};

static tls_creds *current;
/* The session ticket key: made on first use, freed by tls_shutdown. */
static pthread_once_t ticket_once = PTHREAD_ONCE_INIT;
static gnutls_datum_t ticket_key;
static pthread_mutex_t retired_mu = PTHREAD_MUTEX_INITIALIZER;
static tls_creds *retired;

void tls_creds_free(tls_creds *c)
{
	if (c == NULL)
		return;
	for (unsigned i = 0; i < c->ncerts; i++)
		gnutls_pcert_deinit(&c->certs[i]);
	if (c->key != NULL)
		gnutls_privkey_deinit(c->key);
	free(c);
}

/* A whole file of at most TLS_FILE_MAX bytes into *out (gnutls_free it). */
static status_t read_file(const char *path, gnutls_datum_t *out, char *err, size_t errlen)
{
	struct stat sb;

	out->data = NULL;
	out->size = 0;
	if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size > TLS_FILE_MAX ||
	    gnutls_load_file(path, out) < 0) {
		status_errf(err, errlen, "cannot read %s (a file of at most %d bytes)", path,
			    TLS_FILE_MAX);
		return ST_IO;
	}
	return ST_OK;
}

/* Whether key is the private key of cert's public key. */
static bool key_matches(gnutls_privkey_t key, gnutls_pubkey_t cert)
{
	gnutls_pubkey_t pub = NULL;
	gnutls_datum_t a = {NULL, 0}, b = {NULL, 0};
	bool same = false;

	if (gnutls_pubkey_init(&pub) == 0 && gnutls_pubkey_import_privkey(pub, key, 0, 0) == 0 &&
	    gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &a) == 0 &&
	    gnutls_pubkey_export2(cert, GNUTLS_X509_FMT_DER, &b) == 0)
		same = a.size == b.size && memcmp(a.data, b.data, a.size) == 0;
	gnutls_free(a.data);
	gnutls_free(b.data);
	if (pub != NULL)
		gnutls_pubkey_deinit(pub);
	return same;
}

static void serial_of(tls_creds *c)
{
	gnutls_x509_crt_t crt;
	unsigned char buf[40];
	size_t n = sizeof(buf);

	c->serial[0] = '\0';
	if (gnutls_x509_crt_init(&crt) != 0)
		return;
	if (gnutls_x509_crt_import(crt, &c->certs[0].cert, GNUTLS_X509_FMT_DER) == 0 &&
	    gnutls_x509_crt_get_serial(crt, buf, &n) == 0)
		for (size_t i = 0; i < n && 2 * i + 2 < sizeof(c->serial); i++)
			snprintf(c->serial + 2 * i, 3, "%02X", buf[i]);
	gnutls_x509_crt_deinit(crt);
}

status_t tls_creds_load(const char *cert_path, const char *key_path, tls_creds **out, char *err,
			size_t errlen)
{
	tls_creds *c = calloc(1, sizeof(*c));
	gnutls_datum_t cert = {NULL, 0}, key = {NULL, 0};
	unsigned n = TLS_CHAIN_MAX;
	status_t st = ST_NOMEM;
	int rc;

	*out = NULL;
	if (c == NULL)
		goto done;
	if ((st = read_file(cert_path, &cert, err, errlen)) != ST_OK ||
	    (st = read_file(key_path, &key, err, errlen)) != ST_OK)
		goto done;
	st = ST_INVALID;
	rc = gnutls_pcert_list_import_x509_raw(c->certs, &n, &cert, GNUTLS_X509_FMT_PEM, 0);
	if (rc < 0 || n == 0) {
		status_errf(err, errlen, "%s: no usable PEM certificate (%s)", cert_path,
			    rc < 0 ? gnutls_strerror(rc) : "none found");
		goto done;
	}
	c->ncerts = n;
	if ((rc = gnutls_privkey_init(&c->key)) < 0 ||
	    (rc = gnutls_privkey_import_x509_raw(c->key, &key, GNUTLS_X509_FMT_PEM, NULL, 0)) < 0) {
		status_errf(err, errlen, "%s: no usable PEM private key (%s)", key_path,
			    gnutls_strerror(rc));
		goto done;
	}
	/* A certificate and key written one after the other may be read half
	 * way: refused here, so a reload keeps the working pair. */
	if (!key_matches(c->key, c->certs[0].pubkey)) {
		status_errf(err, errlen, "%s is not the key of the certificate in %s", key_path,
			    cert_path);
		goto done;
	}
	serial_of(c);
	*out = c;
	c = NULL;
	st = ST_OK;
done:
	gnutls_free(cert.data);
	if (key.data != NULL) {
		memset(key.data, 0, key.size); /* the private key's text */
		gnutls_free(key.data);
	}
	tls_creds_free(c);
	return st;
}

void tls_creds_use(tls_creds *c)
{
	tls_creds *old = __atomic_exchange_n(&current, c, __ATOMIC_ACQ_REL);

	if (old == NULL)
		return;
	pthread_mutex_lock(&retired_mu);
	old->retired_next = retired;
	retired = old;
	pthread_mutex_unlock(&retired_mu);
}

void tls_serial(char *out, size_t outlen)
{
	tls_creds *c = __atomic_load_n(&current, __ATOMIC_ACQUIRE);

	snprintf(out, outlen, "%s", c ? c->serial : "");
}

/* gnutls_certificate_retrieve_function2: every handshake gets the current
 * set (SNI is not looked at: one certificate serves every name). */
static int cert_callback(gnutls_session_t session, const gnutls_datum_t *req_ca_rdn, int nreqs,
			 const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
			 gnutls_pcert_st **pcert, unsigned int *pcert_length,
			 gnutls_privkey_t *privkey)
{
	tls_creds *c = __atomic_load_n(&current, __ATOMIC_ACQUIRE);

	(void)session, (void)req_ca_rdn, (void)nreqs, (void)pk_algos, (void)pk_algos_length;
	if (c == NULL)
		return -1;
	*pcert = c->certs;
	*pcert_length = c->ncerts;
	*privkey = c->key;
	return 0;
}

void *tls_cert_callback(void)
{
	gnutls_certificate_retrieve_function2 *f = cert_callback;

	return (void *)f;
}

static void ticket_key_make(void)
{
	if (gnutls_session_ticket_key_generate(&ticket_key) < 0)
		ticket_key.data = NULL;
}

status_t tls_session_resumable(void *session)
{
	pthread_once(&ticket_once, ticket_key_make);
	if (ticket_key.data == NULL)
		return ST_NOMEM;
	/* GnuTLS derives and rotates the keys that encrypt tickets from it. */
	if (gnutls_session_ticket_enable_server(session, &ticket_key) < 0)
		return ST_INTERNAL;
	return ST_OK;
}

void tls_shutdown(void)
{
	tls_creds *c = __atomic_exchange_n(&current, NULL, __ATOMIC_ACQ_REL), *next;

	tls_creds_free(c);
	pthread_mutex_lock(&retired_mu);
	for (c = retired; c != NULL; c = next) {
		next = c->retired_next;
		tls_creds_free(c);
	}
	retired = NULL;
	pthread_mutex_unlock(&retired_mu);
	if (ticket_key.data != NULL) {
		memset(ticket_key.data, 0, ticket_key.size);
		gnutls_free(ticket_key.data);
		ticket_key.data = NULL;
	}
}
