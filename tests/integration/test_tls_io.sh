#!/bin/bash
# How the bytes of a blob move, read from the running server (the speed
# itself is make bench's: a machine shared with other work cannot time it):
#   - a pull over HTTPS reads the blob in large blocks and sends full TLS
#     records (libmicrohttpd's own file responses read 4 KiB at a time, one
#     pread, one record and one sendmsg each: half the pull's CPU), and
#     arrives byte-exact, Range too;
#   - a blob just pushed (the staged path writes it with O_DIRECT, past the
#     page cache) is in the page cache once its push is answered, so the
#     first pull after a push is served from memory (fincore);
#   - a push over HTTPS arrives byte-exact;
#   - TLS sessions resume (tickets, TLS 1.3 and 1.2: libmicrohttpd does not
#     enable them itself), and 256 TLS connections at once, each carrying
#     several requests (keep-alive), all succeed.
# strace, fincore (util-linux) and openssl s_client are what it reads them with.
set -u
. "$(dirname "$0")/lib.sh"
BIN=$1
CERTS=$TMP/tls
mkdir -p "$TMP/data"
MIB=8

check "strace is installed (deploy/install-deps.sh --test)" bash -c "command -v strace >/dev/null"
check "fincore is installed (util-linux)" bash -c "command -v fincore >/dev/null"

"$BIN" cert 127.0.0.1 --out "$CERTS" >/dev/null
cat >"$TMP/tls.conf" <<EOF
tls_cert = $CERTS/server.crt
tls_key = $CERTS/server.key
listen_plain = 127.0.0.1:0
gc_interval = 0
EOF
: >"$REG_LOG"
"$BIN" serve -c "$TMP/tls.conf" --listen 127.0.0.1:0 --data "$TMP/data" 2>>"$REG_LOG" &
REG_PID=$!
for _ in $(seq 1 100); do
	PORT=$(sed -n 's/.*(port \([0-9]*\)) with TLS.*/\1/p' "$REG_LOG" | tail -1)
	PLAIN=$(sed -n 's/.*plain HTTP also on .*, port=\([0-9]*\).*/\1/p' "$REG_LOG" | tail -1)
	[ -n "$PORT" ] && curl -s -o /dev/null --cacert "$CERTS/ca.crt" "https://127.0.0.1:$PORT/v2/" && break
	sleep 0.1
done
check "HTTPS listener up ($PORT)" [ -n "$PORT" ]
TLS="https://127.0.0.1:$PORT"
BASE=$TLS
CA=(--cacert "$CERTS/ca.crt")

