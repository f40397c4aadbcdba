#!/bin/bash
# The command line and the configuration file: help, version, flags over the
# file over defaults, FILE:LINE errors with exit status 2, upload expiry.
set -u
. "$(dirname "$0")/lib.sh"
BIN=$1

out=$("$BIN" --help)
check "--help exits 0 and shows serve" grep -q 'registry serve' <<<"$out"
# The help names the three mirror commands as they are typed: there is no
# `registry mirror export` or `registry mirror import`.
check "--help: no 'mirror ... | export' line" bash -c '! grep -q "mirror sync FILE |"' <<<"$out"
check "--help: registry export on its own line" grep -q '^ *registry export IMAGE' <<<"$out"
check "--help: registry import on its own line" grep -q '^ *registry import FILE' <<<"$out"
out=$("$BIN" version)
check "version prints a version" grep -q '^registry ' <<<"$out"
"$BIN" bogus 2>/dev/null
check "unknown command exits 2" [ $? = 2 ]
"$BIN" serve --bogus 2>/dev/null
check "unknown flag exits 2" [ $? = 2 ]

printf 'listen = 127.0.0.1:0\n\nfrobnicate = 1\n' >"$TMP/bad.conf"
err=$("$BIN" serve -c "$TMP/bad.conf" 2>&1)
rc=$?
check "unknown key exits 2 (got $rc)" [ "$rc" = 2 ]
check "unknown key names FILE:LINE" grep -q "^$TMP/bad.conf:3: " <<<"$err"
printf 'max_manifest_size = lots\n' >"$TMP/bad2.conf"
err=$("$BIN" serve -c "$TMP/bad2.conf" 2>&1)
rc=$?
check "bad value exits 2" [ "$rc" = 2 ]
check "bad value names FILE:LINE" grep -q "^$TMP/bad2.conf:1: " <<<"$err"
"$BIN" serve -c "$TMP/missing.conf" 2>/dev/null
check "missing file exits 2" [ $? = 2 ]
"$BIN" serve --listen nonsense 2>/dev/null
check "bad --listen exits 2" [ $? = 2 ]

# The documented default configuration loads (serve it on a free port).
sed 's/^listen *=.*/listen = 127.0.0.1:0/' registry.conf >"$TMP/default.conf" 2>/dev/null ||
	sed 's/^listen *=.*/listen = 127.0.0.1:0/' "$(dirname "$0")/../../registry.conf" >"$TMP/default.conf"
reg_start "$BIN" -c "$TMP/default.conf"
check "registry.conf serves" [ -n "$PORT" ]
reg_stop

# The file's data folder is overridden by --data (reg_start passes one), and
# a short upload_ttl expires idle sessions and their files.
printf 'data = /nonexistent/never\nupload_ttl = 2s\nmax_manifest_size = 100\n' >"$TMP/ttl.conf"
reg_start "$BIN" -c "$TMP/ttl.conf"
check "--data overrides the file" [ -d "$TMP/data/blobs" ]
req PUT /v2/cli/app/manifests/v1 -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
	--data-binary "$(head -c 200 /dev/zero | tr '\0' ' ')"
expect "max_manifest_size from the file" 413
req POST /v2/cli/app/blobs/uploads/
LOC=$(hdr Location)
req PATCH "$LOC" --data-binary 'some bytes'
check "upload file exists" [ -n "$(ls "$TMP/data/uploads")" ]
sleep 5
req GET "$LOC"
expect "idle session expired" 404 BLOB_UPLOAD_UNKNOWN
check "expired upload file removed" [ -z "$(ls "$TMP/data/uploads")" ]
reg_stop

# `registry cert` into a data folder that does not exist yet, and into an
# --out folder whose parents do not exist.
"$BIN" cert localhost 127.0.0.1 -d "$TMP/new/data" >"$TMP/cert.out" 2>&1
rc=$?
check "cert into a new data folder exits 0 (got $rc)" [ "$rc" = 0 ]
check "...wrote the CA and the server certificate" \
	test -s "$TMP/new/data/tls/ca.crt" -a -s "$TMP/new/data/tls/server.key"
check "...the key folder is private" [ "$(stat -c %a "$TMP/new/data/tls")" = 700 ]
"$BIN" cert localhost --out "$TMP/deep/er/tls" -d "$TMP/new/data" >/dev/null 2>&1
check "cert --out with missing parents exits 0" [ $? = 0 ]
check "...wrote there" test -s "$TMP/deep/er/tls/server.crt"
: >"$TMP/afile"
"$BIN" cert localhost --out "$TMP/afile/tls" >"$TMP/cert-bad.out" 2>&1
check "cert --out under a file exits 1" [ $? = 1 ]
check "...saying why" grep -q "afile" "$TMP/cert-bad.out"
summary
