#!/bin/bash
# Hostile input: path traversal (.., %2e%2e, %2F, %00), oversized URLs and
# headers, huge, negative and overflowing sizes and ranges, invalid UTF-8
# and deep nesting in manifests, garbage methods and bytes. Each gets a 4xx
# (with the spec's error body when the registry, not libmicrohttpd, wrote
# it), the server stays up, and no file appears outside the data folder.
set -u
. "$(dirname "$0")/lib.sh"
BIN=$1
MT=application/vnd.oci.image.manifest.v1+json
IMT=application/vnd.oci.image.index.v1+json
# Short idle timeout: requests that lie about their size end sooner.
printf 'connection_timeout = 3s\n' >"$TMP/hostile.conf"

# raw FILE: sends FILE's bytes as they are on a new connection and reads
# until the server closes it (10 s at most). Sets CODE (000 when nothing
# came back) and $TMP/b (the response body).
raw() {
	timeout 10 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"; cat "$2" >&3; cat <&3' \
		_ "$PORT" "$1" >"$TMP/raw" 2>/dev/null
	CODE=$(head -1 "$TMP/raw" | sed -n 's/^HTTP\/1\.[01] \([0-9]*\).*/\1/p')
	CODE=${CODE:-000}
	sed '1,/^\r*$/d' "$TMP/raw" >"$TMP/b"
}

# is4xx WHAT: the last response was a 4xx; when it came from the registry
# (JSON), it is the spec's error body.
is4xx() {
	check "$1: 4xx (got $CODE)" [ "${CODE:0:1}" = 4 ]
	if grep -q '^{' "$TMP/b" 2>/dev/null; then
		check "$1: spec error body" grep -qE '^\{"errors":\[\{"code":"[A-Z_]+","message":' "$TMP/b"
	fi
}

# oneof VALUE PATTERN...: VALUE matches one of the glob patterns.
oneof() {
	local v=$1 p
	shift
	for p in "$@"; do
		# shellcheck disable=SC2254
		case $v in $p) return 0 ;; esac
	done
	return 1
}

alive() {
	req GET /v2/
	check "server alive after $1" [ "$CODE" = 200 ]
}

reg_start "$BIN" -c "$TMP/hostile.conf"
touch "$TMP/marker"
sleep 1 # so anything written from here on is newer than the marker

# A repository with one blob and one manifest to aim at.
printf '0123456789' >"$TMP/blob"
D=$(sha256 "$TMP/blob")
req POST "/v2/h/app/blobs/uploads/?digest=$D" --data-binary @"$TMP/blob"
expect "setup blob" 201
printf '{"schemaVersion":2,"mediaType":"%s","manifests":[]}' "$IMT" >"$TMP/index"
req PUT /v2/h/app/manifests/v1 -H "Content-Type: $IMT" --data-binary @"$TMP/index"
expect "setup manifest" 201

# ---- path traversal: literal, percent-encoded, encoded slashes, NUL ----
for path in \
	'/v2/../../etc/passwd' \
	'/v2/..%2F..%2Fpwned/manifests/latest' \
	'/v2/%2e%2e/%2e%2e/pwned/tags/list' \
	'/v2/h/app/manifests/%2e%2e' \
	'/v2/h/app/manifests/..%2F..%2F..%2Fpwned' \
	'/v2/h/app/blobs/sha256:..%2F..%2Fregistry.db' \
	'/v2/h/app/blobs/%2e%2e%2fpwned' \
	'/v2/h/app/blobs/uploads/..' \
	'/v2/h/app/blobs/uploads/%2e%2e%2F%2e%2e%2Fregistry.db' \
	'/v2/h/app/manifests/v1%00pwned' \
	'/v2/h%00pwned/app/tags/list' \
	'/v2/h/app/blobs/sha256:%00' \
	'/v2/h/app/blobs/uploads/%00' \
	'/v2/h/app/referrers/..%2F..' \
	'/v2/h\..\..\pwned/tags/list' \
	'/v2/h/app/manifests/%ff%fe'; do
	for m in GET PUT PATCH DELETE; do
		req "$m" "$path" --path-as-is -H "Content-Type: $IMT" --data-binary @"$TMP/index"
		is4xx "$m $path"
	done
