/*
 * notify.h - systemd's service notification protocol (sd_notify(3)) without
 * libsystemd: a unit with Type=notify learns through it that the registry
 * listens (READY=1), is stopping (STOPPING=1), and is alive (WATCHDOG=1,
 * when the unit sets WatchdogSec).
 *
 * The protocol is one datagram per message, "KEY=VALUE" lines, sent to the
 * AF_UNIX SOCK_DGRAM socket named by $NOTIFY_SOCKET: a path, or an abstract
 * name when it starts with '@'. Without $NOTIFY_SOCKET (not under systemd,
 * or Type=simple) every call does nothing, so callers never ask first.
 */
#ifndef SERVER_NOTIFY_H
#define SERVER_NOTIFY_H

#include <stdint.h>

#include "../common/status.h"

/*
 * Sends msg ("READY=1", "STOPPING=1\nSTATUS=...") to $NOTIFY_SOCKET. ST_OK
 * when sent, and when $NOTIFY_SOCKET is unset or empty (nothing to do);
 * ST_INVALID for a value that is neither an absolute path nor '@' and a
 * name, or too long for a socket address; ST_IO when sending fails (the
 * manager went away). Never blocks: the datagram is sent MSG_DONTWAIT.
 */
status_t notify_send(const char *msg);

/*
 * How often the manager wants WATCHDOG=1, in microseconds: $WATCHDOG_USEC
 * when it is set, a positive number, and $WATCHDOG_PID is unset or this
 * process's pid (systemd sets both for the main process only); else 0,
 * no watchdog.
 */
uint64_t notify_watchdog_usec(void);

#endif
