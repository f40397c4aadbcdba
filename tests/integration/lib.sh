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

PROM_PID=
# metadata = postgres (make integration-pg): REGISTRY_TEST_PG names a
# server (tests/pg.sh start prints it); this script gets a database of its
# own, and every server it starts gets REGISTRY_TEST_PG_CONF, the keys that
# point it there, appended to its configuration (reg_start).
REG_PG_DB=
if [ -n "${REGISTRY_TEST_PG:-}" ]; then
	REG_PG_DB=reg_$(basename "$TMP" | tr -c 'a-zA-Z0-9\n' '_' | tr 'A-Z' 'a-z')
	PGOPTIONS="-c client_min_messages=warning" psql -q "$REGISTRY_TEST_PG dbname=postgres" \
		-c "CREATE DATABASE $REG_PG_DB" >/dev/null || { echo "cannot create database $REG_PG_DB" >&2; exit 1; }
	REGISTRY_TEST_PG_CONF=$(printf 'metadata = postgres\npostgres = "%s dbname=%s"\n' \
		"$REGISTRY_TEST_PG" "$REG_PG_DB")
	# for registry-pg.sh, the binary run_pg.sh gives the scripts
	REG_PG_DIR=$TMP
	export REGISTRY_TEST_PG_CONF REG_PG_DIR REG_PG_DB
fi

reg_cleanup() {
	if [ -n "$REG_PID" ]; then
		kill "$REG_PID" 2>/dev/null
		reg_wait "$REG_PID" 10
	fi
	prom_stop
	rm -rf "$TMP"
	if [ -n "$REG_PG_DB" ]; then
		local db
		# this script's, and registry-pg.sh's one per data folder
		for db in $(psql -qtA "$REGISTRY_TEST_PG dbname=postgres" \
			-c "SELECT datname FROM pg_database WHERE datname LIKE '${REG_PG_DB}%'" 2>/dev/null); do
			PGOPTIONS="-c client_min_messages=warning" psql -q "$REGISTRY_TEST_PG dbname=postgres" \
				-c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
		done
	fi
}

# reg_sql DB QUERY: QUERY on the metadata index, one row a line, columns
# split by '|' (sqlite3's output): the SQLite file DB, or with REGISTRY_TEST_PG
# this script's PostgreSQL database. SQLite's own checks (PRAGMA
# integrity_check, foreign_key_check) become PostgreSQL's guarantees: it
# enforces its foreign keys on every statement, so they answer "ok" and "".
reg_sql() {
	if [ -z "$REG_PG_DB" ]; then
		sqlite3 "$1" "$2"
		return
	fi
	case $2 in
	"PRAGMA integrity_check") echo ok ;;
	"PRAGMA foreign_key_check") ;;
	*)
		# under run_pg.sh the database of the file's folder (registry-pg.sh)
		local db=$REG_PG_DB
		[ -n "${REGISTRY_PG_REAL:-}" ] && db=${REG_PG_DB}_$(realpath -m "$(dirname "$1")" | md5sum | cut -c1-8)
		psql -qtA "$REGISTRY_TEST_PG dbname=$db" -c "$2"
		;;
	esac
}

# reg_pg_args ARGS...: prints ARGS (one per line) with REGISTRY_TEST_PG_CONF
# appended to the configuration: a -c FILE is copied with it added, else a
# -c with it alone is added. Without REGISTRY_TEST_PG_CONF, ARGS unchanged.
reg_pg_args() {
	local conf= a merged
	if [ -z "${REGISTRY_TEST_PG_CONF:-}" ]; then
		printf '%s\n' "$@"
		return
	fi
	merged=$(mktemp "$TMP/pg-conf.XXXXXX")
	while [ $# -gt 0 ]; do
		a=$1
		shift
		case $a in
		-c | --config) conf=$1; shift; continue ;;
		--config=*) conf=${a#--config=}; continue ;;
		esac
		printf '%s\n' "$a"
	done
	# (a metadata key of the script's own gives way: a key may not repeat)
	{ [ -n "$conf" ] && grep -vE '^[[:space:]]*(metadata|postgres)[[:space:]]*=' "$conf"; printf '\n%s\n' "$REGISTRY_TEST_PG_CONF"; } >"$merged"
	printf '%s\n%s\n' -c "$merged"
}
trap reg_cleanup EXIT

# skip REASON: a part of a script that cannot run here; a failure under CI.
skip() {
	skip_record "$@" || FAILED=$((FAILED + 1))
}

# prom_start TARGET_PORT: a real Prometheus (Debian's prometheus) on a free
# loopback port, scraping 127.0.0.1:TARGET_PORT every second, with its data
# under $TMP/prom. Returns 1 (a skip, a failure under CI) where it is not
# installed. prom_query PROMQL: the first value it answers, or "".
# prom_stop: stops it by its pid (also at exit).
prom_start() {
	if ! command -v prometheus >/dev/null; then
		skip "prometheus is not installed (Debian package prometheus)"
		return 1
	fi
	PROM_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	mkdir -p "$TMP/prom"
	printf 'global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: registry\n    static_configs:\n      - targets: [\x27127.0.0.1:%s\x27]\n' \
		"$1" >"$TMP/prom/prometheus.yml"
	prometheus --config.file="$TMP/prom/prometheus.yml" --storage.tsdb.path="$TMP/prom/data" \
		--web.listen-address="127.0.0.1:$PROM_PORT" >"$TMP/prom/log" 2>&1 &
	PROM_PID=$!
}
prom_query() {
	curl -s -G "http://127.0.0.1:$PROM_PORT/api/v1/query" --data-urlencode "query=$1" |
		jq -r '.data.result[0].value[1] // empty' 2>/dev/null
}
prom_stop() {
	[ -n "$PROM_PID" ] || return 0
	kill "$PROM_PID" 2>/dev/null
	reg_wait "$PROM_PID" 20
	check "prometheus stopped" bash -c "! kill -0 $PROM_PID 2>/dev/null"
	PROM_PID=
}

