/*
 * cert.c - the CA and server certificate of `registry cert` (see cert.h),
 * made with OpenSSL's X509 API.
 *
 * The CA: basicConstraints CA:TRUE, pathlen 0, keyUsage keyCertSign and
 * cRLSign. The server certificate: CA:FALSE, digitalSignature, extended
 * key usage serverAuth, and every name in subjectAltName (clients written
 * in Go, such as docker, podman and skopeo, ignore the common name).
 * Serial numbers are 128 random bits. notBefore is an hour back, so a
 * client whose clock is a little behind accepts it at once.
 */
#include "cert.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define CLOCK_SKEW_SEC 3600
#define SAN_MAX 8192

static bool is_ip(const char *s)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

bool auth_cert_name_ok(const char *s)
{
	size_t label = 0, n;

	if (s == NULL || (n = strlen(s)) == 0 || n > 253)
		return false;
	if (is_ip(s))
		return true;
	if (strncmp(s, "*.", 2) == 0)
		s += 2;
	for (; *s; s++) {
		if (*s == '.') {
			if (label == 0 || s[-1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || (*s == '-' && label > 0)))
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0 && s[-1] != '-';
}

/* Writes text to path atomically with mode. ST_OK or ST_IO. */
static status_t write_file(const char *path, const char *text, size_t len, mode_t mode, char *err,
			   size_t errlen)
{
	char *tmp = NULL;
	int fd = -1;
	status_t st = ST_IO;

	if (asprintf(&tmp, "%s.XXXXXX", path) < 0)
		return ST_NOMEM;
	if ((fd = mkstemp(tmp)) < 0 || fchmod(fd, mode) != 0 ||
	    write(fd, text, len) != (ssize_t)len || fsync(fd) != 0 || close(fd) != 0) {
		status_errf(err, errlen, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		unlink(tmp);
		goto done;
	}
	if (rename(tmp, path) != 0) {
		status_errf(err, errlen, "%s: %s", path, strerror(errno));
		unlink(tmp);
		goto done;
	}
	st = ST_OK;
done:
	free(tmp);
	return st;
}

/* Writes a key or certificate as PEM to dir/name. */
static status_t write_pem(const char *dir, const char *name, EVP_PKEY *key, X509 *cert, char *err,
			  size_t errlen)
{
	char path[4200];
	BIO *bio = BIO_new(BIO_s_mem());
	BUF_MEM *mem;
	status_t st = ST_IO;
	int ok;

	if (bio == NULL)
		return ST_NOMEM;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	ok = key ? PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL)
		 : PEM_write_bio_X509(bio, cert);
	if (ok == 1 && BIO_get_mem_ptr(bio, &mem) == 1)
		st = write_file(path, mem->data, mem->length, key ? 0600 : 0644, err, errlen);
	else
		status_errf(err, errlen, "%s: cannot encode", path);
	BIO_free(bio);
	return st;
}

static bool add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	bool ok;

	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	if ((ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)) == NULL)
		return false;
	ok = X509_add_ext(cert, ext, -1) == 1;
	X509_EXTENSION_free(ext);
	return ok;
}

static bool random_serial(X509 *cert)
{
	unsigned char b[16];
	BIGNUM *bn;
	bool ok;

	if (RAND_bytes(b, sizeof(b)) != 1)
		return false;
	b[0] &= 0x7f; /* positive */
	b[0] |= 0x01; /* and never zero-led */
	if ((bn = BN_bin2bn(b, sizeof(b), NULL)) == NULL)
		return false;
	ok = BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) != NULL;
	BN_free(bn);
	return ok;
}

/* A certificate for key with subject CN=cn, signed by ca_key (as ca, or
 * itself when ca is NULL). */
static X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *ca, EVP_PKEY *ca_key, unsigned days)
{
	X509 *cert = X509_new();
	X509_NAME *name;

	if (cert == NULL || X509_set_version(cert, 2) != 1 || !random_serial(cert))
		goto fail;
	if (X509_gmtime_adj(X509_getm_notBefore(cert), -CLOCK_SKEW_SEC) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(cert), (long)days * 86400) == NULL)
		goto fail;
	name = X509_get_subject_name(cert);
	if (X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"registry",
				       -1, -1, 0) != 1 ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1,
				       0) != 1)
		goto fail;
	if (X509_set_issuer_name(cert, ca ? X509_get_subject_name(ca) : name) != 1 ||
	    X509_set_pubkey(cert, key) != 1)
		goto fail;
	return cert;
fail:
	X509_free(cert);
	return NULL;
}

/* Loads dir/ca.crt and dir/ca.key if both exist: ST_OK, ST_NOT_FOUND, or
 * ST_INVALID when they are unreadable or do not belong together. */
static status_t load_ca(const char *dir, X509 **cert, EVP_PKEY **key, char *err, size_t errlen)
{
	char cpath[4200], kpath[4200];
	FILE *f;

	snprintf(cpath, sizeof(cpath), "%s/ca.crt", dir);
	snprintf(kpath, sizeof(kpath), "%s/ca.key", dir);
	if (access(cpath, F_OK) != 0 && access(kpath, F_OK) != 0)
		return ST_NOT_FOUND;
	if ((f = fopen(cpath, "r")) != NULL) {
		*cert = PEM_read_X509(f, NULL, NULL, NULL);
		fclose(f);
	}
	if ((f = fopen(kpath, "r")) != NULL) {
		*key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
	}
	if (*cert == NULL || *key == NULL || X509_check_private_key(*cert, *key) != 1) {
		status_errf(err, errlen,
			    "%s: ca.crt and ca.key are missing, unreadable or do not match (remove "
			    "both to make a new CA)",
			    dir);
		return ST_INVALID;
	}
	return ST_OK;
}

