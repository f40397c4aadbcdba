#!/bin/bash
# Range on local blobs (RFC 9110 §14): closed ranges `bytes=A-B` give 206
# with Content-Range, Content-Length and exactly those bytes; open and
# suffix forms are in test_api.sh. HEAD ignores Range: RFC 9110 §14.2 says
# "a server MUST ignore a Range header field received with a request method
# ... for which range handling is not defined", and GET is the only method
# it defines range handling for. So HEAD answers as for the whole blob.
set -u
. "$(dirname "$0")/lib.sh"
BIN=$1

reg_start "$BIN"
N=1000000
head -c $N /dev/urandom >"$TMP/blob"
D=$(sha256 "$TMP/blob")
req POST "/v2/rng/app/blobs/uploads/?digest=$D" --data-binary @"$TMP/blob"
expect "push a 1 MB blob" 201
B=/v2/rng/app/blobs/$D

# bytes A..B of the blob, inclusive, into $TMP/want.
want() {
	tail -c +$(($1 + 1)) "$TMP/blob" | head -c $(($2 - $1 + 1)) >"$TMP/want"
}

# closed RANGE FIRST LAST: GET with Range: bytes=RANGE gives 206 with
# bytes FIRST-LAST of the blob.
closed() {
	local range=$1 first=$2 last=$3
	req GET "$B" -H "Range: bytes=$range"
	expect "GET bytes=$range" 206
	check "bytes=$range: Content-Range" [ "$(hdr Content-Range)" = "bytes $first-$last/$N" ]
	check "bytes=$range: Content-Length" [ "$(hdr Content-Length)" = $((last - first + 1)) ]
	want "$first" "$last"
	check "bytes=$range: exactly those bytes" cmp -s "$TMP/b" "$TMP/want"
}
closed 0-0 0 0
closed 100-199 100 199
closed 4095-4096 4095 4096
closed 123457-654320 123457 654320
closed $((N - 1))-$((N - 1)) $((N - 1)) $((N - 1))
closed 0-$((N - 1)) 0 $((N - 1))
# An end past the blob is its last byte (RFC 9110 §14.1.2).
closed 999990-5000000 999990 $((N - 1))

# Well-formed but unsatisfiable: 416 with the size.
req GET "$B" -H "Range: bytes=$N-$((N + 10))"
expect "first byte past the end" 416
check "416: Content-Range bytes */$N" [ "$(hdr Content-Range)" = "bytes */$N" ]
# Malformed, reversed or several ranges: ignored, the whole blob (200).
for r in 'bytes=200-100' 'bytes=0-1,5-6' 'bytes=x-1' 'items=0-1'; do
	req GET "$B" -H "Range: $r"
	expect "Range: $r is ignored" 200
	check "Range: $r: the whole blob" cmp -s "$TMP/b" "$TMP/blob"
	check "Range: $r: no Content-Range" [ -z "$(hdr Content-Range)" ]
done

# ---- HEAD ----
req HEAD "$B"
expect "HEAD" 200
check "HEAD: Content-Length is the size" [ "$(hdr Content-Length)" = "$N" ]
check "HEAD: Accept-Ranges bytes (ranges are offered)" [ "$(hdr Accept-Ranges)" = bytes ]
check "HEAD: Docker-Content-Digest" [ "$(hdr Docker-Content-Digest)" = "$D" ]
for r in 'bytes=100-199' 'bytes=0-0' "bytes=$N-" 'bytes=-10'; do
	req HEAD "$B" -H "Range: $r"
	expect "HEAD with Range: $r is answered as without" 200
	check "HEAD with Range: $r: Content-Length is the whole size" [ "$(hdr Content-Length)" = "$N" ]
	check "HEAD with Range: $r: no Content-Range" [ -z "$(hdr Content-Range)" ]
done

# A manifest read through the blobs endpoint is ranged the same way.
MT=application/vnd.oci.image.manifest.v1+json
printf '{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[]}' \
	"$MT" "$D" "$N" >"$TMP/manifest"
DM=$(sha256 "$TMP/manifest")
req PUT /v2/rng/app/manifests/v1 -H "Content-Type: $MT" --data-binary @"$TMP/manifest"
expect "manifest PUT" 201
req GET "/v2/rng/app/blobs/$DM" -H 'Range: bytes=2-15'
expect "manifest as a blob, bytes=2-15" 206
check "...its bytes 2-15" [ "$(cat "$TMP/b")" = "$(head -c 16 "$TMP/manifest" | tail -c 14)" ]
check "...Content-Range" [ "$(hdr Content-Range)" = "bytes 2-15/$(stat -c %s "$TMP/manifest")" ]
reg_stop
summary
