/*
 * fuzz_tar.c - the tar reader `registry import` runs on archives from
 * elsewhere (proxy/tar.c).
 *
 * Promises checked: it ends (every entry is consumed in bounded steps);
 * an entry name is NUL-terminated, not absolute, never has a ".."
 * component or a leading "./"; tar_read never returns more than the
 * entry's size in total.
 */
#include "fuzz.h"

#include <sys/mman.h>
#include <unistd.h>

#include "../../proxy/tar.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = memfd_create("fuzz_tar", 0);
	tar_reader *r = NULL;
	tar_entry e;
	char buf[4096];
	int entries = 0;

	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size || lseek(fd, 0, SEEK_SET) != 0 ||
	    tar_reader_new(&r, fd) != ST_OK) {
		close(fd);
		return 0;
	}
	while (tar_next(r, &e) == ST_OK && entries++ < 10000) {
		uint64_t got = 0;
		size_t n;
		FUZZ_ASSERT(memchr(e.name, '\0', sizeof(e.name)) != NULL);
		FUZZ_ASSERT(e.name[0] != '/');
		FUZZ_ASSERT(strncmp(e.name, "./", 2) != 0);
		for (const char *p = e.name; *p;) {
			size_t k = strcspn(p, "/");
			FUZZ_ASSERT(!(k == 2 && p[0] == '.' && p[1] == '.'));
			p += k;
			if (*p == '/')
				p++;
		}
		while (tar_read(r, buf, sizeof(buf), &n) == ST_OK && n > 0)
			got += n;
		FUZZ_ASSERT(got <= e.size);
	}
	tar_reader_free(r);
	close(fd);
	return 0;
}
