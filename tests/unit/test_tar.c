/*
 * test_tar.c - proxy/tar.c: what it writes reads back (ustar, PAX long
 * names), what GNU tar writes reads (through a pipe), and what it refuses:
 * bad checksums, truncation, "..", absolute names.
 */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../proxy/tar.h"

static char path[64];
static int fd = -1;

static void setup(void)
{
	snprintf(path, sizeof(path), "/tmp/test_tar.XXXXXX");
	ck_assert_int_ge(fd = mkstemp(path), 0);
}

static void teardown(void)
{
	close(fd);
	unlink(path);
}

static void rewind_fd(void)
{
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
}

/* Reads the current entry whole into buf (NUL-terminated). */
static size_t read_all(tar_reader *r, char *buf, size_t cap)
{
	size_t got = 0, n;

	do {
		ck_assert_int_eq(tar_read(r, buf + got, cap - got - 1, &n), ST_OK);
		got += n;
	} while (n > 0);
	buf[got] = '\0';
	return got;
}

START_TEST(round_trip)
{
	char longname[300], buf[4096];
	tar_reader *r;
	tar_entry e;

	memset(longname, 'x', sizeof(longname));
	memcpy(longname, "blobs/sha512/", 13);
	longname[200] = '\0';
	ck_assert_int_eq(tar_write_header(fd, "oci-layout", 5, '0'), ST_OK);
	ck_assert_int_eq(tar_write_data(fd, "hello", 5), ST_OK);
	ck_assert_int_eq(tar_write_pad(fd, 5), ST_OK);
	ck_assert_int_eq(tar_write_header(fd, "blobs", 0, '5'), ST_OK);
	ck_assert_int_eq(tar_write_header(fd, longname, 1024, '0'), ST_OK);
	memset(buf, 'b', 1024);
	ck_assert_int_eq(tar_write_data(fd, buf, 1024), ST_OK);
	ck_assert_int_eq(tar_write_pad(fd, 1024), ST_OK);
	ck_assert_int_eq(tar_write_header(fd, "empty", 0, '0'), ST_OK);
	ck_assert_int_eq(tar_write_end(fd), ST_OK);
	ck_assert_int_eq(lseek(fd, 0, SEEK_CUR) % TAR_BLOCK, 0);

	rewind_fd();
	ck_assert_int_eq(tar_reader_new(&r, fd), ST_OK);
	ck_assert_int_eq(tar_next(r, &e), ST_OK);
	ck_assert_str_eq(e.name, "oci-layout");
	ck_assert_uint_eq(e.size, 5);
	ck_assert_int_eq(e.type, '0');
	ck_assert_uint_eq(read_all(r, buf, sizeof(buf)), 5);
	ck_assert_str_eq(buf, "hello");
	ck_assert_int_eq(tar_next(r, &e), ST_OK);
	ck_assert_str_eq(e.name, "blobs");
	ck_assert_int_eq(e.type, '5');
	ck_assert_int_eq(tar_next(r, &e), ST_OK); /* the PAX header is folded in */
	ck_assert_str_eq(e.name, longname);
	ck_assert_uint_eq(e.size, 1024);
	/* not read: tar_next skips the rest */
	ck_assert_int_eq(tar_next(r, &e), ST_OK);
	ck_assert_str_eq(e.name, "empty");
	ck_assert_uint_eq(read_all(r, buf, sizeof(buf)), 0);
	ck_assert_int_eq(tar_next(r, &e), ST_NOT_FOUND);
	ck_assert_int_eq(tar_next(r, &e), ST_NOT_FOUND);
	tar_reader_free(r);
	tar_reader_free(NULL);
}
END_TEST