done
req PUT '/v2/h/app/manifests/v1%00pwned' -H "Content-Type: $IMT" --data-binary @"$TMP/index"
expect "encoded NUL does not cut a tag short" 400 TAG_INVALID
req GET '/v2/h%00pwned/tags/list'
expect "encoded NUL in a name" 400 NAME_INVALID
req POST "/v2/h/app/blobs/uploads/?digest=sha256:..%2F..%2Fpwned" --data-binary @"$TMP/blob"
expect "traversal in ?digest=" 400 DIGEST_INVALID
req POST "/v2/h/app/blobs/uploads/?digest=$D%00" --data-binary @"$TMP/blob"
expect "NUL in ?digest=" 400 DIGEST_INVALID
req POST "/v2/h/app/blobs/uploads/?mount=sha256:..%2F..&from=h/app"
expect "traversal in ?mount=" 400 DIGEST_INVALID
req POST "/v2/h/other/blobs/uploads/?mount=$D&from=..%2F..%2Fh%2Fapp"
expect "traversal in ?from= is a plain new session" 202
req DELETE "$(hdr Location)"
req PUT "/v2/h/app/manifests/v2?tag=..%2Fpwned" -H "Content-Type: $IMT" --data-binary @"$TMP/index"
expect "traversal in ?tag=" 400 TAG_INVALID
req POST /v2/h/app/blobs/uploads/
LOC=$(hdr Location)
req PUT "$LOC%00?digest=$D" --data-binary @"$TMP/blob"
expect "NUL after an upload id" 404 BLOB_UPLOAD_UNKNOWN
req DELETE "$LOC"
# A raw NUL byte in the request line: libmicrohttpd hands over the URL up
# to it (so this reads v1); what matters is that the rest goes nowhere.
for m in GET PUT; do
	printf '%s /v2/h/app/manifests/v1\0/../../../pwned HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nContent-Length: %s\r\nConnection: close\r\n\r\n' \
		"$m" "$IMT" "$(wc -c <"$TMP/index")" >"$TMP/in"
	cat "$TMP/index" >>"$TMP/in"
	raw "$TMP/in"
	check "raw NUL in a $m request line: answered, no 5xx (got $CODE)" oneof "$CODE" '[24]??'
done
alive "path traversal"

# ---- oversized URLs, names, tags and headers ----
long() { head -c "$1" /dev/zero | tr '\0' "${2:-a}"; }
req GET "/v2/$(long 300)/tags/list"
expect "300-character name" 400 NAME_INVALID
req GET "/v2/h/app/manifests/$(long 200)"
expect "200-character tag: no such manifest" 404 MANIFEST_UNKNOWN
req PUT "/v2/h/app/manifests/$(long 200)" -H "Content-Type: $IMT" --data-binary @"$TMP/index"
expect "PUT to a 200-character tag" 400 TAG_INVALID
req GET "/v2/h/app/manifests/sha256:$(long 100 0)"
expect "100-hex digest: no such manifest" 404 MANIFEST_UNKNOWN
req PUT "/v2/h/app/manifests/sha256:$(long 100 0)" -H "Content-Type: $IMT" --data-binary @"$TMP/index"
expect "PUT by a 100-hex digest" 400 DIGEST_INVALID
req GET "/v2/h/app/manifests/sha256:$(long 5000 0)"
is4xx "5000-character digest"
req GET "/v2/h/app/blobs/uploads/$(long 100 f)"
expect "100-character upload id" 404 BLOB_UPLOAD_UNKNOWN
req PATCH "/v2/h/app/blobs/uploads/$(long 5000 f)" --data-binary @"$TMP/blob"
is4xx "5000-character upload id"
req GET "/v2/$(long 8000)/tags/list"
is4xx "8 KB URL"
{ printf 'GET /v2/'; long 300000; printf '/tags/list HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'; } >"$TMP/in"
raw "$TMP/in"
is4xx "300 KB URL"
{ printf 'GET /v2/ HTTP/1.1\r\nHost: x\r\nX-Big: '; long 300000; printf '\r\nConnection: close\r\n\r\n'; } >"$TMP/in"
raw "$TMP/in"
is4xx "300 KB header"
{ printf 'GET /v2/ HTTP/1.1\r\nHost: x\r\n'; for i in $(seq 1 5000); do printf 'X-%d: %040d\r\n' "$i" 0; done; printf 'Connection: close\r\n\r\n'; } >"$TMP/in"
raw "$TMP/in"
is4xx "5000 headers"
{ printf 'GET /v2/h/app/manifests/v1?'; for i in $(seq 1 20000); do printf 'a%d=b&' "$i"; done; printf ' HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'; } >"$TMP/in"
raw "$TMP/in"
# (libmicrohttpd runs out of connection memory and closes: fine too)
check "20000 query arguments: 200, 4xx or closed (got $CODE)" oneof "$CODE" 200 '4??' 000
tags=$(for i in $(seq 1 100); do printf 'tag=t%d&' "$i"; done)
req PUT "/v2/h/app/manifests/v3?$tags" -H "Content-Type: $IMT" --data-binary @"$TMP/index"
expect "100 ?tag= values" 413 SIZE_INVALID
alive "oversized input"

