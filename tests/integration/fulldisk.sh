#!/bin/bash
# Run by test_crash.sh inside a private mount namespace with a 3 MiB tmpfs at
# $2 as the data folder: a push that does not fit fails with 507 and leaves
# nothing behind, earlier pushes stay, and pushes work again once space is
# freed.
set -u
. "$(dirname "$0")/lib.sh"
BIN=$1
DATA=$2
rm -rf "$TMP/data"
ln -s "$DATA" "$TMP/data"
reg_start "$BIN"

printf 'small and complete' >"$TMP/small"
DS=$(sha256 "$TMP/small")
req POST "/v2/full/app/blobs/uploads/?digest=$DS" --data-binary @"$TMP/small"
expect "small push before the disk fills" 201

head -c 8000000 /dev/urandom >"$TMP/huge"
DH=$(sha256 "$TMP/huge")
req POST "/v2/full/app/blobs/uploads/?digest=$DH" --data-binary @"$TMP/huge"
expect "push larger than the disk" 507
req POST /v2/full/app/blobs/uploads/
LOC=$(hdr Location)
req PATCH "$LOC" --data-binary @"$TMP/huge"
expect "PATCH larger than the disk" 507
req HEAD "/v2/full/app/blobs/$DH"
expect "no half blob visible" 404
check "upload files removed after the failure" [ -z "$(ls "$DATA/uploads")" ]
req GET "/v2/full/app/blobs/$DS"
check "earlier push intact" cmp -s "$TMP/b" "$TMP/small"

head -c 1000000 /dev/urandom >"$TMP/fits"
DF=$(sha256 "$TMP/fits")
req POST "/v2/full/app/blobs/uploads/?digest=$DF" --data-binary @"$TMP/fits"
expect "push that fits, after the failure" 201
req GET "/v2/full/app/blobs/$DF"
check "it is served intact" cmp -s "$TMP/b" "$TMP/fits"
reg_stop
summary
