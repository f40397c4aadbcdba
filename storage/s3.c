/*
 * s3.c - a small S3 client: SigV4 signing, a pool of curl handles, retries
 * (s3.h).
 */
#include "s3.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../common/curl_load.h"
#include "../common/log.h"

#define POOL_MAX 16
#define RETRIES 4
#define BODY_MAX (16u << 20)

struct s3_client {
	char *scheme_host; /* http://host:port for requests */
	char *host;	   /* the Host header (bucket.host for virtual-host style) */
	char *bucket;
	char *region;
	char *access_key;
	char *secret_key;
	char *ca;
	bool path_style;
	pthread_mutex_t lock;
	CURL *pool[POOL_MAX]; /* idle handles: each keeps its connection open */
	int npool;
};

static char *dupz(const char *s)
{
	return strdup(s != NULL ? s : "");
}

status_t s3_client_new(s3_client **out, const s3_config *cfg)
{
	s3_client *cl;
	const char *p;

	*out = NULL;
	if (curl_load() != ST_OK || libcurl.global_init(CURL_GLOBAL_DEFAULT) != 0)
		return ST_IO;
	if (cfg->endpoint == NULL || (strncmp(cfg->endpoint, "http://", 7) != 0 &&
				      strncmp(cfg->endpoint, "https://", 8) != 0)) {
		log_error("s3: s3_endpoint must start with http:// or https://");
		return ST_INVALID;
	}
	if ((cl = calloc(1, sizeof(*cl))) == NULL)
		return ST_NOMEM;
	p = strstr(cfg->endpoint, "://") + 3;
	size_t hl = strcspn(p, "/");
	cl->bucket = dupz(cfg->bucket);
	cl->region =
	    dupz(cfg->region != NULL && cfg->region[0] != '\0' ? cfg->region : "us-east-1");
	cl->access_key = dupz(cfg->access_key);
	cl->secret_key = dupz(cfg->secret_key);
	cl->ca = cfg->ca != NULL && cfg->ca[0] != '\0' ? strdup(cfg->ca) : NULL;
	cl->path_style = cfg->path_style;
	size_t n = strlen(cfg->endpoint) + strlen(cl->bucket) + 8;
	cl->scheme_host = malloc(n);
	cl->host = malloc(n);
	if (cl->scheme_host == NULL || cl->host == NULL || cl->bucket == NULL ||
	    cl->region == NULL || cl->access_key == NULL || cl->secret_key == NULL) {
		s3_client_free(cl);
		return ST_NOMEM;
	}
	if (cl->path_style) {
		snprintf(cl->host, n, "%.*s", (int)hl, p);
		snprintf(cl->scheme_host, n, "%.*s", (int)(p - cfg->endpoint + hl), cfg->endpoint);
	} else {
		snprintf(cl->host, n, "%s.%.*s", cl->bucket, (int)hl, p);
		snprintf(cl->scheme_host, n, "%.*s%s", (int)(p - cfg->endpoint), cfg->endpoint,
			 cl->host);
	}
	pthread_mutex_init(&cl->lock, NULL);
	*out = cl;
	return ST_OK;
}

void s3_client_free(s3_client *cl)
{
	if (cl == NULL)
		return;
	for (int i = 0; i < cl->npool; i++)
		libcurl.easy_cleanup(cl->pool[i]);
	if (cl->scheme_host != NULL)
		pthread_mutex_destroy(&cl->lock);
	free(cl->scheme_host);
	free(cl->host);
	free(cl->bucket);
	free(cl->region);
	free(cl->access_key);
	free(cl->secret_key);
	free(cl->ca);
	free(cl);
}

static CURL *handle_get(s3_client *cl)
{
	CURL *h = NULL;

	pthread_mutex_lock(&cl->lock);
	if (cl->npool > 0)
		h = cl->pool[--cl->npool];
	pthread_mutex_unlock(&cl->lock);
	if (h == NULL)
		h = libcurl.easy_init();
	else
		libcurl.easy_reset(h); /* keeps its connection */
	return h;
}

static void handle_put(s3_client *cl, CURL *h)
{
	pthread_mutex_lock(&cl->lock);
	if (cl->npool < POOL_MAX) {
		cl->pool[cl->npool++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&cl->lock);
	if (h != NULL)
		libcurl.easy_cleanup(h);
}

char *s3_encode(const char *s, bool keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = malloc(strlen(s) * 3 + 1), *o = out;

	if (out == NULL)
		return NULL;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~' ||
		    (keep_slash && *p == '/')) {
			*o++ = (char)*p;
		} else {
			*o++ = '%';
			*o++ = hex[*p >> 4];
			*o++ = hex[*p & 15];
		}
	}
	*o = '\0';
	return out;
}

