/*
 * cli.h - the command line of the subcommands (serve, user, cert, mirror
 * sync, export, import): one option parser, and the configuration they
 * all start from, so every command spells and reads -c and -d alike.
 */
#ifndef SERVER_CLI_H
#define SERVER_CLI_H

#include <stdbool.h>

#include "../core/core.h"
#include "config.h"

#define CLI_EXIT_FAILED 1 /* the command ran and failed */
#define CLI_EXIT_USAGE 2  /* the command line or configuration is wrong */

/* One option: its long name, an optional short one, and where it goes:
 * value for an option that takes one, flag for one that does not. */
typedef struct {
	const char *name;   /* "--data" */
	const char *alias;  /* "-d", or NULL */
	const char **value; /* set to the following argument */
	bool *flag;	    /* set to true */
} cli_opt;

/*
 * Parses argv against opts (ended by an entry whose name is NULL).
 * Arguments that are not options are collected, in order, into *pos
 * (pointers into argv, NULL-terminated; the caller frees *pos, also on
 * failure) and counted in *npos. 0; CLI_EXIT_USAGE after a message naming
 * cmd (an unknown option, a missing value); CLI_EXIT_FAILED (no memory).
 */
int cli_parse(const char *cmd, int argc, char **argv, const cli_opt *opts, char ***pos, int *npos);

/*
 * The configuration serve would run with: the defaults, then the file
 * (NULL: none), then data (NULL: keep). cfg is always initialised (give it
 * to config_free). 0, or CLI_EXIT_USAGE after a message.
 */
int cli_config(const char *cmd, const char *file, const char *data, config *cfg);

/*
 * The core's options from cfg (borrowing its strings: cfg must outlive
 * the core), with the upstreams when with_upstreams, sent to them as
 * user_agent; sweep for the process that owns the data folder.
 */
void cli_core_options(const config *cfg, bool with_upstreams, const char *user_agent, bool sweep,
		      core_options *out);

#endif
