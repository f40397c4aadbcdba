#!/bin/bash
# Garbage collection racing pushes (the storage-lifecycle issue's race
# test). A server with gc_delay = 0 collects every second, and `registry gc`
# runs in a loop beside it the whole time, while four pushers push images
# made of a small pool of shared layers, each reusing what is there the
# ways clients do:
#   head:    HEAD each blob, upload only the missing ones, pause, PUT;
#   mount:   POST ?mount=&from= another pusher's repository, upload if 202;
#   upload:  upload every blob again (blobs being collected are re-uploaded);
# and deleting their previous image now and then, so its layers become
# garbage that the others are about to reuse. A PUT answered 400
# MANIFEST_BLOB_UNKNOWN re-uploads and retries, up to 6 times (what the
# issue asks of a client that lost the race; with gc_delay 0 a blob is
# garbage from its upload until the manifest arrives, so some pushes lose
# every time: allowed, counted); an upload answered 400 BLOB_UPLOAD_INVALID
# was collected while committed (not acknowledged). Any other failure
# fails the test. Afterwards
# every acknowledged manifest is pulled with skopeo and compared byte for
# byte, and the index passes PRAGMA integrity_check.
set -u
. "$(dirname "$0")/lib.sh"
BIN=$1
MT=application/vnd.oci.image.manifest.v1+json
DATA=$TMP/data
SECONDS_RUN=${GC_RACE_SECONDS:-30}
mkdir -p "$DATA" "$TMP/pool"

command -v skopeo >/dev/null || { skip "skopeo is not installed"; summary; exit; }
command -v sqlite3 >/dev/null || { skip "sqlite3 is not installed"; summary; exit; }

for i in 0 1 2 3 4 5; do head -c $((2000 + i * 700)) /dev/urandom >"$TMP/pool/l$i"; done
printf 'gc_interval = 1s\ngc_delay = 0\ngc_untagged = 0\n' >"$TMP/race.conf"
reg_start "$BIN" -c "$TMP/race.conf"

# pusher N STRATEGY: pushes images rN:iK until the time is up; writes
# "repo tag manifest-file" for each acknowledged one into $TMP/ack.N.
pusher() {
	local n=$1 how=$2 repo=race/r$1 k=0 end=$((SECONDS + SECONDS_RUN)) prev=""
	local a b c f d code tries layers cfg man args
	local -A DIG
	for f in "$TMP"/pool/l*; do DIG[$f]=$(sha256 "$f"); done
	: >"$TMP/ack.$n"
	: >"$TMP/err.$n"
	while [ $SECONDS -lt $end ]; do
		k=$((k + 1))
		a=$((RANDOM % 6))
		b=$(((a + 1 + RANDOM % 5) % 6))
		cfg=$TMP/c.$n.$k
		printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"n":"%s-%s"}' "$n" "$k" >"$cfg"
		layers="$TMP/pool/l$a $TMP/pool/l$b"
		man=$TMP/m.$n.$k
		DIG[$cfg]=$(sha256 "$cfg")
		printf '{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[' \
			"$MT" "${DIG[$cfg]}" "$(stat -c %s "$cfg")" >"$man"
		c=""
		for f in $layers; do
			printf '%s{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%s}' \
				"$c" "${DIG[$f]}" "$(stat -c %s "$f")" >>"$man"
			c=,
		done
		printf ']}' >>"$man"
		for f in $cfg $layers; do
			d=${DIG[$f]}
			case $how in
			head)
				code=$(curl -s -o /dev/null -w '%{http_code}' -I "$BASE/v2/$repo/blobs/$d")
				[ "$code" = 200 ] && continue
				;;
			mount)
				code=$(curl -s -o /dev/null -w '%{http_code}' -X POST \
					"$BASE/v2/$repo/blobs/uploads/?mount=$d&from=race/r$(((n + 1) % 4))")
				[ "$code" = 201 ] && continue
				;;
			esac
			code=$(curl -s -o "$TMP/up.$n" -w '%{http_code}' -X POST --data-binary @"$f" \
				"$BASE/v2/$repo/blobs/uploads/?digest=$d")
			# 400 BLOB_UPLOAD_INVALID: collected while it was committed
			# (not acknowledged: the PUT below uploads it again)
			[ "$code" = 201 ] || grep -q BLOB_UPLOAD_INVALID "$TMP/up.$n" ||
				echo "blob upload $repo $d: $code" >>"$TMP/err.$n"
		done
		[ "$how" = head ] && sleep 0.$((RANDOM % 4))
		code=$(curl -s -o "$TMP/put.$n" -w '%{http_code}' -X PUT -H "Content-Type: $MT" \
			--data-binary @"$man" "$BASE/v2/$repo/manifests/i$k")
		for tries in 1 2 3 4 5 6; do
			[ "$code" = 201 ] && break
			[ "$code" = 400 ] && grep -q MANIFEST_BLOB_UNKNOWN "$TMP/put.$n" || break
			# lost: upload everything again and PUT at once, in one curl
			# (one connection, no process between requests), as a client
			# retrying does; on 2 busy cores a process per request made
			# the gap longer than the collectors' pause, so every retry lost
			echo lost >>"$TMP/lost.$n"
			args=()
			for f in $cfg $layers; do
				args+=(-s -o /dev/null -X POST --data-binary @"$f"
					"$BASE/v2/$repo/blobs/uploads/?digest=${DIG[$f]}" --next)
			done
			code=$(curl "${args[@]}" -s -o "$TMP/put.$n" -w '%{http_code}' -X PUT \
				-H "Content-Type: $MT" --data-binary @"$man" "$BASE/v2/$repo/manifests/i$k")
			[ "$code" = 201 ] && break
		done
		if [ "$code" != 201 ]; then
			# losing every retry to the collector is allowed (and counted);
			# anything else is a failure
			if [ "$code" = 400 ] && grep -q MANIFEST_BLOB_UNKNOWN "$TMP/put.$n"; then
				echo gaveup >>"$TMP/gaveup.$n"
			else
				echo "manifest $repo:i$k: $code $(head -c 200 "$TMP/put.$n")" >>"$TMP/err.$n"
			fi
			continue
		fi
		echo "$repo i$k $man" >>"$TMP/ack.$n"
		# now and then the previous image goes: its layers become garbage
		if [ -n "$prev" ] && [ $((RANDOM % 3)) = 0 ]; then
			code=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE \
				"$BASE/v2/$repo/manifests/$(sha256 "$TMP/m.$n.$prev")")
			[ "$code" = 202 ] && sed -i "/ i$prev /d" "$TMP/ack.$n"
		fi
		prev=$k
	done
}

