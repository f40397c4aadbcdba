/*
 * pq_load.h - libpq, loaded at run time (dlopen) by the "postgres"
 * metadata backend (meta_pg.c).
 *
 * Only a registry configured with metadata = postgres talks to PostgreSQL,
 * so libpq (and what it pulls in: libssl, Kerberos, LDAP) is not linked
 * into the binary: the embedded SQLite build never maps it and runs on a
 * machine without it. pq_load() opens libpq.so.5 (Debian package libpq5)
 * and fills the table `libpq` with the functions we call; after it
 * succeeded, call them as libpq.connectdb() and so on. The types and
 * constants still come from <libpq-fe.h> (libpq-dev, at build time only).
 */
#ifndef PQ_LOAD_H
#define PQ_LOAD_H

#include <libpq-fe.h>

#include "../common/status.h"

#define PQ_LOAD_SONAME "libpq.so.5"

/* The libpq functions we use; each has the type of its namesake in
 * <libpq-fe.h> (PQconnectdb for connectdb, ...). */
struct libpq_api {
	__typeof__(PQconnectdb) *connectdb;
	__typeof__(PQstatus) *status;
	__typeof__(PQerrorMessage) *error_message;
	__typeof__(PQfinish) *finish;
	__typeof__(PQreset) *reset;
	__typeof__(PQexec) *exec;
	__typeof__(PQexecParams) *exec_params;
	__typeof__(PQprepare) *prepare;
	__typeof__(PQexecPrepared) *exec_prepared;
	__typeof__(PQresultStatus) *result_status;
	__typeof__(PQresultErrorMessage) *result_error_message;
	__typeof__(PQresultErrorField) *result_error_field;
	__typeof__(PQntuples) *ntuples;
	__typeof__(PQgetvalue) *getvalue;
	__typeof__(PQgetisnull) *getisnull;
	__typeof__(PQcmdTuples) *cmd_tuples;
	__typeof__(PQclear) *clear;
	__typeof__(PQtransactionStatus) *transaction_status;
	__typeof__(PQsetNoticeProcessor) *set_notice_processor;
};

extern struct libpq_api libpq;

/*
 * Loads libpq once per process (later calls return the first answer) and
 * fills `libpq`. ST_OK, or ST_UNSUPPORTED after logging why (the library
 * missing: install Debian's libpq5; a function missing). Thread-safe. The
 * library stays loaded until exit.
 */
status_t pq_load(void);

#endif
