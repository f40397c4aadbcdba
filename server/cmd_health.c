/*
 * cmd_health.c - `registry healthcheck` (cmd_health.h).
 *
 * Which URL: --url (a base such as http://127.0.0.1:5000, or the whole
 * .../readyz); else metrics_listen's address if set (plain HTTP), else
 * listen's, over HTTPS when tls_cert and tls_key are set. A wildcard host
 * (0.0.0.0, ::, none) is asked on loopback. The answer's first line, or
 * the error's detail, is the one-line reason printed.
 */
#include "cmd_health.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../core/core.h"
#include "cli.h"
#include "config.h"

#define HEALTH_URL_MAX 1100

void cmd_health_usage(FILE *f)
{
	fprintf(f,
		"healthcheck  exit 0 if GET /readyz of the configured registry answers 200,\n"
		"             else 1 with the reason (for a container's HEALTHCHECK)\n"
		"  -c, --config FILE   the configuration serve uses (listen, TLS, metrics_listen)\n"
		"  --url URL           ask this instead (http://HOST:PORT or .../readyz)\n");
}

/* The /readyz URL for cfg into out. 0, or -1 (an address that cannot be
 * split: config_load has checked it, so only a flag could do that). */
static int url_of(const config *cfg, char *out, size_t outlen)
{
	const char *listen = cfg->metrics_listen[0] ? cfg->metrics_listen : cfg->listen;
	bool tls = !cfg->metrics_listen[0] && cfg->tls_cert[0] && cfg->tls_key[0];
	char host[256];
	uint16_t port;

	if (config_listen_split(listen, host, sizeof(host), &port) != ST_OK)
		return -1;
	if (host[0] == '\0' || strcmp(host, "0.0.0.0") == 0)
		snprintf(host, sizeof(host), "127.0.0.1");
	else if (strcmp(host, "::") == 0)
		snprintf(host, sizeof(host), "::1");
	snprintf(out, outlen, strchr(host, ':') ? "%s://[%s]:%u/readyz" : "%s://%s:%u/readyz",
		 tls ? "https" : "http", host, port);
	return 0;
}

/* The reason in a refusal's body: the OCI error's detail, or its first line. */
static void reason_of(const char *body, char *out, size_t outlen)
{
	json_t *root = json_loads(body, 0, NULL);
	const char *d = NULL;

	json_unpack(root, "{s:[{s:s}]}", "errors", "detail", &d);
	if (d == NULL)
		json_unpack(root, "{s:[{s:s}]}", "errors", "message", &d);
	snprintf(out, outlen, "%s", d ? d : body);
	out[strcspn(out, "\r\n")] = '\0';
	json_decref(root);
}

int cmd_healthcheck(int argc, char **argv)
{
	const char *file = NULL, *url = NULL;
	bool help = false;
	const cli_opt opts[] = {
	    {"--config", "-c", &file, NULL},
	    {"--url", NULL, &url, NULL},
	    {"--help", "-h", NULL, &help},
	    {NULL, NULL, NULL, NULL},
	};
	char full[HEALTH_URL_MAX], body[512], err[256], why[512], **pos = NULL;
	config cfg;
	long code = 0;
	int npos, rc;
	status_t st;

	rc = cli_parse("healthcheck", argc, argv, opts, &pos, &npos);
	if (rc == 0 && npos > 0) {
		fprintf(stderr, "registry healthcheck: unknown argument '%s'\n", pos[0]);
		rc = CLI_EXIT_USAGE;
	}
	free(pos);
	if (rc != 0 || help) {
		cmd_health_usage(rc ? stderr : stdout);
		return rc;
	}
	if ((rc = cli_config("healthcheck", file, NULL, &cfg)) != 0) {
		config_free(&cfg);
		return rc;
	}
	if (url != NULL) {
		size_t n = strlen(url);
		while (n > 0 && url[n - 1] == '/')
			n--;
		if (n >= 7 && strncmp(url + n - 7, "/readyz", 7) == 0)
			snprintf(full, sizeof(full), "%.*s", (int)n, url);
		else
			snprintf(full, sizeof(full), "%.*s/readyz", (int)n, url);
	} else if (url_of(&cfg, full, sizeof(full)) != 0) {
		fprintf(stderr, "registry healthcheck: cannot tell the address from the "
				"configuration\n");
		config_free(&cfg);
		return CLI_EXIT_USAGE;
	}
	config_free(&cfg);
	st = core_probe_url(full, CMD_HEALTH_TIMEOUT_SEC, &code, body, sizeof(body), err,
			    sizeof(err));
	if (st != ST_OK) {
		fprintf(stderr, "not ready: %s: %s\n", full, err);
		return CLI_EXIT_FAILED;
	}
	if (code != 200) {
		reason_of(body, why, sizeof(why));
		fprintf(stderr, "not ready: %s: HTTP %ld%s%s\n", full, code, why[0] ? ": " : "",
			why);
		return CLI_EXIT_FAILED;
	}
	printf("ready: %s\n", full);
	return 0;
}
