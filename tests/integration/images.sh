# images.sh - small images pushed over the API, for the GC tests (sourced
# after lib.sh; DATA is the server's data folder).
# shellcheck shell=bash
MT=application/vnd.oci.image.manifest.v1+json

# blob REPO FILE: pushes FILE (monolithic POST); echoes its digest.
blob() {
	local d
	d=$(sha256 "$2")
	req POST "/v2/$1/blobs/uploads/?digest=$d" --data-binary @"$2"
	[ "$CODE" = 201 ] || echo "FAIL: blob push $1 $2: $CODE" >&2
	echo "$d"
}
# image REPO REF NAME: a config and two layers (one shared by every image,
# one its own) and a manifest under REF; the manifest is kept in $TMP/NAME.m.
image() {
	local repo=$1 ref=$2 name=$3 dc dl ds
	printf 'config of %s' "$name" >"$TMP/$name.c"
	head -c 3000 /dev/urandom >"$TMP/$name.l"
	[ -f "$TMP/shared.l" ] || head -c 5000 /dev/urandom >"$TMP/shared.l"
	dc=$(blob "$repo" "$TMP/$name.c")
	dl=$(blob "$repo" "$TMP/$name.l")
	ds=$(blob "$repo" "$TMP/shared.l")
	printf '{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%s},{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%s}]}' \
		"$MT" "$dc" "$(stat -c %s "$TMP/$name.c")" "$dl" "$(stat -c %s "$TMP/$name.l")" \
		"$ds" "$(stat -c %s "$TMP/shared.l")" >"$TMP/$name.m"
	req PUT "/v2/$repo/manifests/$ref" -H "Content-Type: $MT" --data-binary @"$TMP/$name.m"
	check "push $repo:$ref" [ "$CODE" = 201 ]
}
# Bytes of the blob files (du of the files under blobs/); sizes of files.
stored() { find "$DATA/blobs" -type f -print0 | du -cb --apparent-size --files0-from=- 2>/dev/null | tail -1 | cut -f1; }
size() { stat -c %s "$@" | awk '{s += $1} END {print s + 0}'; }
