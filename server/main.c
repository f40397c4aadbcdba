/*
 * main.c - the command line: `registry serve`, `registry version`,
 * `registry --help`; `registry user` and `registry cert` (cmd_auth.c);
 * `registry mirror sync`, `registry export`, `registry import` (cmd_mirror.c);
 * `registry du`, `registry retain`, `registry scrub` (cmd_lifecycle.c),
 * `registry backup` (cmd_backup.c), `registry gc`, `registry repo rm` (cmd_gc.c).
 *
 * Configuration comes from built-in defaults, then the file given with -c,
 * then flags. Errors in it stop start-up with "FILE:LINE: message" and exit
 * status 2. The server runs until SIGINT or SIGTERM. SIGHUP reads the
 * configuration again the same way and applies it (server_reload; a bad
 * file is logged with its FILE:LINE and changes nothing); `registry reload`
 * (cmd_reload.c) sends it. SIGUSR1 reopens the log files (logrotate).
 * Under systemd (Type=notify) it says READY=1 once listening
 * (server_start) and STOPPING=1 on the signal (notify.h).
 */
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/log.h"
#include "cmd_auth.h"
#include "cmd_health.h"
#include "cmd_backup.h"
#include "cmd_gc.h"
#include "cli.h"
#include "cmd_lifecycle.h"
#include "cmd_mirror.h"
#include "cmd_reload.h"
#include "config.h"
#include "notify.h"
#include "server.h"

#ifndef REGISTRY_VERSION
#define REGISTRY_VERSION "unknown"
#endif

#define EXIT_USAGE CLI_EXIT_USAGE

static void usage(FILE *f)
{
	fprintf(f,
		"usage: registry serve [-c FILE] [--listen ADDR] [--data DIR]\n"
		"       registry user add|del|list|unlock [NAME] [options]\n"
		"       registry cert HOST|IP... [options]\n"
		"       registry mirror sync FILE [options]\n"
		"       registry export IMAGE... -o FILE.tar [options]\n"
		"       registry import FILE.tar [options]\n"
		"       registry reload [-c FILE] [-d DIR]\n"
		"       registry healthcheck [-c FILE] [--url URL]\n"
		"       registry du [PATTERN] [--json] [options]\n"
		"       registry retain [--dry-run] [options]\n"
		"       registry scrub [--repair] [options]\n"
		"       registry backup DIR [options]\n"
		"       registry gc [--dry-run] [options]\n"
		"       registry repo rm NAME [--dry-run] [options]\n"
		"       registry version\n"
		"       registry --help\n"
		"\n"
		"serve      run the registry (OCI distribution API) until SIGINT/SIGTERM\n"
		"  -c, --config FILE   configuration file (see registry.conf)\n"
		"  -l, --listen ADDR   address to listen on, HOST:PORT (default %s)\n"
		"  -d, --data DIR      data folder for blobs and metadata (default %s)\n"
		"version    print the version\n",
		CONFIG_DEFAULT_LISTEN, CONFIG_DEFAULT_DATA);
	cmd_auth_usage(f);
	cmd_mirror_usage(f);
	cmd_reload_usage(f);
	cmd_health_usage(f);
	cmd_lifecycle_usage(f);
	cmd_backup_usage(f);
	cmd_gc_usage(f);
}

/* SIGHUP: the configuration as `serve` read it at start (defaults, the
 * file, the flags), read again now. */
static void reload(server *srv, const char *file, const char *listen, const char *data)
{
	config cfg;
	char err[512];

	config_defaults(&cfg);
	if (file != NULL && config_load(&cfg, file, err, sizeof(err)) != ST_OK) {
		log_error("reload: %s; the running configuration is kept", err);
		goto done;
	}
	if ((data != NULL && config_set(&cfg, "data", data, err, sizeof(err)) != ST_OK) ||
	    (listen != NULL && config_set(&cfg, "listen", listen, err, sizeof(err)) != ST_OK)) {
		log_error("reload: %s; the running configuration is kept", err);
		goto done;
	}
	server_reload(srv, &cfg, file != NULL ? file : "the built-in defaults");
done:
	config_free(&cfg);
}

