#!/bin/bash
# Reload of the core's settings (SIGHUP and `registry reload`): upstreams
# added, removed and pointed elsewhere, a quota raised and lowered, an
# immutable rule set and dropped, delete_enabled switched, each by editing
# registry.conf, while workers pull (local and through the cache) and push,
# a chunked upload runs across the reloads and slow upstream fetches are in
# flight when their upstream is removed. No request fails but the refusals
# each setting asks for; a bad line keeps the running settings and logs
# FILE:LINE. Upstreams on 127.0.0.1: two instances of this registry (the
# hubs) and the stand-in (upstream_standin.py) for fetches that take seconds.
# timeout: 300
set -u
. "$(dirname "$0")/lib.sh"
BIN=$1
HERE=$(cd "$(dirname "$0")" && pwd)
MT=application/vnd.oci.image.manifest.v1+json
DATA=$TMP/data
CONF=$TMP/registry.conf
mkdir -p "$DATA"

# No request of this test may hang it.
export CURL_HOME=$TMP
echo 'max-time = 60' >"$TMP/.curlrc"

HUB1_PID="" HUB2_PID="" SI_PID=""
core_cleanup() {
	for p in $HUB1_PID $HUB2_PID $SI_PID; do
		kill "$p" 2>/dev/null
		reg_wait "$p" 10
	done
	reg_cleanup
}
trap core_cleanup EXIT

# hub N: starts hub N (this registry, no auth) on a free port: HUBN_PID, HUBN.
hub() {
	local log=$TMP/hub$1.log port pid
	"$BIN" serve --listen 127.0.0.1:0 --data "$TMP/hub$1" 2>"$log" &
	pid=$!
	for _ in $(seq 1 100); do
		port=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$log" | tail -1)
		[ -n "$port" ] && curl -s -o /dev/null "http://127.0.0.1:$port/v2/" && break
		sleep 0.1
	done
	eval "HUB$1_PID=$pid HUB$1=http://127.0.0.1:$port"
}

# push_to URL REPO TAG: an image (a config and a layer) pushed to URL.
push_to() {
	local url=$1 repo=$2 tag=$3 c l
	printf '{"architecture":"amd64","os":"linux","n":"%s-%s"}' "$repo" "$tag" >"$TMP/pc"
	head -c 3000 /dev/urandom >"$TMP/pl"
	c=$(sha256 "$TMP/pc")
	l=$(sha256 "$TMP/pl")
	curl -s -o /dev/null -X POST --data-binary "@$TMP/pc" "$url/v2/$repo/blobs/uploads/?digest=$c"
	curl -s -o /dev/null -X POST --data-binary "@$TMP/pl" "$url/v2/$repo/blobs/uploads/?digest=$l"
	printf '{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":3000}]}' \
		"$MT" "$c" "$(stat -c %s "$TMP/pc")" "$l" >"$TMP/pm"
	curl -s -o /dev/null -w '%{http_code}' -X PUT -H "Content-Type: $MT" \
		--data-binary "@$TMP/pm" "$url/v2/$repo/manifests/$tag"
}

# blob REPO FILE: a monolithic blob push of FILE to the registry under test.
blob() {
	req POST "/v2/$1/blobs/uploads/?digest=$(sha256 "$2")" --data-binary "@$2" \
		-H 'Content-Type: application/octet-stream'
}

# manifest REPO TAG N: a manifest (config only, n=N) pushed to the registry
# under test; its config blob first.
manifest() {
	printf '{"architecture":"amd64","os":"linux","n":%s}' "$3" >"$TMP/mc$3"
	blob "$1" "$TMP/mc$3"
	printf '{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[]}' \
		"$MT" "$(sha256 "$TMP/mc$3")" "$(stat -c %s "$TMP/mc$3")" >"$TMP/mm$3"
	req PUT "/v2/$1/manifests/$2" -H "Content-Type: $MT" --data-binary "@$TMP/mm$3"
}

pull() { # pull REPO REF: GET of a manifest
	req GET "/v2/$1/manifests/$2" -H "Accept: $MT"
}

