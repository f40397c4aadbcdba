/*
 * blobstore_s3.c - the blob store on S3 (blobstore_s3.h).
 */
#include "blobstore_s3.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/log.h"
#include "s3.h"

#define MIB (1024ull * 1024ull)
#define PART_MIN (5 * MIB)
#define PART_MAX (5ull * 1024 * MIB)
#define PART_DEFAULT (16 * MIB)
#define READ_AHEAD (4 * MIB)
#define MEMORY_DEFAULT (256 * MIB)
#define REDIRECT_SEC 300 /* presigned URLs: long enough to start a pull */
#define KEY_MAX 512

typedef struct s3_upload s3_upload;

typedef struct {
	blobstore base;
	s3_client *cl;
	char prefix[256];
	char bucket[256];
	uint64_t part_size;
	bool redirect;
	/* Uploads with a writer in this process, so that a reader of one
	 * (upload_open_read) sees the bytes it holds in memory too. live_mu
	 * guards the list and every upload's refs. */
	pthread_mutex_t live_mu;
	s3_upload *live;
	/* Upload buffers in all (s3_memory). A buffer counts as a whole part
	 * from its first byte, so a push is refused (503, and it starts over)
	 * as it begins, not halfway after others grew, and the pushes that
	 * got in all finish. Refused rather than waited for: a waiting worker
	 * thread would stall every connection it serves. One buffer is always
	 * granted when none is held, so a part over the limit goes through. */
	pthread_mutex_t mem_mu;
	uint64_t mem_used, mem_limit;
} s3_store;

/*
 * An upload. Its writer (one thread) owns the struct; readers of the same
 * upload (upload_open_read, other threads) hold a reference, and the last
 * one out frees it. The fields a reader looks at (size, nparts,
 * full_bytes, buf while buf_loaded, committed, blob_key, removed) change
 * only under mu; the writer reads them without it, being their only
 * writer. It never holds mu across a request to S3: a full part is PUT
 * from buf while readers may copy from it, and buf changes only after.
 */
struct s3_upload {
	blob_upload base;
	s3_store *bs;
	char id[BLOBSTORE_ID_MAX + 1];
	digest_alg alg;
	digest_ctx *hash;
	uint64_t size;	     /* bytes written */
	unsigned nparts;     /* full parts stored */
	uint64_t full_bytes; /* their bytes */
	char *buf;	     /* the partial last part when loaded */
	size_t buf_cap;
	uint64_t mem_held; /* of bs's budget: a whole part while buf is held */
	bool buf_loaded;   /* buf holds size - full_bytes bytes */
	bool tail_stored;  /* the partial part's object matches */
	bool committed;
	bool removed;		/* upload_remove took its objects: store nothing more */
	char blob_key[KEY_MAX]; /* once committed: where its bytes are now */
	status_t poison;
	pthread_mutex_t mu;
	unsigned refs;	 /* under bs->live_mu: the writer's, and one per reader */
	bool listed;	 /* in bs->live, under bs->live_mu */
	s3_upload *next; /* bs->live */
};

typedef struct {
	blob_reader base;
	s3_store *bs;
	char key[KEY_MAX]; /* a blob's key, or "" for an upload's reader */
	char id[BLOBSTORE_ID_MAX + 1];
	s3_upload *up; /* an upload's reader whose writer is ours; else NULL */
	char *ra;      /* read-ahead: bytes [ra_off, ra_off + ra_len) */
	uint64_t ra_off;
	size_t ra_len;
} s3_reader;

uint64_t blobstore_s3_part_size(uint64_t base, unsigned n)
{
	unsigned shift = n > 0 ? (n - 1) / 1000 : 0;

	if (shift >= 20 || (base << shift) > PART_MAX)
		return PART_MAX;
	return base << shift;
}

static bool id_valid(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n > BLOBSTORE_ID_MAX)
		return false;
	for (const char *p = id; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-'))
			return false;
	return true;
}

/* blobs/<alg>/<hex> of digest into key. ST_OK or ST_INVALID. */
static status_t blob_key(const s3_store *s, const char *digest, char key[KEY_MAX])
{
	if (digest_parse(digest, NULL) != ST_OK)
		return ST_INVALID;
	const char *colon = strchr(digest, ':');
	snprintf(key, KEY_MAX, "%sblobs/%.*s/%s", s->prefix, (int)(colon - digest), digest,
		 colon + 1);
	return ST_OK;
}

static void part_key(const s3_store *s, const char *id, unsigned n, char key[KEY_MAX])
{
	snprintf(key, KEY_MAX, "%suploads/%s/p%05u", s->prefix, id, n);
}

/* The status of an answer that is not 2xx: 404 is ST_NOT_FOUND, a 5xx
 * (s3_request retried it already) ST_UNAVAILABLE, so a client is told to
 * come back (503) rather than that something broke, the rest ST_IO
 * (logged). */
static status_t answer_status(const char *what, const char *key, const s3_response *r)
{
	if (r->code == 404)
		return ST_NOT_FOUND;
	log_error("s3: %s %s: HTTP %ld %.300s", what, key, r->code, r->body ? r->body : "");
	return r->code >= 500 ? ST_UNAVAILABLE : ST_IO;
}

static bool ok2xx(const s3_response *r)
{
	/* CopyObject and CompleteMultipartUpload may answer 200 with an error */
	return r->code >= 200 && r->code < 300 &&
	       (r->body == NULL || strstr(r->body, "<Error>") == NULL);
}

static status_t head(s3_store *s, const char *key, uint64_t *out_size)
{
	s3_response r;
	status_t st = s3_request(s->cl, "HEAD", key, NULL, NULL, 0, NULL, 0, NULL, NULL, &r);

	if (st == ST_OK) {
		if (r.code == 200) {
			if (out_size != NULL)
				*out_size = r.content_length;
		} else {
			st = answer_status("HEAD", key, &r);
		}
	}
	s3_response_clear(&r);
	return st;
}

static status_t put_object(s3_store *s, const char *key, const void *buf, size_t len)
{
	s3_response r;
	status_t st = s3_request(s->cl, "PUT", key, NULL, NULL, 0, buf, len, NULL, NULL, &r);

	if (st == ST_OK && !ok2xx(&r))
		if ((st = answer_status("PUT", key, &r)) == ST_NOT_FOUND)
			st = ST_IO;
	s3_response_clear(&r);
	return st;
}

static status_t delete_object(s3_store *s, const char *key)
{
	s3_response r;
	status_t st = s3_request(s->cl, "DELETE", key, NULL, NULL, 0, NULL, 0, NULL, NULL, &r);

	if (st == ST_OK && !ok2xx(&r) && r.code != 404)
		st = answer_status("DELETE", key, &r);
	s3_response_clear(&r);
	return st;
}

