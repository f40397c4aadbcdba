/*
 * cmd_gc.c - `registry gc` and `registry repo rm` (see cmd_gc.h).
 *
 * Each reads the configuration as `serve` does (-c FILE, then -d DIR: the
 * gc_* keys and upload_ttl apply), opens the data folder through the core
 * without its upstreams, and does its work there (gc: core_collect, as the
 * server's collector). What is removed (or, with --dry-run or gc_dry_run,
 * what would be) goes to stdout one line each:
 *   tag NAME:TAG DIGEST | manifest NAME@DIGEST | link NAME DIGEST |
 *   blob DIGEST BYTES | orphan DIGEST BYTES
 * then a summary with the bytes freed to stderr.
 */
#include "cmd_gc.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/human.h"
#include "../common/log.h"
#include "cli.h"
#include "config.h"

#ifndef REGISTRY_VERSION
#define REGISTRY_VERSION "unknown"
#endif

/* `registry gc` runs niced: pulls and pushes of a server beside it first. */
#define CMD_GC_NICE 10

void cmd_gc_usage(FILE *f)
{
	fprintf(f, "gc                 apply the retain lines, then remove what nothing\n"
		   "                   references (safe while a server serves the same\n"
		   "                   folder); lists it, then a summary\n"
		   "  --dry-run           list what would be removed, remove nothing (so does\n"
		   "                      gc_dry_run = true in the configuration)\n"
		   "repo rm NAME       delete a whole repository: its tags, manifests and\n"
		   "                   blob links (the blobs go at the next gc past gc_delay)\n"
		   "  --dry-run           count what would be removed\n"
		   "  both take -c FILE and -d DIR as serve does\n");
}

typedef struct {
	const char *file, *data;
	bool dry, help;
	char **pos;
	int npos;
} opts;

/* Parses argv and opens the core on the configured data folder. */
static int open_core(const char *cmd, int argc, char **argv, opts *o, config *cfg, core **c)
{
	const cli_opt table[] = {
	    {"--config", "-c", &o->file, NULL}, {"--data", "-d", &o->data, NULL},
	    {"--dry-run", "-n", NULL, &o->dry}, {"--help", "-h", NULL, &o->help},
	    {NULL, NULL, NULL, NULL},
	};
	core_options co;
	int rc;

	*c = NULL;
	config_defaults(cfg);
	if ((rc = cli_parse(cmd, argc, argv, table, &o->pos, &o->npos)) != 0)
		return rc;
	if (o->help) {
		cmd_gc_usage(stdout);
		return -1;
	}
	config_free(cfg);
	if ((rc = cli_config(cmd, o->file, o->data, cfg)) != 0)
		return rc;
	log_set_level(cfg->log_level);
	cli_core_options(cfg, false, "registry/" REGISTRY_VERSION, false, &co);
	if (core_open(c, &co) != ST_OK) {
		fprintf(stderr, "registry %s: cannot open the data folder %s\n", cmd, cfg->data);
		return CLI_EXIT_FAILED;
	}
	return 0;
}

int cmd_gc(int argc, char **argv)
{
	opts o = {0};
	config cfg;
	core *c = NULL;
	core_gc_report r;
	core_gc_options go = {0};
	char size[HUMAN_SIZE_MAX];
	int rc = open_core("gc", argc, argv, &o, &cfg, &c);
	status_t st;

	if (rc == 0 && o.npos > 0) {
		fprintf(stderr, "registry gc: unknown argument '%s'\n", o.pos[0]);
		rc = CLI_EXIT_USAGE;
	}
	if (rc != 0)
		goto done;
	go.dry_run = o.dry;
	go.list = stdout;
	/* beside a server, the server's requests get the CPU first */
	errno = 0;
	if (nice(CMD_GC_NICE) == -1 && errno != 0)
		log_debug("gc: cannot lower its priority");
	/* the retain lines first, then what nothing references: core_collect,
	 * as the server's collector. With gc_dry_run set it is a dry run. */
	st = core_collect(c, &go, &r);
	fflush(stdout);
	if (core_retain_configured(c))
		fprintf(stderr, "retention: %zu tag(s) %s\n", r.tags,
			r.dry_run ? "would be removed" : "removed");
	fprintf(stderr,
		"%s %zu manifest(s), %zu blob link(s), %zu blob(s), %zu orphan file(s): "
		"%s (%llu bytes) %s; %zu idle upload(s) removed; %.2f s\n",
		r.dry_run ? "would remove" : "removed", r.manifests, r.links, r.blobs, r.orphans,
		human_size(size, r.bytes), (unsigned long long)r.bytes,
		r.dry_run ? "would be freed" : "freed", r.uploads, r.seconds);
	if (r.dry_config)
		fprintf(stderr, "gc_dry_run is set: nothing was removed\n");
	if (st != ST_OK) {
		fprintf(stderr, "registry gc: stopped early: %s\n", status_str(st));
		rc = CLI_EXIT_FAILED;
	}
done:
	core_close(c);
	config_free(&cfg);
	free(o.pos);
	return rc < 0 ? 0 : rc;
}

int cmd_repo(int argc, char **argv)
{
	opts o = {0};
	config cfg;
	core *c = NULL;
	core_req *q = NULL;
	core_repo_counts n;
	int rc;
	status_t st;

	if (argc < 1 || strcmp(argv[0], "rm") != 0) {
		fprintf(stderr, "registry repo: expected 'rm NAME'\n");
		cmd_gc_usage(stderr);
		return CLI_EXIT_USAGE;
	}
	rc = open_core("repo rm", argc - 1, argv + 1, &o, &cfg, &c);
	if (rc == 0 && o.npos != 1) {
		fprintf(stderr, "registry repo rm: expected one repository name\n");
		rc = CLI_EXIT_USAGE;
	}
	if (rc == 0 && ref_name_check(o.pos[0]) != ST_OK) {
		fprintf(stderr, "registry repo rm: '%s' is not a repository name\n", o.pos[0]);
		rc = CLI_EXIT_USAGE;
	}
	if (rc != 0)
		goto done;
	if ((st = core_req_open(c, o.pos[0], NULL, NULL, &q)) == ST_OK)
		st = core_repo_delete(c, q, o.dry, &n);
	if (st == ST_OK) {
		printf("%s %s: %zu tag(s), %zu manifest(s), %zu blob link(s)%s\n",
		       o.dry ? "would delete" : "deleted", o.pos[0], n.tags, n.manifests, n.links,
		       o.dry ? "" : "; its blobs go at the next gc past gc_delay");
	} else {
		fprintf(stderr, "registry repo rm: %s: %s\n", o.pos[0],
			st == ST_NAME_UNKNOWN	  ? "no such repository"
			: q && core_req_detail(q) ? core_req_detail(q)
						  : status_str(st));
		rc = CLI_EXIT_FAILED;
	}
done:
	core_req_free(q);
	core_close(c);
	config_free(&cfg);
	free(o.pos);
	return rc < 0 ? 0 : rc;
}
