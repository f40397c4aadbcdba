#!/bin/bash
# The offline mirror, end to end on 127.0.0.1: `mirror sync` from an
# upstream (HUB, a plain instance of this registry playing Docker Hub),
# `export`, `import` into a fresh data folder, then serving that folder
#   - with `upstream = docker.io offline namespaces=library`: every way in
#     (prefix, ?ns=, bare names) answers from the cache, a miss is a 404,
#     nothing is asked of any network;
#   - with the upstream's URL pointing at a closed port: the first failure
#     is remembered (one "unreachable" line in the log, one request's worth
#     of retries), every later cached tag is answered from the cache.
# Also: a partial (platforms=) sync exports what is stored and says what
# was left out, sync's summary names each failed image, export --all and
# the missing-tag message, import --repo NAME:TAG, a failed import removes
# the blobs it verified for nothing, and sizes read alike everywhere.
set -u
. "$(dirname "$0")/lib.sh"
BIN=$1

export CURL_HOME=$TMP
echo 'max-time = 60' >"$TMP/.curlrc"

HUB_PID=""
offline_cleanup() {
	[ -n "$HUB_PID" ] && kill "$HUB_PID" 2>/dev/null && reg_wait "$HUB_PID" 10
	reg_cleanup
}
trap offline_cleanup EXIT

HUB_LOG=$TMP/hub.log
start_hub() { # [PORT]
	"$BIN" serve --listen "127.0.0.1:${1:-0}" --data "$TMP/hub" 2>>"$HUB_LOG" &
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
	kill -TERM "$HUB_PID"
	reg_wait "$HUB_PID"
	HUB_PID=""
}