# ---- sizes: huge, overflowing, negative Content-Length ----
req PUT /v2/h/app/manifests/big -H 'Content-Length: 99999999999999' --data-binary x -m 10
expect "manifest declaring 99 TB: refused at once" 413 SIZE_INVALID
printf 'PUT /v2/h/app/manifests/big HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\nConnection: close\r\n\r\nx' >"$TMP/in"
raw "$TMP/in"
is4xx "overflowing Content-Length"
printf 'PUT /v2/h/app/manifests/big HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\nConnection: close\r\n\r\nx' >"$TMP/in"
raw "$TMP/in"
is4xx "negative Content-Length"
printf 'PUT /v2/h/app/manifests/big HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nfffffffffffffffffffffff\r\nx\r\n0\r\n\r\n' >"$TMP/in"
raw "$TMP/in"
is4xx "overflowing chunk size"
printf 'PUT /v2/h/app/manifests/big HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n-5\r\nx\r\n0\r\n\r\n' >"$TMP/in"
raw "$TMP/in"
is4xx "negative chunk size"
# A blob push that declares more than it sends: the idle timeout ends it,
# and neither a blob nor an upload file is left.
printf 'POST /v2/h/app/blobs/uploads/?digest=%s HTTP/1.1\r\nHost: x\r\nContent-Length: 9223372036854775807\r\n\r\n0123456789' "$(sha256 "$TMP/index")" >"$TMP/in"
start=$SECONDS
raw "$TMP/in"
check "short body for a huge Content-Length: closed by the idle timeout" [ $((SECONDS - start)) -lt 10 ]
check "nothing committed from it" [ "$CODE" != 201 ]
check "its upload file removed" [ -z "$(ls "$TMP/data/uploads")" ]
# An endless body after an early error (here to an unknown session) is
# drained up to a bound, then the connection is cut: never read forever.
start=$SECONDS
CODE=$(curl -s -o "$TMP/b" -w '%{http_code}' -m 40 -X PATCH -H 'Expect:' -T /dev/zero \
	"$BASE/v2/h/app/blobs/uploads/nope")
check "endless body to an unknown session: cut off ($((SECONDS - start)) s)" [ $((SECONDS - start)) -lt 30 ]
start=$SECONDS
curl -s -o /dev/null -m 40 -X GET -H 'Expect:' -T /dev/zero "$BASE/v2/h/app/blobs/$D"
check "endless body on a GET: cut off ($((SECONDS - start)) s)" [ $((SECONDS - start)) -lt 30 ]
alive "huge sizes"

# ---- Range and Content-Range: negative, overflowing, reversed ----
for r in 'bytes=-5-3' 'bytes=99999999999999999999-' 'bytes=18446744073709551615-18446744073709551615' \
	'bytes=5-2' 'bytes=0-0,2-3' 'bytes=--1' 'bytes=+1-2' 'bytes= 1-2' 'bytes=0x1-2' \
	'bytes=9223372036854775807-' 'bytes=-0' 'bytes=-18446744073709551616' 'lines=1-2'; do
	req GET "/v2/h/app/blobs/$D" -H "Range: $r"
	check "Range '$r': whole blob or 416 (got $CODE)" \
		bash -c "{ [ $CODE = 200 ] && cmp -s '$TMP/b' '$TMP/blob'; } || [ $CODE = 416 ]"
done
req POST /v2/h/app/blobs/uploads/
LOC=$(hdr Location)
for cr in '-5-3' '0-99999999999999999999' '5-2' 'bytes 0-9/5' '0-18446744073709551615' \
	'-1--1' 'bytes */10' '0-' 'bytes=0-9' '0 - 9' ';'; do
	# (curl sends "Content-Range;" as an empty header)
	[ "$cr" = ';' ] && set -- -H 'Content-Range;' || set -- -H "Content-Range: $cr"
	req PATCH "$LOC" "$@" --data-binary @"$TMP/blob"
	expect "Content-Range '$cr'" 400 BLOB_UPLOAD_INVALID
