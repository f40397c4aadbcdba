/*
 * sessions.c - upload sessions in memory (see sessions.h).
 *
 * A singly linked list under one mutex: sessions are few (one per layer
 * being pushed) and every operation is O(sessions) at worst, far below the
 * cost of the disk writes they accompany.
 */
#include "sessions.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "../common/log.h"

struct sessions {
	pthread_mutex_t mu;
	upload_session *head;
	bool shared; /* replicas share the rows and files: keep nothing between requests */
};

status_t sessions_new(sessions **out)
{
	sessions *ss = calloc(1, sizeof(*ss));

	*out = NULL;
	if (ss == NULL)
		return ST_NOMEM;
	pthread_mutex_init(&ss->mu, NULL);
	*out = ss;
	return ST_OK;
}

static void session_free(upload_session *s)
{
	if (s == NULL)
		return;
	blob_upload_free(s->up);
	free(s);
}

void sessions_free(sessions *ss)
{
	upload_session *s, *next;

	if (ss == NULL)
		return;
	for (s = ss->head; s; s = next) {
		next = s->next;
		session_free(s);
	}
	pthread_mutex_destroy(&ss->mu);
	free(ss);
}

status_t sessions_make_id(char out[BLOBSTORE_ID_MAX + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char b[16];
	size_t n = 0;

	if (RAND_bytes(b, sizeof(b)) != 1)
		return ST_IO;
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[n++] = '-';
		out[n++] = hex[b[i] >> 4];
		out[n++] = hex[b[i] & 15];
	}
	out[n] = '\0';
	return ST_OK;
}

/* Unlinks s from the list; caller holds mu. */
static void unlink_locked(sessions *ss, upload_session *s)
{
	for (upload_session **pp = &ss->head; *pp; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			return;
		}
	}
}

status_t sessions_create(sessions *ss, blobstore *bs, meta *db, const char *repo, digest_alg alg,
			 upload_session **out)
{
	upload_session *s = calloc(1, sizeof(*s));
	status_t st;

	*out = NULL;
	if (s == NULL)
		return ST_NOMEM;
	if ((st = sessions_make_id(s->id)) != ST_OK)
		goto fail;
	snprintf(s->repo, sizeof(s->repo), "%s", repo);
	if ((st = blobstore_upload_begin(bs, s->id, alg, &s->up)) != ST_OK)
		goto fail;
	if ((st = meta_upload_create(db, s->id, repo, alg)) != ST_OK) {
		blob_upload_free(s->up);
		s->up = NULL;
		blobstore_upload_remove(bs, s->id);
		goto fail;
	}
	s->busy = 1;
	s->touched = time(NULL);
	pthread_mutex_lock(&ss->mu);
	s->next = ss->head;
	ss->head = s;
	pthread_mutex_unlock(&ss->mu);
	*out = s;
	return ST_OK;
fail:
	session_free(s);
	return st;
}

status_t sessions_checkout(sessions *ss, blobstore *bs, meta *db, const char *id, const char *repo,
			   upload_session **out)
{
	upload_session *s, *fresh = NULL;
	meta_upload row;
	status_t st;

	*out = NULL;
	pthread_mutex_lock(&ss->mu);
	for (s = ss->head; s; s = s->next)
		if (strcmp(s->id, id) == 0)
			break;
	if (s != NULL) {
		if (strcmp(s->repo, repo) != 0)
			st = ST_BLOB_UPLOAD_UNKNOWN;
		else if (s->busy)
			st = ST_BUSY;
		else {
			s->busy = 1;
			*out = s;
			st = ST_OK;
		}
		pthread_mutex_unlock(&ss->mu);
		return st;
	}
	pthread_mutex_unlock(&ss->mu);

	/* Not in memory: a session from before a restart, or none at all. */
	st = meta_upload_get(db, id, &row);
	if (st == ST_NOT_FOUND || (st == ST_OK && strcmp(row.repo, repo) != 0))
		return ST_BLOB_UPLOAD_UNKNOWN;
	if (st != ST_OK)
		return st;
	if ((fresh = calloc(1, sizeof(*fresh))) == NULL)
		return ST_NOMEM;
	snprintf(fresh->id, sizeof(fresh->id), "%s", id);
	snprintf(fresh->repo, sizeof(fresh->repo), "%s", repo);
	st = blobstore_upload_resume(bs, id, row.alg, &fresh->up);
	if (st == ST_NOT_FOUND) {
		meta_upload_delete(db, id);
		st = ST_BLOB_UPLOAD_UNKNOWN;
	}
	if (st != ST_OK) {
		session_free(fresh);
		return st;
	}
	fresh->busy = 1;
	fresh->touched = time(NULL);

	pthread_mutex_lock(&ss->mu);
	for (s = ss->head; s; s = s->next)
		if (strcmp(s->id, id) == 0)
			break;
	if (s != NULL) {
		/* Another request resumed it meanwhile: that one wins. */
		pthread_mutex_unlock(&ss->mu);
		session_free(fresh);
		return ST_BUSY;
	}
	fresh->next = ss->head;
	ss->head = fresh;
	pthread_mutex_unlock(&ss->mu);
	*out = fresh;
	return ST_OK;
}