# put_blob REPO FILE: a monolithic upload to HUB; prints the digest.
put_blob() {
	local d
	d=$(sha256 "$2")
	curl -sf -o /dev/null -X POST "$HUB/v2/$1/blobs/uploads/?digest=$d" \
		-H 'Content-Type: application/octet-stream' --data-binary @"$2" || return 1
	echo "$d"
}
# put_image REPO REF OUT ARCH LAYER...: an OCI image for linux/ARCH, pushed
# as REF (a tag, or "-" for none: by digest); writes the manifest to OUT.
put_image() {
	local repo=$1 ref=$2 out=$3 arch=$4 cd layers="" f d
	shift 4
	printf '{"architecture":"%s","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"c":"%s"}' \
		"$arch" "$RANDOM$RANDOM" >"$out.config"
	cd=$(put_blob "$repo" "$out.config") || return 1
	for f in "$@"; do
		d=$(put_blob "$repo" "$f") || return 1
		layers="$layers${layers:+,}{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"$d\",\"size\":$(stat -c %s "$f")}"
	done
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[%s]}' \
		"$cd" "$(stat -c %s "$out.config")" "$layers" >"$out"
	[ "$ref" = - ] && ref=$(sha256 "$out")
	curl -sf -o /dev/null -X PUT "$HUB/v2/$repo/manifests/$ref" \
		-H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data-binary @"$out" || return 1
	sha256 "$out"
}
# put_index REPO TAG OUT AMD64-MANIFEST ARM64-MANIFEST: a two-platform index.
put_index() {
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%s,"platform":{"architecture":"amd64","os":"linux"}},{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%s,"platform":{"architecture":"arm64","os":"linux","variant":"v8"}}]}' \
		"$(sha256 "$4")" "$(stat -c %s "$4")" "$(sha256 "$5")" "$(stat -c %s "$5")" >"$3"
	curl -sf -o /dev/null -X PUT "$HUB/v2/$1/manifests/$2" \
		-H 'Content-Type: application/vnd.oci.image.index.v1+json' --data-binary @"$3" || return 1
	sha256 "$3"
}
tar_has() { # TAR DIGEST: the archive holds that blob
	tar tf "$1" | grep -qx "blobs/sha256/${2#sha256:}"
}
in_store() { # DATA DIGEST
	[ -n "$(find "$1/blobs" -name "${2#sha256:}" 2>/dev/null)" ]
}

# ---- HUB and its images ----
mkdir -p "$TMP/hub"
start_hub
for f in l1 l2 l3 la lb lc ld; do head -c $((100000 + RANDOM)) /dev/urandom >"$TMP/$f"; done
D320=$(put_image library/alpine 3.20 "$TMP/a320" amd64 "$TMP/l1" "$TMP/l2")
D321=$(put_image library/alpine 3.21 "$TMP/a321" amd64 "$TMP/l3")
DMA=$(put_image library/multi - "$TMP/ma" amd64 "$TMP/la")
DMB=$(put_image library/multi - "$TMP/mb" arm64 "$TMP/lb")
DMULTI=$(put_index library/multi 1 "$TMP/multi" "$TMP/ma" "$TMP/mb")
DFA=$(put_image library/full - "$TMP/fa" amd64 "$TMP/lc")
DFB=$(put_image library/full - "$TMP/fb" arm64 "$TMP/ld")
DFULL=$(put_index library/full 1 "$TMP/full" "$TMP/fa" "$TMP/fb")
check "HUB holds the test images" [ -n "$D320" ] && [ -n "$D321" ] && [ -n "$DMULTI" ] && [ -n "$DFULL" ]

cat >"$TMP/online.conf" <<EOF
upstream = docker.io $HUB namespaces=library
proxy_retries = 1
EOF

# ---- mirror sync: one platform of multi; the summary names each failure ----
cat >"$TMP/list" <<EOF
docker.io/library/alpine tags=3.*
library/multi:1 platforms=linux/amd64
library/full:1
library/missing:1
quay.io/org/tool:1
EOF
"$BIN" mirror sync "$TMP/list" -c "$TMP/online.conf" -d "$TMP/seed" >"$TMP/sync.log" 2>&1
rc=$?
check "sync with failures exits 1 (got $rc)" [ "$rc" = 1 ]
check "sync summary counts" grep -q "^summary: 4 image(s) synced, 2 failed" "$TMP/sync.log"
check "summary names the missing image and why" \
	grep -qx "failed: docker.io/library/missing:1: manifest: not found upstream" "$TMP/sync.log"
check "summary names the image of an unknown upstream and why" \
	grep -q "^failed: quay.io/org/tool:1: no upstream quay.io in the configuration" "$TMP/sync.log"
check "sync: the failed lines come after the summary" \
	bash -c "sed -n '/^summary:/,\$p' '$TMP/sync.log' | grep -c '^failed: ' | grep -qx 2"
check "sync: sizes human-readable" grep -qE "^summary: .*, [0-9.]+ (KiB|MiB) downloaded" "$TMP/sync.log"
check "sync: multi's arm64 manifest was not fetched" bash -c "! find '$TMP/seed/blobs' -name '${DMB#sha256:}' | grep -q ."

# ---- export what is stored ----
"$BIN" export docker.io/library/alpine:3.20 alpine:3.21 library/multi:1 library/full:1 \
	-o "$TMP/x.tar" -d "$TMP/seed" 2>"$TMP/export.log"
rc=$?
check "export of a partly synced index exits 0 (got $rc)" [ "$rc" = 0 ]
check "...says which platform was left out" grep -q "left out linux/arm64/v8 ($DMB): not stored here" "$TMP/export.log"
check "...holds the amd64 image" tar_has "$TMP/x.tar" "$DMA"
check "...not the arm64 one" bash -c "! tar tf '$TMP/x.tar' | grep -q '${DMB#sha256:}'"
check "...nor the original index (it lists what is not here)" bash -c "! tar tf '$TMP/x.tar' | grep -q '${DMULTI#sha256:}'"
check "...the full index whole" tar_has "$TMP/x.tar" "$DFULL"
check "export: sizes human-readable" grep -qE "^exported 4 image\(s\): [0-9]+ blobs, [0-9.]+ (KiB|MiB)\$" "$TMP/export.log"

"$BIN" export library/full:1 --platform linux/arm64 -o "$TMP/arm.tar" -d "$TMP/seed" 2>"$TMP/arm.log"
check "export --platform exits 0" [ $? = 0 ]
check "...with the arm64 image" tar_has "$TMP/arm.tar" "$DFB"
check "...without the amd64 one" bash -c "! tar tf '$TMP/arm.tar' | grep -q '${DFA#sha256:}'"
check "...saying so" grep -q "left out linux/amd64 ($DFA): not asked for (--platform)" "$TMP/arm.log"
"$BIN" export library/multi:1 --platform linux/arm64 -o "$TMP/none.tar" -d "$TMP/seed" 2>"$TMP/none.log"
check "export --platform of a platform not stored exits 1" [ $? = 1 ]
check "...saying so" grep -q "none of its platforms is here" "$TMP/none.log"
check "...leaving no file" test ! -e "$TMP/none.tar" -a ! -e "$TMP/none.tar.partial"

# ---- export: a repository without `latest`, and --all ----
"$BIN" export docker.io/library/alpine -o "$TMP/nolatest.tar" -d "$TMP/seed" 2>"$TMP/nolatest.log"
check "export REPO without latest exits 1" [ $? = 1 ]
check "...names the missing tag and the tags there are" \
	grep -q "docker.io/library/alpine has no tag latest (its tags: 3.20, 3.21); name one, or use --all" "$TMP/nolatest.log"
"$BIN" export nosuch/thing -o "$TMP/nosuch.tar" -d "$TMP/seed" 2>"$TMP/nosuch.log"
check "export of an unknown repository says so" grep -q "no repository nosuch/thing" "$TMP/nosuch.log"
"$BIN" export --all alpine -o "$TMP/all.tar" -d "$TMP/seed" 2>"$TMP/all.log"
check "export --all REPO exits 0" [ $? = 0 ]
check "...every tag" grep -q "^exported 2 image(s)" "$TMP/all.log"
check "...both manifests" bash -c "tar_has() { tar tf \"\$1\" | grep -qx \"blobs/sha256/\${2#sha256:}\"; }; tar_has '$TMP/all.tar' '$D320' && tar_has '$TMP/all.tar' '$D321'"
"$BIN" export --all alpine:3.20 -o "$TMP/bad-all.tar" -d "$TMP/seed" 2>"$TMP/bad-all.log"
check "--all with a tag is a usage error (exit 2)" [ $? = 2 ]

# ---- import ----
# into the store the offline server below is started on (S3 under
# integration-s3; the other imports stay on files: their checks look there)
s3_args -d "$TMP/off"
"$BIN" import "$TMP/x.tar" "${S3_ARGS[@]}" 2>"$TMP/import.log"
check "import exits 0" [ $? = 0 ]
check "import: sizes human-readable" grep -qE "[0-9.]+ (KiB|MiB)" "$TMP/import.log"
check "import: no raw byte counts" bash -c "! grep -qE '[0-9] bytes' '$TMP/import.log' '$TMP/export.log' '$TMP/sync.log'"

# --repo with an archive that names no tag: said, and NAME:TAG gives one
"$BIN" export "docker.io/library/alpine@$D320" -o "$TMP/bydigest.tar" -d "$TMP/seed" 2>/dev/null
"$BIN" import "$TMP/bydigest.tar" --repo mine -d "$TMP/other" 2>"$TMP/untagged.log"
check "import --repo of an untagged archive exits 0" [ $? = 0 ]
check "...says it imported it untagged" grep -q "mine@$D320: untagged (the archive names no tag" "$TMP/untagged.log"
"$BIN" import "$TMP/bydigest.tar" --repo mine:v1 -d "$TMP/other" 2>"$TMP/tagged.log"
check "import --repo NAME:TAG exits 0" [ $? = 0 ]
check "...tags it" grep -q "^mine:v1: $D320" "$TMP/tagged.log"
"$BIN" export mine:v1 -o "$TMP/mine.tar" -d "$TMP/other" 2>/dev/null
check "...so it can be named by that tag" tar_has "$TMP/mine.tar" "$D320"

# a failed import removes the blobs it verified that no image it recorded uses
mkdir -p "$TMP/xx"
tar -xf "$TMP/x.tar" -C "$TMP/xx"
flip_byte "$TMP/xx/blobs/sha256/$(sha256 "$TMP/l2" | cut -d: -f2)" 5
(cd "$TMP/xx" && tar -cf "$TMP/bad.tar" oci-layout index.json blobs)
"$BIN" import "$TMP/bad.tar" -d "$TMP/bad" 2>"$TMP/bad.log"
check "import of a corrupted archive exits 1" [ $? = 1 ]
check "...the other images are recorded" grep -q "imported 3 image(s) (with errors)" "$TMP/bad.log"
check "...their blobs stay" in_store "$TMP/bad" "$(sha256 "$TMP/l3")"
check "...the failed image's good layer is removed" bash -c "! find '$TMP/bad/blobs' -name '$(sha256 "$TMP/l1" | cut -d: -f2)' | grep -q ."
check "...and its manifest" bash -c "! find '$TMP/bad/blobs' -name '${D320#sha256:}' | grep -q ."
check "...saying so" grep -qE "removed 3 verified blob\(s\) \([0-9.]+ (KiB|MiB)\) that no imported image uses" "$TMP/bad.log"

stop_hub

# ---- the offline form: every way in, from the cache only ----
cat >"$TMP/offline.conf" <<EOF
log_level = debug
upstream = docker.io offline namespaces=library
EOF
reg_start "$BIN" -c "$TMP/offline.conf" --data "$TMP/off"
check "the log says the upstream is offline" grep -q "mirroring docker.io offline" "$REG_LOG"
ACCEPT='Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json'
for way in "/v2/docker.io/library/alpine/manifests/3.20" \
	"/v2/library/alpine/manifests/3.20?ns=docker.io" "/v2/library/alpine/manifests/3.20" \
	"/v2/alpine/manifests/3.20?ns=docker.io"; do
	req GET "$way" -H "$ACCEPT"
	expect "offline: $way" 200
	check "offline: $way is the upstream's manifest" cmp -s "$TMP/b" "$TMP/a320"
done
req GET /v2/library/multi/manifests/1 -H "$ACCEPT"
expect "offline: the partly synced index, bare" 200
NEWINDEX=$(hdr Docker-Content-Digest)
check "...a new index listing amd64 only" bash -c "grep -q '$DMA' '$TMP/b' && ! grep -q '$DMB' '$TMP/b'"
req GET "/v2/library/multi/manifests/$DMA?ns=docker.io" -H "$ACCEPT"
expect "offline: its amd64 manifest by digest" 200
req GET "/v2/library/alpine/blobs/$(sha256 "$TMP/l1")"
expect "offline: a layer, bare" 200
check "...its bytes" cmp -s "$TMP/b" "$TMP/l1"
req GET /v2/library/alpine/tags/list
expect "offline: tags/list, bare" 200
check "...the cached tags" grep -q '"tags":\["3.20","3.21"\]' "$TMP/b"
req GET /v2/library/alpine/manifests/nope -H "$ACCEPT"
expect "offline: a tag not cached" 404 MANIFEST_UNKNOWN
req GET "/v2/library/alpine/blobs/sha256:$(printf '%064d' 0)"
expect "offline: a blob not cached" 404 BLOB_UNKNOWN
req GET "/v2/library/alpine/blobs/$(sha256 "$TMP/lc")"
expect "offline: a blob stored for another repository only" 404 BLOB_UNKNOWN
req GET /v2/library/nothing/tags/list
expect "offline: tags of an unknown repository" 404 NAME_UNKNOWN
req PUT /v2/library/alpine/manifests/mine -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
	--data-binary @"$TMP/a320"
expect "offline: still a read-only mirror" 405 UNSUPPORTED
check "offline: no upstream was asked anything" \
	bash -c "! grep -qE 'upstream docker.io|retry|unreachable' '$REG_LOG'"
reg_stop

# ---- an unreachable upstream: remembered, so cached tags answer at once ----
# HUB's port, now closed: every connection is refused.
cat >"$TMP/down.conf" <<EOF
log_level = debug
upstream = docker.io http://127.0.0.1:$HUB_PORT namespaces=library
proxy_retries = 3
EOF
reg_start "$BIN" -c "$TMP/down.conf" --data "$TMP/off"
ok=0
for i in 1 2 3; do
	for way in /v2/docker.io/library/alpine/manifests/3.20 "/v2/library/alpine/manifests/3.21?ns=docker.io" \
		/v2/library/multi/manifests/1 /v2/library/alpine/manifests/3.21; do
		req GET "$way" -H "$ACCEPT"
		[ "$CODE" = 200 ] && ok=$((ok + 1))
	done
done
check "upstream unreachable: 12 requests for cached tags all answered ($ok)" [ "$ok" = 12 ]
n=$(grep -c "unreachable" "$REG_LOG")
check "...logged once as unreachable (got $n)" [ "$n" = 1 ]
check "...with its name, URL and the 30 s" \
	grep -q "upstream docker.io (http://127.0.0.1:$HUB_PORT) is unreachable.*not asked again for 30 s" "$REG_LOG"
n=$(grep -c "retry 1 of 3" "$REG_LOG")
check "...one request's worth of retries (got $n)" [ "$n" = 1 ]
n=$(grep -c "serving the cached" "$REG_LOG")
check "...at most one 'serving the cached' warning (got $n)" [ "$n" -le 1 ]
req GET /v2/library/alpine/manifests/never-pulled -H "$ACCEPT"
expect "unreachable: a miss is 503 at once" 503 UNAVAILABLE
check "...naming the upstream" grep -q "upstream docker.io (http://127.0.0.1:$HUB_PORT)" "$TMP/b"
check "...still no new attempt" [ "$(grep -c "retry 1 of 3" "$REG_LOG")" = 1 ]
reg_stop

# back: a short window, then the upstream returns on the same port
printf 'proxy_unreachable_ttl = 1s\n' >>"$TMP/down.conf"
reg_start "$BIN" -c "$TMP/down.conf" --data "$TMP/off"
req GET /v2/library/alpine/manifests/3.20 -H "$ACCEPT"
expect "short window: cached tag while down" 200
check "...logged unreachable" grep -q "is unreachable" "$REG_LOG"
start_hub "$HUB_PORT"
sleep 1.2
req GET /v2/library/alpine/manifests/3.21 -H "$ACCEPT"
expect "upstream back" 200
req GET /v2/library/alpine/manifests/3.20 -H "$ACCEPT"
n=$(grep -c "is reachable again" "$REG_LOG")
check "...logged once as reachable again (got $n)" [ "$n" = 1 ]
reg_stop
stop_hub
summary
