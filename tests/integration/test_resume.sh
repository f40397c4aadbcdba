#!/bin/bash
# An upload session resumed after a restart belongs to the repository it
# was started in: after the restart the session is not in memory, so the
# check is the one against its metadata row (sessions_checkout). Requests
# naming it under another repository get 404 BLOB_UPLOAD_UNKNOWN and change
# nothing; the right repository resumes and commits it.
set -u
. "$(dirname "$0")/lib.sh"
BIN=$1

head -c 300000 /dev/urandom >"$TMP/blob"
head -c 100000 "$TMP/blob" >"$TMP/part1"
tail -c +100001 "$TMP/blob" >"$TMP/part2"
D=$(sha256 "$TMP/blob")

reg_start "$BIN"
req POST /v2/res/a/blobs/uploads/
expect "session started in res/a" 202
LOC=$(hdr Location)
ID=${LOC##*/}
check "Location names res/a" [ "$LOC" = "/v2/res/a/blobs/uploads/$ID" ]
req PATCH "$LOC" --data-binary @"$TMP/part1"
expect "first 100000 bytes" 202
reg_stop
reg_start "$BIN"

# Before anything loads it into memory: every method, under res/b.
OTHER=/v2/res/b/blobs/uploads/$ID
req GET "$OTHER"
expect "after restart, GET under another repository" 404 BLOB_UPLOAD_UNKNOWN
req PATCH "$OTHER" -H 'Content-Range: 100000-299999' --data-binary @"$TMP/part2"
expect "after restart, PATCH under another repository" 404 BLOB_UPLOAD_UNKNOWN
req PUT "$OTHER?digest=$D" -H 'Content-Range: 100000-299999' --data-binary @"$TMP/part2"
expect "after restart, PUT under another repository" 404 BLOB_UPLOAD_UNKNOWN
req DELETE "$OTHER"
expect "after restart, DELETE under another repository" 404 BLOB_UPLOAD_UNKNOWN
req GET "/v2/res/b/blobs/$D"
expect "nothing was committed to res/b" 404 BLOB_UNKNOWN
check "the upload file is untouched (100000 bytes)" [ "$(stat -c %s "$TMP/data/uploads/$ID")" = 100000 ]

# The right repository resumes where it was.
req GET "$LOC"
expect "res/a: the session survived" 204
check "res/a: with its 100000 bytes" [ "$(hdr Range)" = 0-99999 ]
# Now in memory under res/a: another repository is still refused.
req PATCH "$OTHER" --data-binary @"$TMP/part2"
expect "in memory, PATCH under another repository" 404 BLOB_UPLOAD_UNKNOWN
req PATCH "$LOC" -H 'Content-Range: 100000-299999' --data-binary @"$TMP/part2"
expect "res/a: the rest" 202
req PUT "$LOC?digest=$D"
expect "res/a: commits" 201
req GET "/v2/res/a/blobs/$D"
expect "res/a: the blob" 200
check "res/a: byte for byte" cmp -s "$TMP/b" "$TMP/blob"
req GET "/v2/res/b/blobs/$D"
expect "res/b still does not have it" 404 BLOB_UNKNOWN
reg_stop
summary
