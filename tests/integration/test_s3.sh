#!/bin/bash
# test_s3.sh - the S3 blob store (storage = s3) against a real Ceph RGW:
# blobs of every size class, chunked uploads, resume after a restart, digest
# mismatch, Range, s3_redirect, start-up errors, gc, du, scrub, the sweep of
# abandoned multipart uploads, and S3 going away half-way through a push and
# a pull (503 while it is gone, both work again once it is back).
# RGW: the one `make integration-s3` started (RGW_ENV names its env file),
# else one of our own (tests/rgw.sh), stopped at exit.
# needs: rgw (integration-s3 runs it; alone it starts its own)
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
BIN=${1:-build/registry}
HERE=$(cd "$(dirname "$0")" && pwd)
unset REGISTRY_TEST_S3_CONF # this script writes its own configuration

OWN_RGW=
PROXY_PID=
s3_cleanup() {
	[ -n "$PROXY_PID" ] && kill "$PROXY_PID" 2>/dev/null
	[ -n "$OWN_RGW" ] && "$HERE/../rgw.sh" stop "$OWN_RGW"
	reg_cleanup
}
trap s3_cleanup EXIT

if [ -n "${RGW_ENV:-}" ] && [ -f "$RGW_ENV" ]; then
	. "$RGW_ENV"
else
	OWN_RGW=$TMP/rgw
	if ! "$HERE/../rgw.sh" start "$OWN_RGW" >"$TMP/rgw.out" 2>&1; then
		cat "$TMP/rgw.out" >&2
		skip "test_s3: Ceph RGW cannot start here (deploy/install-deps.sh --test installs it)"
		summary
		exit
	fi
	. "$OWN_RGW/env"
fi

BUCKET=t$$-$RANDOM
# s3curl METHOD PATH [curl args]: a signed request straight to RGW; sets CODE, $TMP/s3b.
s3curl() {
	local m=$1 p=$2
	shift 2
	CODE=$(curl -s -o "$TMP/s3b" -w '%{http_code}' --aws-sigv4 "aws:amz:us-east-1:s3" \
		-u "$RGW_ACCESS:$RGW_SECRET" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' \
		-X "$m" "$@" "$RGW_ENDPOINT$p")
}
s3curl PUT "/$BUCKET"
check "bucket created" [ "$CODE" = 200 ]

printf '%s:%s\n' "$RGW_ACCESS" "$RGW_SECRET" >"$TMP/cred"
chmod 600 "$TMP/cred"
conf() { # conf FILE [extra lines...]
	local f=$1
	shift
	{
		echo "storage = s3"
		echo "s3_endpoint = ${ENDPOINT:-$RGW_ENDPOINT}"
		echo "s3_bucket = $BUCKET"
		echo "s3_credentials = $TMP/cred"
		echo "s3_part_size = 5M"
		echo "s3_prefix = reg/"
		printf '%s\n' "$@"
	} >"$f"
}
MIB=$((1024 * 1024))
q() { case $1 in *\?*) echo '&' ;; *) echo '?' ;; esac; }
key_of() { echo "/$BUCKET/reg/blobs/sha256/${1#sha256:}"; }

# ---- start-up errors ----
conf "$TMP/nob.conf" && sed -i "s/^s3_bucket = .*/s3_bucket = nosuch-$$/" "$TMP/nob.conf"
"$BIN" serve -c "$TMP/nob.conf" --listen 127.0.0.1:0 --data "$TMP/d0" 2>"$TMP/nob.log" &
pid=$!
reg_wait "$pid" 20
rc=$?
check "missing bucket: start fails" [ "$rc" != 0 ] && [ "$rc" != 137 ]
check "missing bucket: says so" grep -q "bucket 'nosuch-$$' does not exist" "$TMP/nob.log"
echo "$RGW_ACCESS:wrongsecret" >"$TMP/badcred"
chmod 644 "$TMP/badcred"
conf "$TMP/bad.conf" && sed -i "s|^s3_credentials = .*|s3_credentials = $TMP/badcred|" "$TMP/bad.conf"
"$BIN" serve -c "$TMP/bad.conf" --listen 127.0.0.1:0 --data "$TMP/d0" 2>"$TMP/bad.log" &
pid=$!
reg_wait "$pid" 20
rc=$?
check "bad credentials: start fails" [ "$rc" != 0 ] && [ "$rc" != 137 ]
check "bad credentials: says denied" grep -q "denied" "$TMP/bad.log"
check "readable credentials file: warned" grep -q "can be read by others" "$TMP/bad.log"

