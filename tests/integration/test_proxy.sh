#!/bin/bash
# The pull-through cache, end to end on 127.0.0.1 with no internet:
#   - HUB, a second instance of this registry with token auth (`auth = token`,
#     a user for the mirror), plays Docker Hub: the mirror's `docker.io`;
#   - FOREIGN, Debian's docker-registry (if installed), plays another
#     registry: the mirror's `quay.io`;
#   - the mirror under test serves both, plus local pushes.
# Upstream requests are counted from HUB's own log at debug level (one
# "request METHOD PATH" line per request), so "one fetch per blob under 20
# concurrent pulls" and "HEAD-only revalidation" are exact counts.
set -u
. "$(dirname "$0")/lib.sh"
BIN=$1
HERE=$(cd "$(dirname "$0")" && pwd)

# No request of this test may hang it: every curl gives up after 60 s.
export CURL_HOME=$TMP
echo 'max-time = 60' >"$TMP/.curlrc"

HUB_PID="" FOREIGN_PID="" BOUNDED_PID="" BASIC_PID=""
proxy_cleanup() {
	for p in $HUB_PID $FOREIGN_PID $BOUNDED_PID $BASIC_PID; do
		kill "$p" 2>/dev/null
		reg_wait "$p" 10
	done
	reg_cleanup
}
trap proxy_cleanup EXIT

# start_hub [PORT]: starts HUB (port 0 = any), sets HUB_PORT and HUB.
HUB_LOG=$TMP/hub.log
start_hub() {
	local port=${1:-0}
	"$BIN" serve -c "$TMP/hub.conf" --listen "127.0.0.1:$port" --data "$TMP/hub" 2>>"$HUB_LOG" &
	HUB_PID=$!
	for _ in $(seq 1 100); do
		HUB_PORT=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$HUB_LOG" | tail -1)
		if [ -n "$HUB_PORT" ] && curl -s -o /dev/null "http://127.0.0.1:$HUB_PORT/v2/"; then
			HUB=http://127.0.0.1:$HUB_PORT
			return 0
		fi
		sleep 0.1
	done
	echo "hub did not start:" >&2
	cat "$HUB_LOG" >&2
	exit 1
}
stop_hub() {
	local rc=0
	kill -TERM "$HUB_PID"
	reg_wait "$HUB_PID" || rc=$?
	HUB_PID=""
	check "hub exits 0 on SIGTERM (got $rc)" [ "$rc" = 0 ]
}
# no_sanitizer_report NAME LOG: the instance's log has no ASan/UBSan report.
no_sanitizer_report() {
	check "$1: no sanitizer report" bash -c "! grep -qE 'Sanitizer|runtime error' '$2'"
	grep -m 1 -A 12 -E 'ERROR: [A-Za-z]+Sanitizer|runtime error:' "$2" >&2
}

# ---- HUB: token auth, one user; debug log counts requests ----
mkdir -p "$TMP/hub"
cat >"$TMP/hub.conf" <<EOF
auth = token
log_level = debug
EOF
echo 'hub-secret' | "$BIN" user add hubuser --password-stdin --cost 4 -d "$TMP/hub" >/dev/null 2>&1 ||
	echo 'hub-secret' | "$BIN" user add hubuser --password-stdin -d "$TMP/hub" >/dev/null
start_hub
req_hub_count() { # METHOD PATH-REGEX: requests HUB has seen so far
	grep -cE "debug request $1 $2\$" "$HUB_LOG"
}

# Pushes to HUB go with a token from its /token endpoint.
hub_token() { # REPO
	curl -s -u hubuser:hub-secret "$HUB/token?service=registry&scope=repository:$1:push,pull" |
		sed -n 's/.*"token":"\([^"]*\)".*/\1/p'
}

