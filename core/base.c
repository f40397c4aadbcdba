/*
 * base.c - what the files of core/ share and call: the per-thread
 * metadata connection and a request's detail. It calls no other file of
 * core/, so they all sit above it.
 */
#include "core_impl.h"

#include <stdarg.h>
#include <stdio.h>

#include "../common/log.h"

status_t core_db(core *c, meta **out)
{
	meta *m = pthread_getspecific(c->meta_key);
	status_t st;

	if (m == NULL) {
		if ((st = meta_open_backend(&m, c->metadata, c->db_path)) != ST_OK) {
			/* (a postgres location may hold a password: not logged;
			 * a server that cannot be reached the backend reports,
			 * once per outage, not here once per request) */
			if (st != ST_UNAVAILABLE)
				log_error("cannot open the %s metadata index", c->metadata);
			*out = NULL;
			return st;
		}
		pthread_setspecific(c->meta_key, m);
	}
	*out = m;
	return ST_OK;
}

void core_detail(core_req *q, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(q->detail, sizeof(q->detail), fmt, ap);
	va_end(ap);
}
