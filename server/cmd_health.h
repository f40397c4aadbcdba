/*
 * cmd_health.h - `registry healthcheck`: whether the registry configured by
 * the same file answers GET /readyz with 200, for a container's
 * HEALTHCHECK or any supervisor.
 */
#ifndef CMD_HEALTH_H
#define CMD_HEALTH_H

#include <stdio.h>

#define CMD_HEALTH_TIMEOUT_SEC 5 /* the whole probe, connect included */

/* Help text, for `registry --help`. */
void cmd_health_usage(FILE *f);

/* `registry healthcheck [-c FILE] [--url URL]`. Returns the exit status:
 * 0 ready, 1 not (a one-line reason on stderr), 2 usage or configuration. */
int cmd_healthcheck(int argc, char **argv);

#endif