done
req PATCH "$LOC" -H 'Content-Range: 9223372036854775797-9223372036854775806' --data-binary @"$TMP/blob"
expect "Content-Range far past the upload" 416 BLOB_UPLOAD_INVALID
req GET "$LOC"
check "no byte of the refused chunks stored" [ "$(hdr Range)" = 0-0 ]
req PATCH "$LOC" --data-binary @"$TMP/blob"
expect "the session still works" 202
req PUT "$LOC?digest=$D"
expect "and commits" 201

# ---- manifests: invalid UTF-8, deep nesting, NUL, huge numbers ----
man() {
	req PUT "/v2/h/app/manifests/${2:-bad}" -H "Content-Type: ${3:-$MT}" --data-binary @"$1"
}
printf '{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"a\xff\xfe","digest":"%s","size":10},"layers":[]}' "$MT" "$D" >"$TMP/m"
man "$TMP/m"
expect "invalid UTF-8 in a string" 400 MANIFEST_INVALID
printf '{"schemaVersion":2,"\xc0\xaf":1,"manifests":[]}' >"$TMP/m"
man "$TMP/m" bad "$IMT"
expect "overlong UTF-8 in a key" 400 MANIFEST_INVALID
printf '{"schemaVersion":2,"manifests":[],"annotations":{"a":"\xed\xa0\x80"}}' >"$TMP/m"
man "$TMP/m" bad "$IMT"
expect "UTF-8 surrogate" 400 MANIFEST_INVALID
printf '{"schemaVersion":2,"manifests":[],"annotations":{"a\\u0000b":"c"}}' >"$TMP/m"
man "$TMP/m" bad "$IMT"
expect "escaped NUL in a key" 400 MANIFEST_INVALID
printf '{"schemaVersion":2,"manifests":[],"annotations":{"a":"\\ud800"}}' >"$TMP/m"
man "$TMP/m" bad "$IMT"
expect "lone escaped surrogate" 400 MANIFEST_INVALID
{ printf '{"schemaVersion":2,"manifests":[],"x":'; long 100000 '['; long 100000 ']'; printf '}'; } >"$TMP/m"
man "$TMP/m" bad "$IMT"
expect "100000 nested arrays" 400 MANIFEST_INVALID
{ printf '{"schemaVersion":2,"manifests":[],"x":'; for _ in $(seq 1 40); do printf '{"a":'; done; printf '1'; long 40 '}'; printf '}'; } >"$TMP/m"
man "$TMP/m" bad "$IMT"
expect "40 nested objects" 400 MANIFEST_INVALID
long 4000000 '[' >"$TMP/m"
man "$TMP/m"
expect "4 MB of '['" 400 MANIFEST_INVALID
printf '{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"a","digest":"%s","size":18446744073709551616},"layers":[]}' "$MT" "$D" >"$TMP/m"
man "$TMP/m"
expect "size over 2^64" 400 MANIFEST_INVALID
printf '{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"a","digest":"%s","size":-10},"layers":[]}' "$MT" "$D" >"$TMP/m"
man "$TMP/m"
expect "negative size" 400 MANIFEST_INVALID
printf '{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"a","digest":"%s","size":1e400},"layers":[]}' "$MT" "$D" >"$TMP/m"
man "$TMP/m"
expect "size 1e400" 400 MANIFEST_INVALID
printf '{"schemaVersion":2,"schemaVersion":2,"manifests":[]}' >"$TMP/m"
man "$TMP/m" bad "$IMT"
expect "duplicate key" 400 MANIFEST_INVALID
printf '{"schemaVersion":2,"manifests":[]}\0garbage' >"$TMP/m"
man "$TMP/m" bad "$IMT"
expect "NUL then garbage after the JSON" 400 MANIFEST_INVALID
head -c 3000 /dev/urandom >"$TMP/m"
man "$TMP/m"
expect "random bytes as a manifest" 400 MANIFEST_INVALID
printf '{"schemaVersion":2,"manifests":[]}' >"$TMP/m"
man "$TMP/m" bad "text/html; charset=\"\xff\""
is4xx "garbage Content-Type"
req GET /v2/h/app/manifests/bad
expect "no bad manifest stored" 404 MANIFEST_UNKNOWN
alive "hostile manifests"

