#!/bin/bash
# Several registry replicas on one PostgreSQL (metadata = postgres) and one
# shared data folder, each on its own port, as behind a load balancer:
#   - two replicas started at the same moment on an empty database both
#     come up (the schema migration runs once, under its advisory lock);
#   - a chunked upload whose POST, PATCHes and PUT go to different replicas
#     completes, and the blob is byte-exact from either;
#   - a manifest pushed on one is pulled by tag from the other;
#   - an event is delivered once although both replicas deliver the queue;
#   - a replica killed with kill -9 in the middle of pushes to it: the
#     failed pushes retried through another complete, and every push that
#     was acknowledged is there;
#   - garbage collection run (registry gc) while pushes go through a
#     replica loses nothing referenced; a collection while another holds
#     the collectors' lock waits for it (one at a time).
# Uses REGISTRY_TEST_PG when set (make integration-pg), else starts its own
# PostgreSQL (tests/pg.sh) and stops it at the end.
# timeout: 300
set -u
here=$(cd "$(dirname "$0")" && pwd)
OWN_PG=
if [ -z "${REGISTRY_TEST_PG:-}" ]; then
	OWN_PG=$(mktemp -d /tmp/regpg.XXXXXX)
	REGISTRY_TEST_PG=$("$here/../pg.sh" start "$OWN_PG") || { echo "FAIL: cannot start PostgreSQL" >&2; exit 1; }
	export REGISTRY_TEST_PG
fi
. "$here/lib.sh"
# the binary itself: the replicas share one database (lib.sh's), which
# run_pg.sh's registry-pg.sh would split per data folder
BIN=${REGISTRY_PG_REAL:-$1}
MT=application/vnd.oci.image.manifest.v1+json
PIDS=()
LISTEN_PID=

cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do reg_wait "$p" 10; done
	[ -n "$LISTEN_PID" ] && kill "$LISTEN_PID" 2>/dev/null
	reg_cleanup
	if [ -n "$OWN_PG" ]; then
		"$here/../pg.sh" stop "$OWN_PG"
		rm -rf "$OWN_PG"
	fi
}
trap cleanup EXIT

# The receiver of events: one line per event it is POSTed.
LISTEN_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$TMP/listen.py" <<'PY_END'
import http.server, json, sys
out = open(sys.argv[2], "a")
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        for e in json.loads(body).get("events", []):
            out.write("%s %s %s\n" % (e.get("id"), e.get("action"), e.get("target", {}).get("tag", "")))
        out.flush()
        self.send_response(200)
        self.end_headers()
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY_END
: >"$TMP/events.log"
python3 "$TMP/listen.py" "$LISTEN_PORT" "$TMP/events.log" &
LISTEN_PID=$!

mkdir -p "$TMP/data"
{
	echo "delete_enabled = true"
	echo "gc_delay = 4s"
	echo "gc_interval = 0"
	echo "notify = http://127.0.0.1:$LISTEN_PORT/events events=push"
	echo "$REGISTRY_TEST_PG_CONF"
} >"$TMP/replica.conf"

# replica N: starts replica N on the shared folder; replica_wait N sets PORT_N.
replica() {
	: >"$TMP/replica$1.log"
	"$BIN" serve -c "$TMP/replica.conf" --listen 127.0.0.1:0 --data "$TMP/data" 2>>"$TMP/replica$1.log" &
	PIDS[$1]=$!
}
replica_wait() {
	local n=$1 log=$TMP/replica$1.log port
	if port=$(reg_port "$log" "${PIDS[$n]}"); then
		eval "PORT_$n=$port"
		return 0
	fi
	echo "replica $n did not start:" >&2
	cat "$log" >&2
	return 1
}
at() { BASE="http://127.0.0.1:$(eval echo "\$PORT_$1")"; }

# two at once on the empty database: one migrates, the other waits for it
replica 1
replica 2
check "replica 1 starts beside replica 2 on an empty database" replica_wait 1
check "replica 2 starts beside replica 1 on an empty database" replica_wait 2
check "the schema was made once (one row per version)" \
	[ "$(psql -qtA "$REGISTRY_TEST_PG dbname=$REG_PG_DB" -c 'SELECT count(*) - count(DISTINCT v) FROM schema_version')" = 0 ]

