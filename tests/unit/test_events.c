/*
 * test_events.c - notifications: the event queue of the metadata index
 * (meta_events_*, and a push's events in its manifest's transaction), the
 * notify line, repository globs, the signature, and the core end to end:
 * a push through core_manifest_put queued, POSTed to a receiver on
 * loopback (a thread here that answers as told), acknowledged, counted.
 *
 * Each test has its own mkdtemp folder (removed in the teardown, also when
 * an assertion fails) and asserts exact status codes.
 */
#include <arpa/inet.h>
#include <check.h>
#include <ftw.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "../../core/core.h"
#include "../../core/events.h"
#include "../../storage/meta.h"

static char dir[64], db_path[128];
static meta *m;

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/test-events-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(db_path, sizeof(db_path), "%s/registry.db", dir);
	m = NULL;
}

static void teardown(void)
{
	meta_close(m);
	m = NULL;
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- the queue in the index ---- */

typedef struct {
	int n;
	int64_t seq[16];
	char body[16][64];
	char repo[16][64];
} rows;

static int collect(void *arg, int64_t seq, const char *repo, const char *body)
{
	rows *r = arg;
	r->seq[r->n] = seq;
	snprintf(r->body[r->n], sizeof(r->body[0]), "%s", body);
	snprintf(r->repo[r->n], sizeof(r->repo[0]), "%s", repo);
	r->n++;
	return r->n >= 16;
}

typedef struct {
	int n;
	char url[4][64];
	uint64_t count[4];
} counts;

static int count_fn(void *arg, const char *url, uint64_t n)
{
	counts *c = arg;
	snprintf(c->url[c->n], sizeof(c->url[0]), "%s", url);
	c->count[c->n++] = n;
	return 0;
}

START_TEST(queue_order_ack_count)
{
	const meta_event v[] = {
	    {"http://a/", "r1", "{\"id\":1}"},
	    {"http://b/", "r1", "{\"id\":1}"},
	    {"http://a/", "r2", "{\"id\":2}"},
	    {"http://a/", "r1", "{\"id\":3}"},
	};
	rows r = {0};
	counts c = {0};

	ck_assert_int_eq(meta_open(&m, db_path), ST_OK);
	ck_assert_int_eq(meta_events_add(m, v, 4), ST_OK);
	ck_assert_int_eq(meta_events_next(m, "http://a/", 10, collect, &r), ST_OK);
	ck_assert_int_eq(r.n, 3);
	ck_assert_str_eq(r.body[0], "{\"id\":1}");
	ck_assert_str_eq(r.body[1], "{\"id\":2}");
	ck_assert_str_eq(r.repo[1], "r2");
	ck_assert_str_eq(r.body[2], "{\"id\":3}");
	ck_assert(r.seq[0] < r.seq[1] && r.seq[1] < r.seq[2]);
	/* at most n */
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(meta_events_next(m, "http://a/", 2, collect, &r), ST_OK);
	ck_assert_int_eq(r.n, 2);
	/* an ack removes up to seq, only of its endpoint */
	ck_assert_int_eq(meta_events_ack(m, "http://a/", r.seq[1]), ST_OK);
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(meta_events_next(m, "http://a/", 10, collect, &r), ST_OK);
	ck_assert_int_eq(r.n, 1);
	ck_assert_str_eq(r.body[0], "{\"id\":3}");
	ck_assert_int_eq(meta_events_count(m, count_fn, &c), ST_OK);
	ck_assert_int_eq(c.n, 2);
	ck_assert_str_eq(c.url[0], "http://a/");
	ck_assert_uint_eq(c.count[0], 1);
	ck_assert_str_eq(c.url[1], "http://b/");
	ck_assert_uint_eq(c.count[1], 1);
	/* seq never goes back, even with the queue emptied and reopened */
	int64_t last = r.seq[0];
	ck_assert_int_eq(meta_events_ack(m, "http://a/", INT64_MAX), ST_OK);
	ck_assert_int_eq(meta_events_ack(m, "http://b/", INT64_MAX), ST_OK);
	meta_close(m);
	ck_assert_int_eq(meta_open(&m, db_path), ST_OK);
	ck_assert_int_eq(meta_events_add(m, v, 1), ST_OK);
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(meta_events_next(m, "http://a/", 10, collect, &r), ST_OK);
	ck_assert_int_eq(r.n, 1);
	ck_assert(r.seq[0] > last);
	/* nothing queued elsewhere: none, not an error */
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(meta_events_next(m, "http://none/", 10, collect, &r), ST_OK);
	ck_assert_int_eq(r.n, 0);
}
END_TEST

START_TEST(queue_misuse)
{
	const meta_event bad[] = {
	    {NULL, "r", "{}"}, {"http://a/", NULL, "{}"}, {"http://a/", "r", ""}};
	counts c = {0};

	ck_assert_int_eq(meta_open(&m, db_path), ST_OK);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(meta_events_add(m, &bad[i], 1), ST_INVALID);
	ck_assert_int_eq(meta_events_add(m, NULL, 1), ST_INVALID);
	ck_assert_int_eq(meta_events_add(m, NULL, 0), ST_OK);
	ck_assert_int_eq(meta_events_ack(m, NULL, 5), ST_OK);
	ck_assert_int_eq(meta_events_count(m, count_fn, &c), ST_OK);
	ck_assert_int_eq(c.n, 0);
}
END_TEST

#define D1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define MT "application/vnd.oci.image.manifest.v1+json"

/* A push's events commit with it, or not at all. */
START_TEST(manifest_put_atomic)
{
	const meta_event ev[] = {{"http://a/", "app", "{\"push\":1}"}};
	const meta_event bad[] = {{"http://a/", "app", ""}};
	const char *tags[] = {"v1"}, *badtags[] = {""};
	meta_manifest man = {.digest = D1, .media_type = MT, .size = 10};
	counts c = {0};
	rows r = {0};

	ck_assert_int_eq(meta_open(&m, db_path), ST_OK);
	man.events = ev;
	man.nevents = 1;
	/* refused before anything is written: no event either */
	ck_assert_int_eq(meta_manifest_put(m, "app", &man, NULL, 0, badtags, 1), ST_INVALID);
	man.events = bad;
	ck_assert_int_eq(meta_manifest_put(m, "app", &man, NULL, 0, tags, 1), ST_INVALID);
	man.events = NULL;
	ck_assert_int_eq(meta_manifest_put(m, "app", &man, NULL, 0, tags, 1), ST_INVALID);
	ck_assert_int_eq(meta_events_count(m, count_fn, &c), ST_OK);
	ck_assert_int_eq(c.n, 0);
	/* a statement failing inside the transaction (a reference to a
	 * manifest that is not there breaks nothing, but a tag pointing at a
	 * digest of another repository would: the foreign key) rolls the
	 * event back too: shown with a trigger that fails the tag */
	sqlite3 *raw;
	ck_assert_int_eq(sqlite3_open(db_path, &raw), SQLITE_OK);
	ck_assert_int_eq(
	    sqlite3_exec(raw,
			 "CREATE TRIGGER no_v9 BEFORE INSERT ON tags WHEN NEW.name = 'v9' "
			 "BEGIN SELECT RAISE(ABORT, 'no'); END;",
			 NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(raw);
	meta_close(m);
	ck_assert_int_eq(meta_open(&m, db_path), ST_OK);
	const char *v9[] = {"v9"};
	man.events = ev;
	man.nevents = 1;
	ck_assert_int_eq(meta_manifest_put(m, "app", &man, NULL, 0, v9, 1), ST_IO);
	ck_assert_int_eq(meta_manifest_get(m, "app", D1, &(meta_manifest){0}), ST_NOT_FOUND);
	ck_assert_int_eq(meta_events_count(m, count_fn, &c), ST_OK);
	ck_assert_int_eq(c.n, 0);
	/* and a push that commits has its event */
	ck_assert_int_eq(meta_manifest_put(m, "app", &man, NULL, 0, tags, 1), ST_OK);
	ck_assert_int_eq(meta_events_next(m, "http://a/", 10, collect, &r), ST_OK);
	ck_assert_int_eq(r.n, 1);
	ck_assert_str_eq(r.body[0], "{\"push\":1}");
	ck_assert_str_eq(r.repo[0], "app");
}
END_TEST

/* Inside a write transaction (meta_write_begin: a quota or an immutable
 * tag checked with the write), the push is a savepoint: its events go with
 * the outer transaction, dropped by its rollback, kept by its commit. */
START_TEST(manifest_put_in_write_tx)
{
	const meta_event ev[] = {{"http://a/", "app", "{\"push\":1}"}};
	const char *tags[] = {"v1"};
	meta_manifest man = {.digest = D1, .media_type = MT, .size = 10};
	counts c = {0};
	rows r = {0};

	ck_assert_int_eq(meta_open(&m, db_path), ST_OK);
	man.events = ev;
	man.nevents = 1;
	ck_assert_int_eq(meta_write_begin(m), ST_OK);
	ck_assert_int_eq(meta_manifest_put(m, "app", &man, NULL, 0, tags, 1), ST_OK);
	ck_assert_int_eq(meta_write_end(m, false), ST_OK);
	ck_assert_int_eq(meta_manifest_get(m, "app", D1, &(meta_manifest){0}), ST_NOT_FOUND);
	ck_assert_int_eq(meta_events_count(m, count_fn, &c), ST_OK);
	ck_assert_int_eq(c.n, 0);
	/* a part failing after some of its event rows went in (a trigger
	 * refuses the second) undoes its own rows only, the outer goes on */
	const meta_event two[] = {{"http://a/", "app", "{\"push\":2}"},
				  {"http://a/", "app", "{\"refused\":1}"}};
	sqlite3 *raw;
	ck_assert_int_eq(sqlite3_open(db_path, &raw), SQLITE_OK);
	ck_assert_int_eq(
	    sqlite3_exec(raw,
			 "CREATE TRIGGER no_refused BEFORE INSERT ON events WHEN "
			 "NEW.body LIKE '%refused%' BEGIN SELECT RAISE(ABORT, 'no'); END;",
			 NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(raw);
	meta_close(m);
	ck_assert_int_eq(meta_open(&m, db_path), ST_OK);
	ck_assert_int_eq(meta_write_begin(m), ST_OK);
	ck_assert_int_eq(meta_manifest_put(m, "app", &man, NULL, 0, tags, 1), ST_OK);
	man.events = two;
	man.nevents = 2;
	ck_assert_int_eq(meta_manifest_put(m, "app", &man, NULL, 0, (const char *[]){"v2"}, 1),
			 ST_IO);
	ck_assert_int_eq(meta_write_end(m, true), ST_OK);
	ck_assert_int_eq(meta_manifest_get(m, "app", "v1", &(meta_manifest){0}), ST_OK);
	ck_assert_int_eq(meta_manifest_get(m, "app", "v2", &(meta_manifest){0}), ST_NOT_FOUND);
	ck_assert_int_eq(meta_events_next(m, "http://a/", 10, collect, &r), ST_OK);
	ck_assert_int_eq(r.n, 1);
	ck_assert_str_eq(r.body[0], "{\"push\":1}");
}
END_TEST

/* Version 1 of the schema (frozen: meta_sqlite.c's schema_sql then), with
 * a tag: opening it walks both later steps (the push and pull records,
 * then the queue) and keeps what was there. test_meta has version 2's. */
static const char schema_v1[] =
    "CREATE TABLE repos (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);"
    "CREATE TABLE repo_blobs (repo_id INTEGER NOT NULL REFERENCES repos(id), digest TEXT NOT "
    "NULL, size INTEGER NOT NULL, PRIMARY KEY (repo_id, digest)) WITHOUT ROWID;"
    "CREATE INDEX repo_blobs_digest ON repo_blobs(digest);"
    "CREATE TABLE manifests (repo_id INTEGER NOT NULL REFERENCES repos(id), digest TEXT NOT "
    "NULL, media_type TEXT NOT NULL, size INTEGER NOT NULL, artifact_type TEXT NOT NULL "
    "DEFAULT '', subject TEXT NOT NULL DEFAULT '', annotations TEXT, created INTEGER NOT NULL, "
    "PRIMARY KEY (repo_id, digest)) WITHOUT ROWID;"
    "CREATE INDEX manifests_subject ON manifests(repo_id, subject, digest);"
    "CREATE TABLE manifest_refs (repo_id INTEGER NOT NULL, manifest TEXT NOT NULL, ref TEXT NOT "
    "NULL, PRIMARY KEY (repo_id, manifest, ref), FOREIGN KEY (repo_id, manifest) REFERENCES "
    "manifests(repo_id, digest)) WITHOUT ROWID;"
    "CREATE INDEX manifest_refs_ref ON manifest_refs(ref);"
    "CREATE TABLE tags (repo_id INTEGER NOT NULL, name TEXT NOT NULL, digest TEXT NOT NULL, "
    "PRIMARY KEY (repo_id, name), FOREIGN KEY (repo_id, digest) REFERENCES manifests(repo_id, "
    "digest)) WITHOUT ROWID;"
    "CREATE INDEX tags_digest ON tags(repo_id, digest);"
    "CREATE TABLE uploads (id TEXT PRIMARY KEY, repo TEXT NOT NULL, alg TEXT NOT NULL, created "
    "INTEGER NOT NULL, updated INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX uploads_updated ON uploads(updated);"
    "INSERT INTO repos(id, name) VALUES (1, 'app');"
    "INSERT INTO manifests VALUES (1, '" D1 "', '" MT "', 10, '', '', NULL, 1234);"
    "INSERT INTO tags VALUES (1, 'v1', '" D1 "');"
    "PRAGMA user_version = 1;";

static int version_fn(void *arg, int n, char **v, char **names)
{
	*(int *)arg = n > 0 && v[0] ? atoi(v[0]) : -1;
	return 0;
}

START_TEST(migrate_from_v1)
{
	const meta_event ev[] = {{"http://a/", "app", "{}"}};
	meta_manifest man;
	sqlite3 *raw;
	rows r = {0};
	int v = 0;

	ck_assert_int_eq(sqlite3_open(db_path, &raw), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(raw, schema_v1, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(raw);
	ck_assert_int_eq(meta_open(&m, db_path), ST_OK);
	ck_assert_int_eq(sqlite3_open(db_path, &raw), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(raw, "PRAGMA user_version", version_fn, &v, NULL), SQLITE_OK);
	sqlite3_close(raw);
	ck_assert_int_eq(v, 5); /* every step: the blob rows (gc), tags_pushed (ui) */
	ck_assert_int_eq(meta_manifest_get(m, "app", "v1", &man), ST_OK);
	ck_assert_str_eq(man.digest, D1);
	ck_assert_str_eq(man.pushed_by, ""); /* version 2's columns, "unknown" */
	ck_assert_int_eq(meta_events_add(m, ev, 1), ST_OK);
	ck_assert_int_eq(meta_events_next(m, "http://a/", 10, collect, &r), ST_OK);
	ck_assert_int_eq(r.n, 1);
}
END_TEST

/* ---- the notify line, globs, the signature ---- */

START_TEST(spec_parse)
{
	events_spec s;
	char err[512], url[CORE_NOTIFY_URL_MAX];

	ck_assert_int_eq(events_spec_parse(&s, "http://127.0.0.1:9/hook", err, sizeof(err)), ST_OK);
	ck_assert_str_eq(s.url, "http://127.0.0.1:9/hook");
	ck_assert_uint_eq(s.actions, EVENTS_PUSH | EVENTS_DELETE | EVENTS_MOUNT);
	ck_assert_str_eq(s.repos, "");
	ck_assert_str_eq(s.secret, "");
	ck_assert_uint_eq(s.timeout_sec, 10);
	ck_assert_int_eq(events_spec_parse(&s,
					   "https://h.example/x events=pull,push repos=team-a/**,b "
					   "secret=/etc/k timeout=2m",
					   err, sizeof(err)),
			 ST_OK);
	ck_assert_uint_eq(s.actions, EVENTS_PULL | EVENTS_PUSH);
	ck_assert_str_eq(s.repos, "team-a/**,b");
	ck_assert_str_eq(s.secret, "/etc/k");
	ck_assert_uint_eq(s.timeout_sec, 120);
	ck_assert_int_eq(core_notify_check("  http://a/b   timeout=1s ", url, err, sizeof(err)),
			 ST_OK);
	ck_assert_str_eq(url, "http://a/b");

	static const char *const bad[] = {
	    "",
	    "ftp://a/",
	    "http://",
	    "a/b",
	    "http://a/ events=",
	    "http://a/ events=push,shove",
	    "http://a/ events=push,",
	    "http://a/ repos=,a",
	    "http://a/ repos=a,,b",
	    "http://a/ timeout=0",
	    "http://a/ timeout=301",
	    "http://a/ timeout=5h",
	    "http://a/ timeout=-1",
	    "http://a/ colour=red",
	    "http://a/ secret",
	    "http://a/ secret=",
	    "http://a/ secret=/a secret=/b",
	    "http://a/ events=push events=pull",
	    "http://a/\"x",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ck_assert_msg(events_spec_parse(&s, bad[i], err, sizeof(err)) == ST_INVALID,
			      "accepted '%s'", bad[i]);
		ck_assert_msg(err[0] != '\0', "no message for '%s'", bad[i]);
	}
	ck_assert_int_eq(events_spec_parse(&s, NULL, NULL, 0), ST_INVALID);
}
END_TEST

START_TEST(repo_globs)
{
	ck_assert(events_repo_match("", "any/thing"));
	ck_assert(events_repo_match(NULL, "x"));
	ck_assert(events_repo_match("app", "app"));
	ck_assert(!events_repo_match("app", "app2"));
	ck_assert(!events_repo_match("app", "team/app"));
	ck_assert(events_repo_match("team-a/*", "team-a/app"));
	ck_assert(!events_repo_match("team-a/*", "team-a/x/app"));
	ck_assert(!events_repo_match("team-a/*", "team-b/app"));
	ck_assert(events_repo_match("team-a/**", "team-a/x/app"));
	ck_assert(events_repo_match("**", "a/b/c"));
	ck_assert(events_repo_match("*/app", "x/app"));
	ck_assert(!events_repo_match("*/app", "x/y/app"));
	ck_assert(events_repo_match("**/app", "x/y/app"));
	ck_assert(events_repo_match("prod/*,team-a/**", "team-a/b/c"));
	ck_assert(events_repo_match("prod/*,team-a/**", "prod/web"));
	ck_assert(!events_repo_match("prod/*,team-a/**", "dev/web"));
	ck_assert(events_repo_match("a*c", "abbc"));
	ck_assert(!events_repo_match("a*c", "ab/c"));
}
END_TEST

/* RFC 4231, test case 2. */
START_TEST(signature)
{
	char sig[EVENTS_SIGNATURE_MAX];
	const char *data = "what do ya want for nothing?";

	events_sign("Jefe", 4, data, strlen(data), sig);
	ck_assert_str_eq(sig,
			 "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}
END_TEST

/* ---- the core, end to end, with a receiver on loopback ---- */

typedef struct {
	int fd;
	int status; /* to answer */
	int posts;
	char ctype[128], sig[128];
	char body[8192];
} receiver;

/* Answers one POST per connection with r->status, recording it. */
static void *receiver_main(void *arg)
{
	receiver *r = arg;
	for (;;) {
		int c = accept(r->fd, NULL, NULL);
		if (c < 0)
			return NULL;
		char buf[16384];
		size_t len = 0;
		ssize_t n;
		char *end = NULL;
		long clen = -1;
		while (len < sizeof(buf) - 1 &&
		       (n = read(c, buf + len, sizeof(buf) - 1 - len)) > 0) {
			len += (size_t)n;
			buf[len] = '\0';
			if (end == NULL && (end = strstr(buf, "\r\n\r\n")) != NULL) {
				char *cl = strcasestr(buf, "\r\nContent-Length:");
				clen = cl ? strtol(cl + 17, NULL, 10) : 0;
			}
			if (end != NULL && (long)(len - (size_t)(end + 4 - buf)) >= clen)
				break;
		}
		if (end != NULL) {
			char *h;
			*end = '\0';
			if ((h = strcasestr(buf, "\r\nContent-Type: ")) != NULL)
				sscanf(h + 16, "%127[^\r]", r->ctype);
			if ((h = strcasestr(buf, "\r\nX-Registry-Signature: ")) != NULL)
				sscanf(h + 24, "%127[^\r]", r->sig);
			snprintf(r->body, sizeof(r->body), "%s", end + 4);
			__atomic_add_fetch(&r->posts, 1, __ATOMIC_SEQ_CST);
		}
		char reply[128];
		int rl = snprintf(reply, sizeof(reply),
				  "HTTP/1.1 %d X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
				  r->status);
		if (write(c, reply, (size_t)rl) < 0) {
			/* the registry gave up: it will send again */
		}
		close(c);
	}
}

static int listen_any(int *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(fd, 16), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

/* Pushes a config blob and a manifest tagged tag into repo through the core. */
static void push(core *c, const char *repo, const char *tag)
{
	char cd[DIGEST_MAX], body[512];
	core_req *q;
	core_upload *u;
	core_put_result res;
	const char *cfg = "{}";

	ck_assert_int_eq(core_req_open(c, repo, NULL, NULL, &q), ST_OK);
	core_req_set_actor(q, "alice");
	core_req_set_origin(q, &(core_origin){"192.0.2.1", "reg.example", "PUT", "test/1"});
	ck_assert_int_eq(digest_buffer(cd, DIGEST_SHA256, cfg, 2), ST_OK);
	ck_assert_int_eq(core_upload_once(c, q, DIGEST_SHA256, &u), ST_OK);
	ck_assert_int_eq(core_upload_write(u, cfg, 2), ST_OK);
	ck_assert_int_eq(core_upload_commit(c, q, u, cd, NULL), ST_OK);
	snprintf(body, sizeof(body),
		 "{\"schemaVersion\":2,\"mediaType\":\"" MT "\",\"config\":{\"mediaType\":"
		 "\"application/vnd.oci.image.config.v1+json\",\"digest\":\"%s\",\"size\":2},"
		 "\"layers\":[]}",
		 cd);
	ck_assert_int_eq(core_manifest_put(c, q, tag, NULL, 0, MT, body, strlen(body), &res),
			 ST_OK);
	core_req_free(q);
}

static core_events_stat wait_stats(core *c, bool (*done)(const core_events_stat *))
{
	core_events_stat s = {0};
	for (int i = 0; i < 100; i++) {
		ck_assert_uint_eq(core_events_stats(c, &s, 1), 1);
		if (done(&s))
			break;
		usleep(50 * 1000);
	}
	return s;
}

static bool delivered_one(const core_events_stat *s)
{
	return s->delivered >= 1 && s->queued == 0;
}

static bool failed_once(const core_events_stat *s)
{
	return s->failures >= 1;
}

START_TEST(core_delivers_signed)
{
	receiver r = {.status = 200};
	pthread_t th;
	char line[256], key[160], *lines[1] = {line};
	core *c;
	core_events_stat s;
	int port;
	FILE *f;

	r.fd = listen_any(&port);
	ck_assert_int_eq(pthread_create(&th, NULL, receiver_main, &r), 0);
	snprintf(key, sizeof(key), "%s/key", dir);
	ck_assert_ptr_nonnull(f = fopen(key, "w"));
	fputs("Jefe\n", f);
	fclose(f);
	snprintf(line, sizeof(line), "http://127.0.0.1:%d/hook secret=%s timeout=2s", port, key);
	core_options o = {.data = dir,
			  .storage = "filesystem",
			  .metadata = "sqlite",
			  .max_manifest_bytes = 1 << 20,
			  .upload_ttl_sec = 3600,
			  .notify = lines,
			  .nnotify = 1};
	ck_assert_int_eq(core_open(&c, &o), ST_OK);
	push(c, "team/app", "v1");
	s = wait_stats(c, delivered_one);
	ck_assert_uint_eq(s.delivered, 1);
	ck_assert_uint_eq(s.queued, 0);
	ck_assert_uint_eq(s.failures, 0);
	ck_assert_int_eq(s.last_status, 200);
	snprintf(key, sizeof(key), "http://127.0.0.1:%d/hook", port);
	ck_assert_str_eq(s.url, key);
	core_close(c);

	ck_assert_int_eq(r.posts, 1);
	ck_assert_str_eq(r.ctype, "application/vnd.docker.distribution.events.v2+json");
	char want[EVENTS_SIGNATURE_MAX];
	events_sign("Jefe", 4, r.body, strlen(r.body), want);
	ck_assert_str_eq(r.sig, want);
	ck_assert_ptr_nonnull(strstr(r.body, "{\"events\":[{"));
	ck_assert_ptr_nonnull(strstr(r.body, "\"action\":\"push\""));
	ck_assert_ptr_nonnull(strstr(r.body, "\"repository\":\"team/app\""));
	ck_assert_ptr_nonnull(strstr(r.body, "\"tag\":\"v1\""));
	ck_assert_ptr_nonnull(strstr(r.body, "\"mediaType\":\"" MT "\""));
	ck_assert_ptr_nonnull(strstr(r.body, "\"actor\":{\"name\":\"alice\"}"));
	ck_assert_ptr_nonnull(strstr(r.body, "\"addr\":\"192.0.2.1\""));
	ck_assert_ptr_nonnull(strstr(r.body, "\"method\":\"PUT\""));
	ck_assert_ptr_nonnull(strstr(r.body, "\"useragent\":\"test/1\""));
	shutdown(r.fd, SHUT_RDWR);
	close(r.fd);
	pthread_join(th, NULL);
}
END_TEST

/* A receiver that refuses: kept, counted, retried; nothing lost across a
 * reopen, delivered once it accepts. */
START_TEST(core_keeps_until_accepted)
{
	receiver r = {.status = 503};
	pthread_t th;
	char line[256], *lines[1] = {line};
	core *c;
	core_events_stat s;
	int port;

	r.fd = listen_any(&port);
	ck_assert_int_eq(pthread_create(&th, NULL, receiver_main, &r), 0);
	snprintf(line, sizeof(line), "http://127.0.0.1:%d/hook events=push repos=team/*", port);
	core_options o = {.data = dir,
			  .storage = "filesystem",
			  .metadata = "sqlite",
			  .max_manifest_bytes = 1 << 20,
			  .upload_ttl_sec = 3600,
			  .notify = lines,
			  .nnotify = 1};
	ck_assert_int_eq(core_open(&c, &o), ST_OK);
	push(c, "team/app", "v1");
	push(c, "other/app", "v1"); /* not in repos=: never queued */
	s = wait_stats(c, failed_once);
	ck_assert_uint_ge(s.failures, 1);
	ck_assert_uint_eq(s.queued, 1);
	ck_assert_uint_eq(s.delivered, 0);
	ck_assert_int_eq(s.last_status, 503);
	core_close(c);

	r.status = 200;
	ck_assert_int_eq(core_open(&c, &o), ST_OK);
	ck_assert_uint_eq(core_events_stats(c, &s, 1), 1);
	ck_assert_uint_eq(s.queued, 1); /* counted from the index at open */
	s = wait_stats(c, delivered_one);
	ck_assert_uint_eq(s.delivered, 1);
	core_close(c);
	ck_assert_ptr_nonnull(strstr(r.body, "\"repository\":\"team/app\""));
	ck_assert_ptr_null(strstr(r.body, "other/app"));

	/* a line naming no receiver any more: its queue is dropped at open */
	ck_assert_int_eq(meta_open(&m, db_path), ST_OK);
	ck_assert_int_eq(meta_events_add(m, &(meta_event){"http://gone/", "x", "{}"}, 1), ST_OK);
	counts n = {0};
	ck_assert_int_eq(core_open(&c, &o), ST_OK);
	ck_assert_int_eq(meta_events_count(m, count_fn, &n), ST_OK);
	ck_assert_int_eq(n.n, 0);
	core_close(c);

	shutdown(r.fd, SHUT_RDWR);
	close(r.fd);
	pthread_join(th, NULL);
}
END_TEST

/* A pull is known at one call (core_manifest_served): its event goes only
 * to the receivers that asked for pulls, and when it cannot be queued it is
 * counted as dropped for them alone (the metrics' dropped, per receiver). */
START_TEST(core_pull_dropped_per_receiver)
{
	char l0[128], l1[128], *lines[2] = {l0, l1};
	core_events_stat s[2];
	core_manifest man;
	core_req *q;
	sqlite3 *raw;
	core *c;

	/* nobody listens on port 9: both stay queued, failing */
	snprintf(l0, sizeof(l0), "http://127.0.0.1:9/pulls events=pull,push");
	snprintf(l1, sizeof(l1), "http://127.0.0.1:9/pushes events=push");
	core_options o = {.data = dir,
			  .storage = "filesystem",
			  .metadata = "sqlite",
			  .max_manifest_bytes = 1 << 20,
			  .upload_ttl_sec = 3600,
			  .notify = lines,
			  .nnotify = 2};
	ck_assert_int_eq(core_open(&c, &o), ST_OK);
	push(c, "team/app", "v1");
	/* the index refuses pull events from now on */
	ck_assert_int_eq(sqlite3_open(db_path, &raw), SQLITE_OK);
	sqlite3_busy_timeout(raw, 5000);
	ck_assert_int_eq(sqlite3_exec(raw,
				      "CREATE TRIGGER no_pulls BEFORE INSERT ON events WHEN "
				      "NEW.body LIKE '%\"action\":\"pull\"%' "
				      "BEGIN SELECT RAISE(ABORT, 'no'); END;",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(raw);
	ck_assert_int_eq(core_req_open(c, "team/app", NULL, NULL, &q), ST_OK);
	core_req_set_origin(q, &(core_origin){"192.0.2.1", "reg.example", "GET", "test/1"});
	ck_assert_int_eq(core_manifest_get(c, q, "v1", &man), ST_OK);
	core_manifest_served(c, q, "v1", &man);
	core_blob_free(man.body);
	core_req_free(q);
	for (int i = 0; i < 100; i++) {
		ck_assert_uint_eq(core_events_stats(c, s, 2), 2);
		if (s[0].pulls_dropped > 0)
			break;
		usleep(50 * 1000);
	}
	ck_assert_uint_eq(s[0].pulls_dropped, 1);
	ck_assert_uint_eq(s[1].pulls_dropped, 0); /* it wants no pulls */
	ck_assert_uint_eq(s[0].queued, 1);	  /* the push only */
	ck_assert_uint_eq(s[1].queued, 1);
	core_close(c);
}
END_TEST

START_TEST(core_bad_secret)
{
	char line[256], *lines[1] = {line};
	core *c = NULL;

	snprintf(line, sizeof(line), "http://127.0.0.1:9/hook secret=%s/missing", dir);
	core_options o = {.data = dir,
			  .storage = "filesystem",
			  .metadata = "sqlite",
			  .max_manifest_bytes = 1 << 20,
			  .upload_ttl_sec = 3600,
			  .notify = lines,
			  .nnotify = 1};
	ck_assert_int_eq(core_open(&c, &o), ST_INVALID);
	ck_assert_ptr_null(c);
	/* without notify lines: no stats, nothing started */
	o.nnotify = 0;
	ck_assert_int_eq(core_open(&c, &o), ST_OK);
	ck_assert_uint_eq(core_events_stats(c, NULL, 0), 0);
	core_close(c);
}
END_TEST

Suite *make_events_suite(void)
{
	Suite *s = suite_create("events");
	TCase *tc = tcase_create("events");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, queue_order_ack_count);
	tcase_add_test(tc, queue_misuse);
	tcase_add_test(tc, manifest_put_atomic);
	tcase_add_test(tc, manifest_put_in_write_tx);
	tcase_add_test(tc, migrate_from_v1);
	tcase_add_test(tc, spec_parse);
	tcase_add_test(tc, repo_globs);
	tcase_add_test(tc, signature);
	tcase_add_test(tc, core_delivers_signed);
	tcase_add_test(tc, core_keeps_until_accepted);
	tcase_add_test(tc, core_pull_dropped_per_receiver);
	tcase_add_test(tc, core_bad_secret);
	suite_add_tcase(s, tc);
	return s;
}
