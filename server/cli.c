/*
 * cli.c - the subcommands' option parser (see cli.h).
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const cli_opt *find(const cli_opt *opts, const char *a)
{
	for (; opts->name != NULL; opts++)
		if (strcmp(a, opts->name) == 0 || (opts->alias && strcmp(a, opts->alias) == 0))
			return opts;
	return NULL;
}

int cli_parse(const char *cmd, int argc, char **argv, const cli_opt *opts, char ***pos, int *npos)
{
	const cli_opt *o;

	*npos = 0;
	if ((*pos = calloc((size_t)argc + 1, sizeof(**pos))) == NULL)
		return CLI_EXIT_FAILED;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];

		if ((o = find(opts, a)) == NULL) {
			/* "-" alone is a name (standard input or output), not an option */
			if (a[0] == '-' && a[1] != '\0') {
				fprintf(stderr, "registry %s: unknown option '%s'\n", cmd, a);
				return CLI_EXIT_USAGE;
			}
			(*pos)[(*npos)++] = argv[i];
		} else if (o->flag != NULL) {
			*o->flag = true;
		} else if (i + 1 >= argc) {
			fprintf(stderr, "registry %s: %s needs a value\n", cmd, a);
			return CLI_EXIT_USAGE;
		} else {
			*o->value = argv[++i];
		}
	}
	return 0;
}

int cli_config(const char *cmd, const char *file, const char *data, config *cfg)
{
	char err[512];

	config_defaults(cfg);
	if (file != NULL && config_load(cfg, file, err, sizeof(err)) != ST_OK) {
		fprintf(stderr, "%s\n", err);
		return CLI_EXIT_USAGE;
	}
	if (data != NULL && config_set(cfg, "data", data, err, sizeof(err)) != ST_OK) {
		fprintf(stderr, "registry %s: --data: %s\n", cmd, err);
		return CLI_EXIT_USAGE;
	}
	return 0;
}

void cli_core_options(const config *cfg, bool with_upstreams, const char *user_agent, bool sweep,
		      core_options *out)
{
	*out = (core_options){
	    .data = cfg->data,
	    .storage = cfg->storage,
	    .s3_endpoint = cfg->s3_endpoint,
	    .s3_bucket = cfg->s3_bucket,
	    .s3_region = cfg->s3_region,
	    .s3_credentials = cfg->s3_credentials,
	    .s3_path_style = cfg->s3_path_style,
	    .s3_prefix = cfg->s3_prefix,
	    .s3_ca = cfg->s3_ca,
	    .s3_part_size = cfg->s3_part_size,
	    .s3_redirect = cfg->s3_redirect,
	    .s3_memory = cfg->s3_memory,
	    .metadata = cfg->metadata,
	    .postgres = cfg->postgres,
	    .postgres_password_file = cfg->postgres_password_file,
	    .delete_enabled = cfg->delete_enabled,
	    .max_manifest_bytes = cfg->max_manifest_bytes,
	    .upload_ttl_sec = cfg->upload_ttl_sec,
	    .gc_delay_sec = cfg->gc_delay_sec,
	    .gc_untagged_sec = cfg->gc_untagged_sec,
	    .gc_dry_run = cfg->gc_dry_run,
	    .upstreams = with_upstreams ? cfg->upstreams.v : NULL,
	    .nupstreams = with_upstreams ? cfg->upstreams.n : 0,
	    .proxy_revalidate_sec = cfg->proxy_revalidate_sec,
	    .proxy_negative_sec = cfg->proxy_negative_sec,
	    .proxy_timeout_sec = cfg->proxy_timeout_sec,
	    .proxy_retries = cfg->proxy_retries,
	    .proxy_unreachable_sec = cfg->proxy_unreachable_sec,
	    .proxy_cache_keep_sec = cfg->proxy_cache_keep_sec,
	    .proxy_cache_max_bytes = cfg->proxy_cache_max_bytes,
	    .user_agent = user_agent,
	    /* events: the server's alone (the sweep says it owns the folder) */
	    .notify = sweep ? cfg->notify.v : NULL,
	    .nnotify = sweep ? cfg->notify.n : 0,
	    .sweep = sweep,
	    .quotas = cfg->quotas.v,
	    .nquotas = cfg->quotas.n,
	    .immutables = cfg->immutables.v,
	    .nimmutables = cfg->immutables.n,
	    .retains = cfg->retains.v,
	    .nretains = cfg->retains.n,
	};
}
