/*
 * cmd_auth.h - the command line for access control and TLS:
 * `registry user add|del|list` and `registry cert`.
 */
#ifndef CMD_AUTH_H
#define CMD_AUTH_H

#include <stdio.h>

/* Help text of both commands, for `registry --help`. */
void cmd_auth_usage(FILE *f);

/* `registry user ...` with argv[0] = "add", "del" or "list". Returns the
 * exit status: 0, 1 (failed), 2 (usage). */
int cmd_auth_user(int argc, char **argv);

/* `registry cert NAME...`. Returns the exit status, as cmd_auth_user. */
int cmd_auth_cert(int argc, char **argv);

#endif
