/*
 * test_notify.c - sd_notify's datagram (server/notify.c): sent whole to a
 * path and to an abstract name, nothing without NOTIFY_SOCKET, refusals of
 * addresses that are no socket address, and when the watchdog applies.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../../server/notify.h"

/* A datagram socket bound at name (a path, or @abstract); its fd. */
static int bind_at(const char *name)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	size_t n = strlen(name);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	memcpy(a.sun_path, name, n);
	if (name[0] == '@')
		a.sun_path[0] = '\0';
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a,
			      (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n)),
			 0);
	return fd;
}

static void expect_datagram(int fd, const char *want)
{
	char buf[256];
	ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);

	ck_assert_int_eq(n, (ssize_t)strlen(want));
	buf[n] = '\0';
	ck_assert_str_eq(buf, want);
}

START_TEST(sends_to_a_path)
{
	char path[] = "/tmp/test_notify.XXXXXX", sock[64];
	int fd;

	ck_assert_ptr_nonnull(mkdtemp(path));
	snprintf(sock, sizeof(sock), "%s/n.sock", path);
	fd = bind_at(sock);
	setenv("NOTIFY_SOCKET", sock, 1);
	ck_assert_int_eq(notify_send("READY=1"), ST_OK);
	expect_datagram(fd, "READY=1");
	ck_assert_int_eq(notify_send("STOPPING=1\nSTATUS=bye"), ST_OK);
	expect_datagram(fd, "STOPPING=1\nSTATUS=bye");
	close(fd);
	unlink(sock);
	rmdir(path);
	/* nobody listening any more: a failure, not a hang */
	ck_assert_int_eq(notify_send("READY=1"), ST_IO);
	unsetenv("NOTIFY_SOCKET");
}
END_TEST

START_TEST(sends_to_an_abstract_name)
{
	char name[64];
	int fd;

	snprintf(name, sizeof(name), "@test_notify.%ld", (long)getpid());
	fd = bind_at(name);
	setenv("NOTIFY_SOCKET", name, 1);
	ck_assert_int_eq(notify_send("WATCHDOG=1"), ST_OK);
	expect_datagram(fd, "WATCHDOG=1");
	close(fd);
	unsetenv("NOTIFY_SOCKET");
}
END_TEST

START_TEST(no_socket_no_op_and_bad_addresses)
{
	char longname[200];

	unsetenv("NOTIFY_SOCKET");
	ck_assert_int_eq(notify_send("READY=1"), ST_OK);
	setenv("NOTIFY_SOCKET", "", 1);
	ck_assert_int_eq(notify_send("READY=1"), ST_OK);
	setenv("NOTIFY_SOCKET", "relative/path", 1);
	ck_assert_int_eq(notify_send("READY=1"), ST_INVALID);
	setenv("NOTIFY_SOCKET", "@", 1);
	ck_assert_int_eq(notify_send("READY=1"), ST_INVALID);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[0] = '/';
	longname[sizeof(longname) - 1] = '\0';
	setenv("NOTIFY_SOCKET", longname, 1);
	ck_assert_int_eq(notify_send("READY=1"), ST_INVALID);
	unsetenv("NOTIFY_SOCKET");
}
END_TEST

START_TEST(watchdog_interval)
{
	char pid[32];

	unsetenv("WATCHDOG_PID");
	unsetenv("WATCHDOG_USEC");
	ck_assert_uint_eq(notify_watchdog_usec(), 0);
	setenv("WATCHDOG_USEC", "30000000", 1);
	ck_assert_uint_eq(notify_watchdog_usec(), 30000000);
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	setenv("WATCHDOG_PID", pid, 1);
	ck_assert_uint_eq(notify_watchdog_usec(), 30000000);
	snprintf(pid, sizeof(pid), "%ld", (long)getpid() + 1);
	setenv("WATCHDOG_PID", pid, 1); /* meant for another process */
	ck_assert_uint_eq(notify_watchdog_usec(), 0);
	unsetenv("WATCHDOG_PID");
	const char *bad[] = {"0", "-5", "12x", "", "abc", "99999999999999999999999"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		setenv("WATCHDOG_USEC", bad[i], 1);
		ck_assert_msg(notify_watchdog_usec() == 0, "WATCHDOG_USEC=%s", bad[i]);
	}
	unsetenv("WATCHDOG_USEC");
}
END_TEST

Suite *make_notify_suite(void)
{
	Suite *s = suite_create("notify");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, sends_to_a_path);
	tcase_add_test(tc, sends_to_an_abstract_name);
	tcase_add_test(tc, no_socket_no_op_and_bad_addresses);
	tcase_add_test(tc, watchdog_interval);
	suite_add_tcase(s, tc);
	return s;
}