# s3_args [serve args]: the args into S3_ARGS, with the configuration
# fragment REGISTRY_TEST_S3_CONF (storage = s3 and its keys; `make
# integration-s3`) appended to the -c file given, or as the -c file when none
# is. Each script's blobs go under its own s3_prefix (its temporary folder's
# name), so scripts share one bucket and a restart finds its own blobs.
s3_args() {
	S3_ARGS=("$@")
	[ -n "${REGISTRY_TEST_S3_CONF:-}" ] || return 0
	local i conf="" out="$TMP/s3-$RANDOM.conf"
	for ((i = 0; i < ${#S3_ARGS[@]}; i++)); do
		if [ "${S3_ARGS[i]}" = -c ] || [ "${S3_ARGS[i]}" = --config ]; then
			conf=${S3_ARGS[i + 1]}
			S3_ARGS[i + 1]=$out
		fi
	done
	{
		[ -n "$conf" ] && cat "$conf"
		echo
		cat "$REGISTRY_TEST_S3_CONF"
		echo "s3_prefix = ${TMP##*/}/"
	} >"$out"
	[ -n "$conf" ] || S3_ARGS=(-c "$out" "${S3_ARGS[@]}")
}

# reg_s3 PATH [curl args]: a signed request to the bucket of
# REGISTRY_TEST_S3_CONF (PATH: "/KEY" or "?QUERY"); the body on stdout.
reg_s3() {
	local p=$1
	shift
	curl -s --aws-sigv4 "aws:amz:us-east-1:s3" -u "$(cat "$(reg_s3_conf s3_credentials)")" \
		-H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$@" \
		"$(reg_s3_conf s3_endpoint)/$(reg_s3_conf s3_bucket)$p"
}
reg_s3_conf() { # KEY: its value in REGISTRY_TEST_S3_CONF
	sed -n "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*//p" "$REGISTRY_TEST_S3_CONF" | tail -n 1
}

# reg_s3_keys PREFIX: every key of the bucket under this script's s3_prefix
# (see s3_args) and PREFIX, one a line, all pages of the listing.
reg_s3_keys() {
	local token= out
	while :; do
		# curl 7.88 signs the query as given, where SigV4 wants its names
		# sorted and '/' encoded in values
		out=$(reg_s3 "?${token:+continuation-token=$token&}list-type=2&prefix=${TMP##*/}%2F${1//\//%2F}")
		echo "$out" | grep -o '<Key>[^<]*</Key>' | sed 's/<Key>\(.*\)<\/Key>/\1/'
		echo "$out" | grep -q '<IsTruncated>true</IsTruncated>' || break
		token=$(echo "$out" | sed -n 's/.*<NextContinuationToken>\([^<]*\)<.*/\1/p' |
			python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.stdin.read().strip(), safe=""))')
		[ -n "$token" ] || break
	done
}

# reg_store_has DIR DIGEST: the blob store of the servers reg_start starts
# on data folder DIR holds DIGEST: the file under DIR/blobs, or with
# REGISTRY_TEST_S3_CONF the object under this script's s3_prefix (a signed
# HEAD to the bucket; s3_args gives every data folder of a script that
# prefix, so DIR does not matter there).
reg_store_has() {
	local dir=$1 alg=${2%%:*} hex=${2#*:}
	if [ -z "${REGISTRY_TEST_S3_CONF:-}" ]; then
		[ -n "$(find "$dir/blobs" -name "$hex" 2>/dev/null)" ]
		return
	fi
	[ "$(reg_s3 "/${TMP##*/}/blobs/$alg/$hex" -o /dev/null -w '%{http_code}' -I)" = 200 ]
}

# reg_port LOG PID: waits (10 s) until the server PID, which writes LOG,
# answers GET /v2/ (200, or 401 with access control on) on the port its
# "(port N)" line names, and prints that port. Fails, printing nothing, if
# the server exits first or does not answer.
reg_port() {
	local log=$1 pid=$2 port
	for _ in $(seq 1 100); do
		port=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$log" | tail -1)
		if [ -n "$port" ] && case $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/v2/") in 200 | 401) true ;; *) false ;; esac; then
			echo "$port"
			return 0
		fi
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# reg_start BIN [extra serve args]: starts the server on port 0 and waits
# until it answers /v2/ (200, or 401 with access control on). Sets BASE
# (http://127.0.0.1:PORT) and PORT.
reg_start() {
	local bin=$1
	shift
	mkdir -p "$TMP/data"
	: >"$REG_LOG"
	s3_args "$@"
	set -- "${S3_ARGS[@]}"
	if [ -n "${REGISTRY_TEST_PG_CONF:-}" ]; then
		local args
		mapfile -t args < <(reg_pg_args "$@")
		set -- "${args[@]}"
	fi
	"$bin" serve --listen 127.0.0.1:0 --data "$TMP/data" "$@" 2>>"$REG_LOG" &
	REG_PID=$!
	if PORT=$(reg_port "$REG_LOG" "$REG_PID"); then
		BASE="http://127.0.0.1:$PORT"
		return 0
	fi
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

# flip_byte FILE OFFSET: changes the byte at OFFSET to another value (a
# fixed replacement equals a random file's byte 1 time in 256).
flip_byte() {
	local b
	b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
	printf "\\$(printf %03o $((b ^ 1)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
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
