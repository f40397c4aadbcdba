/*
 * cmd_mirror.h - the command line of the pull-through cache and offline
 * mirror: `registry mirror sync`, `registry export`, `registry import`.
 * They work on the data folder directly (no server needed; one may run on
 * the same folder meanwhile).
 */
#ifndef CMD_MIRROR_H
#define CMD_MIRROR_H

#include <stdio.h>

/* Help text of the three commands, for `registry --help`. */
void cmd_mirror_usage(FILE *f);

/* `registry mirror sync FILE [options]`, argv[0] = "sync". Returns the exit
 * status: 0, 1 (something failed), 2 (usage or configuration). */
int cmd_mirror(int argc, char **argv);

/* `registry export IMAGE... -o FILE [options]`. Exit status as above. */
int cmd_export(int argc, char **argv);

/* `registry import FILE [--repo NAME] [options]`. Exit status as above. */
int cmd_import(int argc, char **argv);

#endif
