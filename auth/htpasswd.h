/*
 * htpasswd.h - the users file: Apache's htpasswd format with bcrypt
 * hashes, one "NAME:HASH" per line, as `htpasswd -B` writes it.
 *
 * Passwords are checked with libcrypt (libxcrypt's crypt_rn), which
 * implements bcrypt ($2y$, $2b$, $2a$); no hashing code of our own. Lines
 * with another kind of hash ({SHA}, $apr1$, DES crypt) are kept as they are
 * but never match, so a file from elsewhere loads and such users are simply
 * refused until their password is set again.
 */
#ifndef AUTH_HTPASSWD_H
#define AUTH_HTPASSWD_H

#include <stdbool.h>
#include <stddef.h>

#include "../common/status.h"

#define AUTH_BCRYPT_COST_DEFAULT 10 /* 2^10 rounds, ~60 ms: `user add` */
#define AUTH_BCRYPT_COST_MIN 4
#define AUTH_BCRYPT_COST_MAX 31
#define AUTH_PASSWORD_MAX 512			   /* longest password accepted (bytes) */
#define AUTH_BCRYPT_PASSWORD_MAX 72		   /* bcrypt reads no more: longest one hashed */
#define AUTH_HTPASSWD_FILE_MAX (16u * 1024 * 1024) /* larger users files are refused */

typedef struct auth_htpasswd auth_htpasswd;

/* An empty users list. ST_OK with *out, ST_NOMEM. */
status_t auth_htpasswd_new(auth_htpasswd **out);
/* NULL is a no-op. */
void auth_htpasswd_free(auth_htpasswd *h);

/*
 * Parses htpasswd text (len bytes; NULs refused). Blank lines and lines
 * starting with '#' are skipped. ST_OK with *out; ST_INVALID with err =
 * "NAME:LINE: message" (name labels the text) for a line without ':', an
 * empty or unusable user name, or a user listed twice; ST_NOMEM.
 */
status_t auth_htpasswd_parse(auth_htpasswd **out, const char *text, size_t len, const char *name,
			     char *err, size_t errlen);

/* Reads and parses the file at path, as auth_htpasswd_parse. ST_NOT_FOUND
 * if it does not exist; ST_IO if it cannot be read or is too large. */
status_t auth_htpasswd_load(auth_htpasswd **out, const char *path, char *err, size_t errlen);

/*
 * Checks user's password, in time that does not tell whether the user
 * exists (an unknown user still costs one bcrypt run). ST_OK, or
 * ST_UNAUTHORIZED for an unknown user, a wrong or over-long password or a
 * hash of an unsupported kind. ST_NOMEM.
 */
status_t auth_htpasswd_verify(const auth_htpasswd *h, const char *user, const char *password);

/*
 * Hashes password with bcrypt ($2y$, cost 4-31; salt from OpenSSL's RAND)
 * into out (outlen bytes, at least 61). ST_OK, ST_INVALID (cost, outlen,
 * or a password over AUTH_BCRYPT_PASSWORD_MAX bytes, which bcrypt would cut
 * without a word), ST_IO (no randomness or libcrypt failed).
 */
status_t auth_htpasswd_hash(char *out, size_t outlen, const char *password, unsigned cost);

/* Adds user or replaces their hash. ST_OK; ST_INVALID for a name that
 * auth_user_name_ok refuses or an over-long password; ST_NOMEM; ST_IO. */
status_t auth_htpasswd_set(auth_htpasswd *h, const char *user, const char *password, unsigned cost);
/* The same with a hash auth_htpasswd_hash made (bcrypt only: ST_INVALID
 * otherwise), so the slow part can run before a lock is taken. */
status_t auth_htpasswd_set_hash(auth_htpasswd *h, const char *user, const char *hash);

/* Removes user. ST_OK or ST_NOT_FOUND. */
status_t auth_htpasswd_del(auth_htpasswd *h, const char *user);

/* Number of users, and the i-th one's name (borrowed), in file order. */
size_t auth_htpasswd_count(const auth_htpasswd *h);
const char *auth_htpasswd_user(const auth_htpasswd *h, size_t i);
/* Whether user is listed. */
bool auth_htpasswd_has(const auth_htpasswd *h, const char *user);
/* user's stored hash (borrowed, valid until h changes), or NULL. */
const char *auth_htpasswd_hash_of(const auth_htpasswd *h, const char *user);
/* Whether the i-th user's hash is bcrypt (else they can never log in). */
bool auth_htpasswd_usable(const auth_htpasswd *h, size_t i);

/*
 * Writes the list to path atomically: a temporary file in the same folder,
 * fsynced, renamed over path, the folder fsynced. A new file gets mode
 * 0600, an existing one keeps its mode. ST_OK or ST_IO (path untouched).
 */
status_t auth_htpasswd_save(const auth_htpasswd *h, const char *path);

/*
 * Takes the exclusive lock of the users file at path (flock on "PATH.lock",
 * made 0600 if absent; the users file itself is replaced by every save, so
 * it cannot carry the lock). Hold it from load to save so that two
 * concurrent edits are serialised instead of one losing the other's
 * change. Blocks while another holder has it. ST_OK with *fd (give it to
 * auth_htpasswd_unlock), or ST_IO with errno set.
 */
status_t auth_htpasswd_lock(const char *path, int *fd);
/* Releases the lock; fd < 0 is a no-op. */
void auth_htpasswd_unlock(int fd);

#endif