static void to_hex(const unsigned char *d, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

static void sha256_hex(const void *buf, size_t len, char out[65])
{
	unsigned char d[32];
	unsigned int dl = 0;

	EVP_Digest(buf, len, d, &dl, EVP_sha256(), NULL);
	to_hex(d, 32, out);
}

static void hmac(const void *key, size_t klen, const char *msg, unsigned char out[32])
{
	unsigned int ol = 32;

	HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, strlen(msg), out, &ol);
}

/* The signature of string_to_sign for date (YYYYMMDD), as hex into sig. */
static void sign(const s3_client *cl, const char *date, const char *sts, char sig[65])
{
	unsigned char k[32];
	char *secret = malloc(strlen(cl->secret_key) + 5);

	if (secret == NULL) {
		sig[0] = '\0';
		return;
	}
	sprintf(secret, "AWS4%s", cl->secret_key);
	hmac(secret, strlen(secret), date, k);
	free(secret);
	hmac(k, 32, cl->region, k);
	hmac(k, 32, "s3", k);
	hmac(k, 32, "aws4_request", k);
	hmac(k, 32, sts, k);
	to_hex(k, 32, sig);
}

/* Canonical query: parameters split on '&', each key and value encoded,
 * sorted; a valueless parameter is "key=". malloc'd. */
static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *canon_query(const char *query)
{
	char *q, *save = NULL, *parts[32], *out;
	size_t n = 0, total = 1;

	if (query == NULL || *query == '\0')
		return strdup("");
	if ((q = strdup(query)) == NULL)
		return NULL;
	for (char *t = strtok_r(q, "&", &save); t != NULL && n < 32;
	     t = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(t, '=');
		if (eq != NULL)
			*eq = '\0';
		char *k = s3_encode(t, false), *v = s3_encode(eq != NULL ? eq + 1 : "", false);
		if (k == NULL || v == NULL) {
			free(k);
			free(v);
			break;
		}
		parts[n] = malloc(strlen(k) + strlen(v) + 2);
		if (parts[n] != NULL) {
			sprintf(parts[n], "%s=%s", k, v);
			total += strlen(parts[n]) + 1;
			n++;
		}
		free(k);
		free(v);
	}
	free(q);
	qsort(parts, n, sizeof(parts[0]), cmp_str);
	if ((out = malloc(total)) != NULL) {
		out[0] = '\0';
		for (size_t i = 0; i < n; i++) {
			if (i > 0)
				strcat(out, "&");
			strcat(out, parts[i]);
		}
	}
	for (size_t i = 0; i < n; i++)
		free(parts[i]);
	return out;
}

/* The request's path: /bucket/key (path style) or /key, encoded. */
static char *canon_path(const s3_client *cl, const char *key)
{
	char *ek = s3_encode(key != NULL ? key : "", true), *out;

	if (ek == NULL)
		return NULL;
	out = malloc(strlen(ek) + strlen(cl->bucket) + 3);
	if (out != NULL) {
		if (cl->path_style)
			sprintf(out, "/%s%s%s", cl->bucket, key != NULL ? "/" : "", ek);
		else
			sprintf(out, "/%s", ek);
	}
	free(ek);
	return out;
}

struct resp_ctx {
	s3_response *resp;
	size_t (*sink)(void *, const char *, size_t);
	void *sink_arg;
	bool sunk; /* the sink got bytes: no retry */
};

static size_t on_body(char *buf, size_t sz, size_t nm, void *arg)
{
	struct resp_ctx *c = arg;
	size_t n = sz * nm;
	long code = 0;

	code = c->resp->code;
	if (c->sink != NULL && code >= 200 && code < 300) {
		c->sunk = true;
		return c->sink(c->sink_arg, buf, n);
	}
	if (c->resp->body_len + n > BODY_MAX)
		return 0;
	char *nb = realloc(c->resp->body, c->resp->body_len + n + 1);
	if (nb == NULL)
		return 0;
	memcpy(nb + c->resp->body_len, buf, n);
	c->resp->body = nb;
	c->resp->body_len += n;
	nb[c->resp->body_len] = '\0';
	return n;
}