static int cmd_serve(int argc, char **argv)
{
	const char *file = NULL, *listen = NULL, *data = NULL;
	bool help = false;
	const cli_opt opts[] = {
	    {"--config", "-c", &file, NULL}, {"--listen", "-l", &listen, NULL},
	    {"--data", "-d", &data, NULL},   {"--help", "-h", NULL, &help},
	    {NULL, NULL, NULL, NULL},
	};
	char err[512], **pos = NULL;
	config cfg;
	server *srv = NULL;
	sigset_t set;
	int sig = SIGTERM, npos, rc;

	rc = cli_parse("serve", argc, argv, opts, &pos, &npos);
	if (rc == 0 && npos > 0) {
		fprintf(stderr, "registry serve: unknown argument '%s'\n", pos[0]);
		rc = EXIT_USAGE;
	}
	free(pos);
	if (rc != 0 || help) {
		usage(rc ? stderr : stdout);
		return rc;
	}
	if ((rc = cli_config("serve", file, data, &cfg)) == 0 && listen != NULL &&
	    config_set(&cfg, "listen", listen, err, sizeof(err)) != ST_OK) {
		fprintf(stderr, "registry serve: --listen: %s\n", err);
		rc = EXIT_USAGE;
	}
	if (rc != 0) {
		config_free(&cfg);
		return rc;
	}
	log_set_level(cfg.log_level);

	/* Threads inherit this mask, so only sigwait below sees the signals. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (server_start(&srv, &cfg) != ST_OK) {
		config_free(&cfg);
		return 1;
	}
	/* Start-up (config, the crash clean-up's SQLite connection) leaves
	 * freed memory inside the heap; give its pages back (-128 KiB idle). */
	malloc_trim(0);
	/* Signals are taken here, one at a time, by this thread: a reload
	 * never runs twice at once, nor during the stop. */
	while (sigwait(&set, &sig) == 0 && (sig == SIGHUP || sig == SIGUSR1)) {
		if (sig == SIGUSR1) {
			server_reopen_logs(srv); /* logrotate moved the files */
		} else {
			log_info("SIGHUP: reloading the configuration");
			reload(srv, file, listen, data);
		}
	}
	log_info("%s: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	notify_send("STOPPING=1");
	server_stop(srv);
	config_free(&cfg); /* after the server, which borrowed its lists */
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "serve") == 0)
		return cmd_serve(argc - 2, argv + 2);
	if (strcmp(argv[1], "user") == 0)
		return cmd_auth_user(argc - 2, argv + 2);
	if (strcmp(argv[1], "cert") == 0)
		return cmd_auth_cert(argc - 2, argv + 2);
	if (strcmp(argv[1], "mirror") == 0)
		return cmd_mirror(argc - 2, argv + 2);
	if (strcmp(argv[1], "export") == 0)
		return cmd_export(argc - 2, argv + 2);
	if (strcmp(argv[1], "import") == 0)
		return cmd_import(argc - 2, argv + 2);
	if (strcmp(argv[1], "reload") == 0)
		return cmd_reload(argc - 2, argv + 2);
	if (strcmp(argv[1], "healthcheck") == 0)
		return cmd_healthcheck(argc - 2, argv + 2);
	if (strcmp(argv[1], "du") == 0)
		return cmd_du(argc - 2, argv + 2);
	if (strcmp(argv[1], "retain") == 0)
		return cmd_retain(argc - 2, argv + 2);
	if (strcmp(argv[1], "scrub") == 0)
		return cmd_scrub(argc - 2, argv + 2);
	if (strcmp(argv[1], "backup") == 0)
		return cmd_backup(argc - 2, argv + 2);
	if (strcmp(argv[1], "gc") == 0)
		return cmd_gc(argc - 2, argv + 2);
	if (strcmp(argv[1], "repo") == 0)
		return cmd_repo(argc - 2, argv + 2);
	if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
		printf("registry %s\n", REGISTRY_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "registry: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