/* A server-side copy of src to dst (both keys in our bucket). */
static status_t copy_object(s3_store *s, const char *src, const char *dst)
{
	char *esrc = s3_encode(src, true), hdr[KEY_MAX * 3 + 300];
	const char *hdrs[1] = {hdr};
	s3_response r;
	status_t st;

	if (esrc == NULL)
		return ST_NOMEM;
	snprintf(hdr, sizeof(hdr), "x-amz-copy-source: /%s/%s", s->bucket, esrc);
	free(esrc);
	st = s3_request(s->cl, "PUT", dst, NULL, hdrs, 1, NULL, 0, NULL, NULL, &r);
	if (st == ST_OK && !ok2xx(&r))
		st = answer_status("copy to", dst, &r);
	s3_response_clear(&r);
	return st;
}

/* Into a memory buffer (read-ahead, parts) */
struct membuf {
	char *p;
	size_t len, cap;
};

static size_t mem_sink(void *arg, const char *buf, size_t n)
{
	struct membuf *m = arg;

	if (m->len + n > m->cap)
		return 0;
	memcpy(m->p + m->len, buf, n);
	m->len += n;
	return n;
}

/* GET key's bytes [off, off + cap) into buf; *out_n the bytes got. */
static status_t get_range(s3_store *s, const char *key, uint64_t off, char *buf, size_t cap,
			  size_t *out_n)
{
	char range[80];
	const char *hdrs[1] = {range};
	struct membuf m = {buf, 0, cap};
	s3_response r;
	status_t st;

	*out_n = 0;
	snprintf(range, sizeof(range), "Range: bytes=%llu-%llu", (unsigned long long)off,
		 (unsigned long long)(off + cap - 1));
	st = s3_request(s->cl, "GET", key, NULL, hdrs, 1, NULL, 0, mem_sink, &m, &r);
	if (st == ST_OK) {
		if (r.code == 200 || r.code == 206)
			*out_n = m.len;
		else if (r.code == 416)
			*out_n = 0; /* past the end */
		else
			st = answer_status("GET", key, &r);
	}
	s3_response_clear(&r);
	return st;
}

struct hash_sink {
	digest_ctx *ctx;
	uint64_t n;
};

static size_t hash_sink_fn(void *arg, const char *buf, size_t n)
{
	struct hash_sink *h = arg;

	digest_ctx_update(h->ctx, buf, n);
	h->n += n;
	return n;
}

/* Hashes the whole object key into ctx; *out_n its size. */
static status_t hash_object(s3_store *s, const char *key, digest_ctx *ctx, uint64_t *out_n)
{
	struct hash_sink h = {ctx, 0};
	s3_response r;
	status_t st = s3_request(s->cl, "GET", key, NULL, NULL, 0, NULL, 0, hash_sink_fn, &h, &r);

	if (st == ST_OK && r.code != 200)
		st = answer_status("GET", key, &r);
	if (out_n != NULL)
		*out_n = h.n;
	s3_response_clear(&r);
	return st;
}

/* ---- listing ---- */

/* ISO 8601 (2026-12-05T03:15:11.601Z) to a time. */
static time_t parse_time(const char *s)
{
	struct tm tm = {0};

	if (sscanf(s, "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
		   &tm.tm_min, &tm.tm_sec) != 6)
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return timegm(&tm);
}

typedef struct {
	char key[KEY_MAX];
	uint64_t size;
	time_t mtime;
} s3_entry;

/* Every object whose key starts with prefix, into *out (malloc'd, *n). */
static status_t list_objects(s3_store *s, const char *prefix, s3_entry **out, size_t *n)
{
	char *token = NULL, *eprefix = NULL, *query = NULL;
	size_t cap = 0;
	status_t st = ST_OK;

	*out = NULL;
	*n = 0;
	for (;;) {
		s3_response r;
		size_t qn = strlen(prefix) + (token ? strlen(token) : 0) + 100;
		free(query);
		if ((query = malloc(qn)) == NULL) {
			st = ST_NOMEM;
			break;
		}
		snprintf(query, qn, "list-type=2&prefix=%s%s%s", prefix,
			 token ? "&continuation-token=" : "", token ? token : "");
		if ((st = s3_request(s->cl, "GET", NULL, query, NULL, 0, NULL, 0, NULL, NULL,
				     &r)) != ST_OK)
			break;
		if (r.code != 200) {
			st = answer_status("list", prefix, &r);
			if (st == ST_NOT_FOUND)
				st = ST_IO; /* the bucket went away */
			s3_response_clear(&r);
			break;
		}
		size_t pos = 0;
		char block[4096];
		while (s3_xml_next(r.body, &pos, "Contents", block, sizeof(block))) {
			size_t bp = 0;
			char val[KEY_MAX];
			if (*n == cap) {
				cap = cap ? cap * 2 : 64;
				s3_entry *ne = realloc(*out, cap * sizeof(**out));
				if (ne == NULL) {
					st = ST_NOMEM;
					break;
				}
				*out = ne;
			}
			s3_entry *e = &(*out)[*n];
			if (!s3_xml_next(block, &bp, "Key", e->key, sizeof(e->key)))
				continue;
			bp = 0;
			e->size = s3_xml_next(block, &bp, "Size", val, sizeof(val))
				      ? strtoull(val, NULL, 10)
				      : 0;
			bp = 0;
			e->mtime = s3_xml_next(block, &bp, "LastModified", val, sizeof(val))
				       ? parse_time(val)
				       : 0;
			(*n)++;
		}
		char trunc[16] = "", next[1024] = "";
		pos = 0;
		s3_xml_next(r.body, &pos, "IsTruncated", trunc, sizeof(trunc));
		pos = 0;
		s3_xml_next(r.body, &pos, "NextContinuationToken", next, sizeof(next));
		s3_response_clear(&r);
		free(token);
		token = NULL;
		if (st != ST_OK || strcmp(trunc, "true") != 0 || next[0] == '\0')
			break;
		if ((token = strdup(next)) == NULL) {
			st = ST_NOMEM;
			break;
		}
	}
	free(token);
	free(eprefix);
	free(query);
	if (st != ST_OK) {
		free(*out);
		*out = NULL;
		*n = 0;
	}
	return st;
}

/* ---- the store ---- */

/* The keys from file (one line ACCESS:SECRET, as s3fs's and rclone's
 * credentials files) or, with no file, AWS_ACCESS_KEY_ID and
 * AWS_SECRET_ACCESS_KEY. A file others may read is used, with a warning:
 * refusing would break a working setup at an upgrade. */
