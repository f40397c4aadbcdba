#!/bin/bash
# Three replicas on one PostgreSQL and one Ceph RGW bucket, each with a data
# folder of its own (nothing shared but the database and the bucket), behind
# a test-started nginx in round robin (tests/nginx.sh, the README's
# settings); every request below goes through the balancer:
#   - a chunked upload (POST, three PATCHes, PUT) whose requests nginx's log
#     shows on all three replicas completes, byte-exact from each;
#   - a replica killed with kill -9 in the middle of four clients' pushes: a
#     chunked upload begun before the kill finishes after it; the pushes
#     that failed are retried by their clients through the balancer and
#     complete; every push acknowledged is there, byte-exact;
#   - replica 1 collecting garbage every second (gc_interval = 1s) while
#     four clients push through a second nginx over replicas 2 and 3: every
#     manifest and layer is still there, and a blob nothing references is
#     gone (the collector did run);
#   - every replica exits 0 on SIGTERM, with no sanitizer report.
# The integration API scripts and the real clients through three replicas:
# run_s3.sh (registry-lb.sh). test_replicas.sh: two replicas on one folder.
# needs: rgw (run_s3.sh runs it, with REGISTRY_TEST_PG and REGISTRY_TEST_S3_CONF)
# timeout: 420
set -u
. "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)
BIN=$(readlink -f "$1")
MT=application/vnd.oci.image.manifest.v1+json
if [ -z "${REGISTRY_TEST_S3_CONF:-}" ] || [ -z "${REGISTRY_TEST_PG_CONF:-}" ]; then
	skip "test_replicas_lb needs RGW and PostgreSQL (make integration-s3 runs it)"
	summary
	exit
fi
PIDS=()
LBS=()
cleanup() {
	local p d
	for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
	for d in "${LBS[@]}"; do "$here/../nginx.sh" stop "$d"; done
	reg_cleanup
}
trap cleanup EXIT

# One configuration for all; replica 1 is restarted as the collector
# (gc.conf) for the last part.
{
	echo "delete_enabled = true"
	echo "gc_delay = 5s"
	echo "gc_interval = 0"
	cat "$REGISTRY_TEST_S3_CONF"
	echo "s3_prefix = ${TMP##*/}/"
	echo "$REGISTRY_TEST_PG_CONF"
} | tee "$TMP/r1.conf" "$TMP/r2.conf" >"$TMP/r3.conf"
sed 's/^gc_interval = 0$/gc_interval = 1s/' "$TMP/r1.conf" >"$TMP/gc.conf"

# replica I [PORT [CONF]]: starts replica I (on PORT, else a free one;
# with CONF, else rI.conf) and waits until it answers; sets PORTS[I].
PORTS=()
replica() {
	local i=$1 log=$TMP/replica$1.log port
	mkdir -p "$TMP/d$i"
	"$BIN" serve -c "${3:-$TMP/r$i.conf}" --listen "127.0.0.1:${2:-0}" --data "$TMP/d$i" 2>>"$log" &
	PIDS[i]=$!
	if port=$(reg_port "$log" "${PIDS[i]}"); then
		PORTS[i]=$port
		return 0
	fi
	echo "replica $i did not start:" >&2
	cat "$log" >&2
	return 1
}
for i in 1 2 3; do
	replica "$i"
	rc=$?
	check "replica $i starts (own data folder, shared database and bucket)" [ "$rc" = 0 ]
	[ "$rc" = 0 ] || { summary; exit 1; }
done
LBS=("$TMP/lb" "$TMP/lb23")
LB=$("$here/../nginx.sh" start "$TMP/lb" "${PORTS[1]}" "${PORTS[2]}" "${PORTS[3]}")
check "nginx starts over the three ($LB)" [ -n "$LB" ]
BASE=http://127.0.0.1:$LB

# ---- a chunked upload across the replicas ----
# chunks FILE PREFIX: FILE in three parts PREFIX.1..3 (100000, 100000, rest)
chunks() {
	head -c 100000 "$1" >"$2.1"
	tail -c +100001 "$1" | head -c 100000 >"$2.2"
	tail -c +200001 "$1" >"$2.3"
}
# patch LOC I FIRST LAST: PATCHes chunk I; sets LOC to the next location.
# A 502 (nginx found the replica gone before the request reached it) is
# retried, as a client would.
patch() {
	local try
	for try in 1 2 3; do
		req PATCH "$1" -H 'Content-Type: application/octet-stream' -H "Content-Range: $3-$4" \
			--data-binary @"$TMP/c.$2"
		[ "$CODE" = 502 ] || break
		echo "note: PATCH answered 502 (try $try); retried" >&2
	done
	LOC=$(hdr Location)
}
# finish LOC DIGEST FILE: the closing PUT with the last chunk
finish() {
	local sep='?'
	case $1 in *\?*) sep='&' ;; esac
	req PUT "$1${sep}digest=$2" -H 'Content-Type: application/octet-stream' --data-binary @"$3"
}
head -c 300000 /dev/urandom >"$TMP/blob"
D=$(sha256 "$TMP/blob")
chunks "$TMP/blob" "$TMP/c"
: >"$TMP/lb/access.log"
req POST /v2/app/blobs/uploads/
expect "POST through the balancer" 202
LOC=$(hdr Location)
patch "$LOC" 1 0 99999
expect "first PATCH" 202
patch "$LOC" 2 100000 199999
expect "second PATCH" 202
check "...and the replica it landed on knows what the others appended (Range 0-199999)" \
	[ "$(hdr Range)" = "0-199999" ]