# write_conf: registry.conf from UPS, QUOTAS, IMMS, DEL and GCI.
write_conf() {
	{
		echo "log_level = info"
		echo "proxy_timeout = 10s"
		echo "gc_interval = $GCI"
		echo "delete_enabled = $DEL"
		for u in "${UPS[@]}"; do echo "upstream = $u"; done
		for q in "${QUOTAS[@]}"; do echo "quota = \"$q\""; done
		for i in "${IMMS[@]}"; do echo "immutable = \"$i\""; done
	} >"$CONF"
}

# reloaded N: waits until the log holds N reload outcome lines.
reloaded() {
	for _ in $(seq 1 100); do
		[ "$(grep -cE 'reload: (configuration from|.*the running configuration is kept)' "$REG_LOG")" -ge "$1" ] && return 0
		sleep 0.1
	done
	return 1
}

# ---- the upstreams ----
hub 1
hub 2
check "two hubs serve (${HUB1#http://}, ${HUB2#http://})" [ -n "$HUB1_PID" ] && [ -n "$HUB2_PID" ]
check "hub 1 holds lib/a:v1" [ "$(push_to "$HUB1" lib/a v1)" = 201 ]
check "hub 2 holds lib/b:v1" [ "$(push_to "$HUB2" lib/b v1)" = 201 ]
mkdir -p "$TMP/si"
SI_LOG=$TMP/si.log
: >"$SI_LOG"
mkfifo "$TMP/si.port"
python3 "$HERE/upstream_standin.py" "$TMP/si" "$SI_LOG" >"$TMP/si.port" 2>"$TMP/si.err" &
SI_PID=$!
read -r SI_PORT _ <"$TMP/si.port"
check "the stand-in listens (port $SI_PORT)" [ -n "$SI_PORT" ]
# Two slow blobs: BIG takes ~3 s upstream (20 pieces), HUGE ~10 s (100).
head -c $((20 * 65536)) /dev/urandom >"$TMP/big"
head -c $((100 * 65536)) /dev/urandom >"$TMP/huge"
BIG=$(sha256 "$TMP/big")
HUGE=$(sha256 "$TMP/huge")
cp "$TMP/big" "$TMP/si/${BIG#sha256:}"
cp "$TMP/huge" "$TMP/si/${HUGE#sha256:}"

# ---- the first settings ----
UPS=("one.test $HUB1" "si.test http://127.0.0.1:$SI_PORT")
QUOTAS=("q/** 100K")
IMMS=()
DEL=false
GCI=1s
write_conf
reg_start "$BIN" -c "$CONF" --data "$DATA"
check "a load image pushed" [ "$(push_to "$BASE" load/img v1)" = 201 ]
pull one.test/lib/a v1
expect "one.test/lib/a:v1 through the cache" 200
pull two.test/lib/b v1
expect "two.test is no upstream yet: two.test/lib/b is a local name, unknown" 404
head -c 150000 /dev/urandom >"$TMP/q150"
blob q/app "$TMP/q150"
expect "q/app: 150 KB past the 100K quota" 403 DENIED
manifest imm/app v1 1
expect "imm/app:v1 set" 201
manifest imm/app v1 2
expect "imm/app:v1 moved (no immutable rule yet)" 201
manifest del/app v1 3
expect "del/app:v1 set" 201
DEL_D=$(sha256 "$TMP/mm3")
req DELETE "/v2/del/app/manifests/$DEL_D"
expect "DELETE refused: delete_enabled = false" 405

# ---- load: pulls (local and cached), pushes ----
STOP=$TMP/stop
worker() {
	local i=$1 n=0 code d f=$TMP/w$1.blob
	while [ ! -e "$STOP" ]; do
		n=$((n + 1))
		code=$(curl -s -o /dev/null -w '%{http_code}' -H "Accept: $MT" "$BASE/v2/load/img/manifests/v1")
		echo "pull $code" >>"$TMP/w$i.log"
		code=$(curl -s -o /dev/null -w '%{http_code}' -H "Accept: $MT" "$BASE/v2/one.test/lib/a/manifests/v1")
		echo "cached $code" >>"$TMP/w$i.log"
		printf 'w%s-%s-%s' "$i" "$n" "$RANDOM" >"$f"
		d=$(sha256 "$f")
		code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/octet-stream' \
			--data-binary "@$f" "$BASE/v2/load/img/blobs/uploads/?digest=$d")
		echo "push $code" >>"$TMP/w$i.log"
	done
}
WORKERS=()
for i in 1 2 3; do
	worker "$i" &
	WORKERS+=($!)
