#!/bin/bash
# Crashes and full disks mid-push: every completed push stays intact, no half
# blob is ever visible, an interrupted upload resumes after a restart, and the
# index passes SQLite's integrity check.
set -u
. "$(dirname "$0")/lib.sh"
BIN=$1
MT=application/vnd.oci.image.manifest.v1+json

# push_image REPO TAG: pushes a config + one layer + manifest; sets MANIFEST.
push_image() {
	local repo=$1 tag=$2 d
	head -c 3000 /dev/urandom >"$TMP/layer-$tag"
	printf '{"tag":"%s"}' "$tag" >"$TMP/config-$tag"
	for f in "$TMP/layer-$tag" "$TMP/config-$tag"; do
		d=$(sha256 "$f")
		req POST "/v2/$repo/blobs/uploads/?digest=$d" --data-binary @"$f"
	done
	printf '{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":3000}]}' \
		"$MT" "$(sha256 "$TMP/config-$tag")" "$(wc -c <"$TMP/config-$tag")" "$(sha256 "$TMP/layer-$tag")" >"$TMP/manifest-$tag"
	req PUT "/v2/$repo/manifests/$tag" -H "Content-Type: $MT" --data-binary @"$TMP/manifest-$tag"
	MANIFEST=$(sha256 "$TMP/manifest-$tag")
}

# verify_image REPO TAG: the manifest and its blobs are served, byte-exact.
verify_image() {
	local repo=$1 tag=$2
	req GET "/v2/$repo/manifests/$tag"
	check "$repo:$tag manifest served after crash" cmp -s "$TMP/b" "$TMP/manifest-$tag"
	req GET "/v2/$repo/blobs/$(sha256 "$TMP/layer-$tag")"
	check "$repo:$tag layer served after crash" cmp -s "$TMP/b" "$TMP/layer-$tag"
}

reg_start "$BIN"
push_image crash/app v1
check "first image pushed" [ "$CODE" = 201 ]

# A slow streamed upload, killed with SIGKILL halfway.
head -c 4000000 /dev/urandom >"$TMP/big"
DBIG=$(sha256 "$TMP/big")
req POST /v2/crash/app/blobs/uploads/
LOC=$(hdr Location)
curl -s -o /dev/null -X PATCH --limit-rate 1M -H 'Transfer-Encoding: chunked' \
	--data-binary @"$TMP/big" "$BASE$LOC" &
CURL=$!
sleep 1.5
kill -KILL "$REG_PID"
reg_wait "$REG_PID"
REG_PID=
reg_wait "$CURL"
check "no blob file for the half upload" [ -z "$(find "$TMP/data/blobs" -name "${DBIG#sha256:}")" ]
check "index integrity after SIGKILL" [ "$(reg_sql "$TMP/data/registry.db" 'PRAGMA integrity_check')" = ok ]

reg_start "$BIN"
verify_image crash/app v1
req GET "/v2/crash/app/blobs/$DBIG"
expect "half upload not visible" 404 BLOB_UNKNOWN

# The session survived the restart: resume where the file ends.
req GET "$LOC"
expect "interrupted session resumable" 204
have=$(hdr Range | cut -d- -f2)
have=$((have + 1))
check "some bytes arrived before the kill" [ "$have" -gt 1 ]
tail -c +"$((have + 1))" "$TMP/big" >"$TMP/rest"
req PATCH "$LOC" -H "Content-Range: $have-3999999" --data-binary @"$TMP/rest"
expect "resume PATCH after restart" 202
req PUT "$LOC?digest=$DBIG"
expect "resumed upload commits with the right digest" 201
req GET "/v2/crash/app/blobs/$DBIG"
check "resumed blob byte-exact" cmp -s "$TMP/b" "$TMP/big"

# Kill during a burst of concurrent pushes: six finish quickly, six are
# still arriving (rate-limited) when the server dies. Every 201 stays good.
for i in $(seq 1 12); do
	head -c $((i <= 6 ? 20000 + i : 400000 + i)) /dev/urandom >"$TMP/burst$i"
done
for i in $(seq 1 12); do
	d=$(sha256 "$TMP/burst$i")
	rate=$([ "$i" -le 6 ] && echo 100M || echo 200K)
	( code=$(curl -s -o /dev/null -w '%{http_code}' --limit-rate "$rate" -X POST \
		--data-binary @"$TMP/burst$i" "$BASE/v2/crash/burst/blobs/uploads/?digest=$d")
	  echo "$i $code" >>"$TMP/burst.codes" ) &
done
sleep 0.5
kill -KILL "$REG_PID"
reg_wait "$REG_PID"
REG_PID=
reg_wait_all $(jobs -p)
reg_start "$BIN"
ok=0
while read -r i code; do
	[ "$code" = 201 ] || continue
	ok=$((ok + 1))
	req GET "/v2/crash/burst/blobs/$(sha256 "$TMP/burst$i")"
	check "acknowledged push $i intact after SIGKILL" cmp -s "$TMP/b" "$TMP/burst$i"
done <"$TMP/burst.codes"
echo "   burst: $ok of 12 pushes acknowledged before the kill"
check "the kill landed mid-burst" [ "$ok" -ge 1 ] && check "some pushes were cut" [ "$ok" -lt 12 ]
# No blob file anywhere is corrupt: each file's name is its digest.
bad=0
while read -r f; do
	[ "$(sha256sum "$f" | cut -d' ' -f1)" = "$(basename "$f")" ] || bad=$((bad + 1))
done < <(find "$TMP/data/blobs/sha256" -type f)
check "every blob file matches its digest" [ "$bad" = 0 ]
reg_stop

# ---- a full disk mid-push (needs root for a small tmpfs) ----
if [ "$(id -u)" = 0 ] && unshare --mount true 2>/dev/null; then
	mkdir -p "$TMP/small"
	# Run the rest inside a private mount namespace holding the tmpfs.
	unshare --mount --propagation private bash -c "
		mount -t tmpfs -o size=3m tmpfs '$TMP/small' || exit 3
		exec bash '$(dirname "$0")/fulldisk.sh' '$BIN' '$TMP/small'
	" >"$TMP/fulldisk.out" 2>&1
	rc=$?
	cat "$TMP/fulldisk.out"
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$TMP/fulldisk.out" | tail -1)
	PASSED=$((PASSED + $(echo "$line" | cut -d' ' -f1)))
	FAILED=$((FAILED + $(echo "$line" | cut -d' ' -f3)))
	check "full-disk test ran (rc $rc)" [ -n "$line" ]
else
	skip "full disk: needs root and mount namespaces"
fi

summary
