/*
 * cmd_mirror.c - `registry mirror sync`, `registry export`, `registry
 * import` (see cmd_mirror.h).
 *
 * Each reads the configuration as `serve` does (-c FILE, then -d DIR),
 * opens the data folder through the core, does its work there (core.h:
 * core_mirror_sync, core_export, core_import) and says what happened on stderr: progress,
 * then a summary. An export is written to FILE.partial and renamed when
 * complete, so a FILE that exists is whole. SIGINT stops a sync between
 * chunks; what it fetched stays, and the next run resumes.
 */
#include "cmd_mirror.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/human.h"
#include "../common/log.h"
#include "cli.h"
#include "config.h"

#ifndef REGISTRY_VERSION
#define REGISTRY_VERSION "unknown"
#endif

#define EXIT_FAILED CLI_EXIT_FAILED
#define EXIT_USAGE CLI_EXIT_USAGE

void cmd_mirror_usage(FILE *f)
{
	fprintf(f, "mirror sync FILE   fetch the images FILE lists (one per line: IMAGE\n"
		   "                   [tags=GLOB] [platforms=OS/ARCH,...]) from the upstreams\n"
		   "                   into the cache; resumable; progress and a summary\n"
		   "export IMAGE... -o FILE.tar\n"
		   "                   write images of this registry as an OCI image layout in\n"
		   "                   a tar archive (what skopeo's oci-archive: reads); of a\n"
		   "                   multi-platform image, the platforms stored here\n"
		   "  --all               each IMAGE is a repository: every tag of it\n"
		   "  --platform OS/ARCH[,...]  only these platforms of multi-platform images\n"
		   "import FILE.tar    read such an archive in, verifying every digest\n"
		   "  --repo NAME[:TAG]   put its images into repository NAME (TAG: the tag of\n"
		   "                      an image the archive names no tag for)\n"
		   "  all three take -c FILE and -d DIR as serve does\n");
}

typedef struct {
	const char *file, *data, *out, *repo, *platform;
	bool all;
	char **pos;
	int npos;
} opts;

/* Parses argv into o (cli_parse's outcomes). */
static int parse_opts(const char *cmd, int argc, char **argv, opts *o)
{
	memset(o, 0, sizeof(*o));
	const cli_opt table[] = {
	    {"--config", "-c", &o->file, NULL},
	    {"--data", "-d", &o->data, NULL},
	    {"--output", "-o", &o->out, NULL},
	    {"--repo", NULL, &o->repo, NULL},
	    {"--platform", NULL, &o->platform, NULL},
	    {"--all", NULL, NULL, &o->all},
	    {NULL, NULL, NULL, NULL},
	};
	return cli_parse(cmd, argc, argv, table, &o->pos, &o->npos);
}

/* The configuration and the core over its data folder. */
typedef struct {
	config cfg;
	core *c;
} env;

/* Opens e for cmd; the upstreams only for a sync (so an export or import
 * never loads libcurl). */
static int env_open(env *e, const char *cmd, const opts *o, bool upstreams)
{
	core_options co;
	status_t st;
	int rc;

	memset(e, 0, sizeof(*e));
	if ((rc = cli_config(cmd, o->file, o->data, &e->cfg)) != 0)
		return rc;
	log_set_level(e->cfg.log_level);
	cli_core_options(&e->cfg, upstreams, "registry/" REGISTRY_VERSION " (mirror sync)", false,
			 &co);
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

/* ---- mirror sync ---- */

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
	interrupted = 1;
}

static bool sync_cancelled(void)
{
	return interrupted != 0;
}

