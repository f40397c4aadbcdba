/*
 * cmd_backup.c - `registry backup DIR` (see cmd_backup.h).
 *
 * Reads the configuration as serve does (-c FILE, then -d DATA), opens the
 * data folder through the core without sweeping it (a server may own it
 * and be serving: the backup only reads), and asks the core for the
 * backup. What it did goes to stderr; the exit status says whether DIR is
 * a complete backup.
 */
#include "cmd_backup.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../common/log.h"
#include "cli.h"
#include "config.h"

#ifndef REGISTRY_VERSION
#define REGISTRY_VERSION "unknown"
#endif

void cmd_backup_usage(FILE *f)
{
	fprintf(f, "backup DIR         copy the data folder's content into DIR (new or empty),\n"
		   "                   consistent while the registry serves: the database as\n"
		   "                   of one moment and every blob it references (hard links\n"
		   "                   on the same filesystem); serve it with -d DIR to restore\n"
		   "  -c FILE, -d DIR     as serve\n");
}

int cmd_backup(int argc, char **argv)
{
	const char *file = NULL, *data = NULL;
	bool help = false;
	const cli_opt opts[] = {
	    {"--config", "-c", &file, NULL},
	    {"--data", "-d", &data, NULL},
	    {"--help", "-h", NULL, &help},
	    {NULL, NULL, NULL, NULL},
	};
	core_backup_stats stats;
	core_options co;
	config cfg;
	core *c = NULL;
	char **pos = NULL;
	struct stat sb;
	int npos, rc;
	status_t st;

	rc = cli_parse("backup", argc, argv, opts, &pos, &npos);
	if (rc == 0 && !help && npos != 1) {
		fprintf(stderr, "usage: registry backup DIR [-c FILE] [-d DATA]\n");
		rc = CLI_EXIT_USAGE;
	}
	if (rc != 0 || help) {
		if (help)
			cmd_backup_usage(stdout);
		free(pos);
		return rc;
	}
	if ((rc = cli_config("backup", file, data, &cfg)) != 0)
		goto done;
	log_set_level(cfg.log_level);
	/* core_open would make a missing folder: a mistyped -d must not give
	 * an empty "backup" that looks fine. */
	if (stat(cfg.data, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
		fprintf(stderr, "registry backup: no data folder %s: %s\n", cfg.data,
			strerror(errno ? errno : ENOTDIR));
		rc = CLI_EXIT_FAILED;
		goto done;
	}
	cli_core_options(&cfg, false, "registry/" REGISTRY_VERSION " (backup)", false, &co);
	if (core_open(&c, &co) != ST_OK) {
		fprintf(stderr, "registry backup: cannot open the data folder %s\n", cfg.data);
		rc = CLI_EXIT_FAILED;
		goto done;
	}
	st = core_backup(c, pos[0], stderr, &stats);
	if (st == ST_OK)
		fprintf(stderr, "backup of %s complete in %s\n", cfg.data, pos[0]);
	else if (st == ST_EXISTS)
		fprintf(stderr, "registry backup: %s is not empty: give a new or empty folder\n",
			pos[0]);
	else
		fprintf(stderr, "registry backup: failed (%s): %s is not a complete backup\n",
			status_str(st), pos[0]);
	rc = st == ST_OK ? 0 : CLI_EXIT_FAILED;
done:
	core_close(c);
	config_free(&cfg);
	free(pos);
	return rc;
}
