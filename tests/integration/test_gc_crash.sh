#!/bin/bash
# SIGKILL during garbage collection: `registry gc` is killed at random
# moments (KILLS times, default 12) while it removes a few hundred
# unreferenced blobs beside a serving registry. After each kill every live
# image is still served byte for byte; at the end one uninterrupted run
# leaves exactly the live files (orphans of the killed runs removed), and
# PRAGMA integrity_check is ok. Then the same with the server itself
# killed while its own collection runs, and restarted.
set -u
. "$(dirname "$0")/lib.sh"
BIN=$1
MT=application/vnd.oci.image.manifest.v1+json
DATA=$TMP/data
KILLS=${KILLS:-12}
mkdir -p "$DATA"
command -v sqlite3 >/dev/null || { skip "sqlite3 is not installed"; summary; exit; }

printf 'gc_interval = 0\ngc_delay = 0\ngc_untagged = 0\n' >"$TMP/gc.conf"
reg_start "$BIN" -c "$TMP/gc.conf"

# Live: three images, each a config and a layer.
LIVE=""
for i in 1 2 3; do
	printf '{"live":%s}' "$i" >"$TMP/c$i"
	head -c $((4000 * i)) /dev/urandom >"$TMP/l$i"
	for f in c$i l$i; do
		req POST "/v2/live/app/blobs/uploads/?digest=$(sha256 "$TMP/$f")" --data-binary @"$TMP/$f"
	done
	printf '{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%s}]}' \
		"$MT" "$(sha256 "$TMP/c$i")" "$(stat -c %s "$TMP/c$i")" "$(sha256 "$TMP/l$i")" "$(stat -c %s "$TMP/l$i")" >"$TMP/m$i"
	req PUT "/v2/live/app/manifests/v$i" -H "Content-Type: $MT" --data-binary @"$TMP/m$i"
	expect "live image v$i" 201
	LIVE="$LIVE c$i l$i m$i"
done
live_ok() {
	local f
	for f in $LIVE; do
		case $f in
		m*) req GET "/v2/live/app/manifests/$(sha256 "$TMP/$f")" ;;
		*) req GET "/v2/live/app/blobs/$(sha256 "$TMP/$f")" ;;
		esac
		[ "$CODE" = 200 ] && cmp -s "$TMP/b" "$TMP/$f" || return 1
	done
}
nfiles() { find "$DATA/blobs" -type f | wc -l; }

# garbage NAME N [collecting]: N small blobs in junk/NAME, then the
# repository removed; all N must be acknowledged unless "collecting".
# One curl sends them all over one connection: a process per blob made
# this script take minutes on machines where fork is slow.
garbage() {
	python3 - "$TMP/junk-$1" "$2" "$1" "$BASE" >"$TMP/junk-$1.curl" <<'PY'
import hashlib, os, random, sys
d, n, name, base = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
os.makedirs(d, exist_ok=True)
for k in range(1, n + 1):
    b = ("junk %s %d %d" % (name, k, random.randrange(1 << 30))).encode()
    h = hashlib.sha256(b).hexdigest()
    with open(os.path.join(d, h), "wb") as f:
        f.write(b)
    if k > 1:
        print("next")
    print('url = "%s/v2/junk/%s/blobs/uploads/?digest=sha256:%s"' % (base, name, h))
    print('request = "POST"\ndata-binary = "@%s/%s"\noutput = "/dev/null"' % (d, h))
    print('write-out = "%{http_code}\\n"')
PY
	local n
	n=$(curl -s -K "$TMP/junk-$1.curl" | grep -c '^201$')
	# (beside the server's own collection, gc_delay 0, a blob may go between
	# its commit and its answer: not counted then)
	[ -n "${3:-}" ] || check "$2 unreferenced blobs pushed to junk/$1 ($n)" [ "$n" = "$2" ]
	rm -rf "$TMP/junk-$1" "$TMP/junk-$1.curl"
	"$BIN" repo rm "junk/$1" -d "$DATA" >/dev/null 2>&1
}

garbage a 2500
killed=0
for i in $(seq 1 "$KILLS"); do
	"$BIN" gc -c "$TMP/gc.conf" -d "$DATA" >/dev/null 2>&1 &
	pid=$!
	sleep "0.0$((1 + RANDOM % 5))"
	kill -KILL "$pid" 2>/dev/null && killed=$((killed + 1))
	reg_wait "$pid" 5
	live_ok || break
done
check "every live image served byte for byte after each of $i SIGKILLs" live_ok
check "collections were killed mid-run ($killed of $KILLS)" [ "$killed" -ge 3 ]
"$BIN" gc -c "$TMP/gc.conf" -d "$DATA" >"$TMP/final" 2>"$TMP/final.err"
check "an uninterrupted run after the kills" [ $? = 0 ]
echo "crash: the next run removed $(grep -c '^orphan' "$TMP/final") orphan file(s) the kills left" >&2
check "exactly the live files are left ($(nfiles))" [ "$(nfiles)" = 9 ]
check "live images still served" live_ok
check "PRAGMA integrity_check: ok" [ "$(reg_sql "$DATA/registry.db" 'PRAGMA integrity_check')" = ok ]
reg_stop

# The server killed while its own collection (every second) runs.
printf 'gc_interval = 1s\ngc_delay = 0\ngc_untagged = 0\n' >"$TMP/srv.conf"
for i in 1 2 3; do
	reg_start "$BIN" -c "$TMP/srv.conf"
	garbage "s$i" 300 collecting
	sleep "1.$((RANDOM % 10))"
	kill -KILL "$REG_PID"
	reg_wait "$REG_PID" 5
	REG_PID=
done
reg_start "$BIN" -c "$TMP/srv.conf"
check "after the server's kills: live images served" live_ok
for _ in $(seq 1 50); do [ "$(nfiles)" = 9 ] && break; sleep 0.2; done
check "its next collections leave exactly the live files" [ "$(nfiles)" = 9 ]
reg_stop
check "PRAGMA integrity_check: ok" [ "$(reg_sql "$DATA/registry.db" 'PRAGMA integrity_check')" = ok ]
summary