# ---- push and pull, every size class (parts of 5 MiB) ----
conf "$TMP/s3.conf" "gc_delay = 0" "upload_ttl = 2s"
reg_start "$BIN" -c "$TMP/s3.conf"
push() { # push FILE: monolithic POST ?digest=
	req POST "/v2/s3/t/blobs/uploads/?digest=$(sha256 "$1")" --data-binary @"$1" \
		-H 'Content-Type: application/octet-stream'
}
for size in 0 1 $((5 * MIB)) $((5 * MIB + 1)) $((17 * MIB + 3)); do
	head -c "$size" /dev/urandom >"$TMP/blob$size"
	d=$(sha256 "$TMP/blob$size")
	push "$TMP/blob$size"
	expect "push $size B" 201
	req GET "/v2/s3/t/blobs/$d"
	check "pull $size B: same bytes" cmp -s "$TMP/b" "$TMP/blob$size"
	s3curl HEAD "$(key_of "$d")" -I
	check "$size B: object at its digest's key" [ "$CODE" = 200 ]
done
# (listings: '/' encoded and names sorted, or the signature fails and an
# error body would pass the "nothing listed" checks)
s3curl GET "/$BUCKET?list-type=2&prefix=reg%2Fuploads%2F"
check "listing the upload parts answered 200" [ "$CODE" = 200 ]
check "no upload parts left after the commits" bash -c "! grep -q '<Key>' '$TMP/s3b'"

# ---- chunked PATCH, odd chunk sizes ----
big=$TMP/blob$((17 * MIB + 3))
d=$(sha256 "$big")
req POST /v2/s3/c/blobs/uploads/
loc=$(hdr Location)
off=0
total=$(stat -c %s "$big")
for chunk in 1 4097 $((3 * MIB + 7)) $((5 * MIB)) $((2 * MIB + 13)) 999999999; do
	[ "$off" -ge "$total" ] && break
	n=$((chunk < total - off ? chunk : total - off))
	tail -c +$((off + 1)) "$big" | head -c "$n" >"$TMP/chunk"
	CODE=$(curl -s -o "$TMP/b" -D "$TMP/h" -w '%{http_code}' -X PATCH --data-binary @"$TMP/chunk" \
		-H "Content-Range: $off-$((off + n - 1))" -H 'Content-Type: application/octet-stream' "$BASE$loc")
	check "PATCH $n B at $off: 202" [ "$CODE" = 202 ]
	loc=$(hdr Location)
	off=$((off + n))
done
CODE=$(curl -s -o "$TMP/b" -w '%{http_code}' -X PUT "$BASE$loc$(q "$loc")digest=$d")
check "chunked upload committed: 201" [ "$CODE" = 201 ]
req GET "/v2/s3/c/blobs/$d"
check "chunked upload: same bytes" cmp -s "$TMP/b" "$big"

# ---- Range ----
req GET "/v2/s3/t/blobs/$d" -H "Range: bytes=$((5 * MIB - 10))-$((5 * MIB + 9))"
check "Range across a part boundary: 206" [ "$CODE" = 206 ]
check "Range: the right 20 bytes" cmp -s "$TMP/b" <(tail -c +$((5 * MIB - 9)) "$big" | head -c 20)

# ---- digest mismatch leaves nothing visible ----
head -c $((6 * MIB)) /dev/urandom >"$TMP/mis"
wrong=$(sha256 "$TMP/blob1")x
wrong=sha256:$(printf '%064d' 7)
req POST "/v2/s3/t/blobs/uploads/?digest=$wrong" --data-binary @"$TMP/mis"
expect "digest mismatch" 400 DIGEST_INVALID
s3curl HEAD "$(key_of "$wrong")" -I
check "mismatch: nothing at the claimed digest" [ "$CODE" = 404 ]
s3curl HEAD "$(key_of "$(sha256 "$TMP/mis")")" -I
check "mismatch: nothing at the real digest" [ "$CODE" = 404 ]