static size_t on_header(char *buf, size_t sz, size_t nm, void *arg)
{
	struct resp_ctx *c = arg;
	size_t n = sz * nm;
	char line[512];

	if (n >= sizeof(line))
		return n;
	memcpy(line, buf, n);
	line[n] = '\0';
	line[strcspn(line, "\r\n")] = '\0';
	if (strncmp(line, "HTTP/", 5) == 0) {
		/* a new response (after 100 Continue, or a redirect): reset */
		const char *sp = strchr(line, ' ');
		c->resp->code = sp != NULL ? strtol(sp + 1, NULL, 10) : 0;
		c->resp->has_length = false;
		c->resp->etag[0] = '\0';
	} else if (strncasecmp(line, "etag:", 5) == 0) {
		const char *v = line + 5;
		while (*v == ' ')
			v++;
		snprintf(c->resp->etag, sizeof(c->resp->etag), "%.127s", v);
	} else if (strncasecmp(line, "content-length:", 15) == 0) {
		c->resp->content_length = strtoull(line + 15, NULL, 10);
		c->resp->has_length = true;
	} else if (strncasecmp(line, "last-modified:", 14) == 0) {
		const char *v = line + 14;
		while (*v == ' ')
			v++;
		snprintf(c->resp->last_modified, sizeof(c->resp->last_modified), "%.63s", v);
	}
	return n;
}

struct body_src {
	const char *p;
	size_t left;
};

static size_t on_read(char *buf, size_t sz, size_t nm, void *arg)
{
	struct body_src *b = arg;
	size_t n = sz * nm < b->left ? sz * nm : b->left;

	memcpy(buf, b->p, n);
	b->p += n;
	b->left -= n;
	return n;
}

void s3_response_clear(s3_response *resp)
{
	free(resp->body);
	memset(resp, 0, sizeof(*resp));
}

