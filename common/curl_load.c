/*
 * curl_load.c - libcurl, loaded at run time (curl_load.h).
 */
#include "curl_load.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>

#include "../common/log.h"

struct libcurl_api libcurl;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static status_t load_status = ST_IO;

/* dlsym(lib, name) into *fn; remembers the first name not found. */
static void resolve(void *lib, const char *name, void **fn, const char **missing)
{
	if ((*fn = dlsym(lib, name)) == NULL && *missing == NULL)
		*missing = name;
}

static void load(void)
{
	struct libcurl_api t;
	const char *missing = NULL;
	void *lib = dlopen(CURL_LOAD_SONAME, RTLD_NOW | RTLD_LOCAL);

	if (lib == NULL) {
		log_error("upstreams, notify receivers and storage = s3 need libcurl, which cannot "
			  "be loaded (install Debian's "
			  "libcurl4): %s",
			  dlerror());
		return;
	}
	/* POSIX guarantees a function pointer fits in the void * dlsym returns. */
	resolve(lib, "curl_global_init", (void **)&t.global_init, &missing);
	resolve(lib, "curl_global_cleanup", (void **)&t.global_cleanup, &missing);
	resolve(lib, "curl_easy_init", (void **)&t.easy_init, &missing);
	resolve(lib, "curl_easy_setopt", (void **)&t.easy_setopt, &missing);
	resolve(lib, "curl_easy_perform", (void **)&t.easy_perform, &missing);
	resolve(lib, "curl_easy_getinfo", (void **)&t.easy_getinfo, &missing);
	resolve(lib, "curl_easy_cleanup", (void **)&t.easy_cleanup, &missing);
	resolve(lib, "curl_easy_reset", (void **)&t.easy_reset, &missing);
	resolve(lib, "curl_easy_strerror", (void **)&t.easy_strerror, &missing);
	resolve(lib, "curl_easy_escape", (void **)&t.easy_escape, &missing);
	resolve(lib, "curl_free", (void **)&t.free, &missing);
	resolve(lib, "curl_share_init", (void **)&t.share_init, &missing);
	resolve(lib, "curl_share_setopt", (void **)&t.share_setopt, &missing);
	resolve(lib, "curl_share_cleanup", (void **)&t.share_cleanup, &missing);
	resolve(lib, "curl_slist_append", (void **)&t.slist_append, &missing);
	resolve(lib, "curl_slist_free_all", (void **)&t.slist_free_all, &missing);
	if (missing != NULL) {
		log_error("%s has no %s: a libcurl too old or not libcurl", CURL_LOAD_SONAME,
			  missing);
		dlclose(lib);
		return;
	}
	libcurl = t;
	load_status = ST_OK;
}

status_t curl_load(void)
{
	pthread_once(&load_once, load);
	return load_status;
}