# ---- resume after a restart mid-upload ----
head -c $((12 * MIB + 5)) /dev/urandom >"$TMP/res"
d=$(sha256 "$TMP/res")
req POST /v2/s3/r/blobs/uploads/
loc=$(hdr Location)
head -c $((7 * MIB)) "$TMP/res" >"$TMP/chunk"
CODE=$(curl -s -o "$TMP/b" -D "$TMP/h" -w '%{http_code}' -X PATCH --data-binary @"$TMP/chunk" \
	-H "Content-Range: 0-$((7 * MIB - 1))" -H 'Content-Type: application/octet-stream' "$BASE$loc")
check "resume: first PATCH 202" [ "$CODE" = 202 ]
loc=$(hdr Location)
reg_stop
reg_start "$BIN" -c "$TMP/s3.conf"
req GET "$loc"
check "resume: status after restart 204" [ "$CODE" = 204 ]
check "resume: Range says 7 MiB stored" [ "$(hdr Range)" = "0-$((7 * MIB - 1))" ]
tail -c +$((7 * MIB + 1)) "$TMP/res" >"$TMP/chunk"
CODE=$(curl -s -o "$TMP/b" -D "$TMP/h" -w '%{http_code}' -X PUT --data-binary @"$TMP/chunk" \
	-H 'Content-Type: application/octet-stream' "$BASE$loc$(q "$loc")digest=$d")
check "resume: commit after restart 201" [ "$CODE" = 201 ]
req GET "/v2/s3/r/blobs/$d"
check "resume: same bytes" cmp -s "$TMP/b" "$TMP/res"

# ---- s3_redirect ----
reg_stop
conf "$TMP/s3r.conf" "s3_redirect = on"
reg_start "$BIN" -c "$TMP/s3r.conf"
req GET "/v2/s3/r/blobs/$d"
check "redirect: 307" [ "$CODE" = 307 ]
url=$(hdr Location)
check "redirect: a presigned URL" bash -c "[[ '$url' == *X-Amz-Signature=* ]]"
curl -s -o "$TMP/pre" "$url"
check "redirect: the URL gives the bytes" cmp -s "$TMP/pre" "$TMP/res"
req HEAD "/v2/s3/r/blobs/$d"
check "redirect: HEAD still answered here" [ "$CODE" = 200 ]
reg_stop

# ---- abandoned uploads: parts and multipart uploads swept ----
s3curl POST "/$BUCKET/reg/blobs/sha256/$(printf '%064d' 1)?uploads="
check "a stray multipart upload made" [ "$CODE" = 200 ]
req_start_patch() {
	reg_start "$BIN" -c "$TMP/s3.conf"
	req POST /v2/s3/a/blobs/uploads/
	loc=$(hdr Location)
	CODE=$(curl -s -o /dev/null -w '%{http_code}' -X PATCH --data-binary @"$TMP/blob1" \
		-H "Content-Range: 0-0" -H 'Content-Type: application/octet-stream' "$BASE$loc")
	reg_stop
}
req_start_patch
s3curl GET "/$BUCKET?list-type=2&prefix=reg%2Fuploads%2F"
check "the abandoned upload left its part" grep -q '<Key>reg/uploads/[^<]*/p00001</Key>' "$TMP/s3b"
s3curl GET "/$BUCKET?prefix=reg%2F&uploads="
check "the stray multipart upload is listed" grep -q '<UploadId>' "$TMP/s3b"
sleep 3
reg_start "$BIN" -c "$TMP/s3.conf" # the sweep at open: upload_ttl = 2s
sleep 1
s3curl GET "/$BUCKET?list-type=2&prefix=reg%2Fuploads%2F"
check "listing after the sweep answered 200" [ "$CODE" = 200 ]
check "abandoned upload's parts removed" bash -c "! grep -q '<Key>' '$TMP/s3b'"
s3curl GET "/$BUCKET?prefix=reg%2F&uploads="
check "listing multipart uploads answered 200" [ "$CODE" = 200 ]
check "abandoned multipart upload aborted" bash -c "! grep -q '<UploadId>' '$TMP/s3b'"
reg_stop