/* One attempt. ST_OK with an answer in resp, or ST_IO. */
static status_t attempt(s3_client *cl, CURL *h, const char *method, const char *key,
			const char *query, const char *const *headers, size_t nheaders,
			const void *body, size_t body_len, struct resp_ctx *rc)
{
	char amzdate[17], date[9], phash[65], hashcr[65], sig[65];
	char *path = NULL, *cq = NULL, *url = NULL, *creq = NULL, *sts = NULL, *auth = NULL;
	char signed_names[512] = "host;x-amz-content-sha256;x-amz-date", canon_hdrs[4096];
	struct curl_slist *hl = NULL;
	struct body_src src = {body, body_len};
	status_t st = ST_NOMEM;
	time_t now = time(NULL);
	struct tm tm;
	CURLcode cc;

	gmtime_r(&now, &tm);
	strftime(amzdate, sizeof(amzdate), "%Y%m%dT%H%M%SZ", &tm);
	strftime(date, sizeof(date), "%Y%m%d", &tm);
	/* Bodies here are small XML or parts already in memory; over plain
	 * http RGW verifies the hash, so send the real one for small bodies
	 * and UNSIGNED-PAYLOAD for parts (hashing 16 MiB twice costs). */
	if (body_len <= 65536)
		sha256_hex(body != NULL ? body : "", body_len, phash);
	else
		strcpy(phash, "UNSIGNED-PAYLOAD");
	if ((path = canon_path(cl, key)) == NULL || (cq = canon_query(query)) == NULL)
		goto done;
	/* the signed headers, sorted by name: host, x-amz-* (callers pass
	 * x-amz- names in lower case) */
	{
		char sh[8][600];
		size_t nsh = 0;
		snprintf(sh[nsh++], sizeof(sh[0]), "host:%s", cl->host);
		snprintf(sh[nsh++], sizeof(sh[0]), "x-amz-content-sha256:%s", phash);
		snprintf(sh[nsh++], sizeof(sh[0]), "x-amz-date:%s", amzdate);
		for (size_t i = 0; i < nheaders && nsh < 8; i++) {
			const char *colon = strchr(headers[i], ':');
			if (strncasecmp(headers[i], "x-amz-", 6) != 0 || colon == NULL)
				continue;
			const char *v = colon + 1;
			while (*v == ' ')
				v++;
			snprintf(sh[nsh++], sizeof(sh[0]), "%.*s:%.500s", (int)(colon - headers[i]),
				 headers[i], v);
		}
		char *ptrs[8];
		for (size_t i = 0; i < nsh; i++)
			ptrs[i] = sh[i];
		qsort(ptrs, nsh, sizeof(ptrs[0]), cmp_str);
		canon_hdrs[0] = '\0';
		signed_names[0] = '\0';
		for (size_t i = 0; i < nsh; i++) {
			size_t cl0 = strlen(canon_hdrs), sl = strlen(signed_names);
			snprintf(canon_hdrs + cl0, sizeof(canon_hdrs) - cl0, "%s\n", ptrs[i]);
			snprintf(signed_names + sl, sizeof(signed_names) - sl, "%s%.*s",
				 i > 0 ? ";" : "", (int)strcspn(ptrs[i], ":"), ptrs[i]);
		}
	}
	size_t n = strlen(method) + strlen(path) + strlen(cq) + strlen(canon_hdrs) +
		   strlen(signed_names) + 80;
	if ((creq = malloc(n)) == NULL)
		goto done;
	snprintf(creq, n, "%s\n%s\n%s\n%s\n%s\n%s", method, path, cq, canon_hdrs, signed_names,
		 phash);
	sha256_hex(creq, strlen(creq), hashcr);
	n = strlen(cl->region) + 200;
	if ((sts = malloc(n)) == NULL)
		goto done;
	snprintf(sts, n, "AWS4-HMAC-SHA256\n%s\n%s/%s/s3/aws4_request\n%s", amzdate, date,
		 cl->region, hashcr);
	sign(cl, date, sts, sig);
	n = strlen(cl->access_key) + strlen(cl->region) + strlen(signed_names) + 200;
	if ((auth = malloc(n)) == NULL)
		goto done;
	snprintf(auth, n,
		 "Authorization: AWS4-HMAC-SHA256 Credential=%s/%s/%s/s3/aws4_request, "
		 "SignedHeaders=%s, Signature=%s",
		 cl->access_key, date, cl->region, signed_names, sig);
	n = strlen(cl->scheme_host) + strlen(path) + strlen(cq) + 4;
	if ((url = malloc(n)) == NULL)
		goto done;
	/* path style: the path begins with /bucket, already in it */
	snprintf(url, n, "%s%s%s%s", cl->scheme_host, path, cq[0] ? "?" : "", cq);

	char hb[2][200];
	snprintf(hb[0], sizeof(hb[0]), "x-amz-date: %s", amzdate);
	snprintf(hb[1], sizeof(hb[1]), "x-amz-content-sha256: %s", phash);
	hl = libcurl.slist_append(hl, hb[0]);
	hl = libcurl.slist_append(hl, hb[1]);
	hl = libcurl.slist_append(hl, auth);
	hl = libcurl.slist_append(hl, "Expect:"); /* no 100-continue round trip */
	for (size_t i = 0; i < nheaders; i++)
		hl = libcurl.slist_append(hl, headers[i]);
	if (hl == NULL)
		goto done;
	if (!cl->path_style) {
		/* curl sends Host from the URL; it already is bucket.host */
	}
	libcurl.easy_setopt(h, CURLOPT_URL, url);
	libcurl.easy_setopt(h, CURLOPT_HTTPHEADER, hl);
	libcurl.easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	libcurl.easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
	/* a stalled transfer (under 1 byte/s for 30 s) ends, a slow one does not */
	libcurl.easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	libcurl.easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 30L);
	if (cl->ca != NULL)
		libcurl.easy_setopt(h, CURLOPT_CAINFO, cl->ca);
	libcurl.easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	libcurl.easy_setopt(h, CURLOPT_WRITEDATA, rc);
	libcurl.easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	libcurl.easy_setopt(h, CURLOPT_HEADERDATA, rc);
	if (strcmp(method, "HEAD") == 0) {
		libcurl.easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else if (strcmp(method, "PUT") == 0) {
		libcurl.easy_setopt(h, CURLOPT_UPLOAD, 1L);
		libcurl.easy_setopt(h, CURLOPT_READFUNCTION, on_read);
		libcurl.easy_setopt(h, CURLOPT_READDATA, &src);
		libcurl.easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)body_len);
	} else if (strcmp(method, "POST") == 0) {
		libcurl.easy_setopt(h, CURLOPT_POST, 1L);
		libcurl.easy_setopt(h, CURLOPT_POSTFIELDS, body != NULL ? body : "");
		libcurl.easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
	} else if (strcmp(method, "GET") != 0) {
		libcurl.easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	}
	cc = libcurl.easy_perform(h);
	if (cc != CURLE_OK && !(cc == CURLE_WRITE_ERROR && rc->sunk)) {
		log_warn("s3: %s %s: %s", method, key != NULL ? key : "(bucket)",
			 libcurl.easy_strerror(cc));
		st = ST_IO;
		goto done;
	}
	libcurl.easy_getinfo(h, CURLINFO_RESPONSE_CODE, &rc->resp->code);
	st = ST_OK;
done:
	libcurl.slist_free_all(hl);
	free(path);
	free(cq);
	free(url);
	free(creq);
	free(sts);
	free(auth);
	return st;
}