static status_t read_credentials(const char *file, char *access, size_t alen, char *secret,
				 size_t slen)
{
	char line[600];
	FILE *f;
	struct stat sb;
	char *colon;

	if (file == NULL || file[0] == '\0') {
		const char *a = getenv("AWS_ACCESS_KEY_ID"), *k = getenv("AWS_SECRET_ACCESS_KEY");
		if (a == NULL || *a == '\0' || k == NULL || *k == '\0') {
			log_error("s3: no credentials: set s3_credentials = FILE (one line "
				  "ACCESS:SECRET) or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
			return ST_INVALID;
		}
		snprintf(access, alen, "%s", a);
		snprintf(secret, slen, "%s", k);
		return ST_OK;
	}
	if ((f = fopen(file, "r")) == NULL) {
		log_error("s3: cannot read s3_credentials %s: %s", file, strerror(errno));
		return ST_INVALID;
	}
	if (fstat(fileno(f), &sb) == 0 && (sb.st_mode & 077) != 0)
		log_warn("s3: %s can be read by others than its owner: chmod 600 it", file);
	if (fgets(line, sizeof(line), f) == NULL) {
		fclose(f);
		log_error("s3: s3_credentials %s is empty", file);
		return ST_INVALID;
	}
	fclose(f);
	line[strcspn(line, "\r\n")] = '\0';
	if ((colon = strchr(line, ':')) == NULL || colon == line || colon[1] == '\0') {
		explicit_bzero(line, sizeof(line));
		log_error("s3: s3_credentials %s: expected one line ACCESS_KEY:SECRET_KEY", file);
		return ST_INVALID;
	}
	*colon = '\0';
	snprintf(access, alen, "%.255s", line);
	snprintf(secret, slen, "%.255s", colon + 1);
	explicit_bzero(line, sizeof(line));
	return ST_OK;
}

static status_t s3_open(blobstore **out, const char *location, const blobstore_options *o)
{
	s3_store *s;
	s3_config cfg = {0};
	status_t st;
	s3_response r;
	char access[256], secret[256];

	*out = NULL;
	if (o->s3_endpoint == NULL || o->s3_endpoint[0] == '\0' || o->s3_bucket == NULL ||
	    o->s3_bucket[0] == '\0') {
		log_error("s3: storage = s3 needs s3_endpoint and s3_bucket");
		return ST_INVALID;
	}
	if ((st = read_credentials(o->s3_credentials, access, sizeof(access), secret,
				   sizeof(secret))) != ST_OK)
		return st;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return ST_NOMEM;
	s->base.bs_ops = &blobstore_s3_ops;
	snprintf(s->prefix, sizeof(s->prefix), "%s", o->s3_prefix ? o->s3_prefix : "");
	snprintf(s->bucket, sizeof(s->bucket), "%s", o->s3_bucket);
	s->part_size = o->s3_part_size ? o->s3_part_size : PART_DEFAULT;
	if (s->part_size < PART_MIN)
		s->part_size = PART_MIN;
	if (s->part_size > PART_MAX)
		s->part_size = PART_MAX;
	s->redirect = o->s3_redirect;
	s->mem_limit = o->s3_memory ? o->s3_memory : MEMORY_DEFAULT;
	pthread_mutex_init(&s->live_mu, NULL);
	pthread_mutex_init(&s->mem_mu, NULL);
	cfg.endpoint = o->s3_endpoint;
	cfg.bucket = o->s3_bucket;
	cfg.region = o->s3_region;
	cfg.access_key = access;
	cfg.secret_key = secret;
	cfg.path_style = o->s3_path_style;
	cfg.ca = o->s3_ca;
	st = s3_client_new(&s->cl, &cfg);
	explicit_bzero(secret, sizeof(secret));
	if (st != ST_OK) {
		pthread_mutex_destroy(&s->live_mu);
		pthread_mutex_destroy(&s->mem_mu);
		free(s);
		return st;
	}
	/* The bucket must exist: a typo must not look like an empty registry. */
	st = s3_request(s->cl, "HEAD", NULL, NULL, NULL, 0, NULL, 0, NULL, NULL, &r);
	if (st != ST_OK) {
		log_error("s3: cannot reach %s", o->s3_endpoint);
	} else if (r.code == 404) {
		log_error("s3: bucket '%s' does not exist at %s (create it first)", o->s3_bucket,
			  o->s3_endpoint);
		st = ST_INVALID;
	} else if (r.code == 403 || r.code == 401) {
		log_error(
		    "s3: access to bucket '%s' at %s denied (HTTP %ld): check the credentials",
		    o->s3_bucket, o->s3_endpoint, r.code);
		st = ST_INVALID;
	} else if (r.code != 200) {
		log_error("s3: bucket '%s' at %s: HTTP %ld", o->s3_bucket, o->s3_endpoint, r.code);
		st = ST_IO;
	}
	s3_response_clear(&r);
	if (st != ST_OK) {
		s3_client_free(s->cl);
		pthread_mutex_destroy(&s->live_mu);
		pthread_mutex_destroy(&s->mem_mu);
		free(s);
		return st;
	}
	log_info("s3: blobs in bucket '%s' at %s (prefix '%s', parts of %llu MiB)", s->bucket,
		 o->s3_endpoint, s->prefix, (unsigned long long)(s->part_size / MIB));
	*out = &s->base;
	return ST_OK;
}

static void s3_close(blobstore *b)
{
	s3_store *s = (s3_store *)b;

	s3_client_free(s->cl);
	pthread_mutex_destroy(&s->live_mu);
	pthread_mutex_destroy(&s->mem_mu);
	free(s);
}

static status_t s3_stat(blobstore *b, const char *digest, uint64_t *out_size)
{
	s3_store *s = (s3_store *)b;
	char key[KEY_MAX];

	if (blob_key(s, digest, key) != ST_OK)
		return ST_INVALID;
	return head(s, key, out_size);
}

static status_t s3_read_open(blobstore *b, const char *digest, blob_reader **out)
{
	s3_store *s = (s3_store *)b;
	s3_reader *rd;
	uint64_t size;
	status_t st;

	*out = NULL;
	if ((rd = calloc(1, sizeof(*rd))) == NULL)
		return ST_NOMEM;
	if ((st = blob_key(s, digest, rd->key)) != ST_OK ||
	    (st = head(s, rd->key, &size)) != ST_OK) {
		free(rd);
		return st;
	}
	rd->base.rd_ops = &blobstore_s3_ops;
	rd->base.rd_size = size;
	rd->base.rd_fd = -1;
	rd->bs = s;
	*out = &rd->base;
	return ST_OK;
}

static void upload_release(s3_upload *up);

/* The part (1-based) that holds byte off of an upload, with off's offset
 * in it (*out_poff) and the part's bytes from there on (*out_left); 0 past
 * the last part S3 allows. */
static unsigned part_of(uint64_t part_size, uint64_t off, uint64_t *out_poff, uint64_t *out_left)
{
	uint64_t start = 0;

	*out_poff = *out_left = 0;
	for (unsigned n = 1; n <= 10000; n++) {
		uint64_t psz = blobstore_s3_part_size(part_size, n);
		if (off < start + psz) {
			*out_poff = off - start;
			*out_left = start + psz - off;
			return n;
		}
		start += psz;
	}
	return 0;
}

/* An upload's reader with no writer in this process: bytes of the stored
 * parts, what is not stored yet reading as the end. */
static status_t upload_read(s3_reader *rd, uint64_t off, void *buf, size_t len, size_t *out_n)
{
	uint64_t poff, left;
	unsigned n = part_of(rd->bs->part_size, off, &poff, &left);
	char key[KEY_MAX];
	status_t st;

	*out_n = 0;
	if (n == 0)
		return ST_OK;
	if (len > left)
		len = (size_t)left;
	part_key(rd->bs, rd->id, n, key);
	st = get_range(rd->bs, key, poff, buf, len, out_n);
	return st == ST_NOT_FOUND ? ST_OK : st; /* not written yet */
}

/*
 * An upload's reader whose writer is ours (the pull-through cache reads a
 * blob while it arrives): bytes still in the writer's buffer are copied
 * from it, stored parts read from S3, and once a commit has published the
 * blob (and removed the parts) read from the blob. A read that finds its
 * part gone looks again once: a commit may have moved the bytes meanwhile.
 * It keeps no state of its own, so threads may share the reader. ST_OK
 * with *out_n > 0, or 0 at what is written so far; ST_IO when the bytes
 * are gone (the upload removed, the blob deleted).
 */
static status_t live_read(s3_reader *rd, uint64_t off, void *buf, size_t len, size_t *out_n)
{
	s3_upload *up = rd->up;
	char key[KEY_MAX];
	uint64_t poff, left;
	status_t st;

	*out_n = 0;
	for (int tries = 0; tries < 2; tries++) {
		bool committed;
		pthread_mutex_lock(&up->mu);
		if (off >= up->size) {
			pthread_mutex_unlock(&up->mu);
			return ST_OK;
		}
		if (len > up->size - off)
			len = (size_t)(up->size - off);
		committed = up->committed;
		if (committed) {
			snprintf(key, sizeof(key), "%s", up->blob_key);
			poff = off;
		} else if (off >= up->full_bytes && up->buf_loaded) {
			memcpy(buf, up->buf + (off - up->full_bytes), len);
			pthread_mutex_unlock(&up->mu);
			*out_n = len;
			return ST_OK;
		} else {
			unsigned n = part_of(rd->bs->part_size, off, &poff, &left);
			if (len > left)
				len = (size_t)left;
			part_key(rd->bs, up->id, n, key);
		}
		pthread_mutex_unlock(&up->mu);
		st = get_range(rd->bs, key, poff, buf, len, out_n);
		if (st == ST_OK && *out_n == 0)
			return ST_IO; /* shorter than what was written */
		if (st != ST_NOT_FOUND)
			return st;
		if (committed)
			break; /* the blob deleted under us */
	}
	return ST_IO;
}

static status_t s3_reader_read(blob_reader *r, uint64_t off, void *buf, size_t len, size_t *out_n)
{
	s3_reader *rd = (s3_reader *)r;
	status_t st;

	*out_n = 0;
	if (len == 0)
		return ST_OK;
	if (rd->up != NULL)
		return live_read(rd, off, buf, len, out_n);
	if (rd->key[0] == '\0')
		return upload_read(rd, off, buf, len, out_n);
	if (off >= rd->base.rd_size)
		return ST_OK;
	if (rd->ra == NULL || off < rd->ra_off || off >= rd->ra_off + rd->ra_len) {
		uint64_t want = rd->base.rd_size - off;
		if (want > READ_AHEAD)
			want = READ_AHEAD;
		if (rd->ra == NULL && (rd->ra = malloc(READ_AHEAD)) == NULL)
			return ST_NOMEM;
		rd->ra_len = 0;
		if ((st = get_range(rd->bs, rd->key, off, rd->ra, (size_t)want, &rd->ra_len)) !=
		    ST_OK)
			return st == ST_NOT_FOUND ? ST_IO : st; /* deleted under us */
		rd->ra_off = off;
		if (rd->ra_len == 0)
			return ST_IO; /* shorter than its HEAD said */
	}
	size_t avail = (size_t)(rd->ra_off + rd->ra_len - off);
	size_t n = len < avail ? len : avail;
	memcpy(buf, rd->ra + (off - rd->ra_off), n);
	*out_n = n;
	return ST_OK;
}

static void s3_reader_close(blob_reader *r)
{
	s3_reader *rd = (s3_reader *)r;

	if (rd->up != NULL)
		upload_release(rd->up);
	free(rd->ra);
	free(rd);
}

static status_t s3_put(blobstore *b, const char *digest, const void *buf, size_t len)
{
	s3_store *s = (s3_store *)b;
	char key[KEY_MAX], got[DIGEST_MAX];
	digest_alg alg;
	status_t st;

	if (digest_parse(digest, &alg) != ST_OK || blob_key(s, digest, key) != ST_OK)
		return ST_INVALID;
	if ((st = digest_buffer(got, alg, buf, len)) != ST_OK)
		return st;
	if (strcmp(got, digest) != 0)
		return ST_DIGEST_MISMATCH;
	if ((st = head(s, key, NULL)) != ST_NOT_FOUND)
		return st;		     /* there already (ST_OK), or ST_IO */
	return put_object(s, key, buf, len); /* one PUT: all or nothing */
}

static status_t s3_remove(blobstore *b, const char *digest)
{
	s3_store *s = (s3_store *)b;
	char key[KEY_MAX];
	status_t st;

	if (blob_key(s, digest, key) != ST_OK)
		return ST_INVALID;
	if ((st = head(s, key, NULL)) != ST_OK)
		return st;
	return delete_object(s, key);
}

static status_t s3_quarantine(blobstore *b, const char *digest)
{
	s3_store *s = (s3_store *)b;
	char key[KEY_MAX], qkey[KEY_MAX];
	status_t st;

	if (blob_key(s, digest, key) != ST_OK)
		return ST_INVALID;
	if ((st = head(s, key, NULL)) != ST_OK)
		return st;
	const char *colon = strchr(digest, ':');
	snprintf(qkey, sizeof(qkey), "%squarantine/%.*s-%s", s->prefix, (int)(colon - digest),
		 digest, colon + 1);
	if ((st = copy_object(s, key, qkey)) != ST_OK)
		return st;
	return delete_object(s, key);
}

/* ---- uploads ---- */

static void s3_upload_free(blob_upload *u);

static status_t s3_upload_new(s3_store *s, const char *id, digest_alg alg, s3_upload **out)
{
	s3_upload *up = calloc(1, sizeof(*up));

	*out = NULL;
	if (up == NULL)
		return ST_NOMEM;
	if (digest_ctx_new(&up->hash, alg) != ST_OK) {
		free(up);
		return ST_NOMEM;
	}
	up->base.up_ops = &blobstore_s3_ops;
	up->bs = s;
	up->alg = alg;
	up->tail_stored = true;
	up->buf_loaded = true; /* an empty tail */
	snprintf(up->id, sizeof(up->id), "%s", id);
	pthread_mutex_init(&up->mu, NULL);
	up->refs = 1; /* the writer's */
	*out = up;
	return ST_OK;
}

/* Lists up among the store's uploads with a writer, for its readers. */
static void live_add(s3_upload *up)
{
	s3_store *s = up->bs;

	pthread_mutex_lock(&s->live_mu);
	up->next = s->live;
	s->live = up;
	up->listed = true;
	pthread_mutex_unlock(&s->live_mu);
}

/* Takes up off the list (its writer is done with it); readers keep it. */
static void live_unlist(s3_upload *up)
{
	s3_store *s = up->bs;

	pthread_mutex_lock(&s->live_mu);
	if (up->listed) {
		s3_upload **pp = &s->live;
		while (*pp != up)
			pp = &(*pp)->next;
		*pp = up->next;
		up->listed = false;
	}
	pthread_mutex_unlock(&s->live_mu);
}

/* Makes up hold psz bytes of the upload buffers' budget: false if that
 * would pass the limit while other buffers are held. */
static bool mem_take(s3_upload *up, uint64_t psz)
{
	s3_store *s = up->bs;
	uint64_t n = psz > up->mem_held ? psz - up->mem_held : 0;
	bool ok;

	if (n == 0)
		return true;
	pthread_mutex_lock(&s->mem_mu);
	ok = s->mem_used == up->mem_held || s->mem_used + n <= s->mem_limit;
	if (ok)
		s->mem_used += n;
	pthread_mutex_unlock(&s->mem_mu);
	if (ok)
		up->mem_held += n;
	else
		log_warn("s3: upload buffers at s3_memory (%llu bytes): a push is refused "
			 "with 503 and starts over",
			 (unsigned long long)s->mem_limit);
	return ok;
}

/* Gives up's share of the budget back (its buffer is gone). */
static void mem_give(s3_upload *up)
{
	s3_store *s = up->bs;

	pthread_mutex_lock(&s->mem_mu);
	s->mem_used -= up->mem_held < s->mem_used ? up->mem_held : s->mem_used;
	pthread_mutex_unlock(&s->mem_mu);
	up->mem_held = 0;
}

/* Drops a reference to up (the writer's or a reader's); the last frees it. */
static void upload_release(s3_upload *up)
{
	s3_store *s = up->bs;
	bool last;

	pthread_mutex_lock(&s->live_mu);
	last = --up->refs == 0;
	pthread_mutex_unlock(&s->live_mu);
	if (!last)
		return;
	pthread_mutex_destroy(&up->mu);
	digest_ctx_free(up->hash);
	free(up->buf);
	mem_give(up);
	free(up);
}

static status_t s3_upload_begin(blobstore *b, const char *id, digest_alg alg, blob_upload **out)
{
	s3_store *s = (s3_store *)b;
	char key[KEY_MAX];
	s3_upload *up;
	status_t st;

	*out = NULL;
	if (!id_valid(id) || (alg != DIGEST_SHA256 && alg != DIGEST_SHA512))
		return ST_INVALID;
	snprintf(key, sizeof(key), "%suploads/%s/begin", s->prefix, id);
	if ((st = head(s, key, NULL)) == ST_OK)
		return ST_EXISTS;
	if (st != ST_NOT_FOUND)
		return st;
	if ((st = s3_upload_new(s, id, alg, &up)) != ST_OK)
		return st;
	if ((st = put_object(s, key, "", 0)) != ST_OK) {
		s3_upload_free(&up->base);
		return st;
	}
	live_add(up);
	*out = &up->base;
	return ST_OK;
}

static status_t s3_upload_resume(blobstore *b, const char *id, digest_alg alg, blob_upload **out)
{
	s3_store *s = (s3_store *)b;
	char prefix[KEY_MAX], key[KEY_MAX];
	s3_entry *e = NULL;
	size_t n = 0;
	s3_upload *up = NULL;
	status_t st;
	bool begun = false;

	*out = NULL;
	if (!id_valid(id) || (alg != DIGEST_SHA256 && alg != DIGEST_SHA512))
		return ST_INVALID;
	snprintf(prefix, sizeof(prefix), "%suploads/%s/", s->prefix, id);
	if ((st = list_objects(s, prefix, &e, &n)) != ST_OK)
		return st;
	for (size_t i = 0; i < n; i++)
		if (strcmp(e[i].key + strlen(prefix), "begin") == 0)
			begun = true;
	if (!begun) {
		st = ST_NOT_FOUND;
		goto done;
	}
	if ((st = s3_upload_new(s, id, alg, &up)) != ST_OK)
		goto done;
	/* parts are listed in key order, which is part order (p%05u) */
	for (unsigned p = 1;; p++) {
		uint64_t got = 0, psz = blobstore_s3_part_size(s->part_size, p);
		bool found = false;
		part_key(s, id, p, key);
		for (size_t i = 0; i < n && !found; i++)
			found = strcmp(e[i].key, key) == 0;
		if (!found)
			break;
		if ((st = hash_object(s, key, up->hash, &got)) != ST_OK)
			goto done;
		up->size += got;
		if (got == psz) {
			up->nparts = p;
			up->full_bytes += got;
		} else {
			/* the partial last part: fetched again at the next write */
			up->buf_loaded = false;
			break;
		}
	}
	live_add(up);
	*out = &up->base;
	up = NULL;
done:
	if (up != NULL)
		s3_upload_free(&up->base);
	free(e);
	return st;
}

/* Makes buf hold the partial part again (after a park or resume). Readers
 * leave buf alone until buf_loaded says it holds the tail. */
static status_t tail_load(s3_upload *up)
{
	size_t tail = (size_t)(up->size - up->full_bytes), got = 0;
	char key[KEY_MAX];
	status_t st;

	if (up->buf_loaded)
		return ST_OK;
	if (up->buf_cap < tail) {
		if (!mem_take(up, blobstore_s3_part_size(up->bs->part_size, up->nparts + 1)))
			return ST_UNAVAILABLE;
		pthread_mutex_lock(&up->mu);
		char *nb = realloc(up->buf, tail);
		if (nb != NULL) {
			up->buf = nb;
			up->buf_cap = tail;
		}
		pthread_mutex_unlock(&up->mu);
		if (nb == NULL)
			return ST_NOMEM; /* the budget goes back with the buffer */
	}
	if (tail > 0) {
		part_key(up->bs, up->id, up->nparts + 1, key);
		if ((st = get_range(up->bs, key, 0, up->buf, tail, &got)) != ST_OK)
			return st == ST_NOT_FOUND ? ST_IO : st;
		if (got != tail) {
			log_error("s3: upload %s: its last part has %zu bytes, not %zu", up->id,
				  got, tail);
			return ST_IO;
		}
	}
	pthread_mutex_lock(&up->mu);
	up->buf_loaded = true;
	pthread_mutex_unlock(&up->mu);
	up->tail_stored = true;
	return ST_OK;
}

static status_t s3_upload_write(blob_upload *u, const void *data, size_t len)
{
	s3_upload *up = (s3_upload *)u;
	const char *p = data;
	char key[KEY_MAX];
	status_t st;

	if (up->committed)
		return ST_INVALID;
	if (up->poison != ST_OK)
		return up->poison;
	if ((st = tail_load(up)) != ST_OK)
		return up->poison = st;
	while (len > 0) {
		uint64_t psz = blobstore_s3_part_size(up->bs->part_size, up->nparts + 1);
		size_t tail = (size_t)(up->size - up->full_bytes);
		size_t take = (size_t)(psz - tail) < len ? (size_t)(psz - tail) : len;
		/* under mu: readers may be copying from buf (live_read) */
		pthread_mutex_lock(&up->mu);
		if (up->buf_cap < tail + take) {
			/* grows by doubling to at most one part: small blobs stay small */
			size_t ncap = up->buf_cap ? up->buf_cap : 65536;
			while (ncap < tail + take)
				ncap *= 2;
			if (ncap > psz)
				ncap = (size_t)psz;
			if (!mem_take(up, psz)) {
				pthread_mutex_unlock(&up->mu);
				return up->poison = ST_UNAVAILABLE;
			}
			char *nb = realloc(up->buf, ncap);
			if (nb == NULL) {
				pthread_mutex_unlock(&up->mu);
				return up->poison = ST_NOMEM;
			}
			up->buf = nb;
			up->buf_cap = ncap;
		}
		memcpy(up->buf + tail, p, take);
		up->size += take;
		pthread_mutex_unlock(&up->mu);
		digest_ctx_update(up->hash, p, take);
		up->tail_stored = false;
		p += take;
		len -= take;
		if (tail + take == psz) {
			/* buf stays as it is until the part is stored: readers go
			 * on copying from it meanwhile */
			part_key(up->bs, up->id, up->nparts + 1, key);
			if ((st = put_object(up->bs, key, up->buf, (size_t)psz)) != ST_OK)
				return up->poison = st;
			pthread_mutex_lock(&up->mu);
			up->nparts++;
			up->full_bytes += psz;
			pthread_mutex_unlock(&up->mu);
			up->tail_stored = true;
		}
	}
	return ST_OK;
}

static void s3_upload_stage(blob_upload *u)
{
	(void)u; /* parts are PUT whole; nothing to stage */
}

static status_t s3_upload_flush(blob_upload *u)
{
	s3_upload *up = (s3_upload *)u;
	char key[KEY_MAX];
	status_t st;
	size_t tail = (size_t)(up->size - up->full_bytes);

	if (up->poison != ST_OK || up->committed)
		return up->poison;
	if (up->buf_loaded && !up->tail_stored && tail > 0) {
		/* the partial part, so a restart finds every byte acknowledged */
		part_key(up->bs, up->id, up->nparts + 1, key);
		if ((st = put_object(up->bs, key, up->buf, tail)) != ST_OK)
			return up->poison = st;
		up->tail_stored = true;
	}
	return ST_OK;
}

static void s3_upload_park(blob_upload *u)
{
	s3_upload *up = (s3_upload *)u;

	if (s3_upload_flush(u) != ST_OK)
		return;
	pthread_mutex_lock(&up->mu);
	free(up->buf);
	mem_give(up);
	up->buf = NULL;
	up->buf_cap = 0;
	up->buf_loaded = up->size == up->full_bytes;
	pthread_mutex_unlock(&up->mu);
}

static uint64_t s3_upload_size(const blob_upload *u)
{
	return ((const s3_upload *)u)->size;
}

static digest_alg s3_upload_alg(const blob_upload *u)
{
	return ((const s3_upload *)u)->alg;
}

static status_t s3_upload_remove(blobstore *b, const char *id);

/* Publishes the verified parts at key: nothing is visible there until the
 * copy or the multipart upload completes. */
static status_t publish(s3_upload *up, const char *key)
{
	s3_store *s = up->bs;
	unsigned nparts = up->nparts + (up->size > up->full_bytes ? 1 : 0), p;
	char pkey[KEY_MAX], upload_id[512] = "", *query = NULL, *xml = NULL;
	size_t xcap, xlen = 0;
	s3_response r;
	status_t st;

	if (nparts == 0)
		return put_object(s, key, "", 0);
	if (nparts == 1) {
		part_key(s, up->id, 1, pkey);
		return copy_object(s, pkey, key);
	}
	if ((st = s3_request(s->cl, "POST", key, "uploads", NULL, 0, NULL, 0, NULL, NULL, &r)) !=
	    ST_OK)
		return st;
	size_t pos = 0;
	if (!ok2xx(&r) || !s3_xml_next(r.body, &pos, "UploadId", upload_id, sizeof(upload_id))) {
		if ((st = answer_status("initiate multipart", key, &r)) == ST_NOT_FOUND)
			st = ST_IO;
		s3_response_clear(&r);
		return st;
	}
	s3_response_clear(&r);
	xcap = 200 + (size_t)nparts * 200;
	if ((xml = malloc(xcap)) == NULL || (query = malloc(strlen(upload_id) * 3 + 64)) == NULL) {
		st = ST_NOMEM;
		goto abort;
	}
	xlen = (size_t)snprintf(xml, xcap, "<CompleteMultipartUpload>");
	for (p = 1; p <= nparts; p++) {
		char hdr[KEY_MAX * 3 + 300], etag[256] = "", *esrc;
		const char *hdrs[1] = {hdr};
		part_key(s, up->id, p, pkey);
		if ((esrc = s3_encode(pkey, true)) == NULL) {
			st = ST_NOMEM;
			goto abort;
		}
		snprintf(hdr, sizeof(hdr), "x-amz-copy-source: /%s/%s", s->bucket, esrc);
		free(esrc);
		sprintf(query, "partNumber=%u&uploadId=%s", p, upload_id);
		if ((st = s3_request(s->cl, "PUT", key, query, hdrs, 1, NULL, 0, NULL, NULL, &r)) !=
		    ST_OK)
			goto abort;
		pos = 0;
		if (!ok2xx(&r) || !s3_xml_next(r.body, &pos, "ETag", etag, sizeof(etag))) {
			answer_status("copy part to", key, &r);
			s3_response_clear(&r);
			st = ST_IO;
			goto abort;
		}
		s3_response_clear(&r);
		xlen += (size_t)snprintf(xml + xlen, xcap - xlen,
					 "<Part><PartNumber>%u</PartNumber><ETag>%s</ETag></Part>",
					 p, etag);
	}
	xlen += (size_t)snprintf(xml + xlen, xcap - xlen, "</CompleteMultipartUpload>");
	sprintf(query, "uploadId=%s", upload_id);
	if ((st = s3_request(s->cl, "POST", key, query, NULL, 0, xml, xlen, NULL, NULL, &r)) !=
	    ST_OK)
		goto abort;
	if (!ok2xx(&r)) {
		answer_status("complete multipart", key, &r);
		s3_response_clear(&r);
		st = ST_IO;
		goto abort;
	}
	s3_response_clear(&r);
	free(xml);
	free(query);
	return ST_OK;
abort:
	/* nothing became visible; leave no multipart upload behind (the
	 * lifecycle's sweep aborts it if this fails too) */
	if (query != NULL) {
		sprintf(query, "uploadId=%s", upload_id);
		if (s3_request(s->cl, "DELETE", key, query, NULL, 0, NULL, 0, NULL, NULL, &r) ==
		    ST_OK)
			s3_response_clear(&r);
	}
	free(xml);
	free(query);
	return st;
}

static status_t s3_upload_commit(blobstore *b, blob_upload *u, const char *expected,
				 uint64_t *out_size)
{
	s3_store *s = (s3_store *)b;
	s3_upload *up = (s3_upload *)u;
	char key[KEY_MAX], got[DIGEST_MAX];
	digest_alg ealg;
	status_t st;

	if (up->committed)
		return ST_INVALID;
	if (digest_parse(expected, &ealg) != ST_OK || blob_key(s, expected, key) != ST_OK)
		return ST_INVALID;
	if (up->poison != ST_OK)
		return up->poison;
	if ((st = s3_upload_flush(u)) != ST_OK)
		return st;
	if (ealg == up->alg) {
		digest_ctx_final(up->hash, got);
	} else {
		/* another algorithm than the running hash: hash the parts again */
		digest_ctx *ctx;
		char pkey[KEY_MAX];
		unsigned nparts = up->nparts + (up->size > up->full_bytes ? 1 : 0);
		if ((st = digest_ctx_new(&ctx, ealg)) != ST_OK)
			return up->poison = st;
		for (unsigned p = 1; p <= nparts && st == ST_OK; p++) {
			part_key(s, up->id, p, pkey);
			st = hash_object(s, pkey, ctx, NULL);
		}
		digest_ctx_final(ctx, got);
		digest_ctx_free(ctx);
		if (st != ST_OK)
			return up->poison = (st == ST_NOT_FOUND ? ST_IO : st);
	}
	if (strcmp(got, expected) != 0) {
		s3_upload_remove(b, up->id);
		return up->poison = ST_DIGEST_MISMATCH;
	}
	if ((st = head(s, key, NULL)) == ST_NOT_FOUND)
		st = publish(up, key);
	if (st != ST_OK)
		return up->poison = st;
	/* readers read the blob from now on, before the parts go */
	pthread_mutex_lock(&up->mu);
	up->committed = true;
	snprintf(up->blob_key, sizeof(up->blob_key), "%s", key);
	pthread_mutex_unlock(&up->mu);
	s3_upload_remove(b, up->id); /* leftovers go with the lifecycle's sweep */
	if (out_size != NULL)
		*out_size = up->size;
	return ST_OK;
}

static void s3_upload_free(blob_upload *u)
{
	s3_upload *up = (s3_upload *)u;
	bool removed;

	pthread_mutex_lock(&up->mu);
	removed = up->removed;
	pthread_mutex_unlock(&up->mu);
	/* an upload that was written to since the last request's end: store
	 * its partial part so a resume finds it (as the filesystem's file);
	 * not one removed meanwhile, whose part would be left behind */
	if (!up->committed && !removed)
		s3_upload_flush(u);
	live_unlist(up);
	upload_release(up); /* its readers may still hold it */
}

static status_t s3_upload_open_read(blobstore *b, const char *id, blob_reader **out)
{
	s3_store *s = (s3_store *)b;
	s3_reader *rd;
	char key[KEY_MAX];
	status_t st;

	*out = NULL;
	if (!id_valid(id))
		return ST_INVALID;
	if ((rd = calloc(1, sizeof(*rd))) == NULL)
		return ST_NOMEM;
	/* a writer of ours: the reader sees its buffer too (live_read) */
	pthread_mutex_lock(&s->live_mu);
	for (s3_upload *up = s->live; up != NULL && rd->up == NULL; up = up->next)
		if (strcmp(up->id, id) == 0) {
			up->refs++;
			rd->up = up;
		}
	pthread_mutex_unlock(&s->live_mu);
	snprintf(key, sizeof(key), "%suploads/%s/begin", s->prefix, id);
	if (rd->up == NULL && (st = head(s, key, NULL)) != ST_OK) {
		free(rd);
		return st;
	}
	rd->base.rd_ops = &blobstore_s3_ops;
	rd->base.rd_fd = -1;
	rd->bs = s;
	snprintf(rd->id, sizeof(rd->id), "%s", id);
	*out = &rd->base;
	return ST_OK;
}

static status_t s3_upload_remove(blobstore *b, const char *id)
{
	s3_store *s = (s3_store *)b;
	char prefix[KEY_MAX];
	s3_entry *e = NULL;
	size_t n = 0;
	status_t st;

	if (!id_valid(id))
		return ST_INVALID;
	/* a writer of ours must not store its tail again when it is freed */
	pthread_mutex_lock(&s->live_mu);
	for (s3_upload *up = s->live; up != NULL; up = up->next)
		if (strcmp(up->id, id) == 0) {
			pthread_mutex_lock(&up->mu);
			up->removed = true;
			pthread_mutex_unlock(&up->mu);
		}
	pthread_mutex_unlock(&s->live_mu);
	snprintf(prefix, sizeof(prefix), "%suploads/%s/", s->prefix, id);
	if ((st = list_objects(s, prefix, &e, &n)) != ST_OK)
		return st;
	if (n == 0)
		st = ST_NOT_FOUND;
	/* parts first, the begin marker last: a crash half-way leaves a
	 * session the sweep still finds */
	for (size_t i = n; i-- > 0 && st == ST_OK;)
		if (strcmp(e[i].key + strlen(prefix), "begin") != 0)
			st = delete_object(s, e[i].key);
	if (st == ST_OK) {
		char key[KEY_MAX + 8];
		snprintf(key, sizeof(key), "%sbegin", prefix);
		st = delete_object(s, key);
	}
	free(e);
	return st;
}

/* Aborts multipart uploads of commits that never finished (a crash
 * between initiate and complete), started before `before`. */
static status_t abort_stale_multipart(s3_store *s, time_t before)
{
	char query[KEY_MAX + 64], block[4096];
	s3_response r;
	status_t st;

	snprintf(query, sizeof(query), "uploads&prefix=%sblobs/", s->prefix);
	if ((st = s3_request(s->cl, "GET", NULL, query, NULL, 0, NULL, 0, NULL, NULL, &r)) != ST_OK)
		return st;
	if (r.code != 200) {
		st = answer_status("list multipart uploads", s->prefix, &r) ? ST_IO : ST_IO;
		s3_response_clear(&r);
		return st;
	}
	size_t pos = 0;
	while (s3_xml_next(r.body, &pos, "Upload", block, sizeof(block))) {
		char key[KEY_MAX], uid[512], init[64], q2[600];
		size_t bp = 0, bp2 = 0, bp3 = 0;
		s3_response r2;
		if (!s3_xml_next(block, &bp, "Key", key, sizeof(key)) ||
		    !s3_xml_next(block, &bp2, "UploadId", uid, sizeof(uid)) ||
		    !s3_xml_next(block, &bp3, "Initiated", init, sizeof(init)))
			continue;
		if (parse_time(init) >= before)
			continue;
		snprintf(q2, sizeof(q2), "uploadId=%s", uid);
		if (s3_request(s->cl, "DELETE", key, q2, NULL, 0, NULL, 0, NULL, NULL, &r2) ==
		    ST_OK) {
			log_info("s3: aborted the abandoned multipart upload of %s", key);
			s3_response_clear(&r2);
		}
	}
	s3_response_clear(&r);
	return ST_OK;
}

static status_t s3_upload_list_stale(blobstore *b, time_t before,
				     void (*fn)(void *arg, const char *id), void *arg)
{
	s3_store *s = (s3_store *)b;
	char prefix[KEY_MAX];
	s3_entry *e = NULL;
	size_t n = 0, i = 0;
	status_t st;

	snprintf(prefix, sizeof(prefix), "%suploads/", s->prefix);
	if ((st = list_objects(s, prefix, &e, &n)) != ST_OK)
		return st;
	/* keys of one id are next to each other: the newest write of each */
	while (i < n) {
		char id[KEY_MAX];
		const char *rest = e[i].key + strlen(prefix);
		size_t idl = strcspn(rest, "/");
		time_t newest = 0;
		snprintf(id, sizeof(id), "%.*s", (int)idl, rest);
		for (; i < n && strncmp(e[i].key + strlen(prefix), id, idl) == 0 &&
		       e[i].key[strlen(prefix) + idl] == '/';
		     i++)
			if (e[i].mtime > newest)
				newest = e[i].mtime;
		if (id_valid(id) && newest < before)
			fn(arg, id);
		if (idl == 0)
			i++;
	}
	free(e);
	abort_stale_multipart(s, before);
	return ST_OK;
}

static status_t s3_backup(blobstore *b, const char *digest, blobstore *dst, bool *out_linked)
{
	static bool said;

	if (!said) {
		said = true;
		log_error("s3: `registry backup` copies a filesystem store; with storage = s3, "
			  "back the bucket up with the object store's own tools (replication, "
			  "versioning, rclone)");
	}
	return ST_UNSUPPORTED;
}

static status_t s3_list(blobstore *b,
			int (*fn)(void *arg, const char *digest, uint64_t size, time_t mtime),
			void *arg)
{
	s3_store *s = (s3_store *)b;
	char prefix[KEY_MAX];
	s3_entry *e = NULL;
	size_t n = 0;
	status_t st;

	snprintf(prefix, sizeof(prefix), "%sblobs/", s->prefix);
	if ((st = list_objects(s, prefix, &e, &n)) != ST_OK)
		return st;
	for (size_t i = 0; i < n; i++) {
		char digest[DIGEST_MAX + 8];
		const char *rest = e[i].key + strlen(prefix), *slash = strchr(rest, '/');
		if (slash == NULL || strlen(rest) >= sizeof(digest))
			continue;
		snprintf(digest, sizeof(digest), "%.*s:%s", (int)(slash - rest), rest, slash + 1);
		if (digest_parse(digest, NULL) != ST_OK)
			continue; /* none of ours */
		if (fn(arg, digest, e[i].size, e[i].mtime) != 0)
			break;
	}
	free(e);
	return ST_OK;
}

static status_t s3_redirect_url(blobstore *b, const char *digest, char **out)
{
	s3_store *s = (s3_store *)b;
	char key[KEY_MAX];

	*out = NULL;
	if (!s->redirect)
		return ST_UNSUPPORTED;
	if (blob_key(s, digest, key) != ST_OK)
		return ST_INVALID;
	return s3_presign_get(s->cl, key, REDIRECT_SEC, out);
}

const blobstore_ops blobstore_s3_ops = {
    .name = "s3",
    .open = s3_open,
    .close = s3_close,
    .stat = s3_stat,
    .read_open = s3_read_open,
    .put = s3_put,
    .remove = s3_remove,
    .quarantine = s3_quarantine,
    .upload_begin = s3_upload_begin,
    .upload_resume = s3_upload_resume,
    .upload_write = s3_upload_write,
    .upload_stage = s3_upload_stage,
    .upload_flush = s3_upload_flush,
    .upload_park = s3_upload_park,
    .upload_size = s3_upload_size,
    .upload_alg = s3_upload_alg,
    .upload_commit = s3_upload_commit,
    .upload_free = s3_upload_free,
    .upload_open_read = s3_upload_open_read,
    .upload_remove = s3_upload_remove,
    .upload_list_stale = s3_upload_list_stale,
    .reader_read = s3_reader_read,
    .reader_close = s3_reader_close,
    .backup = s3_backup,
    .list = s3_list,
    .redirect_url = s3_redirect_url,
};
