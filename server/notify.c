/*
 * notify.c - sd_notify(3)'s datagram, written out (see notify.h).
 *
 * libsystemd would do the same in a few hundred lines plus a library the
 * registry otherwise does not need (and that a container image lacks).
 * What matters for systemd: one datagram per message, sent from the main
 * process (NotifyAccess=main), with the socket's address length counting
 * exactly the name's bytes for an abstract socket (no trailing NUL).
 */
#include "notify.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../common/log.h"

/* The socket address for $NOTIFY_SOCKET's value v: ST_OK with *out and
 * *out_len; ST_INVALID for a relative path or a name that does not fit. */
static status_t notify_addr(const char *v, struct sockaddr_un *out, socklen_t *out_len)
{
	size_t n = strlen(v);

	memset(out, 0, sizeof(*out));
	out->sun_family = AF_UNIX;
	if ((v[0] != '/' && v[0] != '@') || n < 2 || n >= sizeof(out->sun_path))
		return ST_INVALID;
	memcpy(out->sun_path, v, n);
	if (v[0] == '@')
		out->sun_path[0] = '\0'; /* abstract namespace: a leading NUL */
	/* An abstract name is exactly its bytes; a path may include the NUL. */
	*out_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (v[0] == '/'));
	return ST_OK;
}

status_t notify_send(const char *msg)
{
	const char *v = getenv("NOTIFY_SOCKET");
	struct sockaddr_un addr;
	socklen_t len;
	status_t st;
	ssize_t sent;
	int fd;

	if (v == NULL || v[0] == '\0')
		return ST_OK;
	if ((st = notify_addr(v, &addr, &len)) != ST_OK) {
		log_warn("NOTIFY_SOCKET=%s: not an absolute path or @name: not notified", v);
		return st;
	}
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return ST_IO;
	sent = sendto(fd, msg, strlen(msg), MSG_NOSIGNAL | MSG_DONTWAIT, (struct sockaddr *)&addr,
		      len);
	if (sent < 0)
		log_warn("NOTIFY_SOCKET=%s: %s: not notified", v, strerror(errno));
	close(fd);
	return sent == (ssize_t)strlen(msg) ? ST_OK : ST_IO;
}

uint64_t notify_watchdog_usec(void)
{
	const char *us = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
	unsigned long long v;
	char *end;

	if (us == NULL || us[0] < '0' || us[0] > '9')
		return 0;
	errno = 0;
	v = strtoull(us, &end, 10);
	if (errno != 0 || *end != '\0' || v == 0)
		return 0;
	if (pid != NULL && pid[0] != '\0') {
		long p = strtol(pid, &end, 10);
		if (*end != '\0' || p != (long)getpid())
			return 0;
	}
	return (uint64_t)v;
}
