#!/bin/bash
# SIGTERM with requests in flight: the registry stops accepting at once,
# lets a slow upload, a slow monolithic push and a slow download finish,
# exits 0, and everything they sent is there after a restart. An idle
# keep-alive connection does not hold the exit up; a stalled client holds it
# no longer than the connection timeout.
set -u
. "$(dirname "$0")/lib.sh"
BIN=$1
printf 'connection_timeout = 2s\n' >"$TMP/short.conf"

# term_and_time: SIGTERM, wait; sets RC and TOOK (whole seconds).
term_and_time() {
	local start=$SECONDS
	kill -TERM "$REG_PID"
	RC=0
	reg_wait "$REG_PID" || RC=$?
	REG_PID=
	TOOK=$((SECONDS - start))
	check "no sanitizer report" bash -c "! grep -qE 'Sanitizer|runtime error' '$REG_LOG'"
}

reg_start "$BIN" -c "$TMP/short.conf"
head -c 600000 /dev/urandom >"$TMP/up"
head -c 600000 /dev/urandom >"$TMP/mono"
head -c 2000000 /dev/urandom >"$TMP/down"
DUP=$(sha256 "$TMP/up")
DMONO=$(sha256 "$TMP/mono")
DDOWN=$(sha256 "$TMP/down")
req POST "/v2/stop/app/blobs/uploads/?digest=$DDOWN" --data-binary @"$TMP/down"
expect "blob to download" 201
req POST /v2/stop/app/blobs/uploads/
LOC=$(hdr Location)

# Three slow requests, about 3 s each, then SIGTERM 1 s in. (The kernel may
# take the whole download into its socket buffer, so the registry may count
# only the two uploads as in flight.)
curl -s -o /dev/null -w '%{http_code}' -X PATCH --limit-rate 200K \
	--data-binary @"$TMP/up" "$BASE$LOC" >"$TMP/patch.code" &
P1=$!
curl -s -o /dev/null -w '%{http_code}' -X POST --limit-rate 200K --data-binary @"$TMP/mono" \
	"$BASE/v2/stop/app/blobs/uploads/?digest=$DMONO" >"$TMP/mono.code" &
P2=$!
curl -s -o "$TMP/got" -w '%{http_code}' --limit-rate 700K "$BASE/v2/stop/app/blobs/$DDOWN" \
	>"$TMP/down.code" &
P3=$!
sleep 1
kill -TERM "$REG_PID"
sleep 0.3
req GET /v2/
check "new connections refused while stopping (got $CODE)" [ "$CODE" = 000 ]
RC=0
start=$SECONDS
reg_wait "$REG_PID" || RC=$?
TOOK=$((SECONDS - start))
REG_PID=
reg_wait_all "$P1" "$P2" "$P3"
check "SIGTERM: exit status 0 (got $RC)" [ "$RC" = 0 ]
check "SIGTERM: exited within 10 s (took $TOOK s)" [ "$TOOK" -lt 10 ]
check "in-flight PATCH finished: 202 (got $(cat "$TMP/patch.code"))" [ "$(cat "$TMP/patch.code")" = 202 ]
check "in-flight monolithic push finished: 201 (got $(cat "$TMP/mono.code"))" [ "$(cat "$TMP/mono.code")" = 201 ]
check "in-flight download finished: 200 (got $(cat "$TMP/down.code"))" [ "$(cat "$TMP/down.code")" = 200 ]
check "...with every byte" cmp -s "$TMP/got" "$TMP/down"
check "the log says it waited" grep -q "waiting for .* request(s) in flight" "$REG_LOG"
check "no sanitizer report" bash -c "! grep -qE 'Sanitizer|runtime error' '$REG_LOG'"

reg_start "$BIN" -c "$TMP/short.conf"
req GET "$LOC"
expect "the upload session survived" 204
check "with all 600000 bytes" [ "$(hdr Range)" = 0-599999 ]
req PUT "$LOC?digest=$DUP"
expect "and commits" 201
req GET "/v2/stop/app/blobs/$DMONO"
check "the monolithic push is there" cmp -s "$TMP/b" "$TMP/mono"

# An idle keep-alive connection (one request answered, then silence) does
# not hold the exit up.
exec 5<>"/dev/tcp/127.0.0.1/$PORT"
printf 'GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n' >&5
sleep 0.3
term_and_time
exec 5>&-
check "idle keep-alive connection: exit 0 (got $RC)" [ "$RC" = 0 ]
check "idle keep-alive connection: exited at once (took $TOOK s)" [ "$TOOK" -lt 2 ]

# A client that stops sending halfway through its body holds the exit up
# only until the connection timeout (2 s here) cuts it.
reg_start "$BIN" -c "$TMP/short.conf"
exec 5<>"/dev/tcp/127.0.0.1/$PORT"
printf 'POST /v2/stop/app/blobs/uploads/?digest=%s HTTP/1.1\r\nHost: x\r\nContent-Length: 600000\r\n\r\n' "$DUP" >&5
head -c 1000 "$TMP/up" >&5
sleep 0.3
term_and_time
exec 5>&-
check "stalled upload: exit 0 (got $RC)" [ "$RC" = 0 ]
check "stalled upload: exited within the timeout (took $TOOK s)" [ "$TOOK" -le 4 ]
check "its upload file removed" [ -z "$(ls "$TMP/data/uploads")" ]
summary