int cmd_mirror(int argc, char **argv)
{
	opts o;
	env e = {0};
	core_sync_summary sum;
	core_sync_options so = {stderr, isatty(STDERR_FILENO) == 1, sync_cancelled};
	struct sigaction sa;
	int rc;
	status_t st;

	if (argc < 1 || strcmp(argv[0], "sync") != 0) {
		fprintf(stderr, "usage: registry mirror sync FILE [-c CONFIG] [-d DATA]\n");
		return EXIT_USAGE;
	}
	if ((rc = parse_opts("mirror sync", argc - 1, argv + 1, &o)) != 0) {
		free(o.pos);
		return rc;
	}
	if (o.npos != 1) {
		fprintf(stderr, "usage: registry mirror sync FILE [-c CONFIG] [-d DATA]\n");
		free(o.pos);
		return EXIT_USAGE;
	}
	if ((rc = env_open(&e, "mirror sync", &o, true)) != 0)
		goto done;
	if (!core_mirrors(e.c)) {
		fprintf(stderr, "registry mirror sync: no upstream in the configuration (see "
				"registry.conf: upstream = NAME URL ...)\n");
		rc = EXIT_USAGE;
		goto done;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigint;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	st = core_mirror_sync(e.c, o.pos[0], &so, &sum);
	rc = st == ST_OK ? 0 : st == ST_INVALID ? EXIT_USAGE : EXIT_FAILED;
done:
	env_close(&e);
	free(o.pos);
	return rc;
}

/* ---- export ---- */

/* "os/arch[/variant],...": each entry two or three non-empty parts. */
static bool platforms_valid(const char *list)
{
	for (const char *q = list;;) {
		size_t k = strcspn(q, ","), parts = 1, len = 0;
		for (size_t i = 0; i < k; i++) {
			if (q[i] == '/') {
				if (len == 0)
					return false;
				parts++, len = 0;
			} else {
				len++;
			}
		}
		if (len == 0 || parts < 2 || parts > 3)
			return false;
		q += k;
		if (*q == '\0')
			return true;
		q++;
	}
}

int cmd_export(int argc, char **argv)
{
	char tmp[CONFIG_PATH_MAX + 16];
	core_export_options xo = {NULL, false};
	opts o;
	env e = {0};
	int rc, fd = -1;
	bool to_stdout;
	status_t st;

	if ((rc = parse_opts("export", argc, argv, &o)) != 0) {
		free(o.pos);
		return rc;
	}
	if (o.npos < 1 || o.out == NULL) {
		fprintf(stderr, "usage: registry export IMAGE... -o FILE.tar [--all] [--platform "
				"OS/ARCH,...] [-c CONFIG] [-d DATA]\n");
		free(o.pos);
		return EXIT_USAGE;
	}
	if (o.platform != NULL && !platforms_valid(o.platform)) {
		fprintf(stderr,
			"registry export: --platform %s: expected OS/ARCH[/VARIANT],... such as "
			"linux/amd64,linux/arm64\n",
			o.platform);
		free(o.pos);
		return EXIT_USAGE;
	}
	if ((rc = env_open(&e, "export", &o, false)) != 0)
		goto done;
	to_stdout = strcmp(o.out, "-") == 0;
	if (to_stdout) {
		if (isatty(STDOUT_FILENO)) {
			fprintf(stderr, "registry export: not writing an archive to a terminal\n");
			rc = EXIT_USAGE;
			goto done;
		}
		fd = STDOUT_FILENO;
	} else {
		snprintf(tmp, sizeof(tmp), "%s.partial", o.out);
		if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0) {
			fprintf(stderr, "registry export: %s: %s\n", tmp, strerror(errno));
			rc = EXIT_FAILED;
			goto done;
		}
	}
	xo.platforms = o.platform;
	xo.all_tags = o.all;
	st = core_export(e.c, o.pos, (size_t)o.npos, &xo, fd, stderr);
	if (st == ST_OK && !to_stdout && (fsync(fd) != 0 || rename(tmp, o.out) != 0)) {
		fprintf(stderr, "registry export: %s: %s\n", o.out, strerror(errno));
		st = ST_IO;
	}
	if (st != ST_OK && !to_stdout)
		unlink(tmp);
	if (st == ST_OK && !to_stdout)
		fprintf(stderr, "wrote %s\n", o.out);
	rc = st == ST_OK ? 0 : st == ST_INVALID ? EXIT_USAGE : EXIT_FAILED;
done:
	if (fd >= 0 && fd != STDOUT_FILENO)
		close(fd);
	env_close(&e);
	free(o.pos);
	return rc;
}

/* ---- import ---- */

int cmd_import(int argc, char **argv)
{
	core_import_stats stats;
	char repo[REF_NAME_MAX + REF_TAG_MAX], hs[HUMAN_SIZE_MAX];
	const char *tag = NULL;
	opts o;
	env e = {0};
	int rc, fd = -1;
	status_t st;

	if ((rc = parse_opts("import", argc, argv, &o)) != 0) {
		free(o.pos);
		return rc;
	}
	if (o.npos != 1) {
		fprintf(stderr,
			"usage: registry import FILE.tar [--repo NAME] [-c CONFIG] [-d DATA]\n");
		free(o.pos);
		return EXIT_USAGE;
	}
	if (o.repo != NULL) {
		/* NAME[:TAG]: a ':' after the last '/' starts the tag */
		const char *slash = strrchr(o.repo, '/');
		const char *colon = strchr(slash ? slash : o.repo, ':');
		snprintf(repo, sizeof(repo), "%s", o.repo);
		if (colon != NULL) {
			repo[colon - o.repo] = '\0';
			tag = colon + 1;
		}
		if (ref_name_check(repo) != ST_OK || (tag != NULL && ref_tag_check(tag) != ST_OK)) {
			fprintf(stderr,
				"registry import: --repo %s is not a repository name (NAME or "
				"NAME:TAG)\n",
				o.repo);
			free(o.pos);
			return EXIT_USAGE;
		}
	}
	if ((rc = env_open(&e, "import", &o, false)) != 0)
		goto done;
	if (strcmp(o.pos[0], "-") == 0)
		fd = STDIN_FILENO;
	else if ((fd = open(o.pos[0], O_RDONLY | O_CLOEXEC)) < 0) {
		fprintf(stderr, "registry import: %s: %s\n", o.pos[0], strerror(errno));
		rc = EXIT_FAILED;
		goto done;
	}
	st = core_import(e.c, fd, o.repo ? repo : NULL, tag, stderr, &stats);
	fprintf(stderr, "imported %zu image(s)%s; %zu blob(s) verified (%zu new), %s; %zu failed\n",
		stats.images, st == ST_OK ? "" : " (with errors)", stats.blobs, stats.blobs_new,
		human_size(hs, stats.bytes), stats.failed);
	if (stats.untagged > 0)
		fprintf(stderr, "%zu image(s) imported untagged: see above\n", stats.untagged);
	rc = st == ST_OK ? 0 : EXIT_FAILED;
done:
	if (fd > STDIN_FILENO)
		close(fd);
	env_close(&e);
	free(o.pos);
	return rc;
}
