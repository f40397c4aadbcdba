/*
 * cmd_backup.h - `registry backup DIR`: a consistent copy of the data
 * folder, taken while the registry serves (core_backup in core/core.h).
 */
#ifndef CMD_BACKUP_H
#define CMD_BACKUP_H

#include <stdio.h>

/* Help text, for `registry --help`. */
void cmd_backup_usage(FILE *f);

/* `registry backup DIR [-c FILE] [-d DATA]`. Returns the exit status: 0;
 * 1 (the backup failed or is incomplete); 2 (usage or configuration). */
int cmd_backup(int argc, char **argv);

#endif