# ---- garbage methods, a body on GET, PATCH to no session ----
for m in FROB get 'G E T' CONNECT TRACE OPTIONS PROPFIND "$(long 5000 X)"; do
	printf '%s /v2/h/app/manifests/v1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' "$m" >"$TMP/in"
	raw "$TMP/in"
	is4xx "method '${m:0:20}'"
done
printf 'G\x01T /v2/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >"$TMP/in"
raw "$TMP/in"
is4xx "control byte in the method"
printf 'GET /v2/ HTTP/7.0\r\nHost: x\r\nConnection: close\r\n\r\n' >"$TMP/in"
raw "$TMP/in"
check "unknown HTTP version: refused (got $CODE)" oneof "$CODE" '4??' 505
# A body on GET has no meaning (RFC 9110): it is read and ignored.
req GET "/v2/h/app/blobs/$D" --data-binary 'ignore me'
check "body on GET ignored: 200 and the right bytes" cmp -s "$TMP/b" "$TMP/blob"
head -c 1000000 /dev/urandom >"$TMP/mb"
req PATCH /v2/h/app/blobs/uploads/00000000-0000-0000-0000-000000000000 --data-binary @"$TMP/mb"
expect "PATCH to a nonexistent session" 404 BLOB_UPLOAD_UNKNOWN
req PATCH /v2/h/app/blobs/uploads/00000000-0000-0000-0000-000000000000 -H 'Expect: 100-continue' --data-binary @"$TMP/mb"
expect "PATCH to a nonexistent session, Expect: 100-continue" 404 BLOB_UPLOAD_UNKNOWN
req PUT "/v2/h/app/blobs/uploads/00000000-0000-0000-0000-000000000000?digest=$D" --data-binary @"$TMP/blob"
expect "PUT to a nonexistent session" 404 BLOB_UPLOAD_UNKNOWN
req PATCH "/v2/h/other/blobs/uploads/$(basename "$LOC")" --data-binary @"$TMP/blob"
expect "PATCH to another repository's session id" 404 BLOB_UPLOAD_UNKNOWN
alive "garbage methods"

# ---- 1000 random bytes as a request, 20 times; then half a request ----
# libmicrohttpd answers 400, or closes at once (a bare CR, a NUL...).
for i in $(seq 1 20); do
	head -c 1000 /dev/urandom >"$TMP/in"
	start=$SECONDS
	raw "$TMP/in"
	check "random request $i: 4xx or closed (got $CODE)" oneof "$CODE" '4??' 000
	[ "$CODE" = 000 ] && check "random request $i: closed at once" [ $((SECONDS - start)) -lt 5 ]
done
printf 'PUT /v2/h/app/manifests/v9 HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n' >"$TMP/in"
head -c 1000 /dev/urandom >>"$TMP/in"
raw "$TMP/in"
expect "1000 random bytes as a manifest body" 400 MANIFEST_INVALID
printf 'GET /v2/ HTTP/1.1\r\nHost: x\r\nX-Half: ' >"$TMP/in"
start=$SECONDS
raw "$TMP/in"
check "half a request is closed by the idle timeout" [ $((SECONDS - start)) -lt 10 ]
alive "random bytes"

# ---- nothing outside the data folder, nothing odd inside it ----
outside=$(find "$TMP" -path "$TMP/data" -prune -o -newer "$TMP/marker" -type f -print |
	grep -vE "^$TMP/(b|h|in|raw|m|mb|blob|index|registry\.log)$")
check "no file written outside the data folder: '$outside'" [ -z "$outside" ]
check "no 'pwned' file anywhere near" [ -z "$(find "$TMP" /tmp -maxdepth 4 -name '*pwned*' 2>/dev/null)" ]
odd=$(cd "$TMP/data" && find . -mindepth 1 -maxdepth 1 | grep -vE '^\./(blobs|uploads|serve\.lock|ui-session\.key|gc\.last|registry\.db(-wal|-shm|-journal)?)$')
check "data folder holds only blobs/, uploads/, the index, the lock and the UI's session key: '$odd'" [ -z "$odd" ]
bad=0
while read -r f; do
	[ "$(sha256sum "$f" | cut -d' ' -f1)" = "$(basename "$f")" ] || bad=$((bad + 1))
done < <(find "$TMP/data/blobs/sha256" -type f)
check "every blob file matches its digest" [ "$bad" = 0 ]
reg_stop
summary
