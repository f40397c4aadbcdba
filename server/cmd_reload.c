/*
 * cmd_reload.c - `registry reload` (see cmd_reload.h).
 *
 * The running server is found through its data folder: `serve` holds an
 * flock on DATA/serve.lock, which holds its pid, for as long as it runs
 * (http.c, data_lock). The pid is believed only if the lock is held (a
 * stale file of a server that died names a pid the kernel may have given
 * to anything since) and /proc says the process runs a registry binary;
 * then it gets SIGHUP. What the reload applied, or why it kept the running
 * configuration, is in the server's log.
 */
#include "cmd_reload.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "cli.h"

#define RELOAD_LOCK_FILE "serve.lock" /* as http.c's data_lock */

void cmd_reload_usage(FILE *f)
{
	fprintf(f, "reload     make the registry serving the data folder re-read its "
		   "configuration (SIGHUP)\n"
		   "  registry reload [-c FILE] [-d DIR]\n");
}

/* Whether pid runs a registry binary ("registry", "registry-asan", ...). */
static bool is_registry(long pid)
{
	char link[64], exe[PATH_MAX];
	ssize_t n;
	const char *base;

	snprintf(link, sizeof(link), "/proc/%ld/exe", pid);
	if ((n = readlink(link, exe, sizeof(exe) - 1)) < 0)
		return false;
	exe[n] = '\0';
	base = strrchr(exe, '/') ? strrchr(exe, '/') + 1 : exe;
	return strncmp(base, "registry", 8) == 0;
}

int cmd_reload(int argc, char **argv)
{
	const char *file = NULL, *data = NULL;
	bool help = false;
	const cli_opt opts[] = {
	    {"--config", "-c", &file, NULL},
	    {"--data", "-d", &data, NULL},
	    {"--help", "-h", NULL, &help},
	    {NULL, NULL, NULL, NULL},
	};
	char path[CONFIG_PATH_MAX + 16], buf[32], **pos = NULL, *end;
	config cfg;
	int fd = -1, npos, rc;
	ssize_t n;
	long pid;

	rc = cli_parse("reload", argc, argv, opts, &pos, &npos);
	if (rc == 0 && npos > 0) {
		fprintf(stderr, "registry reload: unknown argument '%s'\n", pos[0]);
		rc = CLI_EXIT_USAGE;
	}
	free(pos);
	if (rc != 0 || help) {
		cmd_reload_usage(rc ? stderr : stdout);
		return rc;
	}
	if ((rc = cli_config("reload", file, data, &cfg)) != 0)
		goto done;
	rc = CLI_EXIT_FAILED;
	snprintf(path, sizeof(path), "%s/" RELOAD_LOCK_FILE, cfg.data);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		fprintf(stderr, "registry reload: no registry serves %s (%s: %s)\n", cfg.data, path,
			strerror(errno));
		goto done;
	}
	/* Free: nobody serves the folder, whatever pid the file names. */
	if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
		fprintf(stderr, "registry reload: no registry serves %s (its lock is free)\n",
			cfg.data);
		goto done;
	}
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
	errno = 0;
	pid = strtol(buf, &end, 10);
	if (errno != 0 || end == buf || (*end != '\n' && *end != '\0') || pid <= 1) {
		fprintf(stderr, "registry reload: %s holds no pid\n", path);
		goto done;
	}
	if (!is_registry(pid)) {
		fprintf(stderr, "registry reload: pid %ld (from %s) is not a registry\n", pid,
			path);
		goto done;
	}
	if (kill((pid_t)pid, SIGHUP) != 0) {
		fprintf(stderr, "registry reload: cannot signal pid %ld: %s\n", pid,
			strerror(errno));
		goto done;
	}
	printf("registry reload: sent SIGHUP to pid %ld, which serves %s; its log says what it "
	       "applied\n",
	       pid, cfg.data);
	rc = 0;
done:
	if (fd >= 0)
		close(fd);
	config_free(&cfg);
	return rc;
}
