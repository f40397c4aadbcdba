#!/bin/bash
# A repository whose every manifest and blob was deleted: what the catalog
# and its tag list say afterwards.
#
# PINNED, NOT DESIRED: today the repository's row outlives its contents,
# so an emptied repository stays in the catalog and its tag list is 200
# with no tags. The storage-lifecycle issue changes this: an empty
# repository leaves the catalog and its tag list becomes 404 NAME_UNKNOWN.
# Whoever does that updates the checks marked "(today)" below.
set -u
. "$(dirname "$0")/lib.sh"
BIN=$1
MT=application/vnd.oci.image.manifest.v1+json

reg_start "$BIN"
# Two repositories: emp/gone is emptied, emp/kept is not.
for repo in emp/gone emp/kept; do
	printf 'layer of %s' "$repo" >"$TMP/layer"
	printf '{"repo":"%s"}' "$repo" >"$TMP/config"
	DL=$(sha256 "$TMP/layer")
	DC=$(sha256 "$TMP/config")
	req POST "/v2/$repo/blobs/uploads/?digest=$DL" --data-binary @"$TMP/layer"
	expect "$repo: layer" 201
	req POST "/v2/$repo/blobs/uploads/?digest=$DC" --data-binary @"$TMP/config"
	expect "$repo: config" 201
	printf '{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%s}]}' \
		"$MT" "$DC" "$(stat -c %s "$TMP/config")" "$DL" "$(stat -c %s "$TMP/layer")" >"$TMP/manifest"
	[ "$repo" = emp/gone ] && cp "$TMP/manifest" "$TMP/manifest-gone"
	for tag in v1 v2; do
		req PUT "/v2/$repo/manifests/$tag" -H "Content-Type: $MT" --data-binary @"$TMP/manifest"
		expect "$repo: manifest as $tag" 201
	done
done
req GET /v2/_catalog
check "catalog before: both" [ "$(cat "$TMP/b")" = '{"repositories":["emp/gone","emp/kept"]}' ]
req GET /v2/emp/gone/tags/list
check "tags before: v1, v2" [ "$(cat "$TMP/b")" = '{"name":"emp/gone","tags":["v1","v2"]}' ]

# Empty emp/gone: its manifest (taking both tags with it), then its blobs.
req DELETE "/v2/emp/gone/manifests/$(sha256 "$TMP/manifest-gone")"
expect "delete the manifest" 202
printf 'layer of %s' emp/gone >"$TMP/layer"
printf '{"repo":"%s"}' emp/gone >"$TMP/config"
for f in layer config; do
	req DELETE "/v2/emp/gone/blobs/$(sha256 "$TMP/$f")"
	expect "delete the $f blob" 202
done
req GET "/v2/emp/gone/manifests/v1"
expect "the tag is gone" 404 MANIFEST_UNKNOWN
req GET "/v2/emp/gone/blobs/$(sha256 "$TMP/layer")"
expect "the layer is gone" 404 BLOB_UNKNOWN

# (today) The emptied repository is still listed, with no tags.
req GET /v2/_catalog
expect "catalog after" 200
check "catalog after (today): still lists emp/gone" \
	[ "$(cat "$TMP/b")" = '{"repositories":["emp/gone","emp/kept"]}' ]
req GET "/v2/_catalog?n=1"
check "catalog page of 1 (today): emp/gone" [ "$(cat "$TMP/b")" = '{"repositories":["emp/gone"]}' ]
check "...with a link to the next page" [ "$(hdr Link)" = '</v2/_catalog?n=1&last=emp/gone>; rel="next"' ]
req GET /v2/emp/gone/tags/list
expect "tags after (today): 200" 200
check "tags after (today): an empty list" [ "$(cat "$TMP/b")" = '{"name":"emp/gone","tags":[]}' ]
# Unchanged whatever that issue decides: the other repository, and a
# repository that never existed.
req GET /v2/emp/kept/tags/list
check "the other repository keeps its tags" [ "$(cat "$TMP/b")" = '{"name":"emp/kept","tags":["v1","v2"]}' ]
req GET /v2/emp/never/tags/list
expect "a repository that never existed" 404 NAME_UNKNOWN
# Its blobs are gone from it: a manifest naming them is refused.
req PUT "/v2/emp/gone/manifests/v3" -H "Content-Type: $MT" --data-binary @"$TMP/manifest-gone"
expect "a manifest whose blobs it lost is refused" 400 MANIFEST_BLOB_UNKNOWN
reg_stop
summary
