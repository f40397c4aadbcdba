#!/bin/bash
# Load: 256 concurrent slow downloads plus 100 slowloris connections (headers
# or a body trickled byte by byte) do not starve a normal client; every
# download completes whole. The limits of registry.conf hold: an idle
# connection is closed after connection_timeout, and connections beyond
# max_connections are refused until old ones time out.
set -u
. "$(dirname "$0")/lib.sh"
BIN=$1
CONNS=256
SLOW=100
printf 'connection_timeout = 3s\n' >"$TMP/load.conf"
reg_start "$BIN" -c "$TMP/load.conf"

head -c 500000 /dev/urandom >"$TMP/blob"
D=$(sha256 "$TMP/blob")
req POST "/v2/load/app/blobs/uploads/?digest=$D" --data-binary @"$TMP/blob"
expect "blob pushed" 201

# 256 downloads at once, each rate-limited to last about 5 s.
for i in $(seq 1 "$CONNS"); do
	printf 'url = "%s/v2/load/app/blobs/%s"\noutput = "/dev/null"\n' "$BASE" "$D"
done >"$TMP/many.curl"
curl -s --no-progress-meter --parallel --parallel-immediate --parallel-max "$CONNS" \
	--limit-rate 100K -w '%{http_code} %{size_download}\n' -K "$TMP/many.curl" \
	>"$TMP/many.out" 2>/dev/null &
MANY=$!

# 100 slowloris connections: half trickle header lines, half trickle the
# body of a manifest push, each a few bytes every 0.5 s.
fds=()
for i in $(seq 1 "$SLOW"); do
	exec {fd}<>"/dev/tcp/127.0.0.1/$PORT"
	fds+=("$fd")
	if [ $((i % 2)) = 0 ]; then
		printf 'GET /v2/ HTTP/1.1\r\nHost: x\r\n' >&"$fd"
	else
		printf 'PUT /v2/load/app/manifests/slow HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n{' >&"$fd"
	fi
done
sleep 0.5

# Meanwhile a normal client: each request answered within 2 s.
slowest=0
failures=0
most=0
for i in $(seq 1 10); do
	n=$(ls /proc/"$REG_PID"/fd | wc -l)
	[ "$n" -gt "$most" ] && most=$n
	for fd in "${fds[@]}"; do
		printf 'X-Slow-%d: 1\r\n' "$i" >&"$fd" 2>/dev/null
	done
	t=$(curl -s -o /dev/null -m 2 -w '%{http_code} %{time_total}' "$BASE/v2/load/app/blobs/$D" -I)
	[ "${t%% *}" = 200 ] || failures=$((failures + 1))
	ms=$(awk -v t="${t#* }" 'BEGIN { printf "%d", t * 1000 + 0.999 }')
	[ "$ms" -gt "$slowest" ] && slowest=$ms
	sleep 0.4
done
echo "   normal client under load: slowest answer ${slowest} ms, $failures failures; registry held up to $most fds"
check "normal client not starved: 10 of 10 answered within 2 s" [ "$failures" = 0 ]
check "the registry held every connection at once ($most fds)" [ "$most" -gt $((CONNS + SLOW)) ]
reg_wait "$MANY"
ok=$(grep -c "^200 500000$" "$TMP/many.out")
check "$CONNS concurrent downloads all whole ($ok of $CONNS)" [ "$ok" = "$CONNS" ]
for fd in "${fds[@]}"; do exec {fd}>&-; done

# An idle connection is closed after connection_timeout (3 s).
exec 5<>"/dev/tcp/127.0.0.1/$PORT"
start=$SECONDS
timeout 10 cat <&5 >/dev/null
took=$((SECONDS - start))
exec 5>&-
check "idle connection closed by connection_timeout (after $took s)" [ "$took" -ge 2 -a "$took" -le 6 ]
reg_stop

# max_connections: 25 idle connections; 20 are taken, the others wait in the
# listen backlog with any newcomer (the limit protects the registry), until
# the timeout frees the slots.
printf 'connection_timeout = 3s\nmax_connections = 20\n' >"$TMP/limit.conf"
reg_start "$BIN" -c "$TMP/limit.conf"
sleep 3.5 # reg_start's own probe connection has timed out
fds=()
for i in $(seq 1 25); do
	exec {fd}<>"/dev/tcp/127.0.0.1/$PORT"
	fds+=("$fd")
done
sleep 0.3
req GET /v2/ -m 1
check "beyond max_connections: not served (got $CODE)" [ "$CODE" = 000 ]
req GET /v2/ -m 8
expect "after connection_timeout the slots are free again" 200
for fd in "${fds[@]}"; do exec {fd}>&-; done
reg_stop

# Abandoned upload sessions hold no file descriptor while they wait: 1500
# started and left cost the registry no more fds than a handful, and the
# first of them still completes (its file is opened again on use).
reg_start "$BIN"
req POST /v2/load/abandon/blobs/uploads/
FIRST=$(hdr Location)
base_fds=$(ls /proc/"$REG_PID"/fd | wc -l)
for i in $(seq 1 1500); do
	printf 'url = "%s/v2/load/abandon/blobs/uploads/"\noutput = "/dev/null"\nrequest = "POST"\nwrite-out = "%%{http_code}\\n"\n' "$BASE"
done >"$TMP/abandon.curl"
curl -s --parallel --parallel-max 16 -K "$TMP/abandon.curl" >"$TMP/abandon.codes" 2>/dev/null
check "1500 upload sessions started: all 202 ($(sort "$TMP/abandon.codes" | uniq -c | tr -s ' \n' ' '))" \
	[ "$(grep -c '^202$' "$TMP/abandon.codes")" = 1500 ]
sleep 0.5
n=$(ls /proc/"$REG_PID"/fd | wc -l)
echo "   1500 abandoned upload sessions: registry holds $n fds (before: $base_fds)"
check "1500 abandoned sessions hold no fds ($base_fds -> $n)" [ "$n" -lt $((base_fds + 20)) ]
req PATCH "$FIRST" --data-binary @"$TMP/blob"
expect "the first abandoned session takes a chunk" 202
req PUT "$FIRST?digest=$D"
expect "...and completes" 201
reg_stop
summary
