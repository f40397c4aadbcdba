/*
 * pq_load.c - libpq, loaded at run time (pq_load.h).
 */
#include "pq_load.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>

#include "../common/log.h"

struct libpq_api libpq;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static status_t load_status = ST_UNSUPPORTED;

/* dlsym(lib, name) into *fn; remembers the first name not found. */
static void resolve(void *lib, const char *name, void **fn, const char **missing)
{
	if ((*fn = dlsym(lib, name)) == NULL && *missing == NULL)
		*missing = name;
}

static void load(void)
{
	struct libpq_api t;
	const char *missing = NULL;
	void *lib = dlopen(PQ_LOAD_SONAME, RTLD_NOW | RTLD_LOCAL);

	if (lib == NULL) {
		log_error("metadata = postgres needs libpq, which cannot be loaded (install "
			  "Debian's libpq5): %s",
			  dlerror());
		return;
	}
	/* POSIX guarantees a function pointer fits in the void * dlsym returns. */
	resolve(lib, "PQconnectdb", (void **)&t.connectdb, &missing);
	resolve(lib, "PQstatus", (void **)&t.status, &missing);
	resolve(lib, "PQerrorMessage", (void **)&t.error_message, &missing);
	resolve(lib, "PQfinish", (void **)&t.finish, &missing);
	resolve(lib, "PQreset", (void **)&t.reset, &missing);
	resolve(lib, "PQexec", (void **)&t.exec, &missing);
	resolve(lib, "PQexecParams", (void **)&t.exec_params, &missing);
	resolve(lib, "PQprepare", (void **)&t.prepare, &missing);
	resolve(lib, "PQexecPrepared", (void **)&t.exec_prepared, &missing);
	resolve(lib, "PQresultStatus", (void **)&t.result_status, &missing);
	resolve(lib, "PQresultErrorMessage", (void **)&t.result_error_message, &missing);
	resolve(lib, "PQresultErrorField", (void **)&t.result_error_field, &missing);
	resolve(lib, "PQntuples", (void **)&t.ntuples, &missing);
	resolve(lib, "PQgetvalue", (void **)&t.getvalue, &missing);
	resolve(lib, "PQgetisnull", (void **)&t.getisnull, &missing);
	resolve(lib, "PQcmdTuples", (void **)&t.cmd_tuples, &missing);
	resolve(lib, "PQclear", (void **)&t.clear, &missing);
	resolve(lib, "PQtransactionStatus", (void **)&t.transaction_status, &missing);
	resolve(lib, "PQsetNoticeProcessor", (void **)&t.set_notice_processor, &missing);
	if (missing != NULL) {
		log_error("%s has no %s: not libpq, or one too old", PQ_LOAD_SONAME, missing);
		dlclose(lib);
		return;
	}
	libpq = t;
	load_status = ST_OK;
}

status_t pq_load(void)
{
	pthread_once(&load_once, load);
	return load_status;
}
