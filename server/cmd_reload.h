/*
 * cmd_reload.h - `registry reload`: tells the registry serving a data
 * folder to read its configuration again (SIGHUP).
 */
#ifndef CMD_RELOAD_H
#define CMD_RELOAD_H

#include <stdio.h>

/* Help text, for `registry --help`. */
void cmd_reload_usage(FILE *f);

/* `registry reload [-c FILE] [-d DIR]`. Returns the exit status: 0 (the
 * signal was sent), 1 (no registry serves the folder, or the lock's pid is
 * not one), 2 (usage). */
int cmd_reload(int argc, char **argv);

#endif