finish "$LOC" "$D" "$TMP/c.3"
expect "PUT with the last chunk" 201
used=$(awk '$1 != "GET" { print $4 }' "$TMP/lb/access.log" | sort -u | wc -l)
check "the upload's four requests landed on $used replicas (nginx's log)" [ "$used" = 3 ]
for i in 1 2 3; do
	c=$(curl -s -o "$TMP/got" -w '%{http_code}' "http://127.0.0.1:${PORTS[i]}/v2/app/blobs/$D")
	check "the blob from replica $i is byte-exact ($c)" cmp -s "$TMP/got" "$TMP/blob"
done

# ---- pushes, and a replica killed with kill -9 among them ----
printf '{"n":"config"}' >"$TMP/config"
C=$(sha256 "$TMP/config")
req POST "/v2/app/blobs/uploads/?digest=$C" -H 'Content-Type: application/octet-stream' --data-binary @"$TMP/config"
expect "the images' config pushed" 201
# push_one N LBPORT: layer N (SIZE bytes, 60000; sent at RATE bytes/s,
# unlimited) and manifest tN through the balancer; a request that fails is
# retried (a client's retry: up to 8 tries in all); prints "N" once the
# manifest PUT is acknowledged (201), "retry N" for each failed try.
push_one() {
	local n=$1 port=$2 f=$TMP/l$1 d try code size=${SIZE:-60000}
	[ -e "$f" ] || head -c "$size" /dev/urandom >"$f"
	d=$(sha256 "$f")
	printf '{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%s}]}' \
		"$MT" "$C" "$(stat -c %s "$TMP/config")" "$d" "$size" >"$TMP/m$n"
	for try in 1 2 3 4 5 6 7 8; do
		code=$(curl -s -o /dev/null -w '%{http_code}' --limit-rate "${RATE:-0}" -X POST \
			-H 'Content-Type: application/octet-stream' \
			--data-binary @"$f" "http://127.0.0.1:$port/v2/app/blobs/uploads/?digest=$d")
		if [ "$code" = 201 ]; then
			code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H "Content-Type: $MT" \
				--data-binary @"$TMP/m$n" "http://127.0.0.1:$port/v2/app/manifests/t$n")
			[ "$code" = 201 ] && { echo "$n"; return 0; }
		fi
		echo "retry $n ($code)"
		sleep 0.2
	done
	return 1
}
# pushers LBPORT FIRST LAST OUT: four clients push FIRST..LAST between them
pushers() {
	local k
	for k in 0 1 2 3; do
		(for n in $(seq $(($2 + k)) 4 "$3"); do push_one "$n" "$1"; done >>"$4.$k") &
		PUSHERS+=($!)
	done
}
acked() { cat "$1".? 2>/dev/null | grep -cx '[0-9]*'; }
# missing LAST: how many of images 1..LAST the balancer does not serve
# byte-exact (manifest by tag, then its layer)
missing() {
	local n lost=0
	for n in $(seq 1 "$1"); do
		req GET "/v2/app/manifests/t$n" -H "Accept: $MT"
		cmp -s "$TMP/b" "$TMP/m$n" || { lost=$((lost + 1)); continue; }
		req GET "/v2/app/blobs/$(sha256 "$TMP/l$n")"
		cmp -s "$TMP/b" "$TMP/l$n" || lost=$((lost + 1))
	done
	echo "$lost"
}

# a chunked upload begun before the kill (its first PATCH may land on the
# replica that dies: acknowledged, its bytes are in the bucket)
head -c 300000 /dev/urandom >"$TMP/blob2"
D2=$(sha256 "$TMP/blob2")
chunks "$TMP/blob2" "$TMP/c"
req POST /v2/app/blobs/uploads/
LOC=$(hdr Location)
patch "$LOC" 1 0 99999
expect "a chunked upload's first PATCH, before the kill" 202

