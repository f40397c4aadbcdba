#!/bin/bash
# proxy_revalidate = 0: a cached tag is re-checked upstream on every pull.
# HUB, a second instance of this registry (no auth, debug log: one
# "request METHOD PATH" line per request), is the mirror's docker.io; each
# pull of the tag through the mirror must cost HUB exactly one HEAD, and a
# tag moved on HUB is followed by the very next pull, without waiting.
set -u
. "$(dirname "$0")/lib.sh"
BIN=$1
MT=application/vnd.oci.image.manifest.v1+json
ACCEPT="Accept: $MT"

export CURL_HOME=$TMP # no request may hang the test
echo 'max-time = 60' >"$TMP/.curlrc"

HUB_PID=""
revalidate_cleanup() {
	if [ -n "$HUB_PID" ]; then
		kill "$HUB_PID" 2>/dev/null
		reg_wait "$HUB_PID" 10
	fi
	reg_cleanup
}
trap revalidate_cleanup EXIT

HUB_LOG=$TMP/hub.log
mkdir -p "$TMP/hub"
printf 'log_level = debug\n' >"$TMP/hub.conf"
"$BIN" serve -c "$TMP/hub.conf" --listen 127.0.0.1:0 --data "$TMP/hub" 2>>"$HUB_LOG" &
HUB_PID=$!
for _ in $(seq 1 100); do
	HUB_PORT=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$HUB_LOG" | tail -1)
	[ -n "$HUB_PORT" ] && curl -s -o /dev/null "http://127.0.0.1:$HUB_PORT/v2/" && break
	sleep 0.1
done
HUB=http://127.0.0.1:$HUB_PORT
hub_count() { # METHOD PATH: requests HUB has seen so far
	grep -cE "debug request $1 $2\$" "$HUB_LOG"
}

# hub_push TAG WORD: pushes an image whose config says WORD to HUB's
# library/app:TAG; prints the manifest's digest.
hub_push() {
	local tag=$1 word=$2 dc
	printf '{"architecture":"amd64","os":"linux","comment":"%s"}' "$word" >"$TMP/config-$word"
	dc=$(sha256 "$TMP/config-$word")
	curl -sf -o /dev/null -X POST --data-binary @"$TMP/config-$word" \
		"$HUB/v2/library/app/blobs/uploads/?digest=$dc" || return 1
	printf '{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[]}' \
		"$MT" "$dc" "$(stat -c %s "$TMP/config-$word")" >"$TMP/manifest-$word"
	curl -sf -o /dev/null -X PUT -H "Content-Type: $MT" --data-binary @"$TMP/manifest-$word" \
		"$HUB/v2/library/app/manifests/$tag" || return 1
	sha256 "$TMP/manifest-$word"
}
D1=$(hub_push v1 first)
check "pushed library/app:v1 to HUB" [ -n "$D1" ]

cat >"$TMP/mirror.conf" <<EOF
upstream = docker.io $HUB namespaces=library
proxy_revalidate = 0
proxy_timeout = 5s
proxy_retries = 1
EOF
reg_start "$BIN" -c "$TMP/mirror.conf"

TAG=/v2/library/app/manifests/v1
req GET "$TAG" -H "$ACCEPT"
expect "first pull through the mirror" 200
check "...the manifest" cmp -s "$TMP/b" "$TMP/manifest-first"
gets=$(hub_count GET "$TAG")
check "first pull: one upstream GET" [ "$gets" = 1 ]
heads=$(hub_count HEAD "$TAG")

# Every pull, back to back (well within any second), asks HUB again.
for i in 1 2 3; do
	req GET "$TAG" -H "$ACCEPT"
	expect "pull $i of the cached tag" 200
	check "pull $i: Docker-Content-Digest unchanged" [ "$(hdr Docker-Content-Digest)" = "$D1" ]
	check "pull $i: one more HEAD upstream (revalidated)" [ "$(hub_count HEAD "$TAG")" = $((heads + i)) ]
done
check "...and no GET (unchanged upstream)" [ "$(hub_count GET "$TAG")" = "$gets" ]

# The tag moves on HUB: the very next pull follows it, no waiting.
D2=$(hub_push v1 second)
check "moved library/app:v1 on HUB" [ -n "$D2" ] && check "...to another digest" [ "$D2" != "$D1" ]
req GET "$TAG" -H "$ACCEPT"
expect "pull right after the move" 200
check "the moved tag is followed at once" [ "$(hdr Docker-Content-Digest)" = "$D2" ]
check "...byte for byte" cmp -s "$TMP/b" "$TMP/manifest-second"
check "...fetched by its digest" [ "$(hub_count GET "/v2/library/app/manifests/$D2")" = 1 ]
# By digest, immutable: never re-checked, whatever proxy_revalidate says.
before=$(grep -c "debug request" "$HUB_LOG")
req GET "/v2/library/app/manifests/$D2" -H "$ACCEPT"
expect "pull by digest" 200
check "by digest: no upstream request" [ "$(grep -c "debug request" "$HUB_LOG")" = "$before" ]
reg_stop
summary
