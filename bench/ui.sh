#!/bin/bash
# bench/ui.sh - `make bench`'s web UI rows (run.sh calls it at the end; it
# also runs alone):
#
#   bench/ui.sh REGISTRY_BINARY [OUT_DIR]
#
# Seeds a fresh data folder with one repository of BENCH_UI_TAGS (10,000)
# tags and BENCH_UI_REPOS (10,000) more repositories of one tag each: a
# few images pushed over HTTP, then the rows of the rest written into the
# index directly (pushing 20,000 manifests over HTTP would take minutes and
# measure the push, not the pages). Then asks each page BENCH_UI_RUNS (50)
# times and reads the server's own time for each request from its access
# log (json, duration_ms: from the request's headers to the end of its
# reply): p50 and p99 per page. Target (the web UI issue): each page of a
# repository of 10,000 tags (and of the list of 10,000 repositories) under
# 20 ms at p99. The storage page reads the whole index (as `registry du`)
# and has no target; it is measured to be seen.
# Prints a Markdown table and writes OUT_DIR/ui.md and ui.csv.
set -euo pipefail
REG=$(readlink -f "${1:?usage: ui.sh REGISTRY_BINARY [OUT_DIR]}")
OUT=${2:-$(cd "$(dirname "$0")" && pwd)/results}
NTAGS=${BENCH_UI_TAGS:-10000}
NREPOS=${BENCH_UI_REPOS:-10000}
RUNS=${BENCH_UI_RUNS:-50}
PORT=${BENCH_UI_PORT:-15430}
TARGET_MS=20
for c in curl sqlite3 python3; do command -v "$c" >/dev/null || { echo "bench/ui.sh: needs $c" >&2; exit 1; }; done
W=$(mktemp -d /tmp/bench-ui.XXXXXX)
PID=
cleanup() {
	[ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT
mkdir -p "$OUT" "$W/data"
BASE=http://127.0.0.1:$PORT
printf 'gc_interval = 0\nlog_level = warn\naccess_log = %s\naccess_log_format = json\n' \
	"$W/access.log" >"$W/ui.conf"
"$REG" serve -c "$W/ui.conf" --listen "127.0.0.1:$PORT" --data "$W/data" 2>"$W/log" &
PID=$!
for _ in $(seq 1 100); do curl -sf -o /dev/null "$BASE/v2/" && break; sleep 0.1; done
kill -0 "$PID" 2>/dev/null || { cat "$W/log" >&2; echo "bench/ui.sh: the registry did not start (port $PORT in use? BENCH_UI_PORT)" >&2; exit 1; }

# eight images (two platforms' worth of configs) pushed for real: the tag
# rows below point at them, so each row of a page reads a real manifest and
# config for its platforms
MT=application/vnd.oci.image.manifest.v1+json
for i in $(seq 1 8); do
	printf '{"architecture":"%s","os":"linux","config":{"Env":["N=%d"]},"history":[{"created_by":"RUN true"}]}' \
		"$([ $((i % 2)) = 0 ] && echo arm64 || echo amd64)" "$i" >"$W/config"
	printf 'layer %d' "$i" >"$W/layer"
	DC="sha256:$(sha256sum "$W/config" | cut -d' ' -f1)"
	DL="sha256:$(sha256sum "$W/layer" | cut -d' ' -f1)"
	curl -sf -o /dev/null -X POST --data-binary @"$W/config" "$BASE/v2/bench/big/blobs/uploads/?digest=$DC"
	curl -sf -o /dev/null -X POST --data-binary @"$W/layer" "$BASE/v2/bench/big/blobs/uploads/?digest=$DL"
	printf '{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%d}]}' \
		"$MT" "$DC" "$(stat -c %s "$W/config")" "$DL" "$(stat -c %s "$W/layer")" >"$W/man"
	curl -sf -o /dev/null -X PUT -H "Content-Type: $MT" --data-binary @"$W/man" "$BASE/v2/bench/big/manifests/seed$i"
done

# the rest of the rows: NTAGS tags of bench/big over those manifests, pushed
# a second apart; NREPOS repositories (bench/r00000...) with one tag each
python3 - "$W/data/registry.db" "$NTAGS" "$NREPOS" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=30)
ntags, nrepos = int(sys.argv[2]), int(sys.argv[3])
rid = db.execute("SELECT id FROM repos WHERE name = 'bench/big'").fetchone()[0]
digests = [r[0] for r in db.execute("SELECT digest FROM manifests WHERE repo_id = ?", (rid,))]
db.execute("DELETE FROM tags WHERE repo_id = ?", (rid,))
db.executemany(
    "INSERT INTO tags(repo_id, name, digest, pushed, pushed_by, last_pull, pulls)"
    " VALUES (?, ?, ?, ?, 'bench', 0, 0)",
    [(rid, "t%05d" % i, digests[i % len(digests)], 1700000000 + i) for i in range(ntags)])
for i in range(nrepos):
    cur = db.execute("INSERT INTO repos(name) VALUES (?)", ("bench/r%05d" % i,))
    db.execute(
        "INSERT INTO manifests(repo_id, digest, media_type, size, artifact_type, subject,"
        " annotations, created, pushed_by, last_pull, pulls)"
        " SELECT ?, digest, media_type, size, artifact_type, subject, annotations, created,"
        " pushed_by, last_pull, pulls FROM manifests WHERE repo_id = ? AND digest = ?",
        (cur.lastrowid, rid, digests[0]))
    db.execute("INSERT INTO tags(repo_id, name, digest, pushed, pushed_by, last_pull, pulls)"
               " VALUES (?, 'latest', ?, 1700000000, 'bench', 0, 0)", (cur.lastrowid, digests[0]))
db.commit()
PY
MID=$(printf 't%05d' $((NTAGS / 2)))
MIDR=$(printf 'bench%%2Fr%05d' $((NREPOS / 2)))
PAGES=(
	"repositories, first page|/ui/"
	"repositories, page in the middle|/ui/?after=$MIDR"
	"repositories, search (a name near the end)|/ui/?q=r0999"
	"repository of $NTAGS tags, by name, first page|/ui/repo?name=bench/big"
	"repository of $NTAGS tags, by name, middle page|/ui/repo?name=bench/big&after=$MID"
	"repository of $NTAGS tags, by push time, first page|/ui/repo?name=bench/big&sort=pushed"
	"repository of $NTAGS tags, by push time, middle page|/ui/repo?name=bench/big&sort=pushed&after=$((1700000000 + NTAGS / 2)):$MID"
	"an image|/ui/image?name=bench/big&ref=$MID"
	"storage ($((NREPOS + 1)) repositories)|/ui/storage"
)
# a warm-up round, then RUNS rounds; the access log tells each one's time
for p in "${PAGES[@]}"; do curl -sf -o /dev/null "$BASE${p#*|}"; done
: >"$W/access.log"
for _ in $(seq 1 "$RUNS"); do
	for p in "${PAGES[@]}"; do curl -sf -o /dev/null -H 'Accept-Encoding: gzip' "$BASE${p#*|}"; done
done
sleep 0.5
{
	echo "| web UI page (server time, gzip) | unit | p50 | p99 | target | met |"
	echo "| --- | --- | ---: | ---: | --- | --- |"
} >"$W/ui.md"
echo "page,p50_ms,p99_ms" >"$OUT/ui.csv"
# The access log keeps the path without the query: rounds are in a fixed
# order, so the n-th line of each round is the n-th page.
python3 - "$W/access.log" "${#PAGES[@]}" "$TARGET_MS" "$OUT/ui.csv" "${PAGES[@]}" >>"$W/ui.md" <<'PY'
import json, sys
log, npages, target, csv = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
names = [p.split("|")[0] for p in sys.argv[5:]]
times = [[] for _ in range(npages)]
lines = [json.loads(l) for l in open(log) if l.strip()]
for i, e in enumerate(lines):
    times[i % npages].append(float(e["duration_ms"]))
with open(csv, "a") as f:
    for name, t in zip(names, times):
        t.sort()
        p50 = t[len(t) // 2]
        p99 = t[min(len(t) - 1, int(len(t) * 0.99))]
        if name.startswith("storage"):
            # one read of the whole index (registry du): not a paged view
            print("| %s | ms | %.2f | %.2f | - | - |" % (name, p50, p99))
        else:
            met = "yes" if p99 < target else "NO"
            print("| %s | ms | %.2f | %.2f | < %g ms | %s |" % (name, p50, p99, target, met))
        f.write('"%s",%.3f,%.3f\n' % (name, p50, p99))
PY
cp "$W/ui.md" "$OUT/ui.md"
cat "$OUT/ui.md"