START_TEST(gnu_tar_through_a_pipe)
{
	char dir[] = "/tmp/test_tar_dir.XXXXXX", cmd[512], buf[64];
	tar_reader *r;
	tar_entry e;
	FILE *p;
	int seen = 0;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(cmd, sizeof(cmd),
		 "cd %s && mkdir -p blobs/sha256 && printf 'abc' > "
		 "blobs/sha256/%0100d && printf '{}' > index.json && tar --format=pax -cf - . ",
		 dir, 7);
	ck_assert_ptr_nonnull(p = popen(cmd, "r"));
	ck_assert_int_eq(tar_reader_new(&r, fileno(p)), ST_OK);
	while (tar_next(r, &e) == ST_OK) {
		if (strcmp(e.name, "index.json") == 0) {
			read_all(r, buf, sizeof(buf));
			ck_assert_str_eq(buf, "{}");
			seen++;
		} else if (strncmp(e.name, "blobs/sha256/000", 16) == 0) {
			ck_assert_uint_eq(strlen(e.name),
					  13 + 100); /* "./" gone, long name whole */
			read_all(r, buf, sizeof(buf));
			ck_assert_str_eq(buf, "abc");
			seen++;
		}
	}
	ck_assert_int_eq(seen, 2);
	tar_reader_free(r);
	pclose(p);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

START_TEST(refuses)
{
	unsigned char h[TAR_BLOCK];
	tar_reader *r;
	tar_entry e;

	/* a flipped byte in the header: bad checksum */
	ck_assert_int_eq(tar_write_header(fd, "a", 1, '0'), ST_OK);
	ck_assert_int_eq(pread(fd, h, sizeof(h), 0), TAR_BLOCK);
	h[0] = 'b';
	ck_assert_int_eq(pwrite(fd, h, sizeof(h), 0), TAR_BLOCK);
	rewind_fd();
	ck_assert_int_eq(tar_reader_new(&r, fd), ST_OK);
	ck_assert_int_eq(tar_next(r, &e), ST_INVALID);
	tar_reader_free(r);

	/* names that climb out or are absolute */
	static const char *const bad[] = {"../x", "a/../../b", "/etc/passwd", ".."};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(ftruncate(fd, 0), 0);
		rewind_fd();
		ck_assert_int_eq(tar_write_header(fd, bad[i], 0, '0'), ST_OK);
		ck_assert_int_eq(tar_write_end(fd), ST_OK);
		rewind_fd();
		ck_assert_int_eq(tar_reader_new(&r, fd), ST_OK);
		ck_assert_msg(tar_next(r, &e) == ST_INVALID, "accepted '%s'", bad[i]);
		tar_reader_free(r);
	}

	/* data cut short */
	ck_assert_int_eq(ftruncate(fd, 0), 0);
	rewind_fd();
	ck_assert_int_eq(tar_write_header(fd, "big", 100000, '0'), ST_OK);
	ck_assert_int_eq(tar_write_data(fd, "abc", 3), ST_OK);
	rewind_fd();
	ck_assert_int_eq(tar_reader_new(&r, fd), ST_OK);
	ck_assert_int_eq(tar_next(r, &e), ST_OK);
	{
		char buf[200000];
		size_t n;
		status_t st;
		do
			st = tar_read(r, buf, sizeof(buf), &n);
		while (st == ST_OK && n > 0);
		ck_assert_int_eq(st, ST_INVALID);
	}
	tar_reader_free(r);

	/* names: empty or too long to write */
	{
		char huge[TAR_NAME_MAX + 1];
		memset(huge, 'a', sizeof(huge) - 1);
		huge[sizeof(huge) - 1] = '\0';
		ck_assert_int_eq(tar_write_header(fd, "", 0, '0'), ST_INVALID);
		ck_assert_int_eq(tar_write_header(fd, huge, 0, '0'), ST_INVALID);
	}
}
END_TEST

START_TEST(huge_size_base256)
{
	tar_reader *r;
	tar_entry e;
	uint64_t size = 10ull * 1024 * 1024 * 1024; /* over the 8 GiB of 11 octal digits */

	ck_assert_int_eq(tar_write_header(fd, "huge", size, '0'), ST_OK);
	rewind_fd();
	ck_assert_int_eq(tar_reader_new(&r, fd), ST_OK);
	ck_assert_int_eq(tar_next(r, &e), ST_OK);
	ck_assert_uint_eq(e.size, size);
	tar_reader_free(r);
}
END_TEST

/* PAX records whose length field lies: blanks or a sign before it, or a
 * length that ends inside "LEN " (the fuzzer's heap overflow). */
START_TEST(refuses_bad_pax_lengths)
{
	static const char *const bad[] = {"      3 a=b\n", "+12 path=ab\n", "2 path=ab\n", "3 ",
					  " 12 path=ab\n"};
	tar_reader *r;
	tar_entry e;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t n = strlen(bad[i]);
		ck_assert_int_eq(ftruncate(fd, 0), 0);
		rewind_fd();
		ck_assert_int_eq(tar_write_header(fd, "PaxHeader", n, 'x'), ST_OK);
		ck_assert_int_eq(tar_write_data(fd, bad[i], n), ST_OK);
		ck_assert_int_eq(tar_write_pad(fd, n), ST_OK);
		ck_assert_int_eq(tar_write_header(fd, "a", 0, '0'), ST_OK);
		ck_assert_int_eq(tar_write_end(fd), ST_OK);
		rewind_fd();
		ck_assert_int_eq(tar_reader_new(&r, fd), ST_OK);
		ck_assert_msg(tar_next(r, &e) == ST_INVALID, "record %zu accepted", i);
		tar_reader_free(r);
	}
}
END_TEST

Suite *make_tar_suite(void)
{
	Suite *s = suite_create("tar");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, round_trip);
	tcase_add_test(tc, gnu_tar_through_a_pipe);
	tcase_add_test(tc, refuses);
	tcase_add_test(tc, huge_size_base256);
	tcase_add_test(tc, refuses_bad_pax_lengths);
	suite_add_tcase(s, tc);
	return s;
}