# push FILE BASE: POST, then one streamed PUT ?digest=, as bench/tls.sh does
push() {
	local d loc
	d=$(sha256 "$1")
	loc=$(curl -s "${CA[@]}" -D - -o /dev/null -X POST "$2/v2/io/blobs/uploads/" |
		tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
	case $loc in *\?*) loc="$loc&" ;; *) loc="$loc?" ;; esac
	curl -s "${CA[@]}" -o /dev/null -w '%{http_code}' -X PUT -H 'Expect:' \
		-H 'Content-Type: application/octet-stream' -T "$1" "$2${loc}digest=$d"
}
# blobfile DIGEST: where the store keeps it (README: blobs/sha256/ab/HEX)
blobfile() {
	local hex=${1#sha256:}
	echo "$TMP/data/blobs/sha256/${hex:0:2}/$hex"
}
# cached FILE: bytes of FILE in the page cache
cached() { fincore -b -n -o RES "$1" | tr -d ' '; }

# ---- a push over HTTPS: byte-exact, and in the page cache when answered ----
head -c $((MIB * 1024 * 1024)) /dev/urandom >"$TMP/blob"
D=$(sha256 "$TMP/blob")
check "push of $MIB MiB over HTTPS: 201" [ "$(push "$TMP/blob" "$TLS")" = 201 ]
F=$(blobfile "$D")
check "the blob is stored" [ -s "$F" ]
# The read-back runs while the push arrives (stage.c): by the 201 it is
# done or in flight, so a moment's wait at most.
# Without the read-back none of it would be cached (O_DIRECT); with it,
# all of it, less what the kernel may reclaim meanwhile (these machines
# run DAMON reclaim, which took 11 of 2048 pages once): most is enough.
res=0
for _ in $(seq 1 20); do
	res=$(cached "$F")
	[ "$res" -ge $((MIB * 1024 * 1024)) ] && break
	sleep 0.1
done
check "a just-pushed blob is in the page cache ($res of $((MIB * 1024 * 1024)) bytes)" \
	[ "$res" -ge $((MIB * 1024 * 1024 * 3 / 4)) ]
check "...byte-exact" cmp -s "$F" "$TMP/blob" # (reading it caches it: after)

# ---- a pull over HTTPS: large reads, full records ----
SERVER=$REG_PID
strace -f -qq -o "$TMP/trace" -e trace=pread64,sendmsg,sendto,write,writev -p "$SERVER" 2>/dev/null &
ST_PID=$!
for _ in $(seq 1 50); do
	[ "$(awk '/^TracerPid:/ { print $2 }' "/proc/$SERVER/status")" != 0 ] && break
	sleep 0.1
done
if [ "$(awk '/^TracerPid:/ { print $2 }' "/proc/$SERVER/status")" = 0 ]; then
	kill "$ST_PID" 2>/dev/null
	reg_wait "$ST_PID" 5
	skip "ptrace is not permitted here: the pull's reads and records cannot be traced"
else
	sleep 0.3 # every thread attached
	CODE=$(curl -s "${CA[@]}" -o "$TMP/got" -w '%{http_code}' "$TLS/v2/io/blobs/$D")
	kill -INT "$ST_PID"
	reg_wait "$ST_PID" 10
	check "pull over HTTPS: 200 ($CODE)" [ "$CODE" = 200 ]
	check "...byte-exact" cmp -s "$TMP/got" "$TMP/blob"
	preads=$(grep -c 'pread64(' "$TMP/trace")
	# the records: sendmsg/write calls that carried the body
	sends=$(grep -E 'sendmsg\(|sendto\(|write\(|writev\(' "$TMP/trace" | grep -vc 'resumed> ) *= [0-9]\{1,3\}$')
	big=$(grep -E '(sendmsg|sendto|writev?)\(' "$TMP/trace" |
		sed -n 's/.*= \([0-9]*\)$/\1/p' | awk '$1 >= 16384 { n++ } END { print n + 0 }')
	# 8 MiB in 16 KiB records is 512; in 64 KiB reads 128. Before, each
	# was 2048 (4 KiB apiece).
	check "pull over HTTPS: at most $((MIB * 16 + 8)) reads of the blob, 64 KiB each ($preads)" \
		[ "$preads" -le $((MIB * 16 + 8)) ]
	check "...sent in full 16 KiB records: at least $((MIB * 64 - 8)) of them ($big)" \
		[ "$big" -ge $((MIB * 64 - 8)) ]
	check "...and few sends in all ($sends, at most $((MIB * 64 + 64)))" [ "$sends" -le $((MIB * 64 + 64)) ]
fi
CODE=$(curl -s "${CA[@]}" -o "$TMP/part" -w '%{http_code}' -H 'Range: bytes=70000-200000' "$TLS/v2/io/blobs/$D")
check "Range over HTTPS: 206 ($CODE)" [ "$CODE" = 206 ]
check "...the bytes asked for" bash -c "tail -c +70001 '$TMP/blob' | head -c 130001 | cmp -s - '$TMP/part'"
CODE=$(curl -s "${CA[@]}" -o "$TMP/got2" -w '%{http_code}' "http://127.0.0.1:$PLAIN/v2/io/blobs/$D")
check "the same blob over plain HTTP (sendfile) is byte-exact ($CODE)" cmp -s "$TMP/got2" "$TMP/blob"

# ---- session resumption: a reconnecting client skips the full handshake ----
for v in 1.3 1.2; do
	rm -f "$TMP/sess"
	(printf 'GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n'; sleep 0.5) |
		timeout 10 openssl s_client -tls${v/./_} -connect "127.0.0.1:$PORT" -CAfile "$CERTS/ca.crt" \
			-sess_out "$TMP/sess" >"$TMP/s1" 2>&1
	(printf 'GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n'; sleep 0.5) |
		timeout 10 openssl s_client -tls${v/./_} -connect "127.0.0.1:$PORT" -CAfile "$CERTS/ca.crt" \
			-sess_in "$TMP/sess" >"$TMP/s2" 2>&1
	check "TLS $v: a first connection is a full handshake" grep -q "^New, TLSv$v" "$TMP/s1"
	check "TLS $v: the next one resumes its session" grep -q "^Reused, TLSv$v" "$TMP/s2"
	check "TLS $v: ...and is answered" grep -q '^HTTP/1.1 200' "$TMP/s2"
done

# ---- 256 TLS connections at once, each used for several requests ----
# curl's parallel mode keeps 256 connections and reuses them (keep-alive);
# %{num_connects} is 0 for a request on a connection already open.
N=1024
for i in $(seq 1 "$N"); do
	if ((i % 2)); then
		printf 'url = "%s/v2/io/blobs/%s"\noutput = "/dev/null"\n' "$TLS" "$D"
	else
		printf 'url = "%s/v2/"\noutput = "/dev/null"\n' "$TLS"
	fi
done >"$TMP/many.curl"
curl -s --no-progress-meter "${CA[@]}" --parallel --parallel-immediate --parallel-max 256 \
	-w '%{http_code} %{num_connects} %{size_download}\n' -K "$TMP/many.curl" >"$TMP/many.out" 2>"$TMP/many.err"
ok=$(awk -v s=$((MIB * 1024 * 1024)) '$1 == 200 && ($3 == s || $3 == 2) { n++ } END { print n + 0 }' "$TMP/many.out")
conns=$(awk '{ n += $2 } END { print n + 0 }' "$TMP/many.out")
check "$N requests over 256 parallel TLS connections: all 200 and whole ($ok)" [ "$ok" = "$N" ]
check "...on at most 256 connections: the rest reused them ($conns)" [ "$conns" -le 256 ]
check "...some reused ($conns < $N)" [ "$conns" -lt "$N" ]
req GET /v2/ "${CA[@]}"
expect "the server answers after it" 200
reg_stop
summary