# push_blob BASE REPO FILE [curl args]: POST, then PUT with the bytes (what
# docker-registry supports too); prints the digest.
push_blob() {
	local base=$1 repo=$2 f=$3 d loc sep
	shift 3
	d=$(sha256 "$f")
	loc=$(curl -sf -o /dev/null -D - -X POST "$base/v2/$repo/blobs/uploads/" "$@" |
		sed -n 's/^[Ll]ocation: *//p' | tr -d '\r')
	[ -n "$loc" ] || return 1
	case $loc in /*) loc=$base$loc ;; esac
	case $loc in *\?*) sep='&' ;; *) sep='?' ;; esac
	curl -sf -o /dev/null -X PUT "$loc${sep}digest=$d" "$@" \
		-H 'Content-Type: application/octet-stream' --data-binary @"$f" || return 1
	echo "$d"
}
# push_image BASE REPO TAG OUT LAYER... [-- curl args]: an OCI image whose
# config names it; writes the manifest to OUT and prints its digest.
push_image() {
	local base=$1 repo=$2 tag=$3 out=$4 cfg d s layers="" f
	shift 4
	local files=() extra=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do files+=("$1"); shift; done
	[ $# -gt 0 ] && shift && extra=("$@")
	cfg=$out.config
	printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"comment":"%s:%s %s"}' \
		"$repo" "$tag" "$RANDOM$RANDOM" >"$cfg"
	d=$(push_blob "$base" "$repo" "$cfg" "${extra[@]}") || return 1
	s=$(stat -c %s "$cfg")
	local cd=$d cs=$s
	for f in "${files[@]}"; do
		d=$(push_blob "$base" "$repo" "$f" "${extra[@]}") || return 1
		s=$(stat -c %s "$f")
		layers="$layers${layers:+,}{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"$d\",\"size\":$s}"
	done
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[%s]}' \
		"$cd" "$cs" "$layers" >"$out"
	curl -sf -o /dev/null -X PUT "$base/v2/$repo/manifests/$tag" "${extra[@]}" \
		-H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data-binary @"$out" || return 1
	sha256 "$out"
}
hub_push() { # REPO TAG OUT LAYER...
	local repo=$1 tag=$2 out=$3 t
	shift 3
	t=$(hub_token "$repo")
	push_image "$HUB" "$repo" "$tag" "$out" "$@" -- -H "Authorization: Bearer $t"
}

head -c 4000000 /dev/urandom >"$TMP/big"
head -c 3000 /dev/urandom >"$TMP/small"
head -c 2000000 /dev/urandom >"$TMP/other"
head -c 1500000 /dev/urandom >"$TMP/victim"
DBIG=$(sha256 "$TMP/big")
DSMALL=$(sha256 "$TMP/small")
DOTHER=$(sha256 "$TMP/other")
DVICTIM=$(sha256 "$TMP/victim")
D1=$(hub_push library/alpine 3.20 "$TMP/m1" "$TMP/big" "$TMP/small")
check "pushed library/alpine:3.20 to HUB (token auth)" [ -n "$D1" ]
D2=$(hub_push library/busybox 1 "$TMP/m2" "$TMP/other" "$TMP/victim")
check "pushed library/busybox:1 to HUB" [ -n "$D2" ]
req_anon=$(curl -s -o /dev/null -w '%{http_code}' "$HUB/v2/library/busybox/manifests/1")
check "HUB refuses anonymous pulls (the mirror must use the token flow)" [ "$req_anon" = 401 ]

# ---- FOREIGN: Debian's docker-registry ----
FOREIGN=""
if command -v docker-registry >/dev/null; then
	# A port below the kernel's ephemeral range (32768-60999 by default),
	# where a client's outgoing connection may hold any port; and a new
	# port if it still finds one taken. Up to 30 s: a loaded 2-core
	# machine can be slow to start it.
	for _ in 1 2 3 4 5; do
		FPORT=$((20000 + (RANDOM * 32768 + RANDOM) % 12000))
		(exec 3<>"/dev/tcp/127.0.0.1/$FPORT") 2>/dev/null && continue
		sh "$HERE/../clients/distribution.sh" serve --listen "127.0.0.1:$FPORT" --data "$TMP/foreign" \
			>"$TMP/foreign.log" 2>&1 &
		FOREIGN_PID=$!
		for _ in $(seq 1 300); do
			curl -s -o /dev/null "http://127.0.0.1:$FPORT/v2/" && FOREIGN=http://127.0.0.1:$FPORT && break
			kill -0 "$FOREIGN_PID" 2>/dev/null || break
			sleep 0.1
		done
		[ -n "$FOREIGN" ] && break
		kill "$FOREIGN_PID" 2>/dev/null
		reg_wait "$FOREIGN_PID" 10
	done
	check "docker-registry started as the foreign upstream" [ -n "$FOREIGN" ]
	[ -n "$FOREIGN" ] || tail -n 20 "$TMP/foreign.log" >&2
else
	skip "foreign-upstream checks: docker-registry not installed (apt-get install docker-registry)"
fi

# ---- BASIC: a third instance with HTTP Basic auth (a company registry) ----
mkdir -p "$TMP/basic"
echo 'basic-secret' | "$BIN" user add corp --password-stdin --cost 4 -d "$TMP/basic" >/dev/null 2>&1 ||
	echo 'basic-secret' | "$BIN" user add corp --password-stdin -d "$TMP/basic" >/dev/null
printf 'auth = basic\n' >"$TMP/basic.conf"
"$BIN" serve -c "$TMP/basic.conf" --listen 127.0.0.1:0 --data "$TMP/basic" 2>"$TMP/basic.log" &
BASIC_PID=$!
for _ in $(seq 1 100); do
	BAPORT=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$TMP/basic.log" | tail -1)
	[ -n "$BAPORT" ] && curl -s -o /dev/null "http://127.0.0.1:$BAPORT/v2/" && break
	sleep 0.1
done
DCORP=$(push_image "http://127.0.0.1:$BAPORT" team/tool 1 "$TMP/mcorp" "$TMP/small" -- -u corp:basic-secret)
check "pushed team/tool:1 to a Basic-auth registry" [ -n "$DCORP" ]

# ---- the mirror ----
printf 'hubuser:hub-secret\n' >"$TMP/hub.cred"
printf 'corp:basic-secret\n' >"$TMP/corp.cred"
printf 'corp:wrong\n' >"$TMP/wrong.cred"
chmod 600 "$TMP/hub.cred" "$TMP/corp.cred" "$TMP/wrong.cred"
cat >"$TMP/mirror.conf" <<EOF
log_level = debug
upstream = docker.io $HUB namespaces=library credentials=$TMP/hub.cred
${FOREIGN:+upstream = quay.io $FOREIGN}
upstream = corp.example http://127.0.0.1:$BAPORT credentials=$TMP/corp.cred
upstream = badcreds.example http://127.0.0.1:$BAPORT credentials=$TMP/wrong.cred
proxy_revalidate = 2s
proxy_negative_ttl = 2s
proxy_timeout = 5s
proxy_retries = 1
# every request tries the upstream, also right after it went away (the
# "remember unreachable" window has its own test, test_offline.sh)
proxy_unreachable_ttl = 0
EOF
reg_start "$BIN" -c "$TMP/mirror.conf"

# The first request to HUB learns its Bearer challenge (a 401, then the
# token); from then on the mirror asks for each repository's token before
# its first request, so HUB sees each fetch as exactly one request.
req GET /v2/library/warmup/manifests/latest
expect "first contact with HUB (unknown repository)" 404 MANIFEST_UNKNOWN

ACCEPT='Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json'

# ---- the three ways in, one cache ----
req GET /v2/docker.io/library/alpine/manifests/3.20 -H "$ACCEPT"
expect "prefix pull of a manifest" 200
check "manifest served byte for byte" cmp -s "$TMP/b" "$TMP/m1"
check "prefix: Docker-Content-Digest" [ "$(hdr Docker-Content-Digest)" = "$D1" ]
check "prefix: Content-Type kept" [ "$(hdr Content-Type)" = "application/vnd.oci.image.manifest.v1+json" ]
req GET /v2/library/alpine/manifests/3.20 -H "$ACCEPT"
expect "dockerd-style pull (no prefix, library/)" 200
check "no prefix: same digest" [ "$(hdr Docker-Content-Digest)" = "$D1" ]
req GET "/v2/library/alpine/manifests/3.20?ns=docker.io" -H "$ACCEPT"
expect "containerd-style pull (?ns=docker.io)" 200
check "?ns= echoed as OCI-Namespace" [ "$(hdr OCI-Namespace)" = "docker.io" ]
check "?ns=: same digest" [ "$(hdr Docker-Content-Digest)" = "$D1" ]
req GET /v2/docker.io/alpine/manifests/3.20 -H "$ACCEPT"
expect "docker.io/alpine means docker.io/library/alpine" 200
check "one upstream GET for the tag, however it was asked" \
	[ "$(req_hub_count GET /v2/library/alpine/manifests/3.20)" = 1 ]
req GET "/v2/library/alpine/manifests/$D1"
expect "manifest by digest from the cache" 200
check "by digest: no upstream request" [ "$(req_hub_count GET "/v2/library/alpine/manifests/$D1")" = 0 ]
req HEAD /v2/docker.io/library/alpine/manifests/3.20
expect "HEAD of a cached tag" 200
check "HEAD Content-Length" [ "$(hdr Content-Length)" = "$(stat -c %s "$TMP/m1")" ]

# ---- Basic auth upstream ----
req GET /v2/corp.example/team/tool/manifests/1 -H "$ACCEPT"
expect "pull through a Basic-auth upstream" 200
check "...its manifest" cmp -s "$TMP/b" "$TMP/mcorp"
req GET "/v2/corp.example/team/tool/blobs/$DSMALL"
check "...its blob" cmp -s "$TMP/b" "$TMP/small"
req GET /v2/badcreds.example/team/tool/manifests/1 -H "$ACCEPT"
expect "an upstream refusing our credentials" 502 UNKNOWN
check "...says so" grep -q "refused our credentials" "$TMP/b"
kill "$BASIC_PID"
reg_wait "$BASIC_PID" 10
check "basic upstream exits 0 on SIGTERM" [ $? = 0 ]
BASIC_PID=""
no_sanitizer_report "basic upstream" "$TMP/basic.log"

# ---- blobs: 20 concurrent pulls of a missing blob, one upstream fetch ----
pids=""
for i in $(seq 1 20); do
	curl -s -m 60 -o "$TMP/pull.$i" -w '%{http_code}\n' "$BASE/v2/library/alpine/blobs/$DBIG" >"$TMP/code.$i" &
	pids="$pids $!"
done
reg_wait_all $pids
ok=0
for i in $(seq 1 20); do
	[ "$(cat "$TMP/code.$i")" = 200 ] && cmp -s "$TMP/pull.$i" "$TMP/big" && ok=$((ok + 1))
done
check "20 concurrent pulls of a 4 MB blob all get its bytes ($ok of 20)" [ "$ok" = 20 ]
n=$(req_hub_count GET "/v2/library/alpine/blobs/$DBIG")
check "...from one upstream fetch (HUB saw $n GETs)" [ "$n" = 1 ]
# streamed: the response starts as soon as the upstream's does, not after
# the whole blob is on disk (which, verified and fsynced, takes a while)
head -c 64000000 /dev/urandom >"$TMP/huge"
DHUGE=$(sha256 "$TMP/huge")
hub_push library/huge 1 "$TMP/mh" "$TMP/huge" >/dev/null
times=$(curl -s -o "$TMP/huge.out" -w '%{time_starttransfer} %{time_total}' \
	"$BASE/v2/library/huge/blobs/$DHUGE")
check "a 64 MB blob through the cache: its bytes" cmp -s "$TMP/huge.out" "$TMP/huge"
check "...streamed: first byte after ${times% *} s of ${times#* } s" \
	awk -v t="$times" 'BEGIN { split(t, a, " "); exit !(a[1] < a[2] / 2) }'
rm -f "$TMP/huge" "$TMP/huge.out"
req GET "/v2/docker.io/library/alpine/blobs/$DBIG"
check "cached blob served from disk" cmp -s "$TMP/b" "$TMP/big"
check "cached blob: no new upstream fetch" [ "$(req_hub_count GET "/v2/library/alpine/blobs/$DBIG")" = 1 ]
req GET "/v2/library/alpine/blobs/$DSMALL" -H 'Range: bytes=10-19'
expect "Range on a blob fetched on the fly" 206
check "its bytes" cmp -s "$TMP/b" <(tail -c +11 "$TMP/small" | head -c 10)
check "its Content-Range" [ "$(hdr Content-Range)" = "bytes 10-19/3000" ]
req HEAD "/v2/library/busybox/blobs/$DOTHER"
expect "HEAD of a blob not cached yet" 200
check "HEAD gives its size" [ "$(hdr Content-Length)" = 2000000 ]
req GET "/v2/library/busybox/blobs/$DOTHER"
check "GET after HEAD: the bytes" cmp -s "$TMP/b" "$TMP/other"
check "HEAD then GET: one upstream fetch" [ "$(req_hub_count GET "/v2/library/busybox/blobs/$DOTHER")" = 1 ]
req GET /v2/library/alpine/blobs/sha256:0000000000000000000000000000000000000000000000000000000000000000
expect "blob unknown upstream" 404 BLOB_UNKNOWN

# concurrent pulls of a new manifest: one upstream fetch
hub_push library/alpine 3.21 "$TMP/m3" "$TMP/small" >"$TMP/d3"
D3=$(cat "$TMP/d3")
pids=""
for i in $(seq 1 20); do
	curl -s -m 60 -o "$TMP/man.$i" -H "$ACCEPT" "$BASE/v2/library/alpine/manifests/3.21" &
	pids="$pids $!"
done
reg_wait_all $pids
ok=0
for i in $(seq 1 20); do cmp -s "$TMP/man.$i" "$TMP/m3" && ok=$((ok + 1)); done
check "20 concurrent manifest pulls ($ok of 20 right)" [ "$ok" = 20 ]
check "...one upstream GET" [ "$(req_hub_count GET /v2/library/alpine/manifests/3.21)" = 1 ]

# ---- negative caching ----
req GET /v2/library/alpine/manifests/nope
expect "tag unknown upstream" 404 MANIFEST_UNKNOWN
req GET /v2/library/alpine/manifests/nope
expect "again" 404 MANIFEST_UNKNOWN
check "the 404 was remembered (one upstream request)" \
	[ "$(req_hub_count GET /v2/library/alpine/manifests/nope)" = 1 ]

# ---- tag lists come from the upstream ----
req GET /v2/library/alpine/tags/list
expect "tags/list of a mirrored repository" 200
check "upstream's tags" grep -q '"tags":\["3.20","3.21"\]' "$TMP/b"
check "under the name asked for" grep -q '"name":"library/alpine"' "$TMP/b"

# ---- revalidation: HEAD only, no more often than proxy_revalidate ----
# Past the interval first, so this request revalidates and the next one
# surely falls within the fresh interval (on a slow machine the tag could
# otherwise fall due between the two).
sleep 2.2
req GET /v2/library/alpine/manifests/3.20 -H "$ACCEPT"
gets=$(req_hub_count GET /v2/library/alpine/manifests/3.20)
heads=$(req_hub_count HEAD /v2/library/alpine/manifests/3.20)
req GET /v2/library/alpine/manifests/3.20 -H "$ACCEPT"
check "within the interval: no upstream request" \
	[ "$(req_hub_count HEAD /v2/library/alpine/manifests/3.20)" = "$heads" ]
sleep 2.2
req GET /v2/library/alpine/manifests/3.20 -H "$ACCEPT"
expect "tag after the interval" 200
check "after the interval: one HEAD upstream" \
	[ "$(req_hub_count HEAD /v2/library/alpine/manifests/3.20)" = $((heads + 1)) ]
check "...and no GET (unchanged)" [ "$(req_hub_count GET /v2/library/alpine/manifests/3.20)" = "$gets" ]
# the tag moves upstream: the next check fetches the new manifest
D1B=$(hub_push library/alpine 3.20 "$TMP/m1b" "$TMP/small")
sleep 2.2
req GET /v2/library/alpine/manifests/3.20 -H "$ACCEPT"
check "a moved tag is followed" [ "$(hdr Docker-Content-Digest)" = "$D1B" ]
check "new manifest byte for byte" cmp -s "$TMP/b" "$TMP/m1b"
check "fetched by its digest" [ "$(req_hub_count GET "/v2/library/alpine/manifests/$D1B")" = 1 ]

# ---- local pushes live beside the mirror; mirrored names refuse pushes ----
LD=$(push_image "$BASE" team/app v1 "$TMP/lm" "$TMP/small")
check "local push to another namespace" [ -n "$LD" ]
req GET /v2/team/app/manifests/v1
expect "local pull" 200
check "no upstream asked for a local name" [ "$(grep -c 'team/app' "$HUB_LOG")" = 0 ]
req PUT /v2/library/alpine/manifests/mine -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data-binary @"$TMP/lm"
expect "push to a mirrored namespace" 405 UNSUPPORTED
req POST /v2/docker.io/library/alpine/blobs/uploads/
expect "upload to a mirrored name" 405 UNSUPPORTED
req DELETE "/v2/library/alpine/manifests/$D1"
expect "delete in a mirrored namespace" 405 UNSUPPORTED

# ---- a corrupted upstream blob is refused, never cached ----
f=$(find "$TMP/hub/blobs" -name "${DVICTIM#sha256:}")
check "found the victim blob in HUB's store" [ -n "$f" ]
printf 'XXXXXXXX' | dd of="$f" bs=1 seek=1000 conv=notrunc status=none
code=$(curl -s -o "$TMP/corrupt" -w '%{http_code}' "$BASE/v2/library/busybox/blobs/$DVICTIM")
rc=$?
check "corrupted blob: the transfer fails (curl $rc, HTTP $code)" test "$rc" != 0 -o "$code" -ge 500
check "corrupted blob: the client never got all of it" [ "$(stat -c %s "$TMP/corrupt")" -lt 1500000 ]
check "a fetched manifest is in the cache's store" reg_store_has "$TMP/data" "$D1B"
stored=no
reg_store_has "$TMP/data" "$DVICTIM" && stored=yes
check "corrupted blob: not in the cache" [ "$stored" = no ]
check "corrupted blob: logged as a digest mismatch" grep -q "does not match its digest" "$REG_LOG"
req GET "/v2/library/busybox/blobs/$DVICTIM"
check "corrupted blob: asked again, refused again" test "$CODE" != 200 -o "$(stat -c %s "$TMP/b")" -lt 1500000

# ---- the foreign upstream (docker-registry) by path prefix ----
if [ -n "$FOREIGN" ]; then
	DF=$(push_image "$FOREIGN" org/tool v2 "$TMP/mf" "$TMP/other")
	check "pushed org/tool:v2 to docker-registry" [ -n "$DF" ]
	req GET /v2/quay.io/org/tool/manifests/v2 -H "$ACCEPT"
	expect "pull through docker-registry" 200
	check "foreign manifest byte for byte" cmp -s "$TMP/b" "$TMP/mf"
	check "foreign digest" [ "$(hdr Docker-Content-Digest)" = "$DF" ]
	req GET "/v2/quay.io/org/tool/blobs/$DOTHER"
	check "foreign blob" cmp -s "$TMP/b" "$TMP/other"
	req GET /v2/org/tool/manifests/v2
	expect "quay.io serves no unprefixed namespace" 404
fi

# ---- a bounded cache: least recently pulled blobs go, recent images stay ----
cat >"$TMP/bounded.conf" <<EOF
log_level = debug
upstream = docker.io $HUB namespaces=library credentials=$TMP/hub.cred
proxy_cache_max = 5M
proxy_cache_keep = 5s
EOF
head -c 1000 /dev/urandom >"$TMP/tiny"
DB2=$(hub_push library/bbox 1 "$TMP/mbb" "$TMP/other")
DC=$(hub_push library/cimg 1 "$TMP/mc" "$TMP/tiny")
DA=$(hub_push library/aimg 1 "$TMP/ma" "$TMP/big")
"$BIN" serve -c "$TMP/bounded.conf" --listen 127.0.0.1:0 --data "$TMP/bounded" 2>"$TMP/bounded.log" &
BOUNDED_PID=$!
for _ in $(seq 1 100); do
	BPORT=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$TMP/bounded.log" | tail -1)
	[ -n "$BPORT" ] && curl -s -o /dev/null "http://127.0.0.1:$BPORT/v2/" && break
	sleep 0.1
done
pull_all() { # REPO: its manifest, then every blob it names
	local m
	m=$(curl -s -H "$ACCEPT" "http://127.0.0.1:$BPORT/v2/$1/manifests/1")
	for d in $(echo "$m" | grep -o 'sha256:[0-9a-f]*'); do
		curl -s -o /dev/null "http://127.0.0.1:$BPORT/v2/$1/blobs/$d"
	done
}
wait_log() { # PATTERN: up to 10 s for it in the bounded instance's log
	for _ in $(seq 1 100); do
		grep -q "$1" "$TMP/bounded.log" && return 0
		sleep 0.1
	done
	return 1
}
in_cache() { [ -n "$(find "$TMP/bounded/blobs" -name "${1#sha256:}")" ]; }
pull_all library/aimg # 4 MB
pull_all library/bbox # 2 MB: 6 MB > 5 MB, but both were pulled within 5 s
check "over the bound, images pulled within proxy_cache_keep stay" wait_log "nothing more may go"
check "...aimg's layer is still cached" in_cache "$DBIG"
check "...bbox's layer too" in_cache "$DOTHER"
sleep 6.2 # whole seconds: aimg's pull is now 6 s old
pull_all library/bbox # recently pulled again
pull_all library/cimg # a fetch: the next eviction round
check "the least recently pulled blob is evicted" wait_log "cache: evicted"
check "...aimg's 4 MB layer is gone" test -z "$(find "$TMP/bounded/blobs" -name "${DBIG#sha256:}")"
check "...bbox's layer, pulled since, stays" in_cache "$DOTHER"
check "...cimg's layer stays" in_cache "$(sha256 "$TMP/tiny")"
before=$(req_hub_count GET "/v2/library/aimg/blobs/$DBIG")
curl -s -o "$TMP/again" "http://127.0.0.1:$BPORT/v2/library/aimg/blobs/$DBIG"
check "an evicted blob is fetched again on demand" cmp -s "$TMP/again" "$TMP/big"
check "...from the upstream" [ "$(req_hub_count GET "/v2/library/aimg/blobs/$DBIG")" = $((before + 1)) ]
kill -TERM "$BOUNDED_PID"
reg_wait "$BOUNDED_PID"
check "bounded instance exits 0" [ $? = 0 ]
BOUNDED_PID=""
no_sanitizer_report "bounded instance" "$TMP/bounded.log"

# ---- the upstream goes away ----
stop_hub
req GET /v2/library/alpine/manifests/3.21 -H "$ACCEPT"
expect "upstream down: a cached tag is still served" 200
check "...the cached bytes" cmp -s "$TMP/b" "$TMP/m3"
sleep 2.2
req GET /v2/library/alpine/manifests/3.21 -H "$ACCEPT"
expect "upstream down, tag due for a check: served from the cache" 200
check "...the cached bytes" cmp -s "$TMP/b" "$TMP/m3"
check "...with a warning naming the upstream" grep -q "serving the cached docker.io/library/alpine:3.21" "$REG_LOG"
req GET "/v2/library/alpine/blobs/$DBIG"
expect "upstream down: cached blob" 200
req GET /v2/library/alpine/manifests/never-pulled
expect "upstream down: a miss is 503" 503 UNAVAILABLE
check "...the detail names the upstream" grep -q "upstream docker.io (http://127.0.0.1:$HUB_PORT)" "$TMP/b"
check "...and so does the log" grep -q "upstream docker.io (http://127.0.0.1:$HUB_PORT): GET" "$REG_LOG"
check "...after a retry with backoff" grep -q "retry 1 of 1 in 250 ms" "$REG_LOG"
req GET /v2/library/nothing/blobs/sha256:1111111111111111111111111111111111111111111111111111111111111111
expect "upstream down: a blob miss is 503" 503 UNAVAILABLE

# ---- back up, on the same port: misses are fetched again ----
start_hub "$HUB_PORT"
req GET /v2/library/busybox/manifests/1 -H "$ACCEPT"
expect "upstream back" 200

reg_stop

# ---- mirror sync: seed a data folder ahead of time, resumably ----
D19=$(hub_push library/alpine 3.19 "$TMP/m19" "$TMP/big" "$TMP/small")
check "pushed library/alpine:3.19 (with the 4 MB layer)" [ -n "$D19" ]
cat >"$TMP/list" <<EOF
# what an offline site needs
docker.io/library/alpine tags=3.*
library/busybox:1    # its victim blob is corrupt upstream: this one fails
EOF
mkdir -p "$TMP/seed/uploads"
# a download cut short by an earlier run: the first 1000000 bytes of DBIG
head -c 1000000 "$TMP/big" >"$TMP/seed/uploads/sy-$(echo "${DBIG#sha256:}" | cut -c1-61)"
"$BIN" mirror sync "$TMP/list" -c "$TMP/mirror.conf" -d "$TMP/seed" >"$TMP/sync1" 2>&1
rc=$?
check "sync with one bad image exits 1 (got $rc)" [ "$rc" = 1 ]
check "sync resumed the partial blob" grep -q "resuming $DBIG at byte 1000000" "$TMP/sync1"
check "sync summary" grep -q "summary: 3 image(s) synced, 1 failed" "$TMP/sync1"
check "sync names the failure" grep -q "FAILED: digest mismatch" "$TMP/sync1"
check "resumed blob is whole and right" cmp -s "$(find "$TMP/seed/blobs" -name "${DBIG#sha256:}")" "$TMP/big"
printf 'docker.io/library/alpine tags=3.*\n' >"$TMP/list2"
"$BIN" mirror sync "$TMP/list2" -c "$TMP/mirror.conf" -d "$TMP/seed" >"$TMP/sync2" 2>&1
check "second sync: nothing to download" grep -q "summary: 3 image(s) synced, 0 failed.*0 B downloaded" "$TMP/sync2"
printf 'docker.io/library/alpine tags=3.*\nnot a valid=line\n' >"$TMP/list3"
"$BIN" mirror sync "$TMP/list3" -c "$TMP/mirror.conf" -d "$TMP/seed" >"$TMP/sync3" 2>&1
check "a bad list line exits 2" [ $? = 2 ]
check "...naming FILE:LINE" grep -q "^$TMP/list3:2: " "$TMP/sync3"

# ---- export -> import between two data folders ----
"$BIN" export docker.io/library/alpine:3.19 library/alpine:3.20 alpine:3.21 -o "$TMP/x.tar" -d "$TMP/seed" 2>"$TMP/export.log"
check "export exits 0" [ $? = 0 ]
check "export wrote a tar with an OCI layout" bash -c "tar tf '$TMP/x.tar' | grep -qx oci-layout"
"$BIN" export docker.io/library/alpine:nope -o "$TMP/y.tar" -d "$TMP/seed" 2>/dev/null
check "export of an unknown image exits 1, leaves no file" test $? = 1 -a ! -e "$TMP/y.tar" -a ! -e "$TMP/y.tar.partial"
# into the store the server below is started on (S3 under integration-s3)
s3_args -d "$TMP/imported"
"$BIN" import "$TMP/x.tar" "${S3_ARGS[@]}" 2>"$TMP/import.log"
check "import exits 0" [ $? = 0 ]
check "import summary" grep -q "imported 3 image(s); .* 0 failed" "$TMP/import.log"
# a copy of the archive with one flipped byte in a layer is refused
mkdir -p "$TMP/xx"
tar -xf "$TMP/x.tar" -C "$TMP/xx"
flip_byte "$TMP/xx/blobs/sha256/${DSMALL#sha256:}" 5
(cd "$TMP/xx" && tar -cf "$TMP/bad.tar" oci-layout index.json blobs)
"$BIN" import "$TMP/bad.tar" -d "$TMP/imported-bad" 2>"$TMP/import-bad.log"
check "import of a corrupted archive exits 1" [ $? = 1 ]
check "...naming the blob" grep -q "blob $DSMALL: its bytes do not match its digest" "$TMP/import-bad.log"
check "...recording no image that needs it" grep -q "imported 0 image(s)" "$TMP/import-bad.log"

# the imported folder serves the same images, digests equal, offline
reg_start "$BIN" --data "$TMP/imported"
for t in 3.19 3.20 3.21; do
	req GET "/v2/docker.io/library/alpine/manifests/$t" -H "$ACCEPT"
	expect "imported alpine:$t" 200
	want=$(curl -s -H "$ACCEPT" -o /dev/null -w '%header{docker-content-digest}' \
		"http://127.0.0.1:$HUB_PORT/v2/library/alpine/manifests/$t" \
		-H "Authorization: Bearer $(hub_token library/alpine)")
	check "imported alpine:$t digest equals the upstream's" [ "$(hdr Docker-Content-Digest)" = "$want" ]
done
req GET "/v2/docker.io/library/alpine/blobs/$DBIG"
check "imported blob bytes" cmp -s "$TMP/b" "$TMP/big"
reg_stop
[ -n "$HUB_PID" ] && stop_hub
no_sanitizer_report hub "$HUB_LOG"
summary
