#!/bin/bash
# A repository whose every manifest and blob was deleted: what the catalog
# and its tag list say afterwards. Deleting the last tag, manifest and blob
# link of a repository removes it: it leaves the catalog and its tag list
# is 404 NAME_UNKNOWN, as for a repository that never existed; a push
# brings it back.
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
expect "the tag is gone (with its repository)" 404 NAME_UNKNOWN
req GET "/v2/emp/gone/blobs/$(sha256 "$TMP/layer")"
expect "the layer is gone" 404 BLOB_UNKNOWN

# The emptied repository is gone from the catalog and its pages.
req GET /v2/_catalog
expect "catalog after" 200
check "catalog after: only emp/kept" [ "$(cat "$TMP/b")" = '{"repositories":["emp/kept"]}' ]
req GET "/v2/_catalog?n=1"
check "catalog page of 1: emp/kept" [ "$(cat "$TMP/b")" = '{"repositories":["emp/kept"]}' ]
check "...and no next page" [ -z "$(hdr Link)" ]
req GET /v2/emp/gone/tags/list
expect "tags after: as for a repository that never existed" 404 NAME_UNKNOWN
# The other repository, and a repository that never existed.
req GET /v2/emp/kept/tags/list
check "the other repository keeps its tags" [ "$(cat "$TMP/b")" = '{"name":"emp/kept","tags":["v1","v2"]}' ]
req GET /v2/emp/never/tags/list
expect "a repository that never existed" 404 NAME_UNKNOWN
# Its blobs are gone from it: a manifest naming them is refused.
req PUT "/v2/emp/gone/manifests/v3" -H "Content-Type: $MT" --data-binary @"$TMP/manifest-gone"
expect "a manifest whose blobs it lost is refused" 400 MANIFEST_BLOB_UNKNOWN
req GET /v2/_catalog
check "...and the refusal made no repository" [ "$(cat "$TMP/b")" = '{"repositories":["emp/kept"]}' ]
# A push brings it back.
req POST "/v2/emp/gone/blobs/uploads/?digest=$(sha256 "$TMP/layer")" --data-binary @"$TMP/layer"
expect "a blob pushed again" 201
req GET /v2/emp/gone/tags/list
expect "back: its tag list" 200
check "back: no tags yet" [ "$(cat "$TMP/b")" = '{"name":"emp/gone","tags":[]}' ]
req GET /v2/_catalog
check "back in the catalog" [ "$(cat "$TMP/b")" = '{"repositories":["emp/gone","emp/kept"]}' ]
reg_stop
summary
