/*
 * main.c - the command line: `registry serve`, `registry version`,
 * `registry --help`; `registry user` and `registry cert` (cmd_auth.c);
 * `registry mirror sync`, `registry export`, `registry import` (cmd_mirror.c);
 * `registry gc`, `registry repo rm` (cmd_gc.c).
 *
 * Configuration comes from built-in defaults, then the file given with -c,
 * then flags. Errors in it stop start-up with "FILE:LINE: message" and exit
 * status 2. The server runs until SIGINT or SIGTERM; SIGHUP is logged and
 * ignored.
 */
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/log.h"
#include "cmd_auth.h"
#include "cmd_gc.h"
#include "cli.h"
#include "cmd_mirror.h"
#include "config.h"
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
	cmd_gc_usage(f);
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
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (server_start(&srv, &cfg) != ST_OK) {
		config_free(&cfg);
		return 1;
	}
	/* Start-up (config, the crash clean-up's SQLite connection) leaves
	 * freed memory inside the heap; give its pages back (-128 KiB idle). */
	malloc_trim(0);
	/* SIGHUP is the usual "reload" of daemons; until there is one, a
	 * SIGHUP (a closed terminal, a reload sent by habit) must not kill a
	 * registry with pushes in flight, as its default action would. */
	while (sigwait(&set, &sig) == 0 && sig == SIGHUP)
		log_info("SIGHUP: ignored (configuration reload is not supported yet)");
	log_info("%s: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
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
