#!/bin/bash
# bench/gc.sh - `make bench`'s garbage collection rows (run.sh calls it at
# the end; it also runs alone):
#
#   bench/gc.sh REGISTRY_BINARY [OUT_DIR]
#
# Seeds a fresh data folder with BENCH_GC_BLOBS (100,000) unreferenced
# blobs (files and rows, written directly: seeding them over HTTP would
# take minutes) beside one live image, then measures, on a running server:
#   - pulls of a live 4 KiB blob (wrk --latency, 32 connections) alone:
#     p50 and p99;
#   - the same while `registry gc` removes all the garbage, from its start
#     to its end (wrk runs until the collection ends: SIGINT makes it stop
#     and print what it measured): p50, p99, and the collection's own time.
# Target (the storage-lifecycle issue): p99 during GC at most 2x without.
# Prints a Markdown table and writes OUT_DIR/gc.md and gc.csv.
set -euo pipefail
REG=$(readlink -f "${1:?usage: gc.sh REGISTRY_BINARY [OUT_DIR]}")
OUT=${2:-$(cd "$(dirname "$0")" && pwd)/results}
N=${BENCH_GC_BLOBS:-100000}
WRK_SEC=${BENCH_GC_WRK_SEC:-5}
PORT=${BENCH_GC_PORT:-15420}
for c in wrk curl sqlite3 python3; do command -v "$c" >/dev/null || { echo "bench/gc.sh: needs $c" >&2; exit 1; }; done
W=$(mktemp -d /tmp/bench-gc.XXXXXX)
PID= WRK=
cleanup() {
	[ -n "$WRK" ] && kill "$WRK" 2>/dev/null
	[ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT
mkdir -p "$OUT" "$W/data"
BASE=http://127.0.0.1:$PORT
printf 'gc_interval = 0\ngc_delay = 1h\ngc_untagged = 0\nlog_level = warn\n' >"$W/gc.conf"
"$REG" serve -c "$W/gc.conf" --listen "127.0.0.1:$PORT" --data "$W/data" 2>"$W/log" &
PID=$!
for _ in $(seq 1 100); do curl -sf -o /dev/null "$BASE/v2/" && break; sleep 0.1; done

# the live blob the load pulls
head -c 4096 /dev/urandom >"$W/live"
D="sha256:$(sha256sum "$W/live" | cut -d' ' -f1)"
curl -sf -o /dev/null -X POST --data-binary @"$W/live" "$BASE/v2/bench/gc/blobs/uploads/?digest=$D"

# N unreferenced blobs: 1 KiB files, and their rows, last referenced in
# 1970 (so past any gc_delay; the server keeps the default 1h, with which
# a pull writes nothing)
python3 - "$W/data" "$N" <<'PY'
import hashlib, os, sqlite3, sys
root, n = sys.argv[1], int(sys.argv[2])
rows = []
for i in range(n):
    b = b"garbage %d " % i + b"x" * 1000
    h = hashlib.sha256(b).hexdigest()
    d = os.path.join(root, "blobs", "sha256", h[:2])
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, h), "wb") as f:
        f.write(b)
    rows.append(("sha256:" + h, len(b)))
db = sqlite3.connect(os.path.join(root, "registry.db"), timeout=30)
db.executemany("INSERT INTO blobs(digest, size, created_us, touched_us) VALUES (?, ?, 0, 0)", rows)
db.commit()
PY

# lat: p50 and p99 in ms from wrk --latency's output on stdin
lat() {
	awk '/^ +50%/ {p50=$2} /^ +99%/ {p99=$2}
		function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
		END { printf "%.3f %.3f\n", ms(p50), ms(p99) }'
}
# wrk_lat: p50 and p99 of pulling the live blob for WRK_SEC, in ms
wrk_lat() {
	wrk -t2 -c32 -d"${WRK_SEC}s" --latency "$BASE/v2/bench/gc/blobs/$D" | lat
}
# the seeding's writes reach the disk first, and one warm-up run
sync
wrk -t2 -c32 -d1s "$BASE/v2/bench/gc/blobs/$D" >/dev/null
read -r B50 B99 < <(wrk_lat)
# the collection and the load at once: the load from the collection's
# start to its end (an earlier version measured only its first WRK_SEC)
wrk -t2 -c32 -d600s --latency "$BASE/v2/bench/gc/blobs/$D" >"$W/wrk.gc" &
WRK=$!
"$REG" gc -c "$W/gc.conf" -d "$W/data" >/dev/null 2>"$W/gc.err"
kill -INT "$WRK"
wait "$WRK" || true
WRK=
read -r G50 G99 < <(lat <"$W/wrk.gc")
GCS=$(sed -n 's/.*; \([0-9.]*\) s$/\1/p' "$W/gc.err")
LEFT=$(find "$W/data/blobs" -type f | wc -l)
RATIO=$(awk -v a="$G99" -v b="$B99" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
MET=$(awk -v r="$RATIO" 'BEGIN { print (r <= 2 ? "yes" : "NO") }')
{
	echo "| workload | unit | value | target | met |"
	echo "| --- | --- | ---: | --- | --- |"
	echo "| GC of $N unreferenced blobs (while serving) | s | $GCS | - | - |"
	echo "| 4 KiB blob pull p50 / p99, no GC | ms | $B50 / $B99 | - | - |"
	echo "| 4 KiB blob pull p50 / p99, during that GC | ms | $G50 / $G99 | p99 <= 2 x without | $MET ($RATIO x) |"
} | tee "$OUT/gc.md"
printf 'gc_seconds,%s\nblobs,%s\nleft_files,%s\np50_ms,%s\np99_ms,%s\ngc_p50_ms,%s\ngc_p99_ms,%s\n' \
	"$GCS" "$N" "$LEFT" "$B50" "$B99" "$G50" "$G99" >"$OUT/gc.csv"
[ "$LEFT" = 1 ] || echo "bench/gc.sh: $LEFT files left, expected 1 (the live blob)" >&2