done

# A chunked upload across every reload below.
req POST /v2/up/app/blobs/uploads/
expect "an upload begins" 202
LOC=$(hdr Location)
head -c 100000 /dev/urandom >"$TMP/part1"
head -c 100000 /dev/urandom >"$TMP/part2"
head -c 50000 /dev/urandom >"$TMP/part3"
cat "$TMP/part1" "$TMP/part2" "$TMP/part3" >"$TMP/whole"
req PATCH "$LOC" -H 'Content-Type: application/octet-stream' --data-binary "@$TMP/part1"
expect "...its first chunk" 202
LOC=$(hdr Location)

# Fetches from si.test in flight when it is removed: two clients reading
# BIG to the end, one giving up on HUGE after 1.5 s (its fetch goes on
# without a reader, until the removed cache's last user ends).
SLOW=()
for i in 1 2; do
	curl -s -o "$TMP/big.$i" -w '%{http_code}' "$BASE/v2/si.test/slow/app/blobs/$BIG" >"$TMP/big.$i.code" &
	SLOW+=($!)
done
curl -s -o /dev/null --max-time 1.5 "$BASE/v2/si.test/slow/app/blobs/$HUGE" &
SLOW+=($!)
sleep 1

gcs() { grep -c ' info gc: removed' "$REG_LOG"; }
check "the collector runs every second ($(gcs) runs so far)" [ "$(gcs)" -ge 1 ]

# ---- reload 1 (SIGHUP): two.test added, si.test removed, quota up,
# an immutable rule, delete on, collection every hour ----
UPS=("one.test $HUB1" "two.test $HUB2")
QUOTAS=("q/** 1M")
IMMS=("imm/** v*")
DEL=true
GCI=1h
write_conf
kill -HUP "$REG_PID"
check "reload 1 applied" reloaded 1
check "...and logged" grep -q "reload: configuration from $CONF applied (auth none, 0 rule(s), 0 group(s), 2 upstream(s), 1 quota(s), 1 immutable, 0 retain, delete on" "$REG_LOG"
check "...nothing named as needing a restart" bash -c "! grep -q 'needs a restart' '$REG_LOG'"
pull two.test/lib/b v1
expect "an upstream added: two.test/lib/b:v1 through the cache" 200
pull two.test/lib/a v1
expect "...two.test is hub 2, which has no lib/a" 404
blob q/app "$TMP/q150"
expect "the quota raised: the 150 KB push refused before is accepted" 201
head -c 10000 /dev/urandom >"$TMP/q10"
blob q/x "$TMP/q10"
expect "...and a 10 KB one beside it" 201
manifest imm/app v1 3
expect "an immutable rule added: imm/app:v1 no longer moves" 403 DENIED
req DELETE "/v2/del/app/manifests/$DEL_D"
expect "delete_enabled switched on: the DELETE refused before is accepted" 202
req PATCH "$LOC" -H 'Content-Type: application/octet-stream' --data-binary "@$TMP/part2"
expect "the upload's second chunk, after reload 1" 202
LOC=$(hdr Location)

reg_wait_all "${SLOW[@]:0:2}"
for i in 1 2; do
	check "a fetch from the removed upstream, in flight across the reload, finished ($(cat "$TMP/big.$i.code"))" \
		[ "$(cat "$TMP/big.$i.code")" = 200 ]
	check "...with the right bytes" cmp -s "$TMP/big" "$TMP/big.$i"
done
reg_wait "${SLOW[2]}"
for _ in $(seq 1 50); do
	grep -q "their cache is closed" "$REG_LOG" && break
	sleep 0.1
