/*
 * cmd_lifecycle.h - the command line of the storage lifecycle:
 * `registry du`, `registry retain`, `registry scrub`. Each opens the data
 * folder through the core, as a server on the same folder does meanwhile,
 * and reads the configuration as `serve` does (-c FILE, then -d DIR).
 */
#ifndef CMD_LIFECYCLE_H
#define CMD_LIFECYCLE_H

#include <stdio.h>

/* Help text of the three commands, for `registry --help`. */
void cmd_lifecycle_usage(FILE *f);

/* `registry du [PATTERN] [--json]`. Exit status: 0, 1 (failed), 2 (usage
 * or configuration). */
int cmd_du(int argc, char **argv);

/* `registry retain [--dry-run]`. Exit status as cmd_du. */
int cmd_retain(int argc, char **argv);

/* `registry scrub [--repair]`. Exit status: 0 (everything matched), 1
 * (something did not, or the scrub failed), 2 (usage). */
int cmd_scrub(int argc, char **argv);

#endif
