#!/bin/bash
# systemd's Type=notify protocol, against a stand-in for the manager's
# socket (notify_listen.py, a real AF_UNIX datagram socket): READY=1 once
# the registry answers, WATCHDOG=1 every half WATCHDOG_USEC while it runs
# (none when WATCHDOG_PID names another process, none without
# WATCHDOG_USEC), STOPPING=1 on SIGTERM before it exits; the abstract
# namespace (@name) as well as a path; a bad NOTIFY_SOCKET is logged and
# the registry serves anyway.
set -u
. "$(dirname "$0")/lib.sh"
BIN=$1
HERE=$(cd "$(dirname "$0")" && pwd)
command -v python3 >/dev/null || {
	skip "python3 is not installed (deploy/install-deps.sh --test installs it)"
	summary
	exit
}

# listen ADDRESS OUT: starts the stand-in; sets LPID.
listen() {
	rm -f "$2" "$2.ready"
	python3 "$HERE/notify_listen.py" "$1" "$2" &
	LPID=$!
	for _ in $(seq 1 50); do
		[ -e "$2.ready" ] && return 0
		sleep 0.1
	done
	echo "notify_listen.py did not start" >&2
	exit 1
}
unlisten() {
	kill -TERM "$LPID" 2>/dev/null
	reg_wait "$LPID" 5
}

# run_one ADDRESS OUT: a registry notifying ADDRESS with a 400 ms watchdog;
# checks what arrives, in order.
run_one() {
	local addr=$1 out=$2 n
	listen "$addr" "$out"
	NOTIFY_SOCKET=$addr WATCHDOG_USEC=400000 reg_start "$BIN"
	# READY comes after listening, so by the time curl got an answer
	# (reg_start waits for one) it may still be in flight for a moment.
	for _ in $(seq 1 20); do grep -q 'READY=1' "$out" 2>/dev/null && break; sleep 0.1; done
	check "$addr: READY=1 received" grep -q $'\tREADY=1$' "$out"
	check "$addr: READY=1 is the first message" bash -c "head -1 '$out' | grep -q READY=1"
	sleep 1.5
	n=$(grep -c $'\tWATCHDOG=1$' "$out")
	# every 200 ms: about 7 in 1.5 s; at least 4 allows a loaded machine
	check "$addr: WATCHDOG=1 every half WATCHDOG_USEC (got $n in 1.5 s)" [ "$n" -ge 4 ]
	check "$addr: no STOPPING=1 while serving" bash -c "! grep -q STOPPING '$out'"
	reg_stop
	sleep 0.2
	check "$addr: STOPPING=1 on SIGTERM" grep -q $'\tSTOPPING=1$' "$out"
	check "$addr: STOPPING=1 after READY=1" bash -c \
		"grep -n . '$out' | grep -E 'READY|STOPPING' | cut -f2 | tr '\n' ' ' | grep -q 'READY=1 STOPPING=1'"
	n=$(sed -n '/STOPPING=1/,$p' "$out" | grep -c WATCHDOG)
	check "$addr: no WATCHDOG=1 after STOPPING=1 (got $n)" [ "$n" = 0 ]
	unlisten
}

run_one "$TMP/notify.sock" "$TMP/path.log"
run_one "@regtest-notify-$$" "$TMP/abstract.log"

# The watchdog is the main process's only: WATCHDOG_PID of another process,
# or no WATCHDOG_USEC, means no WATCHDOG=1 (but READY and STOPPING still).
listen "$TMP/pid.sock" "$TMP/pid.log"
NOTIFY_SOCKET=$TMP/pid.sock WATCHDOG_USEC=200000 WATCHDOG_PID=1 reg_start "$BIN"
sleep 1
check "WATCHDOG_PID of another process: no WATCHDOG=1" bash -c "! grep -q WATCHDOG '$TMP/pid.log'"
check "WATCHDOG_PID of another process: READY=1 still" grep -q READY=1 "$TMP/pid.log"
reg_stop
NOTIFY_SOCKET=$TMP/pid.sock reg_start "$BIN"
sleep 1
check "no WATCHDOG_USEC: no WATCHDOG=1" bash -c "! grep -q WATCHDOG '$TMP/pid.log'"
reg_stop
unlisten

# A NOTIFY_SOCKET nobody listens on, or that is no address: logged, served.
NOTIFY_SOCKET=$TMP/nobody.sock WATCHDOG_USEC=200000 reg_start "$BIN"
req GET /v2/
expect "nobody on NOTIFY_SOCKET: still serves" 200
check "nobody on NOTIFY_SOCKET: logged" grep -q "NOTIFY_SOCKET=.*not notified" "$REG_LOG"
reg_stop
NOTIFY_SOCKET=relative/path reg_start "$BIN"
req GET /v2/
expect "relative NOTIFY_SOCKET: still serves" 200
check "relative NOTIFY_SOCKET: logged" grep -q "not an absolute path" "$REG_LOG"
reg_stop
summary
