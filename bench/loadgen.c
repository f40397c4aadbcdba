/*
 * loadgen.c - the benchmark's HTTP/1.1 client, for the workloads wrk does
 * not cover: blob pushes the way registry clients make them (POST, one
 * streamed PATCH with chunked encoding, PUT ?digest=), pulls, many small
 * requests over keep-alive connections (seeding tags and repositories), the
 * latency of one request repeated, and the time from exec to the first
 * answered request.
 *
 *   loadgen push BASE REPO FILE...          one thread per FILE, in parallel
 *   loadgen put BASE PREFIX FILE...         same, as one chunked PUT (nginx's DAV)
 *   loadgen pull BASE PATH COUNT            COUNT GETs over one connection
 *   loadgen reqs BASE METHOD PATH CONNS FIRST COUNT MAXSEC [BODYFILE [HEADER]]
 *   loadgen lat BASE PATH MAXN MAXSEC [HEADER]
 *   loadgen stamp FILE CMD [ARGS...]        writes the time, then execs CMD
 *   loadgen waitup BASE STAMPFILE           polls GET /v2/ until it answers
 *   loadgen digest FILE                     "sha256:<hex>" of FILE
 *
 * BASE is http://HOST:PORT (IPv4 literal). In PATH, "{i}" stands for the
 * request's index as six digits; a PATH of "@FILE" takes request i's path
 * from line FIRST + i of FILE instead. Each command prints one line of
 * space-separated figures on stdout; any unexpected status or short body
 * is an error (exit 1), so a figure is never printed for failed requests.
 * The client is plain blocking sockets: it is cheap next to the servers it
 * measures, and its work is identical for all of them.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#define RBUF_BYTES (64 * 1024)	    /* a connection's receive buffer */
#define SINK_BYTES (1024 * 1024)    /* reads of bodies we discard */
#define CHUNK_BYTES (32 * 1024)	    /* PATCH chunk size: what Go clients send */
#define HEAD_MAX (16 * 1024)	    /* longest response head */
#define PATH_MAX_LEN 2048	    /* longest request path */
#define BODY_KEEP_MAX (1024 * 1024) /* response bodies kept for the caller */
#define MAX_THREADS 64
#define WAITUP_TIMEOUT_SEC 30
#define WAITUP_POLL_NS 200000L /* 0.2 ms between connection attempts */

static struct sockaddr_in g_addr;
static char g_hostport[96];

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "loadgen: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

static double now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Reads BASE ("http://A.B.C.D:PORT") into g_addr. */
static void base_parse(const char *base)
{
	char host[64];
	unsigned port;

	if (sscanf(base, "http://%63[0-9.]:%u", host, &port) != 2 || port == 0 || port > 65535)
		die("BASE must be http://A.B.C.D:PORT, not %s", base);
	memset(&g_addr, 0, sizeof(g_addr));
	g_addr.sin_family = AF_INET;
	g_addr.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &g_addr.sin_addr) != 1)
		die("bad address %s", host);
	snprintf(g_hostport, sizeof(g_hostport), "%s:%u", host, port);
}

/* ---- connections ---- */

typedef struct {
	int fd;
	char buf[RBUF_BYTES];
	size_t off, len; /* unread bytes are buf[off, off + len) */
} conn;

/* Connects to g_addr: 0, or -1 with errno (the caller decides). */
static int conn_open(conn *c)
{
	int one = 1;

	c->off = c->len = 0;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (struct sockaddr *)&g_addr, sizeof(g_addr)) != 0) {
		int e = errno;
		close(c->fd);
		c->fd = -1;
		errno = e;
		return -1;
	}
	return 0;
}

static void conn_open_or_die(conn *c)
{
	if (conn_open(c) != 0)
		die("connect %s: %s", g_hostport, strerror(errno));
}

