/*
 * cmd_lifecycle.c - `registry du`, `registry retain`, `registry scrub`
 * (see cmd_lifecycle.h): the command line only, each a call into the core
 * (core_du, core_retain, core_scrub) and a report of what it said.
 *
 * du prints a table per repository, then per namespace, largest first
 * (sizes in the style of human.h), or with --json the exact numbers.
 * retain and scrub print one line per tag or digest, then a summary.
 */
#include "cmd_lifecycle.h"

#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "../common/human.h"
#include "../common/log.h"
#include "cli.h"
#include "config.h"

#define EXIT_FAILED CLI_EXIT_FAILED
#define EXIT_USAGE CLI_EXIT_USAGE

void cmd_lifecycle_usage(FILE *f)
{
	fprintf(f, "du [PATTERN]       what each repository (PATTERN: a glob as in auth_rule)\n"
		   "                   and its namespace hold: bytes referenced, unique to it,\n"
		   "                   shared; tags, manifests, last push, last pull; largest\n"
		   "                   first\n"
		   "  --json              the same as JSON, sizes in bytes\n"
		   "retain             remove the tags no retain line keeps (registry.conf)\n"
		   "  --dry-run           list them, remove nothing\n"
		   "scrub              re-hash every stored blob and manifest (at scrub_rate);\n"
		   "                   report those whose bytes no longer match their digest\n"
		   "  --repair            quarantine them: never served again until pushed again\n"
		   "  all three take -c FILE and -d DIR as serve does\n");
}

typedef struct {
	const char *file, *data;
	bool json, dry_run, repair, help;
	char **pos;
	int npos;
} opts;

typedef struct {
	config cfg;
	core *c;
} env;

static int env_open(env *e, const char *cmd, const opts *o)
{
	core_options co;
	status_t st;
	int rc;

	memset(e, 0, sizeof(*e));
	if ((rc = cli_config(cmd, o->file, o->data, &e->cfg)) != 0)
		return rc;
	log_set_level(e->cfg.log_level);
	cli_core_options(&e->cfg, false, NULL, false, &co);
	if ((st = core_open(&e->c, &co)) != ST_OK) {
		fprintf(stderr, "registry %s: cannot open the data folder %s\n", cmd, e->cfg.data);
		return st == ST_INVALID ? EXIT_USAGE : EXIT_FAILED;
	}
	return 0;
}

static void env_close(env *e)
{
	core_close(e->c);
	config_free(&e->cfg);
}

/* Parses argv; positional arguments beyond max_pos are a usage error. */
static int parse(const char *cmd, int argc, char **argv, opts *o, int max_pos, const char *usage)
{
	const cli_opt table[] = {
	    {"--config", "-c", &o->file, NULL},
	    {"--data", "-d", &o->data, NULL},
	    {"--json", NULL, NULL, &o->json},
	    {"--dry-run", NULL, NULL, &o->dry_run},
	    {"--repair", NULL, NULL, &o->repair},
	    {"--help", "-h", NULL, &o->help},
	    {NULL, NULL, NULL, NULL},
	};
	int rc;

	memset(o, 0, sizeof(*o));
	if ((rc = cli_parse(cmd, argc, argv, table, &o->pos, &o->npos)) != 0)
		return rc;
	/* only the flags of this command */
	if (o->npos > max_pos || (o->json && strcmp(cmd, "du") != 0) ||
	    (o->dry_run && strcmp(cmd, "retain") != 0) ||
	    (o->repair && strcmp(cmd, "scrub") != 0)) {
		fprintf(stderr, "usage: %s\n", usage);
		return EXIT_USAGE;
	}
	if (o->help) {
		printf("usage: %s\n", usage);
		return -1;
	}
	return 0;
}

static const char *when(char *buf, size_t len, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t == 0)
		return "never";
	gmtime_r(&tt, &tm);
	strftime(buf, len, "%Y-%m-%d %H:%M", &tm);
	return buf;
}

/* ---- du ---- */

typedef struct {
	core_du_row *v;
	size_t n, cap;
	bool failed;
} rows;

static void add_row(rows *r, const core_du_row *row)
{
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 64;
		core_du_row *p = realloc(r->v, cap * sizeof(*p));
		if (p == NULL) {
			r->failed = true;
			return;
		}
		r->v = p;
		r->cap = cap;
	}
	r->v[r->n++] = *row;
}