# ---- du, scrub, gc ----
"$BIN" du -c "$TMP/s3.conf" --data "$TMP/data" >"$TMP/du" 2>&1
check "du runs on s3" [ $? = 0 ]
"$BIN" scrub -c "$TMP/s3.conf" --data "$TMP/data" >"$TMP/scrub" 2>&1
check "scrub runs on s3" [ $? = 0 ]
d=$(sha256 "$TMP/blob1")
"$BIN" gc -c "$TMP/s3.conf" --data "$TMP/data" >"$TMP/gc" 2>&1
check "gc runs on s3" [ $? = 0 ]
s3curl HEAD "$(key_of "$d")" -I
check "gc removed an unreferenced blob's object" [ "$CODE" = 404 ]
"$BIN" backup "$TMP/bk" -c "$TMP/s3.conf" --data "$TMP/data" >"$TMP/bk.log" 2>&1
rc=$?
check "backup on s3 fails cleanly" [ "$rc" != 0 ] && [ "$rc" -lt 128 ]
check "backup on s3 says why" grep -q "own tools" "$TMP/bk.log"

# ---- S3 going away half-way through a push ----
# A TCP pass-through to RGW on PPORT, killed to cut S3 off and started
# again on the same port to bring it back.
PPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
start_s3_proxy() {
	python3 - "$PPORT" "${RGW_ENDPOINT##*:}" <<'PY' &
import socket, sys, threading
lp, rp = int(sys.argv[1]), int(sys.argv[2])
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", lp)); srv.listen(64)
def pipe(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d: break
            b.sendall(d)
    except OSError: pass
    for s in (a, b):
        try: s.close()
        except OSError: pass
while True:
    c, _ = srv.accept()
    u = socket.create_connection(("127.0.0.1", rp))
    threading.Thread(target=pipe, args=(c, u), daemon=True).start()
    threading.Thread(target=pipe, args=(u, c), daemon=True).start()
PY
	PROXY_PID=$!
	local i
	for i in $(seq 1 50); do
		(exec 3<>"/dev/tcp/127.0.0.1/$PPORT") 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
start_s3_proxy
ENDPOINT=http://127.0.0.1:$PPORT conf "$TMP/px.conf"
reg_start "$BIN" -c "$TMP/px.conf"
head -c $((30 * MIB)) /dev/urandom >"$TMP/cut"
d=$(sha256 "$TMP/cut")
curl -s -o "$TMP/cutb" -w '%{http_code}' --limit-rate 8M -X POST --data-binary @"$TMP/cut" \
	-H 'Content-Type: application/octet-stream' "$BASE/v2/s3/x/blobs/uploads/?digest=$d" >"$TMP/cutcode" &
cpid=$!
sleep 1.5
kill "$PROXY_PID"
reg_wait "$PROXY_PID" 10
PROXY_PID=
reg_wait "$cpid" 60
code=$(cat "$TMP/cutcode")
check "S3 gone mid-push: an error answer ($code), not 201" bash -c "[ '$code' != 201 ] && [ '$code' -ge 400 ]"
check "S3 gone mid-push: OCI error body" grep -q '"errors"' "$TMP/cutb"
s3curl HEAD "$(key_of "$d")" -I
check "S3 gone mid-push: nothing visible" [ "$CODE" = 404 ]
req POST "/v2/s3/x/blobs/uploads/?digest=$(sha256 "$TMP/blob1")" --data-binary @"$TMP/blob1" \
	-H 'Content-Type: application/octet-stream'
check "S3 still gone: a push is answered 503 ($CODE)" [ "$CODE" = 503 ]
check "...with an OCI error body" grep -q '"code":"UNAVAILABLE"' "$TMP/b"
check "the server lived through it" kill -0 "$REG_PID"

# S3 back on the same address: the same server pushes and pulls again
start_s3_proxy
req POST "/v2/s3/x/blobs/uploads/?digest=$d" --data-binary @"$TMP/cut" -H 'Content-Type: application/octet-stream'
check "S3 back: the cut push again, 201 ($CODE)" [ "$CODE" = 201 ]
req GET "/v2/s3/x/blobs/$d"
check "S3 back: its bytes" cmp -s "$TMP/b" "$TMP/cut"

# ---- S3 going away half-way through a pull ----
curl -s -o "$TMP/pullb" -w '%{http_code}' --limit-rate 8M -m 60 \
	"$BASE/v2/s3/x/blobs/$d" >"$TMP/pullcode" 2>/dev/null &
cpid=$!
sleep 1.5
kill "$PROXY_PID"
reg_wait "$PROXY_PID" 10
PROXY_PID=
reg_wait "$cpid" 60
crc=$?
got=$(stat -c %s "$TMP/pullb" 2>/dev/null || echo 0)
check "S3 gone mid-pull: the client sees the transfer fail (curl $crc), not hang" \
	bash -c "[ '$crc' != 0 ] && [ '$crc' != 28 ] && [ '$crc' -lt 128 ]"
check "S3 gone mid-pull: fewer bytes than the blob ($got), never a whole wrong one" \
	[ "$got" -lt $((30 * MIB)) ]
check "S3 gone mid-pull: what came is the blob's start" cmp -s "$TMP/pullb" "$TMP/cut" -n "$got"
req GET "/v2/s3/x/blobs/$d"
check "S3 gone: the next pull is answered 503 ($CODE)" [ "$CODE" = 503 ]
check "...with an OCI error body" grep -q '"code":"UNAVAILABLE"' "$TMP/b"
start_s3_proxy
req GET "/v2/s3/x/blobs/$d"
check "S3 back: the pull works again" cmp -s "$TMP/b" "$TMP/cut"
check "the server lived through it all" kill -0 "$REG_PID"
kill "$PROXY_PID"
PROXY_PID=
reg_stop

# ---- upload buffers in all stay under s3_memory ----
# Three 12 MiB pushes at once, slowed so they overlap, each counting one
# 5 MiB part, against s3_memory = 10M: the third is refused with 503 as it
# starts, the other two complete; once they end the budget
# is whole again (two at once fit: nothing leaked).
conf "$TMP/s3m.conf" "s3_memory = 10M"
reg_start "$BIN" -c "$TMP/s3m.conf"
head -c $((12 * MIB)) /dev/urandom >"$TMP/mem"
dm=$(sha256 "$TMP/mem")
mem_push() { # mem_push N REPO...: N slowed pushes at once; codes in $TMP/memN.code
	local i pids=() p
	for i in $(seq 1 "$1"); do
		curl -s -o "$TMP/mem$i.out" -w '%{http_code}' --limit-rate 4M -X POST \
			-H 'Content-Type: application/octet-stream' --data-binary @"$TMP/mem" \
			"$BASE/v2/s3/mem$i/blobs/uploads/?digest=$dm" >"$TMP/mem$i.code" &
		pids+=($!)
	done
	for p in "${pids[@]}"; do reg_wait "$p" 60; done
}
mem_push 3
codes=$(cat "$TMP"/mem[123].code | sort | tr '\n' ' ')
n503=$(grep -l '^503$' "$TMP"/mem[123].code | wc -l)
n201=$(grep -l '^201$' "$TMP"/mem[123].code | wc -l)
check "s3_memory: one push past it is refused, two complete (codes: $codes)" \
	bash -c "[ $n503 = 1 ] && [ $n201 = 2 ]"
for i in 1 2 3; do
	if [ "$(cat "$TMP/mem$i.code")" = 503 ]; then
		check "s3_memory: refusal $i is an OCI UNAVAILABLE error" grep -q '"code":"UNAVAILABLE"' "$TMP/mem$i.out"
		req HEAD "/v2/s3/mem$i/blobs/$dm"
		check "s3_memory: the refused push left nothing in mem$i ($CODE)" [ "$CODE" = 404 ]
	else
		req GET "/v2/s3/mem$i/blobs/$dm"
		check "s3_memory: push $i pulled back byte-exact" cmp -s "$TMP/b" "$TMP/mem"
	fi
done
check "s3_memory: the refusal is logged" grep -q 's3_memory' "$REG_LOG"
mem_push 2
check "s3_memory: after them two at once fit (nothing leaked): $(cat "$TMP"/mem[12].code | tr '\n' ' ')" \
	bash -c "[ \"\$(cat '$TMP/mem1.code')\" = 201 ] && [ \"\$(cat '$TMP/mem2.code')\" = 201 ]"
check "the server lived through it" kill -0 "$REG_PID"
reg_stop

summary