void sessions_set_shared(sessions *ss)
{
	ss->shared = true;
}

void sessions_checkin(sessions *ss, upload_session *s)
{
	blob_upload_park(s->up); /* no fd held while it waits for the client */
	if (ss->shared) {
		/* the next request may go to another replica, which appends to the
		 * file: this copy of the running hash would then be stale */
		pthread_mutex_lock(&ss->mu);
		unlink_locked(ss, s);
		pthread_mutex_unlock(&ss->mu);
		session_free(s);
		return;
	}
	pthread_mutex_lock(&ss->mu);
	s->busy = 0;
	s->touched = time(NULL);
	pthread_mutex_unlock(&ss->mu);
}

void sessions_end(sessions *ss, blobstore *bs, meta *db, upload_session *s)
{
	pthread_mutex_lock(&ss->mu);
	unlink_locked(ss, s);
	pthread_mutex_unlock(&ss->mu);
	meta_upload_delete(db, s->id);
	blob_upload_free(s->up);
	s->up = NULL;
	blobstore_upload_remove(bs, s->id);
	free(s);
}

typedef struct {
	char (*ids)[BLOBSTORE_ID_MAX + 1];
	size_t n, cap;
} id_list;

static void collect_id(void *arg, const char *id)
{
	id_list *l = arg;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		void *p = realloc(l->ids, cap * sizeof(*l->ids));
		if (p == NULL)
			return; /* the rest waits for the next sweep */
		l->ids = p;
		l->cap = cap;
	}
	snprintf(l->ids[l->n++], BLOBSTORE_ID_MAX + 1, "%s", id);
}

int sessions_expire(sessions *ss, blobstore *bs, meta *db, time_t before)
{
	id_list rows = {0}, files = {0};
	upload_session *s, *next, *dead = NULL;
	meta_upload row;
	int count = 0;

	/* Idle entries in memory: free them; their rows are handled below. */
	pthread_mutex_lock(&ss->mu);
	for (upload_session **pp = &ss->head; (s = *pp) != NULL;) {
		if (!s->busy && s->touched < before) {
			*pp = s->next;
			s->next = dead;
			dead = s;
		} else {
			pp = &s->next;
		}
	}
	pthread_mutex_unlock(&ss->mu);
	for (s = dead; s; s = next) {
		next = s->next;
		session_free(s);
	}

	/* Rows idle too long. A session in memory and in use has a fresh
	 * `touched` but maybe an old row: skip those. */
	meta_upload_list_stale(db, before, collect_id, &rows);
	for (size_t i = 0; i < rows.n; i++) {
		int live = 0;
		pthread_mutex_lock(&ss->mu);
		for (s = ss->head; s; s = s->next)
			if (strcmp(s->id, rows.ids[i]) == 0)
				live = 1;
		pthread_mutex_unlock(&ss->mu);
		if (live)
			continue;
		meta_upload_delete(db, rows.ids[i]);
		blobstore_upload_remove(bs, rows.ids[i]);
		count++;
	}

	/* Files without a row: a crash between creating the file and the row,
	 * or a blobstore_put temp file. */
	blobstore_upload_list_stale(bs, before, collect_id, &files);
	for (size_t i = 0; i < files.n; i++) {
		if (meta_upload_get(db, files.ids[i], &row) == ST_NOT_FOUND) {
			blobstore_upload_remove(bs, files.ids[i]);
			count++;
		}
	}
	free(rows.ids);
	free(files.ids);
	if (count > 0)
		log_info("expired %d idle upload session(s)", count);
	return count;
}