/*
 * Makes dir (mode 0700: it will hold the keys) and its missing parents
 * (0755, as the data folder is made), so `registry cert` works before the
 * registry first ran. ST_OK, or ST_IO with err naming the folder.
 */
static status_t make_dirs(const char *dir, char *err, size_t errlen)
{
	char path[4096];
	size_t n = strlen(dir);

	if (n >= sizeof(path)) {
		status_errf(err, errlen, "%.64s...: path too long", dir);
		return ST_IO;
	}
	memcpy(path, dir, n + 1);
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) != 0 && errno != EEXIST) {
			status_errf(err, errlen, "%s: %s", path, strerror(errno));
			return ST_IO;
		}
		*p = '/';
	}
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		status_errf(err, errlen, "%s: %s", dir, strerror(errno));
		return ST_IO;
	}
	return ST_OK;
}

status_t auth_cert_make(const char *dir, const char *const *names, size_t n, unsigned days,
			bool *out_ca_reused, char *err, size_t errlen)
{
	EVP_PKEY *ca_key = NULL, *key = NULL;
	X509 *ca = NULL, *cert = NULL;
	char *san = NULL;
	size_t used = 0;
	status_t st = ST_INVALID;
	bool reused = false;

	if (out_ca_reused)
		*out_ca_reused = false;
	if (dir == NULL || names == NULL || n == 0 || n > AUTH_CERT_NAMES_MAX) {
		status_errf(err, errlen, "give 1 to %d host names or IP addresses",
			    AUTH_CERT_NAMES_MAX);
		return ST_INVALID;
	}
	if (days == 0 || days > AUTH_CERT_DAYS_MAX) {
		status_errf(err, errlen, "days must be 1 to %d", AUTH_CERT_DAYS_MAX);
		return ST_INVALID;
	}
	if ((san = malloc(SAN_MAX)) == NULL)
		return ST_NOMEM;
	san[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		int w;
		if (!auth_cert_name_ok(names[i])) {
			status_errf(err, errlen, "'%s' is not a host name or IP address", names[i]);
			goto done;
		}
		w = snprintf(san + used, SAN_MAX - used, "%s%s:%s", i ? "," : "",
			     is_ip(names[i]) ? "IP" : "DNS", names[i]);
		if (w < 0 || (size_t)w >= SAN_MAX - used) {
			status_errf(err, errlen, "too many names");
			goto done;
		}
		used += (size_t)w;
	}
	if ((st = make_dirs(dir, err, errlen)) != ST_OK)
		goto done;

	st = load_ca(dir, &ca, &ca_key, err, errlen);
	if (st == ST_OK) {
		reused = true;
	} else if (st == ST_NOT_FOUND) {
		st = ST_IO;
		if ((ca_key = EVP_EC_gen("prime256v1")) == NULL ||
		    (ca = make_cert(ca_key, "registry CA", NULL, NULL, AUTH_CERT_CA_DAYS)) ==
			NULL ||
		    !add_ext(ca, ca, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") ||
		    !add_ext(ca, ca, NID_key_usage, "critical,keyCertSign,cRLSign") ||
		    !add_ext(ca, ca, NID_subject_key_identifier, "hash") ||
		    X509_sign(ca, ca_key, EVP_sha256()) <= 0) {
			status_errf(err, errlen, "cannot make the CA certificate");
			goto done;
		}
		if ((st = write_pem(dir, "ca.key", ca_key, NULL, err, errlen)) != ST_OK ||
		    (st = write_pem(dir, "ca.crt", NULL, ca, err, errlen)) != ST_OK)
			goto done;
	} else {
		goto done;
	}

	st = ST_IO;
	if ((key = EVP_EC_gen("prime256v1")) == NULL ||
	    (cert = make_cert(key, names[0], ca, ca_key, days)) == NULL ||
	    !add_ext(cert, ca, NID_basic_constraints, "critical,CA:FALSE") ||
	    !add_ext(cert, ca, NID_key_usage, "critical,digitalSignature") ||
	    !add_ext(cert, ca, NID_ext_key_usage, "serverAuth") ||
	    !add_ext(cert, ca, NID_subject_alt_name, san) ||
	    !add_ext(cert, ca, NID_subject_key_identifier, "hash") ||
	    !add_ext(cert, ca, NID_authority_key_identifier, "keyid:always") ||
	    X509_sign(cert, ca_key, EVP_sha256()) <= 0) {
		status_errf(err, errlen, "cannot make the server certificate");
		goto done;
	}
	if ((st = write_pem(dir, "server.key", key, NULL, err, errlen)) != ST_OK ||
	    (st = write_pem(dir, "server.crt", NULL, cert, err, errlen)) != ST_OK)
		goto done;
	if (out_ca_reused)
		*out_ca_reused = reused;
	st = ST_OK;
done:
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(key);
	X509_free(ca);
	X509_free(cert);
	free(san);
	return st;
}