static void conn_close(conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

static void send_iov(conn *c, struct iovec *iov, int n)
{
	while (n > 0) {
		ssize_t w = writev(c->fd, iov, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			die("send: %s", strerror(errno));
		}
		while (n > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
}

static void send_all(conn *c, const void *p, size_t len)
{
	struct iovec iov = {(void *)p, len};

	send_iov(c, &iov, 1);
}

/* Refills c->buf when empty: bytes available, 0 at EOF. */
static size_t conn_fill(conn *c)
{
	ssize_t r;

	if (c->len > 0)
		return c->len;
	do
		r = recv(c->fd, c->buf, sizeof(c->buf), 0);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		die("recv: %s", strerror(errno));
	c->off = 0;
	c->len = (size_t)r;
	return c->len;
}

/* One line (without CRLF) into out; dies on EOF or an overlong line. */
static void read_line(conn *c, char *out, size_t max)
{
	size_t n = 0;

	for (;;) {
		if (conn_fill(c) == 0)
			die("connection closed inside a response head");
		char ch = c->buf[c->off++];
		c->len--;
		if (ch == '\n')
			break;
		if (n + 1 >= max)
			die("response line too long");
		out[n++] = ch;
	}
	if (n > 0 && out[n - 1] == '\r')
		n--;
	out[n] = '\0';
}

/* Reads len body bytes, into keep (up to keep_max) or nowhere. */
static void read_body_bytes(conn *c, uint64_t len, char *keep, size_t *kept, size_t keep_max)
{
	static __thread char *sink;

	while (len > 0) {
		size_t n;
		if (c->len > 0) {
			n = c->len < len ? c->len : (size_t)len;
			if (keep && *kept + n <= keep_max) {
				memcpy(keep + *kept, c->buf + c->off, n);
				*kept += n;
			}
			c->off += n;
			c->len -= n;
		} else if (len >= RBUF_BYTES && keep == NULL) {
			/* Large bodies skip the buffer: straight from the socket. */
			if (sink == NULL && (sink = malloc(SINK_BYTES)) == NULL)
				die("out of memory");
			ssize_t r =
			    recv(c->fd, sink, len < SINK_BYTES ? (size_t)len : SINK_BYTES, 0);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				die("connection closed inside a body (%llu bytes left)",
				    (unsigned long long)len);
			n = (size_t)r;
		} else {
			if (conn_fill(c) == 0)
				die("connection closed inside a body");
			continue;
		}
		len -= n;
	}
}

typedef struct {
	int status;
	uint64_t body_len;
	char location[PATH_MAX_LEN];
	char body[1024]; /* the start of a kept body, for error messages */
	bool close;
} response;

/*
 * Reads one response. head_only: a reply to HEAD (no body). The body is
 * counted and dropped, but its first bytes are kept in r->body.
 */
static void read_response(conn *c, response *r, bool head_only)
{
	char line[HEAD_MAX];
	int64_t clen = -1;
	bool chunked = false;
	size_t kept = 0;

	memset(r, 0, sizeof(*r));
	do {
		read_line(c, line, sizeof(line));
		if (sscanf(line, "HTTP/1.%*d %d", &r->status) != 1)
			die("bad status line: %s", line);
		for (;;) {
			read_line(c, line, sizeof(line));
			if (line[0] == '\0')
				break;
			char *v = strchr(line, ':');
			if (v == NULL)
				continue;
			*v++ = '\0';
			while (*v == ' ' || *v == '\t')
				v++;
			if (strcasecmp(line, "Content-Length") == 0)
				clen = strtoll(v, NULL, 10);
			else if (strcasecmp(line, "Transfer-Encoding") == 0)
				chunked = strcasestr(v, "chunked") != NULL;
			else if (strcasecmp(line, "Connection") == 0)
				r->close = strcasestr(v, "close") != NULL;
			else if (strcasecmp(line, "Location") == 0)
				snprintf(r->location, sizeof(r->location), "%s", v);
		}
	} while (r->status >= 100 && r->status < 200);

	if (head_only || r->status == 204 || r->status == 304)
		return;
	if (chunked) {
		for (;;) {
			read_line(c, line, sizeof(line));
			uint64_t n = strtoull(line, NULL, 16);
			if (n == 0)
				break;
			read_body_bytes(c, n, r->body, &kept, sizeof(r->body) - 1);
			r->body_len += n;
			read_line(c, line, sizeof(line));
		}
		do /* trailers */
			read_line(c, line, sizeof(line));
		while (line[0] != '\0');
	} else if (clen >= 0) {
		read_body_bytes(c, (uint64_t)clen, r->body, &kept, sizeof(r->body) - 1);
		r->body_len = (uint64_t)clen;
	} else {
		r->close = true;
		while (conn_fill(c) > 0) {
			r->body_len += c->len;
			c->len = 0;
		}
	}
	r->body[kept] = '\0';
}

/* Sends a request head; extra is more header lines (each ending CRLF) or "". */
static void send_head(conn *c, const char *method, const char *path, const char *extra)
{
	char head[HEAD_MAX];
	int n = snprintf(head, sizeof(head),
			 "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: loadgen\r\n%s\r\n", method,
			 path, g_hostport, extra);

	if (n < 0 || (size_t)n >= sizeof(head))
		die("request head too long");
	send_all(c, head, (size_t)n);
}

/* A Location header value as a path: absolute URLs lose scheme and host. */
static void location_path(char *out, size_t max, const char *loc)
{
	if (strncmp(loc, "http://", 7) == 0 || strncmp(loc, "https://", 8) == 0) {
		const char *p = strchr(strstr(loc, "//") + 2, '/');
		loc = p ? p : "/";
	}
	if (loc[0] == '\0')
		die("response without a Location");
	snprintf(out, max, "%s", loc);
}

static void expect_status(const response *r, int want, const char *what)
{
	if (r->status != want)
		die("%s: status %d, expected %d: %s", what, r->status, want, r->body);
}

/* Sends size bytes of p as a chunked body, CHUNK_BYTES per chunk. */
static void send_chunked(conn *c, const char *p, size_t size)
{
	char hdr[32];

	for (size_t off = 0; off < size; off += CHUNK_BYTES) {
		size_t n = size - off < CHUNK_BYTES ? size - off : CHUNK_BYTES;
		int hl = snprintf(hdr, sizeof(hdr), "%zx\r\n", n);
		struct iovec iov[3] = {
		    {hdr, (size_t)hl}, {(void *)(p + off), n}, {(void *)"\r\n", 2}};
		send_iov(c, iov, 3);
	}
	send_all(c, "0\r\n\r\n", 5);
}

/* ---- files and digests ---- */

typedef struct {
	const char *path;
	const char *data; /* mmap of the whole file */
	size_t size;
	char digest[80];
} blob;

static void blob_map(blob *b)
{
	struct stat sb;
	int fd = open(b->path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &sb) != 0)
		die("%s: %s", b->path, strerror(errno));
	b->size = (size_t)sb.st_size;
	b->data = b->size ? mmap(NULL, b->size, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0) : "";
	if (b->data == MAP_FAILED)
		die("mmap %s: %s", b->path, strerror(errno));
	close(fd);
}

static void sha256_hex(char out[80], const void *p, size_t n)
{
	unsigned char md[32];
	unsigned int mdlen = 0;

	if (EVP_Digest(p, n, md, &mdlen, EVP_sha256(), NULL) != 1)
		die("sha256 failed");
	memcpy(out, "sha256:", 7);
	for (unsigned i = 0; i < mdlen; i++)
		snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
}

/* ---- push ---- */

typedef struct {
	blob b;
	const char *repo; /* push: repository; put: path prefix */
	bool put_only;
	pthread_barrier_t *start;
	double t_start, t_end;
} pusher;

/* POST, one chunked PATCH, PUT ?digest= (or one chunked PUT for put_only). */
static void *push_main(void *arg)
{
	pusher *p = arg;
	char path[PATH_MAX_LEN], next[PATH_MAX_LEN];
	double t_post, t_patch;
	response r;
	conn c;

	if (!p->put_only)
		sha256_hex(p->b.digest, p->b.data, p->b.size);
	conn_open_or_die(&c);
	pthread_barrier_wait(p->start);
	p->t_start = now_sec();
	if (p->put_only) {
		const char *base = strrchr(p->b.path, '/');
		snprintf(path, sizeof(path), "%s/%s", p->repo, base ? base + 1 : p->b.path);
		send_head(&c, "PUT", path, "Transfer-Encoding: chunked\r\n");
		send_chunked(&c, p->b.data, p->b.size);
		read_response(&c, &r, false);
		if (r.status != 201 && r.status != 204)
			die("PUT %s: status %d", path, r.status);
		p->t_end = now_sec();
		conn_close(&c);
		return NULL;
	}
	snprintf(path, sizeof(path), "/v2/%s/blobs/uploads/", p->repo);
	send_head(&c, "POST", path, "Content-Length: 0\r\n");
	read_response(&c, &r, false);
	expect_status(&r, 202, "POST upload");
	location_path(path, sizeof(path), r.location);

	t_post = now_sec();
	send_head(&c, "PATCH", path,
		  "Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n");
	send_chunked(&c, p->b.data, p->b.size);
	read_response(&c, &r, false);
	expect_status(&r, 202, "PATCH upload");
	location_path(next, sizeof(next), r.location);
	t_patch = now_sec();

	if (strlen(next) + sizeof(p->b.digest) + 16 > sizeof(path))
		die("Location too long");
	snprintf(path, sizeof(path), "%.1900s%cdigest=%s", next, strchr(next, '?') ? '&' : '?',
		 p->b.digest);
	send_head(&c, "PUT", path, "Content-Length: 0\r\n");
	read_response(&c, &r, false);
	expect_status(&r, 201, "PUT upload");
	p->t_end = now_sec();
	if (getenv("LOADGEN_VERBOSE"))
		fprintf(stderr, "push %s: POST %.3f s, PATCH %.3f s, PUT %.3f s\n", p->b.path,
			t_post - p->t_start, t_patch - t_post, p->t_end - t_patch);
	conn_close(&c);
	return NULL;
}

/* Prints: bytes seconds MB/s (MB = 10^6 bytes), and the digests on stderr. */
static int cmd_push(int argc, char **argv, bool put_only)
{
	int n = argc - 2;
	pusher ps[MAX_THREADS];
	pthread_t th[MAX_THREADS];
	pthread_barrier_t start;
	uint64_t bytes = 0;
	double t0, t_end = 0;

	if (n < 1 || n > MAX_THREADS)
		die("push: 1 to %d files", MAX_THREADS);
	pthread_barrier_init(&start, NULL, (unsigned)n + 1);
	for (int i = 0; i < n; i++) {
		memset(&ps[i], 0, sizeof(ps[i]));
		ps[i].b.path = argv[2 + i];
		blob_map(&ps[i].b);
		ps[i].repo = argv[1];
		ps[i].put_only = put_only;
		ps[i].start = &start;
		bytes += ps[i].b.size;
		if (pthread_create(&th[i], NULL, push_main, &ps[i]) != 0)
			die("pthread_create");
	}
	pthread_barrier_wait(&start);
	t0 = now_sec();
	for (int i = 0; i < n; i++) {
		pthread_join(th[i], NULL);
		if (ps[i].t_end > t_end)
			t_end = ps[i].t_end;
	}
	printf("%llu %.6f %.1f\n", (unsigned long long)bytes, t_end - t0,
	       (double)bytes / (t_end - t0) / 1e6);
	return 0;
}

/* ---- pull ---- */

/* Prints: bytes seconds MB/s. */
static int cmd_pull(int argc, char **argv)
{
	const char *path = argv[1];
	int count = atoi(argv[2]);
	uint64_t bytes = 0;
	response r;
	double t0;
	conn c;

	if (count < 1)
		die("pull: COUNT must be >= 1");
	conn_open_or_die(&c);
	t0 = now_sec();
	for (int i = 0; i < count; i++) {
		send_head(&c, "GET", path, "");
		read_response(&c, &r, false);
		expect_status(&r, 200, path);
		bytes += r.body_len;
		if (r.close && i + 1 < count) {
			conn_close(&c);
			conn_open_or_die(&c);
		}
	}
	double dt = now_sec() - t0;
	conn_close(&c);
	printf("%llu %.6f %.1f\n", (unsigned long long)bytes, dt, (double)bytes / dt / 1e6);
	return 0;
}

/* ---- many requests ---- */

/* Writes tmpl into out with every "{i}" replaced by i as six digits. */
static void path_subst(char *out, size_t max, const char *tmpl, long i)
{
	size_t n = 0;

	for (const char *p = tmpl; *p;) {
		if (strncmp(p, "{i}", 3) == 0) {
			int w = snprintf(out + n, max - n, "%06ld", i);
			if (w < 0 || (size_t)w >= max - n)
				die("path too long");
			n += (size_t)w;
			p += 3;
		} else {
			if (n + 1 >= max)
				die("path too long");
			out[n++] = *p++;
		}
	}
	out[n] = '\0';
}

typedef struct {
	const char *method, *tmpl, *header;
	char **lines; /* paths from @FILE, or NULL */
	long nlines;
	const char *body;
	size_t body_len;
	long first, count;
	double deadline;
	atomic_long next;
	atomic_long done;
} reqs_job;

static void *reqs_main(void *arg)
{
	reqs_job *j = arg;
	char path[PATH_MAX_LEN], extra[1024];
	response r;
	conn c;
	long i;

	snprintf(extra, sizeof(extra), "Content-Length: %zu\r\n%s%s", j->body_len, j->header,
		 j->header[0] ? "\r\n" : "");
	conn_open_or_die(&c);
	while ((i = atomic_fetch_add(&j->next, 1)) < j->count) {
		if (j->deadline > 0 && now_sec() > j->deadline)
			break;
		if (j->lines)
			snprintf(path, sizeof(path), "%s", j->lines[j->first + i]);
		else
			path_subst(path, sizeof(path), j->tmpl, j->first + i);
		send_head(&c, j->method, path, extra);
		if (j->body_len)
			send_all(&c, j->body, j->body_len);
		read_response(&c, &r, strcmp(j->method, "HEAD") == 0);
		if (r.status < 200 || r.status > 299)
			die("%s %s: status %d: %s", j->method, path, r.status, r.body);
		atomic_fetch_add(&j->done, 1);
		if (r.close) {
			conn_close(&c);
			conn_open_or_die(&c);
		}
	}
	conn_close(&c);
	return NULL;
}

/* Reads the paths of FILE into j->lines, and bounds j->count by them. */
static void lines_load(reqs_job *j, const char *file)
{
	FILE *f = fopen(file, "r");
	char line[PATH_MAX_LEN];
	long cap = 0;

	if (f == NULL)
		die("%s: %s", file, strerror(errno));
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		if (j->nlines == cap) {
			cap = cap ? cap * 2 : 1024;
			if ((j->lines = realloc(j->lines, (size_t)cap * sizeof(*j->lines))) == NULL)
				die("out of memory");
		}
		if ((j->lines[j->nlines++] = strdup(line)) == NULL)
			die("out of memory");
	}
	fclose(f);
	if (j->first > j->nlines)
		j->first = j->nlines;
	if (j->count > j->nlines - j->first)
		j->count = j->nlines - j->first;
}

/* Prints: requests-done seconds requests/s. */
static int cmd_reqs(int argc, char **argv)
{
	reqs_job j = {0};
	pthread_t th[MAX_THREADS];
	int conns;
	double maxsec, t0, dt;
	blob body = {0};

	if (argc < 8)
		die("reqs: BASE METHOD PATH CONNS FIRST COUNT MAXSEC [BODYFILE [HEADER]]");
	j.method = argv[2];
	j.tmpl = argv[3];
	conns = atoi(argv[4]);
	j.first = atol(argv[5]);
	j.count = atol(argv[6]);
	maxsec = atof(argv[7]);
	j.header = argc > 9 ? argv[9] : "";
	if (argc > 8 && argv[8][0]) {
		body.path = argv[8];
		blob_map(&body);
		j.body = body.data;
		j.body_len = body.size;
	}
	if (conns < 1 || conns > MAX_THREADS)
		die("reqs: CONNS 1 to %d", MAX_THREADS);
	if (j.tmpl[0] == '@')
		lines_load(&j, j.tmpl + 1);
	t0 = now_sec();
	j.deadline = maxsec > 0 ? t0 + maxsec : 0;
	for (int i = 0; i < conns; i++)
		if (pthread_create(&th[i], NULL, reqs_main, &j) != 0)
			die("pthread_create");
	for (int i = 0; i < conns; i++)
		pthread_join(th[i], NULL);
	dt = now_sec() - t0;
	printf("%ld %.6f %.1f\n", atomic_load(&j.done), dt, (double)atomic_load(&j.done) / dt);
	return 0;
}

/* ---- latency of one request, repeated ---- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Prints: samples median-ms p90-ms body-bytes. */
static int cmd_lat(int argc, char **argv)
{
	const char *path = argv[2];
	int maxn = atoi(argv[3]);
	double maxsec = atof(argv[4]), t_start;
	char extra[1024] = "";
	double *lat;
	uint64_t body = 0;
	response r;
	int n = 0;
	conn c;

	if (argc > 5)
		snprintf(extra, sizeof(extra), "%s\r\n", argv[5]);
	if (maxn < 1 || (lat = calloc((size_t)maxn, sizeof(*lat))) == NULL)
		die("lat: MAXN must be >= 1");
	conn_open_or_die(&c);
	t_start = now_sec();
	while (n < maxn && (n < 3 || now_sec() - t_start < maxsec)) {
		double t0 = now_sec();
		send_head(&c, "GET", path, extra);
		read_response(&c, &r, false);
		lat[n++] = now_sec() - t0;
		expect_status(&r, 200, path);
		body = r.body_len;
		if (r.close) {
			conn_close(&c);
			conn_open_or_die(&c);
		}
	}
	conn_close(&c);
	qsort(lat, (size_t)n, sizeof(*lat), cmp_double);
	printf("%d %.4f %.4f %llu\n", n, lat[n / 2] * 1e3, lat[(n * 9) / 10] * 1e3,
	       (unsigned long long)body);
	free(lat);
	return 0;
}

/* ---- start-up ---- */

static int cmd_stamp(int argc, char **argv)
{
	FILE *f = fopen(argv[1], "w");
	struct timespec ts;

	if (f == NULL)
		die("%s: %s", argv[1], strerror(errno));
	clock_gettime(CLOCK_MONOTONIC, &ts);
	fprintf(f, "%lld.%09ld\n", (long long)ts.tv_sec, ts.tv_nsec);
	fclose(f);
	execvp(argv[2], argv + 2);
	die("exec %s: %s", argv[2], strerror(errno));
	return 1;
}

/* Prints: milliseconds from the stamp to the first answer to GET /v2/. */
static int cmd_waitup(int argc, char **argv)
{
	double t0 = 0, deadline = now_sec() + WAITUP_TIMEOUT_SEC;
	struct timespec pause = {0, WAITUP_POLL_NS};
	response r;
	conn c;

	for (;;) {
		FILE *f = fopen(argv[2], "r");
		if (f != NULL) {
			int ok = fscanf(f, "%lf", &t0) == 1;
			fclose(f);
			if (ok)
				break;
		}
		if (now_sec() > deadline)
			die("no stamp in %s", argv[2]);
		nanosleep(&pause, NULL);
	}
	for (;;) {
		if (conn_open(&c) == 0) {
			send_head(&c, "GET", "/v2/", "");
			read_response(&c, &r, false);
			conn_close(&c);
			break;
		}
		if (now_sec() > deadline)
			die("%s did not answer within %d s", g_hostport, WAITUP_TIMEOUT_SEC);
		nanosleep(&pause, NULL);
	}
	printf("%.2f\n", (now_sec() - t0) * 1e3);
	return 0;
}

static int cmd_digest(int argc, char **argv)
{
	blob b = {.path = argv[1]};

	blob_map(&b);
	sha256_hex(b.digest, b.data, b.size);
	printf("%s\n", b.digest);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 4 && strcmp(argv[1], "stamp") == 0)
		return cmd_stamp(argc - 1, argv + 1);
	if (argc == 3 && strcmp(argv[1], "digest") == 0)
		return cmd_digest(argc - 1, argv + 1);
	if (argc < 3)
		die("usage: see the comment at the top of bench/loadgen.c");
	base_parse(argv[2]);
	if (strcmp(argv[1], "push") == 0 && argc >= 5)
		return cmd_push(argc - 2, argv + 2, false);
	if (strcmp(argv[1], "put") == 0 && argc >= 5)
		return cmd_push(argc - 2, argv + 2, true);
	if (strcmp(argv[1], "pull") == 0 && argc == 5)
		return cmd_pull(argc - 2, argv + 2);
	if (strcmp(argv[1], "reqs") == 0)
		return cmd_reqs(argc - 1, argv + 1);
	if (strcmp(argv[1], "lat") == 0 && argc >= 6)
		return cmd_lat(argc - 1, argv + 1);
	if (strcmp(argv[1], "waitup") == 0 && argc == 4)
		return cmd_waitup(argc - 1, argv + 1);
	die("unknown command or wrong arguments: %s", argv[1]);
	return 1;
}