# `registry gc` in a loop beside the server's own, the whole time, with a
# pause of 0 to 0.2 s between runs: with gc_delay 0 a blob uploaded is
# garbage until the manifest naming it arrives, so a collector that never
# paused would turn every push into a lost race.
gc_loop() {
	local end=$((SECONDS + SECONDS_RUN)) runs=0
	while [ $SECONDS -lt $end ]; do
		"$BIN" gc -c "$TMP/race.conf" -d "$DATA" >>"$TMP/gc.list" 2>>"$TMP/gc.err" || echo "gc failed" >>"$TMP/gc.fail"
		runs=$((runs + 1))
		sleep 0.$((RANDOM % 3))
	done
	echo "$runs" >"$TMP/gc.runs"
}

pusher 0 head &
P0=$!
pusher 1 mount &
P1=$!
pusher 2 upload &
P2=$!
pusher 3 head &
P3=$!
gc_loop &
G=$!
for p in $P0 $P1 $P2 $P3 $G; do reg_wait "$p" $((SECONDS_RUN + 60)); done
cat "$TMP"/err.* >"$TMP/errors"
check "no push failed but by losing a race (400, retried)" [ ! -s "$TMP/errors" ]
[ -s "$TMP/errors" ] && head -5 "$TMP/errors" >&2 && grep -E " (error|warn) " "$REG_LOG" | head -5 >&2
check "registry gc never failed" [ ! -e "$TMP/gc.fail" ]
[ -e "$TMP/gc.fail" ] && grep -E ' (error|warn) |^registry gc:' "$TMP/gc.err" | head -5 >&2
NACK=$(cat "$TMP"/ack.* | wc -l)
NBLOBS=$(grep -c '^blob ' "$TMP/gc.list")
NLOST=$(cat "$TMP"/lost.* 2>/dev/null | wc -l)
NGAVE=$(cat "$TMP"/gaveup.* 2>/dev/null | wc -l)
echo "race: $NACK manifests acknowledged and kept, $(cat "$TMP/gc.runs") registry gc runs beside the server's, $NBLOBS blob files collected, $NLOST PUTs lost a race and retried, $NGAVE pushes given up after 6" >&2
check "pushes were acknowledged ($NACK)" [ "$NACK" -gt 20 ]
check "collections removed blobs meanwhile ($NBLOBS)" [ "$NBLOBS" -gt 5 ]
check "the server collected too" grep -q "gc: removed" "$REG_LOG"

# Every acknowledged manifest pulls, byte for byte, with skopeo.
bad=0
while read -r repo tag man; do
	rm -rf "$TMP/pull"
	if ! skopeo copy -q --src-tls-verify=false "docker://127.0.0.1:$PORT/$repo:$tag" "dir:$TMP/pull" 2>>"$TMP/skopeo.err"; then
		echo "skopeo could not pull $repo:$tag" >&2
		bad=$((bad + 1))
		continue
	fi
	cmp -s "$TMP/pull/manifest.json" "$man" || { echo "$repo:$tag: manifest differs" >&2; bad=$((bad + 1)); }
	for d in $(grep -o 'sha256:[0-9a-f]\{64\}' "$man"); do
		[ "$(sha256 "$TMP/pull/${d#sha256:}")" = "$d" ] || { echo "$repo:$tag: blob $d differs" >&2; bad=$((bad + 1)); }
	done
done < <(cat "$TMP"/ack.*)
check "every acknowledged manifest ($NACK) pulls byte-exact with skopeo" [ "$bad" = 0 ]
reg_stop
check "PRAGMA integrity_check: ok" [ "$(reg_sql "$DATA/registry.db" 'PRAGMA integrity_check')" = ok ]
check "PRAGMA foreign_key_check: nothing" [ -z "$(reg_sql "$DATA/registry.db" 'PRAGMA foreign_key_check')" ]
summary
