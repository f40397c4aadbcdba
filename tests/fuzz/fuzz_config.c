/*
 * fuzz_config.c - the configuration file parser (server/config.c).
 *
 * config_load reads a path, so the input goes into an in-memory file
 * (memfd) that is opened by its /proc/self/fd name: the loader runs exactly
 * as it does on a real file, with no change to it. Promises checked:
 * failures name "PATH:LINE" or "PATH:"; successes leave a config whose
 * values are in range and whose listen address splits.
 */
#include "fuzz.h"

#include <sys/mman.h>
#include <unistd.h>

#include "../../server/config.h"

static int fd = -1;
static char path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	config c;
	char err[512], host[256];
	uint16_t port;
	status_t st;

	if (fd < 0) {
		if ((fd = memfd_create("registry.conf", 0)) < 0)
			abort();
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();

	config_defaults(&c);
	err[0] = '\0';
	st = config_load(&c, path, err, sizeof(err));
	if (st == ST_OK) {
		FUZZ_ASSERT(config_listen_split(c.listen, host, sizeof(host), &port) == ST_OK);
		FUZZ_ASSERT(c.data[0] != '\0' && memchr(c.data, '\0', sizeof(c.data)) != NULL);
		FUZZ_ASSERT(c.max_manifest_bytes > 0 && c.upload_ttl_sec > 0);
		FUZZ_ASSERT(c.max_connections >= 1 && c.max_connections <= 65536);
		FUZZ_ASSERT(c.threads <= 256);
	} else {
		FUZZ_ASSERT(st == ST_INVALID || st == ST_IO || st == ST_NOMEM);
		FUZZ_ASSERT(strncmp(err, path, strlen(path)) == 0 && err[strlen(path)] == ':');
	}
	config_free(&c);
	return 0;
}