# Four clients push 1 MB layers at 400 KB/s (2.5 s a layer), so requests
# are in flight on every replica; once some pushes are acknowledged, replica
# 3 is killed while its metrics say a request is in flight on it besides
# the scrape.
PUSHERS=()
SIZE=1000000 RATE=400k pushers "$LB" 1 24 "$TMP/k"
inflight3() {
	curl -s "http://127.0.0.1:${PORTS[3]}/metrics" |
		sed -n 's/^registry_http_requests_in_flight \([0-9]*\)$/\1/p'
}
busy=0
for _ in $(seq 1 600); do
	if [ "$(acked "$TMP/k")" -ge 2 ] && [ "$(inflight3)" -ge 2 ]; then busy=1; break; fi
	sleep 0.05
done
kill -9 "${PIDS[3]}"
reg_wait "${PIDS[3]}" 5
killed_at=$(acked "$TMP/k")
check "replica 3 was killed with a push's request in flight on it" [ "$busy" = 1 ]
patch "$LOC" 2 100000 199999
expect "...its second PATCH, after the kill" 202
finish "$LOC" "$D2" "$TMP/c.3"
expect "...and its PUT: the upload begun before the kill completes" 201
req GET "/v2/app/blobs/$D2"
check "...byte-exact" cmp -s "$TMP/b" "$TMP/blob2"
# both chunked blobs referenced, so the collections below keep them
printf '{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":300000},{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":300000}]}' \
	"$MT" "$C" "$(stat -c %s "$TMP/config")" "$D" "$D2" >"$TMP/mc"
req PUT /v2/app/manifests/chunked -H "Content-Type: $MT" --data-binary @"$TMP/mc"
expect "a manifest of both chunked blobs" 201
reg_wait_all "${PUSHERS[@]}"
n=$(acked "$TMP/k")
retries=$(cat "$TMP"/k.? | grep -c '^retry')
check "...in the middle of the pushes ($killed_at of 24 acknowledged before)" \
	[ "$killed_at" -gt 0 ] && [ "$killed_at" -lt 24 ]
# (the requests cut fail; those nginx could not connect with it passes to
# the next replica itself)
check "the clients whose requests were cut retried ($retries retries)" [ "$retries" -gt 0 ]
check "every push completed through the other replicas ($n of 24)" [ "$n" = 24 ]
lost=$(missing 24)
check "nothing acknowledged is lost: 24 manifests and layers byte-exact ($lost missing)" [ "$lost" = 0 ]
replica 3 "${PORTS[3]}"
check "replica 3 restarts on its port" [ $? = 0 ]

# ---- replica 1 collects while pushes go through replicas 2 and 3 ----
head -c 5000 /dev/urandom >"$TMP/orphan"
O=$(sha256 "$TMP/orphan")
req POST "/v2/app/blobs/uploads/?digest=$O" -H 'Content-Type: application/octet-stream' --data-binary @"$TMP/orphan"
expect "a blob nothing will reference" 201
kill -TERM "${PIDS[1]}"
reg_wait "${PIDS[1]}"
check "replica 1 stops (exit 0), to come back as the collector" [ $? = 0 ]
replica 1 "${PORTS[1]}" "$TMP/gc.conf"
check "replica 1 restarts, collecting every second" [ $? = 0 ]
LB23=$("$here/../nginx.sh" start "$TMP/lb23" "${PORTS[2]}" "${PORTS[3]}")
check "a second nginx over replicas 2 and 3 ($LB23)" [ -n "$LB23" ]
t0=$(date +%s)
PUSHERS=()
pushers "$LB23" 25 72 "$TMP/g"
reg_wait_all "${PUSHERS[@]}"
# the orphan ages past gc_delay; the collector passes over it
sleep $((t0 + 8 - $(date +%s) > 0 ? t0 + 8 - $(date +%s) : 0))
check "every push during collections completed ($(acked "$TMP/g") of 48)" [ "$(acked "$TMP/g")" = 48 ]
runs=$(curl -s "http://127.0.0.1:${PORTS[1]}/metrics" | sed -n 's/^registry_gc_runs_total \([0-9]*\)$/\1/p')
check "replica 1 collected meanwhile ($runs runs)" [ "${runs:-0}" -ge 4 ]
req HEAD "/v2/app/blobs/$O"
check "the blob nothing references was collected ($CODE)" [ "$CODE" = 404 ]
lost=$(missing 72)
check "GC lost nothing referenced: 72 manifests and layers byte-exact ($lost missing)" [ "$lost" = 0 ]
for d in "$D" "$D2" "$C"; do
	req HEAD "/v2/app/blobs/$d"
	check "blob ${d:7:12} still there ($CODE)" [ "$CODE" = 200 ]
done
check "the database holds the 73 tags" \
	[ "$(reg_sql "" "SELECT count(*) FROM tags")" = 73 ]

for i in 1 2 3; do
	kill -TERM "${PIDS[i]}"
	reg_wait "${PIDS[i]}"
	check "replica $i exits 0 on SIGTERM" [ $? = 0 ]
done
PIDS=()
check "no sanitizer report" bash -c "! grep -qE 'Sanitizer|runtime error' '$TMP'/replica*.log"
summary
