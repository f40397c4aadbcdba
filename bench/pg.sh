#!/bin/bash
# bench/pg.sh - `make bench`'s metadata rows (run.sh calls it; it also runs
# alone): manifest GETs per second by tag, the registry on SQLite against the
# same registry on PostgreSQL (a throwaway PostgreSQL 15 on this machine,
# over its Unix socket, started by tests/pg.sh), in one run:
#
#   bench/pg.sh REGISTRY_BINARY [OUT_DIR]
#
# Each: one image pushed, then wrk (2 threads, 32 connections,
# BENCH_WRK_SEC seconds, 3 by default) GETs its manifest by tag; each GET is
# one indexed query (the manifest by tag) and a pull record batched in the
# background. Prints a Markdown table and writes OUT_DIR/pg.md and pg.csv.
set -euo pipefail
REG=$(readlink -f "${1:?usage: pg.sh REGISTRY_BINARY [OUT_DIR]}")
here=$(cd "$(dirname "$0")" && pwd)
OUT=${2:-$here/results}
SEC=${BENCH_WRK_SEC:-3}
for c in curl wrk; do command -v "$c" >/dev/null || { echo "bench/pg.sh: needs $c" >&2; exit 1; }; done
W=$(mktemp -d /tmp/bench-pg.XXXXXX)
PGD=$(mktemp -d /tmp/bench-pgdb.XXXXXX) # its own: handed to user postgres
PID=
cleanup() {
	if [ -n "$PID" ]; then
		kill "$PID" 2>/dev/null
		for _ in $(seq 1 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
	fi
	"$here/../tests/pg.sh" stop "$PGD" 2>/dev/null || true
	rm -rf "$W" "$PGD"
}
trap cleanup EXIT
mkdir -p "$OUT"
PG=$("$here/../tests/pg.sh" start "$PGD")
"$here/../tests/pg.sh" createdb "$PGD" bench
MT=application/vnd.oci.image.manifest.v1+json

# run BACKEND CONF-LINES: requests/s of manifest GETs by tag
run() {
	local name=$1 port base out rps
	rm -rf "$W/data"
	mkdir -p "$W/data"
	printf 'gc_interval = 0\n%s\n' "$2" >"$W/$name.conf"
	: >"$W/$name.log"
	"$REG" serve -c "$W/$name.conf" --listen 127.0.0.1:0 --data "$W/data" 2>"$W/$name.log" &
	PID=$!
	for _ in $(seq 1 100); do
		port=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$W/$name.log" | tail -1)
		[ -n "$port" ] && curl -sf -o /dev/null "http://127.0.0.1:$port/v2/" && break
		sleep 0.1
	done
	base=http://127.0.0.1:$port
	printf '{}' >"$W/config"
	head -c 10000 /dev/urandom >"$W/layer"
	c=sha256:$(sha256sum "$W/config" | cut -d' ' -f1)
	l=sha256:$(sha256sum "$W/layer" | cut -d' ' -f1)
	curl -sf -o /dev/null -X POST -H 'Content-Type: application/octet-stream' --data-binary @"$W/config" "$base/v2/app/blobs/uploads/?digest=$c"
	curl -sf -o /dev/null -X POST -H 'Content-Type: application/octet-stream' --data-binary @"$W/layer" "$base/v2/app/blobs/uploads/?digest=$l"
	printf '{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":2},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":10000}]}' "$MT" "$c" "$l" >"$W/manifest"
	curl -sf -o /dev/null -X PUT -H "Content-Type: $MT" --data-binary @"$W/manifest" "$base/v2/app/manifests/v1"
	out=$(wrk -t2 -c32 -d"${SEC}s" -H "Accept: $MT" "$base/v2/app/manifests/v1")
	if echo "$out" | grep -q 'Non-2xx'; then
		echo "bench/pg.sh: error responses from $name" >&2
		exit 1
	fi
	rps=$(echo "$out" | awk '/Requests\/sec/ {printf "%d", $2}')
	kill "$PID"
	for _ in $(seq 1 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
	PID=
	echo "$rps"
}
sq=$(run sqlite "metadata = sqlite")
pg=$(run postgres "metadata = postgres
postgres = \"$PG dbname=bench\"")
{
	echo "| metadata | manifest GETs by tag / s (wrk, 32 connections, ${SEC} s) |"
	echo "| --- | --- |"
	echo "| sqlite | $sq |"
	echo "| postgres (local, Unix socket) | $pg |"
} | tee "$OUT/pg.md"
printf 'metadata,manifest_gets_per_sec\nsqlite,%s\npostgres,%s\n' "$sq" "$pg" >"$OUT/pg.csv"
