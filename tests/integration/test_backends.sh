#!/bin/bash
# test_backends.sh - the `storage` and `metadata` keys: the configured
# backends serve a push and a pull (blobs with Range, and a manifest, both
# read through the blob store's readers), a restart finds everything, and
# an unknown backend stops start-up with FILE:LINE and exit status 2,
# before the data folder is touched.
# Usage: test_backends.sh PATH/TO/registry
set -u
. "$(dirname "$0")/lib.sh"
BIN=$1

printf 'storage = filesystem\nmetadata = sqlite\n' >"$TMP/named.conf"
reg_start "$BIN" -c "$TMP/named.conf"

head -c 100000 /dev/urandom >"$TMP/layer"
DL=$(sha256 "$TMP/layer")
printf '{}' >"$TMP/cfg"
DC=$(sha256 "$TMP/cfg")
req POST "/v2/app/blobs/uploads/?digest=$DL" --data-binary @"$TMP/layer" \
	-H 'Content-Type: application/octet-stream'
expect "push a layer" 201
req POST "/v2/app/blobs/uploads/?digest=$DC" --data-binary @"$TMP/cfg" \
	-H 'Content-Type: application/octet-stream'
expect "push a config" 201
cat >"$TMP/man" <<MAN
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"$DC","size":2},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"$DL","size":100000}]}
MAN
DM=$(sha256 "$TMP/man")
req PUT /v2/app/manifests/v1 --data-binary @"$TMP/man" \
	-H 'Content-Type: application/vnd.oci.image.manifest.v1+json'
expect "push the manifest" 201

pull_all() {
	req GET "/v2/app/blobs/$DL"
	expect "$1: pull the layer" 200
	check "$1: the layer's bytes" cmp -s "$TMP/b" "$TMP/layer"
	req GET "/v2/app/blobs/$DL" -H 'Range: bytes=1000-1999'
	expect "$1: a range of the layer" 206
	check "$1: the range's bytes" cmp -s "$TMP/b" <(tail -c +1001 "$TMP/layer" | head -c 1000)
	req HEAD "/v2/app/blobs/$DL"
	expect "$1: HEAD the layer" 200
	check "$1: HEAD's length" [ "$(hdr Content-Length)" = 100000 ]
	req GET /v2/app/manifests/v1 -H 'Accept: application/vnd.oci.image.manifest.v1+json'
	expect "$1: pull the manifest" 200
	check "$1: the manifest's bytes" cmp -s "$TMP/b" "$TMP/man"
	check "$1: its digest" [ "$(hdr Docker-Content-Digest)" = "$DM" ]
}
pull_all "named backends"
reg_stop

# The defaults are the same backends: a server without the keys finds it all.
reg_start "$BIN"
pull_all "default backends"
reg_stop

# Unknown backends: exit 2, FILE:LINE, and nothing made in the data folder.
bad() {
	local what=$1 line=$2 msg=$3 rc=0
	printf '%s' "$4" >"$TMP/bad.conf"
	timeout 10 "$BIN" serve --listen 127.0.0.1:0 --data "$TMP/fresh" -c "$TMP/bad.conf" \
		>"$TMP/bad.out" 2>&1 || rc=$?
	check "$what: exit status 2 (got $rc)" [ "$rc" = 2 ]
	check "$what: says FILE:LINE: $msg" grep -qF "$TMP/bad.conf:$line: $msg" "$TMP/bad.out"
	check "$what: no data folder made" [ ! -e "$TMP/fresh" ]
}
bad "storage = gcs" 2 "invalid storage 'gcs' (expected filesystem or s3)" \
	$'# a comment\nstorage = gcs\n'
bad "metadata = mysql" 1 "invalid metadata 'mysql' (expected sqlite or postgres)" \
	$'metadata = mysql\nstorage = filesystem\n'
# metadata = postgres without where, or with a server that is not there:
# exit 1 at start, saying which
pg_bad() {
	local what=$1 msg=$2 rc=0
	printf '%s' "$3" >"$TMP/bad.conf"
	timeout 10 "$BIN" serve --listen 127.0.0.1:0 --data "$TMP/pgbad" -c "$TMP/bad.conf" \
		>"$TMP/bad.out" 2>&1 || rc=$?
	check "$what: exit status 1 (got $rc)" [ "$rc" = 1 ]
	check "$what: says $msg" grep -qF "$msg" "$TMP/bad.out"
}
pg_bad "metadata = postgres without postgres" "metadata = postgres needs postgres = CONNINFO" \
	$'metadata = postgres\n'
pg_bad "a PostgreSQL that is not there" "cannot connect to PostgreSQL" \
	$'metadata = postgres\npostgres = "host=/nonexistent dbname=registry"\n'
check "...its connection string (a password, maybe) not logged as the index's name" \
	bash -c "! grep -q 'metadata index host=' '$TMP/bad.out'"
bad "empty storage" 1 "invalid storage '' (expected filesystem or s3)" $'storage =\n'

summary
