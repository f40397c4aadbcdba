/*
 * cmd_gc.h - the command line of storage lifecycle: `registry gc` and
 * `registry repo rm`. Both work on the data folder directly and are safe
 * while a server serves the same folder (core/gc.c says why).
 */
#ifndef CMD_GC_H
#define CMD_GC_H

#include <stdio.h>

/* Help text of the commands, for `registry --help`. */
void cmd_gc_usage(FILE *f);

/* `registry gc [--dry-run] [-c FILE] [-d DIR]`. Returns the exit status:
 * 0, 1 (it failed), 2 (usage or configuration). */
int cmd_gc(int argc, char **argv);

/* `registry repo rm NAME [--dry-run] [-c FILE] [-d DIR]`, argv[0] = "rm".
 * Exit status as above (1 also for a repository that does not exist). */
int cmd_repo(int argc, char **argv);

#endif
