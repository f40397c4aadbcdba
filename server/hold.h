/*
 * hold.h - answers held back for a while without holding a thread.
 *
 * A login attempt after failed ones is answered late (auth/throttle.h).
 * Sleeping in the handler would take a worker thread out of the pool for
 * seconds, so a few guessers could stall everyone; instead the connection
 * is suspended (libmicrohttpd's MHD_suspend_connection, which costs no
 * thread) and one timer thread resumes it when its time is up.
 * libmicrohttpd then calls the request handler again, which answers.
 */
#ifndef SERVER_HOLD_H
#define SERVER_HOLD_H

#include <stdbool.h>

#include <microhttpd.h>

#include "../common/status.h"

#define HOLD_MAX 4096 /* connections held at once; beyond, answered at once */

typedef struct hold hold;

/* Starts the timer thread. ST_OK with *out; ST_NOMEM. */
status_t hold_new(hold **out);

/*
 * Suspends conn and resumes it ms milliseconds from now. Call only from
 * the request handler of a daemon started with MHD_ALLOW_SUSPEND_RESUME,
 * and return MHD_YES without a reply. False if h is NULL, full or
 * stopping: nothing was done and the caller answers now.
 */
bool hold_add(hold *h, struct MHD_Connection *conn, unsigned ms);

/* Resumes every held connection now and refuses new ones, so a stopping
 * server finishes at once. NULL is a no-op. */
void hold_release(hold *h);

/* Releases, joins the thread, frees. Call before the daemons stop: a
 * suspended connection must be resumed first. NULL is a no-op. */
void hold_free(hold *h);

#endif
