/*
 * logins.c - failed logins kept in the metadata index (see core.h): a thin
 * pass to storage/meta.h on the calling thread's connection, so the server
 * reaches the index only through the core. No policy here: what counts,
 * when a lock starts and what is logged are auth/throttle.c's.
 */
#include "core_impl.h"

#include <string.h>

static void login_copy(core_login *out, const meta_login *in)
{
	out->failures = in->failures;
	out->known = in->known;
	out->blocked_until = in->blocked_until;
}

bool core_logins_shared(core *c)
{
	/* the backend's answer, not a connection's: the asking thread (the
	 * server's at start) would keep one open for nothing */
	return meta_backend_keeps_logins(c->metadata);
}

status_t core_login_check(core *c, const char *addr, const char *user, int64_t now,
			  core_login *out_addr, core_login *out_user, core_login_fn ended,
			  void *arg)
{
	meta_login a = {0}, u = {0};
	meta *db;
	status_t st;

	memset(out_addr, 0, sizeof(*out_addr));
	memset(out_user, 0, sizeof(*out_user));
	if ((st = core_db(c, &db)) != ST_OK)
		return st;
	if ((st = meta_login_check(db, addr, user, now, &a, &u, ended, arg)) != ST_OK)
		return st;
	login_copy(out_addr, &a);
	login_copy(out_user, &u);
	return ST_OK;
}

status_t core_login_fail(core *c, const char *addr, const char *user, bool known, unsigned limit,
			 unsigned window_sec, int64_t now, core_login *out)
{
	meta_login e = {0};
	meta *db;
	status_t st;

	memset(out, 0, sizeof(*out));
	if ((st = core_db(c, &db)) != ST_OK)
		return st;
	if ((st = meta_login_fail(db, addr, user, known, limit, window_sec, now, &e)) != ST_OK)
		return st;
	login_copy(out, &e);
	return ST_OK;
}

status_t core_login_clear(core *c, const char *addr, const char *user)
{
	meta *db;
	status_t st;

	if ((st = core_db(c, &db)) != ST_OK)
		return st;
	return meta_login_clear(db, addr, user);
}

status_t core_login_unlock(core *c, const char *addr, const char *user, int64_t before,
			   core_login_fn lifted, void *arg, size_t *out_n)
{
	meta *db;
	status_t st;

	if (out_n != NULL)
		*out_n = 0;
	if ((st = core_db(c, &db)) != ST_OK)
		return st;
	return meta_login_unlock(db, addr, user, before, lifted, arg, out_n);
}