typedef struct {
	rows repos, ns;
} du_out;

static void on_repo(void *arg, const core_du_row *r)
{
	add_row(&((du_out *)arg)->repos, r);
}

static void on_ns(void *arg, const core_du_row *r)
{
	add_row(&((du_out *)arg)->ns, r);
}

/* Largest first; the same size by name. */
static int by_size(const void *a, const void *b)
{
	const core_du_row *x = a, *y = b;

	if (x->referenced != y->referenced)
		return x->referenced > y->referenced ? -1 : 1;
	return strcmp(x->name, y->name);
}

static void print_table(const char *head, const rows *r)
{
	char a[HUMAN_SIZE_MAX], b[HUMAN_SIZE_MAX], c[HUMAN_SIZE_MAX], t1[32], t2[32];
	int w = (int)strlen(head);

	for (size_t i = 0; i < r->n; i++)
		if ((int)strlen(r->v[i].name) > w)
			w = (int)strlen(r->v[i].name);
	printf("%-*s %11s %11s %11s %6s %9s  %-16s  %-16s %7s\n", w, head, "REFERENCED", "UNIQUE",
	       "SHARED", "TAGS", "MANIFESTS", "LAST PUSH", "LAST PULL", "PULLS");
	for (size_t i = 0; i < r->n; i++) {
		const core_du_row *x = &r->v[i];
		printf("%-*s %11s %11s %11s %6llu %9llu  %-16s  %-16s %7llu\n", w, x->name,
		       human_size(a, x->referenced), human_size(b, x->unique),
		       human_size(c, x->referenced - x->unique), (unsigned long long)x->tags,
		       (unsigned long long)x->manifests, when(t1, sizeof(t1), x->last_push),
		       when(t2, sizeof(t2), x->last_pull), (unsigned long long)x->pulls);
	}
}

static json_t *json_time(int64_t t)
{
	char buf[32];
	time_t tt = (time_t)t;
	struct tm tm;

	if (t == 0)
		return json_null();
	gmtime_r(&tt, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_string(buf);
}

static json_t *json_rows(const rows *r)
{
	json_t *a = json_array();

	for (size_t i = 0; a != NULL && i < r->n; i++) {
		const core_du_row *x = &r->v[i];
		json_array_append_new(
		    a, json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:o,s:o,s:I}", "name", x->name,
				 "referenced", (json_int_t)x->referenced, "unique",
				 (json_int_t)x->unique, "shared",
				 (json_int_t)(x->referenced - x->unique), "tags",
				 (json_int_t)x->tags, "manifests", (json_int_t)x->manifests,
				 "last_push", json_time(x->last_push), "last_pull",
				 json_time(x->last_pull), "pulls", (json_int_t)x->pulls));
	}
	return a;
}

int cmd_du(int argc, char **argv)
{
	const char *usage = "registry du [PATTERN] [--json] [-c FILE] [-d DIR]";
	du_out out = {{0}, {0}};
	opts o;
	env e;
	int rc;
	status_t st;

	if ((rc = parse("du", argc, argv, &o, 1, usage)) != 0) {
		free(o.pos);
		return rc < 0 ? 0 : rc;
	}
	if ((rc = env_open(&e, "du", &o)) != 0)
		goto done;
	st = core_du(e.c, o.npos ? o.pos[0] : NULL, on_repo, on_ns, &out);
	if (st != ST_OK || out.repos.failed || out.ns.failed) {
		fprintf(stderr, "registry du: %s\n", status_str(st != ST_OK ? st : ST_NOMEM));
		rc = EXIT_FAILED;
		goto done;
	}
	if (out.repos.n > 1) /* qsort(NULL, 0, ...) is undefined behaviour (UBSan) */
		qsort(out.repos.v, out.repos.n, sizeof(core_du_row), by_size);
	if (out.ns.n > 1)
		qsort(out.ns.v, out.ns.n, sizeof(core_du_row), by_size);
	if (o.json) {
		json_t *root = json_pack("{s:o,s:o}", "repositories", json_rows(&out.repos),
					 "namespaces", json_rows(&out.ns));
		char *s = root ? json_dumps(root, JSON_INDENT(2)) : NULL;
		if (s != NULL)
			printf("%s\n", s);
		free(s);
		json_decref(root);
		rc = s != NULL ? 0 : EXIT_FAILED;
		goto done;
	}
	if (out.repos.n == 0) {
		printf("no repository%s%s\n", o.npos ? " matches " : "", o.npos ? o.pos[0] : "");
		goto done;
	}
	print_table("REPOSITORY", &out.repos);
	if (out.ns.n > 0) {
		printf("\n");
		print_table("NAMESPACE", &out.ns);
	}
done:
	free(out.repos.v);
	free(out.ns.v);
	env_close(&e);
	free(o.pos);
	return rc;
}