# ---- a chunked upload across replicas ----
head -c 300000 /dev/urandom >"$TMP/blob"
D=$(sha256 "$TMP/blob")
head -c 100000 "$TMP/blob" >"$TMP/c1"
tail -c +100001 "$TMP/blob" | head -c 100000 >"$TMP/c2"
tail -c +200001 "$TMP/blob" >"$TMP/c3"
at 1
req POST /v2/app/blobs/uploads/
expect "POST on replica 1" 202
LOC=$(hdr Location)
at 2
req PATCH "$LOC" -H 'Content-Type: application/octet-stream' -H 'Content-Range: 0-99999' --data-binary @"$TMP/c1"
expect "first PATCH on replica 2" 202
LOC=$(hdr Location)
at 1
req PATCH "$LOC" -H 'Content-Type: application/octet-stream' -H 'Content-Range: 100000-199999' --data-binary @"$TMP/c2"
expect "second PATCH on replica 1" 202
check "...which knows what replica 2 appended (Range 0-199999)" [ "$(hdr Range)" = "0-199999" ]
LOC=$(hdr Location)
at 2
sep='?'
case $LOC in *\?*) sep='&' ;; esac
req PUT "$LOC${sep}digest=$D" -H 'Content-Type: application/octet-stream' --data-binary @"$TMP/c3"
expect "PUT with the last chunk on replica 2" 201
for n in 1 2; do
	at $n
	req GET "/v2/app/blobs/$D"
	check "the blob from replica $n is byte-exact" cmp -s "$TMP/b" "$TMP/blob"
done

# ---- a manifest pushed on one, pulled from the other ----
printf '{}\n' >"$TMP/config"
C=$(sha256 "$TMP/config")
at 1
req POST "/v2/app/blobs/uploads/?digest=$C" -H 'Content-Type: application/octet-stream' --data-binary @"$TMP/config"
expect "config pushed on replica 1" 201
# manifest FILE LAYER SIZE: an image manifest of config C and one layer
manifest() {
	printf '{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":3},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%s}]}' \
		"$MT" "$C" "$2" "$3" >"$1"
}
manifest "$TMP/m0" "$D" 300000
req PUT /v2/app/manifests/v1 -H "Content-Type: $MT" --data-binary @"$TMP/m0"
expect "manifest pushed on replica 1" 201
at 2
req GET /v2/app/manifests/v1 -H "Accept: $MT"
expect "...pulled by tag from replica 2" 200
check "...the same bytes" cmp -s "$TMP/b" "$TMP/m0"
req GET /v2/_catalog
check "replica 2's catalog lists app" grep -q '"app"' "$TMP/b"

# ---- the event of that push, delivered once by whichever replica ----
for _ in $(seq 1 100); do
	grep -q ' push v1$' "$TMP/events.log" && break
	sleep 0.1
done
sleep 2 # time for the other replica's deliverer to send it again, were it so
check "the push of v1 was delivered once ($(grep -c ' push v1$' "$TMP/events.log"))" \
	[ "$(grep -c ' push v1$' "$TMP/events.log")" = 1 ]

# ---- kill -9 one replica in the middle of pushes to it ----
# push_one N PORT: a layer and a manifest tagged tN; prints N once the
# manifest PUT answered 201 (acknowledged).
push_one() {
	local n=$1 port=$2 f=$TMP/l$1 d code
	[ -e "$f" ] || head -c 50000 /dev/urandom >"$f"
	d=$(sha256 "$f")
	code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/octet-stream' \
		--data-binary @"$f" "http://127.0.0.1:$port/v2/app/blobs/uploads/?digest=$d")
	[ "$code" = 201 ] || return 1
	manifest "$TMP/m$n" "$d" 50000
	code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H "Content-Type: $MT" \
		--data-binary @"$TMP/m$n" "http://127.0.0.1:$port/v2/app/manifests/t$n")
	[ "$code" = 201 ] && echo "$n"
}
: >"$TMP/acked"
(for n in $(seq 1 40); do push_one "$n" "$PORT_1" >>"$TMP/acked"; done) &
PUSHER=$!
for _ in $(seq 1 50); do
	[ "$(wc -l <"$TMP/acked")" -ge 5 ] && break
	sleep 0.05