done
check "the removed upstream's cache closed when its last user ended" grep -q "their cache is closed" "$REG_LOG"
req HEAD "/v2/si.test/slow/app/blobs/$HUGE"
check "...cancelling the fetch no one read: nothing stored, and si.test is a local name now ($CODE)" [ "$CODE" = 404 ]
pull si.test/slow/app v1
expect "...no upstream asked for it" 404
N_GC=$(gcs)
sleep 2.5
check "gc_interval 1s -> 1h: no collection in 2.5 s ($N_GC runs, then $(gcs))" [ "$(gcs)" = "$N_GC" ]
check "...the stand-in saw no manifest request" bash -c "! grep -q 'manifests' '$SI_LOG'"

# ---- reload 2 (`registry reload`): two.test moves to hub 1, the quota
# goes down, the immutable rule goes, delete off ----
UPS=("one.test $HUB1" "two.test $HUB1")
QUOTAS=("q/** 100K")
IMMS=()
DEL=false
GCI=0
write_conf
"$BIN" reload -c "$CONF" -d "$DATA" >"$TMP/reload.out" 2>&1
check "registry reload exits 0" [ $? = 0 ]
check "reload 2 applied" reloaded 2
check "...naming gc_interval = 0, which would stop the collector (a restart)" \
	grep -q "warn reload: gc_interval would turn collection by the server off, which needs a restart: the running value is kept" "$REG_LOG"
pull two.test/lib/a v1
expect "an upstream's URL changed: two.test/lib/a:v1 now comes from hub 1" 200
head -c 10000 /dev/urandom >"$TMP/q10b"
blob q/x "$TMP/q10b"
expect "the quota lowered: a 10 KB push accepted before is refused" 403 DENIED
manifest imm/app v1 4
expect "the immutable rule dropped: imm/app:v1 moves again" 201
manifest del/app v2 5
req DELETE "/v2/del/app/manifests/$(sha256 "$TMP/mm5")"
expect "delete_enabled switched off: DELETE refused again" 405

# ---- a bad line: the running settings stay ----
cp "$CONF" "$TMP/good.conf"
printf 'upstream = three.test http://127.0.0.1:1\nquota = "q/** 10Q"\n' >>"$CONF"
BADLINE=$(wc -l <"$CONF")
kill -HUP "$REG_PID"
check "a bad quota: logged" reloaded 3
check "...with FILE:LINE and what is wrong" \
	grep -qE "error reload: $CONF:$BADLINE: quota 'q/\*\* 10Q': invalid size '10Q' .*; the running configuration is kept" "$REG_LOG"
blob q/y "$TMP/q10b"
expect "...the running quota still refuses" 403 DENIED
pull three.test/lib/a v1
expect "...the upstream on the line before it was not added" 404
pull two.test/lib/a v1
expect "...two.test still comes from hub 1" 200
manifest imm/app v1 6
expect "...no immutable rule came back" 201

req PUT "$LOC?digest=$(sha256 "$TMP/whole")" -H 'Content-Type: application/octet-stream' \
	--data-binary "@$TMP/part3"
expect "the upload begun before reload 1 completes after the bad one" 201
req GET "/v2/up/app/blobs/$(sha256 "$TMP/whole")"
check "...with every chunk's bytes" cmp -s "$TMP/b" "$TMP/whole"

touch "$STOP"
reg_wait_all "${WORKERS[@]}"
total=$(cat "$TMP"/w*.log | wc -l)
bad=$(cat "$TMP"/w*.log | grep -cvE '^(pull 200|cached 200|push 201)$')
check "under load: $total requests across 3 reloads, none failed ($bad)" [ "$bad" = 0 ]
[ "$bad" = 0 ] || cat "$TMP"/w*.log | sort | uniq -c >&2
check "...and there were some ($total)" [ "$total" -ge 30 ]
check "...local pulls, cached pulls and pushes" bash -c \
	"grep -q '^pull 200' '$TMP/w1.log' && grep -q '^cached 200' '$TMP/w1.log' && grep -q '^push 201' '$TMP/w1.log'"
reg_stop
summary