/* ---- retain ---- */

static void on_retain(void *arg, const core_retain_item *it)
{
	const bool *dry = arg;
	const char *what = it->kept_why ? "keep" : *dry ? "would remove" : "removed";
	char t1[32], t2[32];

	printf("%s %s:%s %s (pushed %s%s%s, last pulled %s)%s%s\n", what, it->repo, it->tag,
	       it->digest, when(t1, sizeof(t1), it->pushed), it->pushed_by[0] ? " by " : "",
	       it->pushed_by, when(t2, sizeof(t2), it->last_pull), it->kept_why ? ": " : " by ",
	       it->kept_why ? it->kept_why : it->rules);
}

int cmd_retain(int argc, char **argv)
{
	const char *usage = "registry retain [--dry-run] [-c FILE] [-d DIR]";
	core_retain_summary sum;
	opts o;
	env e;
	int rc;
	status_t st;

	if ((rc = parse("retain", argc, argv, &o, 0, usage)) != 0) {
		free(o.pos);
		return rc < 0 ? 0 : rc;
	}
	if ((rc = env_open(&e, "retain", &o)) != 0)
		goto done;
	if (!core_retain_configured(e.c)) {
		fprintf(stderr, "registry retain: no retain line in the configuration (see "
				"registry.conf: retain = \"PATTERN keep=N ...\")\n");
		rc = EXIT_USAGE;
		goto done;
	}
	st = core_retain(e.c, o.dry_run, on_retain, &o.dry_run, &sum);
	printf("%s: %zu repositories, %zu tags, %zu %s, %zu kept as immutable\n",
	       o.dry_run ? "dry run" : "retain", sum.repos, sum.tags, sum.removed,
	       o.dry_run ? "would be removed" : "removed", sum.kept_immutable);
	if (st != ST_OK) {
		fprintf(stderr, "registry retain: %s\n", status_str(st));
		rc = EXIT_FAILED;
	}
done:
	env_close(&e);
	free(o.pos);
	return rc;
}

/* ---- scrub ---- */

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	interrupted = 1;
}

static bool scrub_cancelled(void *arg)
{
	return interrupted != 0;
}

static void on_bad(void *arg, const core_scrub_item *it)
{
	printf("%s %s: %s\n", it->quarantined ? "quarantined" : "bad", it->digest, it->problem);
	for (size_t i = 0; i < it->nusers; i++)
		printf("  used by %s\n", it->users[i]);
}

int cmd_scrub(int argc, char **argv)
{
	const char *usage = "registry scrub [--repair] [-c FILE] [-d DIR]";
	core_scrub_summary sum;
	core_scrub_options so = {0};
	char bytes[HUMAN_SIZE_MAX];
	struct sigaction sa;
	opts o;
	env e;
	int rc;
	status_t st;

	if ((rc = parse("scrub", argc, argv, &o, 0, usage)) != 0) {
		free(o.pos);
		return rc < 0 ? 0 : rc;
	}
	if ((rc = env_open(&e, "scrub", &o)) != 0)
		goto done;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	so.rate = e.cfg.scrub_rate_bytes;
	so.repair = o.repair;
	so.cancelled = scrub_cancelled;
	st = core_scrub(e.c, &so, on_bad, NULL, &sum);
	printf("scrub%s: %zu checked (%s), %zu bad, %zu quarantined%s\n",
	       sum.cancelled ? " interrupted" : "", sum.checked, human_size(bytes, sum.bytes),
	       sum.bad, sum.quarantined,
	       sum.bad > sum.quarantined ? " (run with --repair to quarantine them)" : "");
	if (st != ST_OK)
		fprintf(stderr, "registry scrub: %s\n", status_str(st));
	rc = (st != ST_OK || sum.bad > 0 || sum.cancelled) ? EXIT_FAILED : 0;
done:
	env_close(&e);
	free(o.pos);
	return rc;
}
