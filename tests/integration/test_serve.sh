#!/bin/bash
# `registry serve` itself: which addresses a listen value accepts on (IPv4
# and IPv6 on one port for [::]:PORT and :PORT), SIGHUP reloads and never
# stops it, and a second server on the same data folder is refused while the
# first holds its lock (released at exit, and on SIGKILL).
set -u
. "$(dirname "$0")/lib.sh"
BIN=$1

# serve_at LISTEN: starts the server listening on LISTEN (port 0) with the
# test's data folder; sets PORT from the log, REG_PID. Fails the run if it
# does not log a port.
serve_at() {
	mkdir -p "$TMP/data"
	: >"$REG_LOG"
	"$BIN" serve --listen "$1" --data "$TMP/data" 2>>"$REG_LOG" &
	REG_PID=$!
	PORT=
	for _ in $(seq 1 100); do
		PORT=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$REG_LOG" | tail -1)
		[ -n "$PORT" ] && return 0
		kill -0 "$REG_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "registry did not start on $1:" >&2
	cat "$REG_LOG" >&2
	exit 1
}

# answers URL: GET URL/v2/ gives 200 (within 5 s).
answers() {
	[ "$(curl -s -m 5 -o /dev/null -w '%{http_code}' "$1/v2/")" = 200 ]
}

# ---- listening: one port, which families ----
serve_at '[::]:0'
check "[::]:PORT answers on IPv6 ([::1])" answers "http://[::1]:$PORT"
check "[::]:PORT answers on IPv4 too (dual stack, 127.0.0.1)" answers "http://127.0.0.1:$PORT"
reg_stop

# An IPv4 client of the dual-stack listener is logged (and throttled) as
# its IPv4 address, not as ::ffff:127.0.0.1.
printf 'auth = basic\n' >"$TMP/basic.conf"
echo pw | "$BIN" user add alice --password-stdin --cost 4 -d "$TMP/data" >/dev/null
: >"$REG_LOG"
"$BIN" serve -c "$TMP/basic.conf" --listen '[::]:0' --data "$TMP/data" 2>>"$REG_LOG" &
REG_PID=$!
for _ in $(seq 1 100); do
	PORT=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$REG_LOG" | tail -1)
	[ -n "$PORT" ] && break
	sleep 0.1
done
BASE="http://127.0.0.1:$PORT"
req GET /v2/ -u alice:wrong
expect "dual stack, IPv4 client, wrong password" 401 UNAUTHORIZED
check "the log names the client as 127.0.0.1" grep -q "failed login as 'alice' from 127.0.0.1\$" "$REG_LOG"
reg_stop
rm -f "$TMP/data/htpasswd"

serve_at ':0'
check ":PORT answers on IPv4 (127.0.0.1)" answers "http://127.0.0.1:$PORT"
check ":PORT answers on IPv6 too ([::1])" answers "http://[::1]:$PORT"
reg_stop

# Named addresses stay what they say.
serve_at '127.0.0.1:0'
check "127.0.0.1:PORT answers on 127.0.0.1" answers "http://127.0.0.1:$PORT"
check "127.0.0.1:PORT does not answer on [::1]" bash -c "! curl -s -m 5 -o /dev/null 'http://[::1]:$PORT/v2/'"
reg_stop
serve_at '[::1]:0'
check "[::1]:PORT answers on [::1]" answers "http://[::1]:$PORT"
check "[::1]:PORT does not answer on 127.0.0.1" bash -c "! curl -s -m 5 -o /dev/null 'http://127.0.0.1:$PORT/v2/'"
reg_stop

# ---- SIGHUP: a reload (test_reload.sh), never the end of the server ----
reg_start "$BIN"
kill -HUP "$REG_PID"
sleep 0.5
check "SIGHUP: still running" kill -0 "$REG_PID"
check "SIGHUP: still answers" answers "$BASE"
check "SIGHUP: logged as a reload" grep -q "SIGHUP: reloading the configuration" "$REG_LOG"
check "SIGHUP without -c: the built-in defaults applied" grep -q "reload: configuration from the built-in defaults applied" "$REG_LOG"
kill -HUP "$REG_PID"
sleep 0.2
check "a second SIGHUP: still running" kill -0 "$REG_PID"
kill -USR1 "$REG_PID"
sleep 0.2
check "SIGUSR1: still running" kill -0 "$REG_PID"
reg_stop

# ---- one server per data folder ----
reg_start "$BIN"
FIRST=$REG_PID
rc=0
timeout 10 "$BIN" serve --listen 127.0.0.1:0 --data "$TMP/data" >"$TMP/second.out" 2>&1 || rc=$?
check "a second serve on the same data folder exits 1 (got $rc)" [ "$rc" = 1 ]
check "...saying which folder and which pid holds it" \
	grep -q "data folder $TMP/data is in use by pid $FIRST" "$TMP/second.out"
check "...before touching storage (no 'listening' line)" bash -c "! grep -q listening '$TMP/second.out'"
check "the first one still serves" answers "$BASE"
check "the lock file holds the first one's pid" [ "$(tr -d '\n' <"$TMP/data/serve.lock")" = "$FIRST" ]
# Another folder is no problem.
mkdir -p "$TMP/other"
timeout 10 "$BIN" serve --listen 127.0.0.1:0 --data "$TMP/other" 2>"$TMP/other.log" &
OTHER=$!
for _ in $(seq 1 50); do grep -q listening "$TMP/other.log" && break; sleep 0.1; done
check "a server on another data folder starts beside it" grep -q listening "$TMP/other.log"
kill -TERM "$OTHER"
reg_wait "$OTHER"
reg_stop
# SIGTERM released it: the same folder starts again, with the new pid.
reg_start "$BIN"
check "after a clean stop the folder is free again" answers "$BASE"
check "...and the lock file names the new pid" [ "$(tr -d '\n' <"$TMP/data/serve.lock")" = "$REG_PID" ]
# SIGKILL releases it too (crash tests restart on the same folder).
kill -KILL "$REG_PID"
reg_wait "$REG_PID"
REG_PID=
reg_start "$BIN"
check "after SIGKILL the folder is free again" answers "$BASE"
reg_stop
summary