done
kill -9 "${PIDS[1]}"
reg_wait "${PIDS[1]}" 5
reg_wait "$PUSHER" 60
acked=$(wc -l <"$TMP/acked")
check "some pushes were acknowledged before the kill ($acked)" [ "$acked" -gt 0 ]
check "...and some failed with it" [ "$acked" -lt 40 ]
# the client's retries, through replica 2
for n in $(seq 1 40); do
	grep -qx "$n" "$TMP/acked" || push_one "$n" "$PORT_2" >>"$TMP/acked"
done
check "every retry through replica 2 completed ($(wc -l <"$TMP/acked") of 40)" [ "$(wc -l <"$TMP/acked")" = 40 ]
lost=0
at 2
for n in $(seq 1 40); do
	req GET "/v2/app/manifests/t$n" -H "Accept: $MT"
	cmp -s "$TMP/b" "$TMP/m$n" || lost=$((lost + 1))
done
check "nothing acknowledged is lost: 40 tags byte-exact from replica 2 ($lost missing)" [ "$lost" = 0 ]
replica 1
check "replica 1 restarts" replica_wait 1

# ---- GC while pushes go through a replica ----
sleep 4 # the killed pushes' leftovers age past gc_delay
: >"$TMP/acked2"
(for n in $(seq 41 70); do push_one "$n" "$PORT_2" >>"$TMP/acked2"; done) &
PUSHER=$!
gcs=0
for _ in 1 2 3; do
	"$BIN" gc -c "$TMP/replica.conf" --data "$TMP/data" >>"$TMP/gc.out" 2>&1 && gcs=$((gcs + 1))
done
reg_wait "$PUSHER" 120
check "three collections ran while pushing ($gcs)" [ "$gcs" = 3 ]
check "every push during GC was acknowledged ($(wc -l <"$TMP/acked2") of 30)" \
	[ "$(wc -l <"$TMP/acked2")" = 30 ]
lost=0
at 1
for n in $(seq 1 70); do
	req GET "/v2/app/manifests/t$n" -H "Accept: $MT"
	cmp -s "$TMP/b" "$TMP/m$n" || { lost=$((lost + 1)); continue; }
	req GET "/v2/app/blobs/$(sha256 "$TMP/l$n")"
	cmp -s "$TMP/b" "$TMP/l$n" || lost=$((lost + 1))
done
check "GC lost nothing referenced: 70 manifests and layers byte-exact ($lost missing)" [ "$lost" = 0 ]
req GET "/v2/app/blobs/$D"
check "the chunked blob is still there" cmp -s "$TMP/b" "$TMP/blob"

# one collector at a time: while a session holds the collectors' lock (as
# another replica's collection would), a collection waits for its turn
psql -qtA "$REGISTRY_TEST_PG dbname=$REG_PG_DB" \
	-c "SELECT pg_advisory_lock(hashtext('registry gc'))" -c "SELECT pg_sleep(3)" >/dev/null &
HOLDER=$!
sleep 1
t0=$(date +%s%N)
"$BIN" gc -c "$TMP/replica.conf" --data "$TMP/data" >"$TMP/gc2.out" 2>&1
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
reg_wait "$HOLDER" 10
check "a collection while another holds the lock waits for it ($ms ms), then runs (exit $rc)" \
	[ "$rc" = 0 ] && [ "$ms" -ge 1500 ]
check "...saying why" grep -q "another replica is collecting; waiting" "$TMP/gc2.out"

for n in 1 2; do
	kill -TERM "${PIDS[$n]}"
	reg_wait "${PIDS[$n]}"
	check "replica $n exits 0 on SIGTERM" [ $? = 0 ]
done
PIDS=()
check "no sanitizer report" bash -c "! grep -qE 'Sanitizer|runtime error' '$TMP'/replica*.log"
summary
