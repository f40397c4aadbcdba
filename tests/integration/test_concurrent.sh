#!/bin/bash
# Clients racing on the same thing: 20 identical blob pushes at once (each
# of the three upload styles), 20 mounts of one blob, 20 pushes of one
# manifest to one tag, 20 different manifests to one tag. Every client gets
# its 201 and no error; the result is one consistent state: one blob file
# with the right bytes, a tag naming exactly one of the manifests pushed.
set -u
. "$(dirname "$0")/lib.sh"
BIN=$1
N=20
MT=application/vnd.oci.image.manifest.v1+json
reg_start "$BIN"

# race NAME CMD...: runs CMD N times at once (CMD gets the client number as
# its last argument and prints its final HTTP status); sets CODES to the
# sorted distinct statuses with their counts.
race() {
	local name=$1 i pids=()
	shift
	rm -f "$TMP/race.$name".*
	for i in $(seq 1 "$N"); do
		{ "$@" "$i"; echo; } >"$TMP/race.$name.$i" 2>&1 &
		pids+=($!)
	done
	reg_wait_all "${pids[@]}"
	CODES=$(cat "$TMP/race.$name".* | sort | uniq -c | awk '{printf "%s×%s ", $2, $1}')
}

head -c 2000000 /dev/urandom >"$TMP/blob"
D=$(sha256 "$TMP/blob")
head -c 1000000 "$TMP/blob" >"$TMP/blob.1"
tail -c +1000001 "$TMP/blob" >"$TMP/blob.2"

monolithic() {
	curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary @"$TMP/blob" \
		"$BASE/v2/race/app/blobs/uploads/?digest=$D"
}
chunked() {
	local loc code
	loc=$(curl -s -o /dev/null -D - -X POST "$BASE/v2/race/chunked/blobs/uploads/" |
		tr -d '\r' | sed -n 's/^Location: //p')
	code=$(curl -s -o /dev/null -w '%{http_code}' -X PATCH -H 'Content-Range: 0-999999' \
		--data-binary @"$TMP/blob.1" "$BASE$loc")
	[ "$code" = 202 ] || { echo "$code"; return; }
	curl -s -o /dev/null -w '%{http_code}' -X PUT --data-binary @"$TMP/blob.2" \
		"$BASE$loc?digest=$D"
}
streamed() {
	local loc code
	loc=$(curl -s -o /dev/null -D - -X POST "$BASE/v2/race/streamed/blobs/uploads/" |
		tr -d '\r' | sed -n 's/^Location: //p')
	code=$(curl -s -o /dev/null -w '%{http_code}' -X PATCH -H 'Transfer-Encoding: chunked' \
		--data-binary @"$TMP/blob" "$BASE$loc")
	[ "$code" = 202 ] || { echo "$code"; return; }
	curl -s -o /dev/null -w '%{http_code}' -X PUT "$BASE$loc?digest=$D"
}

for style in monolithic chunked streamed; do
	race "$style" "$style"
	check "$N identical $style pushes at once: all 201 ($CODES)" [ "$CODES" = "201×$N " ]
done
for repo in app chunked streamed; do
	req GET "/v2/race/$repo/blobs/$D"
	check "race/$repo serves the blob byte-exact" cmp -s "$TMP/b" "$TMP/blob"
done
check "one blob file for the digest" [ "$(find "$TMP/data/blobs" -name "${D#sha256:}" | wc -l)" = 1 ]
check "no upload file left" [ -z "$(ls "$TMP/data/uploads")" ]
check "no upload session left" [ "$(reg_sql "$TMP/data/registry.db" 'SELECT count(*) FROM uploads')" = 0 ]

mount_blob() {
	curl -s -o /dev/null -w '%{http_code}' -X POST \
		"$BASE/v2/race/mounted/blobs/uploads/?mount=$D&from=race/app"
}
race mount mount_blob
check "$N mounts of one blob at once: all 201 ($CODES)" [ "$CODES" = "201×$N " ]
req HEAD "/v2/race/mounted/blobs/$D"
expect "the mounted blob is served" 200

# A config and a manifest everyone pushes.
printf '{"race":true}' >"$TMP/config"
DC=$(sha256 "$TMP/config")
req POST "/v2/race/app/blobs/uploads/?digest=$DC" --data-binary @"$TMP/config"
manifest() { # manifest FILE ANNOTATION
	printf '{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":2000000}],"annotations":{"n":"%s"}}' \
		"$MT" "$DC" "$(wc -c <"$TMP/config")" "$D" "$2" >"$1"
}
manifest "$TMP/man" same
DM=$(sha256 "$TMP/man")
same_tag() {
	curl -s -o /dev/null -w '%{http_code}' -X PUT -H "Content-Type: $MT" \
		--data-binary @"$TMP/man" "$BASE/v2/race/app/manifests/latest"
}
race same same_tag
check "$N pushes of one manifest to one tag: all 201 ($CODES)" [ "$CODES" = "201×$N " ]
req GET /v2/race/app/manifests/latest
check "the tag serves the manifest" cmp -s "$TMP/b" "$TMP/man"
check "with its digest" [ "$(hdr Docker-Content-Digest)" = "$DM" ]

for i in $(seq 1 "$N"); do manifest "$TMP/man.$i" "$i"; done
other_tag() {
	curl -s -o /dev/null -w '%{http_code}' -X PUT -H "Content-Type: $MT" \
		--data-binary @"$TMP/man.$1" "$BASE/v2/race/app/manifests/contested"
}
race other other_tag
check "$N different manifests to one tag: all 201 ($CODES)" [ "$CODES" = "201×$N " ]
req GET /v2/race/app/manifests/contested
winner=$(grep -o '"n":"[0-9]*"' "$TMP/b" | grep -o '[0-9]*')
check "the tag names one of them (client ${winner:-none})" [ -n "$winner" ]
check "...byte-exact" cmp -s "$TMP/b" "$TMP/man.${winner:-0}"
check "...under its own digest" [ "$(hdr Docker-Content-Digest)" = "$(sha256 "$TMP/man.${winner:-0}")" ]
for i in $(seq 1 "$N"); do
	req HEAD "/v2/race/app/manifests/$(sha256 "$TMP/man.$i")"
	[ "$CODE" = 200 ] || break
done
check "every pushed manifest is stored by digest" [ "$CODE" = 200 ]
req GET /v2/race/app/tags/list
check "tag list consistent" [ "$(cat "$TMP/b")" = '{"name":"race/app","tags":["contested","latest"]}' ]
check "index integrity" [ "$(reg_sql "$TMP/data/registry.db" 'PRAGMA integrity_check')" = ok ]
reg_stop
summary