status_t s3_request(s3_client *cl, const char *method, const char *key, const char *query,
		    const char *const *headers, size_t nheaders, const void *body, size_t body_len,
		    size_t (*sink)(void *arg, const char *buf, size_t n), void *sink_arg,
		    s3_response *resp)
{
	struct resp_ctx rc = {resp, sink, sink_arg, false};
	status_t st = ST_IO;
	useconds_t backoff = 100000;

	memset(resp, 0, sizeof(*resp));
	for (int i = 0; i <= RETRIES; i++) {
		CURL *h = handle_get(cl);
		if (h == NULL)
			return ST_NOMEM;
		s3_response_clear(resp);
		st = attempt(cl, h, method, key, query, headers, nheaders, body, body_len, &rc);
		if (st == ST_OK)
			handle_put(cl, h);
		else
			libcurl.easy_cleanup(h); /* its connection may be broken */
		bool again = st == ST_IO || (st == ST_OK && resp->code >= 500) ||
			     (st == ST_OK && resp->body != NULL && strstr(resp->body, "SlowDown"));
		if (!again || rc.sunk || st == ST_NOMEM || i == RETRIES)
			break;
		usleep(backoff);
		backoff *= 3;
	}
	/* no answer even after the retries: the store is out of reach, which
	 * a client should hear as "come back later" (503), not as a fault */
	return st == ST_IO ? ST_UNAVAILABLE : st;
}

status_t s3_presign_get(s3_client *cl, const char *key, unsigned expires_sec, char **out)
{
	return s3_presign_get_at(cl, key, expires_sec, time(NULL), out);
}

status_t s3_presign_get_at(s3_client *cl, const char *key, unsigned expires_sec, time_t now,
			   char **out)
{
	char amzdate[17], date[9], hashcr[65], sig[65], *path, *cq = NULL, *creq = NULL;
	char query[1024], sts[512];
	struct tm tm;
	status_t st = ST_NOMEM;

	*out = NULL;
	gmtime_r(&now, &tm);
	strftime(amzdate, sizeof(amzdate), "%Y%m%dT%H%M%SZ", &tm);
	strftime(date, sizeof(date), "%Y%m%d", &tm);
	snprintf(query, sizeof(query),
		 "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=%s/%s/%s/s3/aws4_request&"
		 "X-Amz-Date=%s&X-Amz-Expires=%u&X-Amz-SignedHeaders=host",
		 cl->access_key, date, cl->region, amzdate, expires_sec);
	if ((path = canon_path(cl, key)) == NULL || (cq = canon_query(query)) == NULL)
		goto done;
	size_t n = strlen(path) + strlen(cq) + strlen(cl->host) + 100;
	if ((creq = malloc(n)) == NULL)
		goto done;
	snprintf(creq, n, "GET\n%s\n%s\nhost:%s\n\nhost\nUNSIGNED-PAYLOAD", path, cq, cl->host);
	sha256_hex(creq, strlen(creq), hashcr);
	snprintf(sts, sizeof(sts), "AWS4-HMAC-SHA256\n%s\n%s/%s/s3/aws4_request\n%s", amzdate, date,
		 cl->region, hashcr);
	sign(cl, date, sts, sig);
	n = strlen(cl->scheme_host) + strlen(path) + strlen(cq) + 100;
	if ((*out = malloc(n)) == NULL)
		goto done;
	snprintf(*out, n, "%s%s?%s&X-Amz-Signature=%s", cl->scheme_host, path, cq, sig);
	st = ST_OK;
done:
	free(path);
	free(cq);
	free(creq);
	return st;
}

bool s3_xml_next(const char *xml, size_t *pos, const char *tag, char *out, size_t outlen)
{
	char open[80], close[80];
	const char *a, *b;
	size_t o = 0;

	if (xml == NULL)
		return false;
	snprintf(open, sizeof(open), "<%s>", tag);
	snprintf(close, sizeof(close), "</%s>", tag);
	if ((a = strstr(xml + *pos, open)) == NULL)
		return false;
	a += strlen(open);
	if ((b = strstr(a, close)) == NULL)
		return false;
	for (const char *p = a; p < b && o + 1 < outlen; p++) {
		static const struct {
			const char *ent;
			char c;
		} ents[] = {{"&amp;", '&'},
			    {"&lt;", '<'},
			    {"&gt;", '>'},
			    {"&quot;", '"'},
			    {"&apos;", '\''}};
		char c = *p;
		for (size_t i = 0; c == '&' && i < sizeof(ents) / sizeof(ents[0]); i++)
			if (strncmp(p, ents[i].ent, strlen(ents[i].ent)) == 0) {
				c = ents[i].c;
				p += strlen(ents[i].ent) - 1;
				break;
			}
		out[o++] = c;
	}
	out[o] = '\0';
	*pos = (size_t)(b - xml) + strlen(close);
	return true;
}
