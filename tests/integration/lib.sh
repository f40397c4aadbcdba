# lib.sh - helpers for the integration tests: start the real server binary on
# a free loopback port with a temporary data folder, drive it with curl, and
# count checks. Sourced by the test scripts; they call reg_start first.
# shellcheck shell=bash

# shellcheck source=../skip.sh
. "$(dirname "${BASH_SOURCE[0]}")/../skip.sh"

PASSED=0
FAILED=0
TMP=$(mktemp -d /tmp/regtest.XXXXXX)
REG_PID=
REG_LOG=$TMP/registry.log

# reg_wait PID [GRACE]: waits for the child PID to exit, at most GRACE
# seconds (default 40: longer than the server's 30 s drain), then kills it
# with SIGKILL and says so. Returns its exit status (137 if killed). Every
# wait on a process in these tests goes through here, so a process that
# ignores a signal cannot hang the suite.
reg_wait() {
	local pid=$1 grace=${2:-40} i state
	for ((i = 0; i < grace * 10; i++)); do
		state=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1)
		[ -z "$state" ] || [ "$state" = Z ] && break
		sleep 0.1
	done
	if [ -n "$state" ] && [ "$state" != Z ]; then
		echo "NOTE: pid $pid still running after ${grace}s: killed with SIGKILL" >&2
		kill -KILL "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null
}

# reg_wait_all PID...: reg_wait for each (default grace); 0 if all exited 0.
reg_wait_all() {
	local pid rc=0
	for pid in "$@"; do
		reg_wait "$pid" || rc=$?
	done
	return "$rc"
}

reg_cleanup() {
	if [ -n "$REG_PID" ]; then
		kill "$REG_PID" 2>/dev/null
		reg_wait "$REG_PID" 10
	fi
	rm -rf "$TMP"
}
trap reg_cleanup EXIT

# skip REASON: a part of a script that cannot run here; a failure under CI.
skip() {
	skip_record "$@" || FAILED=$((FAILED + 1))
}

# reg_start BIN [extra serve args]: starts the server on port 0 and waits
# until it answers /v2/ (200, or 401 with access control on). Sets BASE
# (http://127.0.0.1:PORT) and PORT.
reg_start() {
	local bin=$1
	shift
	mkdir -p "$TMP/data"
	: >"$REG_LOG"
	"$bin" serve --listen 127.0.0.1:0 --data "$TMP/data" "$@" 2>>"$REG_LOG" &
	REG_PID=$!
	for _ in $(seq 1 100); do
		PORT=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$REG_LOG" | tail -1)
		if [ -n "$PORT" ] && case $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/v2/") in 200 | 401) true ;; *) false ;; esac; then
			BASE="http://127.0.0.1:$PORT"
			return 0
		fi
		if ! kill -0 "$REG_PID" 2>/dev/null; then
			echo "registry exited at start:" >&2
			cat "$REG_LOG" >&2
			exit 1
		fi
		sleep 0.1
	done
	echo "registry did not start:" >&2
	cat "$REG_LOG" >&2
	exit 1
}

# auth_start CONF [serve args]: reg_start "$BIN" with configuration CONF.
auth_start() {
	local conf=$1
	shift
	reg_start "$BIN" -c "$conf" "$@"
}

# reg_stop: SIGTERM and wait; fails the run if the exit status is not 0.
reg_stop() {
	kill -TERM "$REG_PID"
	local rc=0
	reg_wait "$REG_PID" || rc=$?
	REG_PID=
	check "server exits 0 on SIGTERM" [ "$rc" = 0 ]
	check "no sanitizer report" bash -c "! grep -qE 'Sanitizer|runtime error' '$REG_LOG'"
	if [ "$rc" != 0 ] || grep -qE 'Sanitizer|runtime error' "$REG_LOG"; then
		tail -40 "$REG_LOG" >&2
	fi
}

# req METHOD PATH [curl args...]: sets CODE, and the files $TMP/h (headers)
# and $TMP/b (body).
req() {
	local method=$1 path=$2
	shift 2
	local how=(-X "$method")
	# curl -X HEAD would wait for a body; -I is how curl does HEAD.
	[ "$method" = HEAD ] && how=(-I)
	CODE=$(curl -s -o "$TMP/b" -D "$TMP/h" -w '%{http_code}' "${how[@]}" "$@" "$BASE$path")
}

# hdr NAME: the value of a response header of the last req (no CR).
hdr() {
	grep -i "^$1:" "$TMP/h" | tail -1 | cut -d' ' -f2- | tr -d '\r'
}

check() {
	local what=$1
	shift
	if "$@"; then
		PASSED=$((PASSED + 1))
		[ -n "${TEST_PROGRESS:-}" ] && echo "ok: $what" >>"$TEST_PROGRESS"
	else
		FAILED=$((FAILED + 1))
		[ -n "${TEST_PROGRESS:-}" ] && echo "FAIL: $what" >>"$TEST_PROGRESS"
		echo "FAIL: $what" >&2
		echo "  last response: ${CODE:-} $(head -c 300 "$TMP/b" 2>/dev/null)" >&2
	fi
}

# expect WHAT CODE [OCI_ERROR_CODE]: the last req answered CODE (and the
# spec's error body with that code).
expect() {
	local what=$1 code=$2 err=${3:-}
	check "$what: status $code (got $CODE)" [ "$CODE" = "$code" ]
	if [ -n "$err" ]; then
		check "$what: error code $err" grep -q "\"code\":\"$err\"" "$TMP/b"
	fi
}

sha256() {
	echo "sha256:$(sha256sum "$1" | cut -d' ' -f1)"
}

summary() {
	echo "$PASSED passed, $FAILED failed"
	[ "$FAILED" = 0 ]
}
