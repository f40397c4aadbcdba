#!/bin/bash
# kill_loop.sh BIN - SIGKILL the registry at random moments during many
# concurrent pushes, KILLS times (default 100), restarting it each time.
#
# WORKERS clients (default 8) push images in a loop, each push one of four
# ways (monolithic POST, POST + PATCHes with Content-Range + PUT, a
# rate-limited streamed PATCH + PUT, POST + PUT with the body), then a
# manifest over the blobs. Every 201 is logged. After each kill, while the
# server is down: SQLite's integrity check passes and every blob file that
# appeared holds the bytes its name says. After each restart: every push
# acknowledged in the last round is served byte-exact (by digest, and by
# tag for manifests); every push that was cut off is either absent or
# whole, never partial. At the end every acknowledged push is checked again,
# and leftover upload files and sessions go once upload_ttl expires.
# Prints the figures; "bytes lost" must be 0.
#
# With REGISTRY_TEST_S3_CONF (`make integration-s3`: the server on S3) the
# store checks look at the bucket instead of the data folder: after each
# kill every object that appeared under blobs/ holds the bytes its key
# says (no partial object visible), and the leftovers counted are the
# upload objects under uploads/.
set -u
. "$(dirname "$0")/../integration/lib.sh"
BIN=$1
KILLS=${KILLS:-100}
WORKERS=${WORKERS:-8}
MT=application/vnd.oci.image.manifest.v1+json
mkdir -p "$TMP/w"

# push_blob LOG REPO FILE MODE: pushes FILE into REPO; logs "try" before
# and "blob" after a 201. Returns 1 once the server is gone.
push_blob() {
	local log=$1 repo=$2 f=$3 mode=$4 d loc code size half
	d=$(sha256 "$f")
	size=$(stat -c %s "$f")
	echo "try $repo $d $f $size" >>"$log"
	case $mode in
	0)
		code=$(curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary @"$f" \
			"$BASE/v2/$repo/blobs/uploads/?digest=$d")
		;;
	*)
		loc=$(curl -s -o /dev/null -D - -X POST "$BASE/v2/$repo/blobs/uploads/" |
			tr -d '\r' | sed -n 's/^Location: //p')
		[ -z "$loc" ] && return 1
		case $mode in
		1)
			half=$((size / 2))
			head -c "$half" "$f" >"$f.1"
			tail -c +"$((half + 1))" "$f" >"$f.2"
			code=$(curl -s -o /dev/null -w '%{http_code}' -X PATCH \
				-H "Content-Range: 0-$((half - 1))" --data-binary @"$f.1" "$BASE$loc")
			[ "$code" = 202 ] && code=$(curl -s -o /dev/null -w '%{http_code}' -X PATCH \
				-H "Content-Range: $half-$((size - 1))" --data-binary @"$f.2" "$BASE$loc")
			rm -f "$f.1" "$f.2"
			[ "$code" = 202 ] && code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT \
				"$BASE$loc?digest=$d")
			;;
		2)
			code=$(curl -s -o /dev/null -w '%{http_code}' -X PATCH --limit-rate 2M \
				-H 'Transfer-Encoding: chunked' --data-binary @"$f" "$BASE$loc")
			[ "$code" = 202 ] && code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT \
				"$BASE$loc?digest=$d")
			;;
		*)
			code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT --data-binary @"$f" \
				"$BASE$loc?digest=$d")
			;;
		esac
		;;
	esac
	case $code in
	201) echo "blob $repo $d $f $size" >>"$log" ;;
	000) return 1 ;;
	4* | 5*) echo "error $code blob" >>"$log" ;; # a 4xx is our bug too
	esac
	return 0
}

# worker W ROUND: pushes images until the server goes away.
worker() {
	local w=$1 round=$2 n=0 log=$TMP/w/log.$1.$2 repo f cfg tag code
	while :; do
		n=$((n + 1))
		repo=stress/r$((RANDOM % 3))
		f=$TMP/w/$w.$round.$n
		cfg=$f.cfg
		printf '{"worker":%d,"round":%d,"n":%d}' "$w" "$round" "$n" >"$cfg"
		# mostly small; every 4th up to ~1 MB; every 8th 1.5-5.5 MB, past
		# where an upload's request is staged and written by helper threads
		if [ $((n % 8)) = 6 ]; then
			head -c $((1500000 + RANDOM * 122)) /dev/urandom >"$f"
		else
			head -c $((RANDOM * (n % 4 == 2 ? 30 : 8) + 1)) /dev/urandom >"$f"
		fi
		push_blob "$log" "$repo" "$cfg" 0 || return
		push_blob "$log" "$repo" "$f" $((n % 4)) || return
		tail -1 "$log" | grep -q '^blob' || continue
		printf '{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%s}]}' \
			"$MT" "$(sha256 "$cfg")" "$(stat -c %s "$cfg")" "$(sha256 "$f")" "$(stat -c %s "$f")" >"$f.man"
		tag=w$w-$round-$n
		echo "trytag $repo $tag $f.man" >>"$log"
		code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H "Content-Type: $MT" \
			--data-binary @"$f.man" "$BASE/v2/$repo/manifests/$tag")
		case $code in
		201) echo "tag $repo $tag $f.man $(stat -c %s "$f.man")" >>"$log" ;;
		000) return ;;
		4* | 5*) echo "error $code manifest" >>"$log" ;;
		esac
	done
}

ACKED=0
ACKED_BYTES=0
CUT=0
LOST=0
LOST_BYTES=0
LOST_END=0 # found missing in the final pass over everything
LOST_END_BYTES=0
PARTIAL=0
ERRORS=0

# verify LOG...: checks what the logs say against the running server.
# Adds to ACKED, LOST, PARTIAL and CUT; with FULL=1 (the final pass) only
# to LOST_END.
verify() {
	local kind repo ref f size last_try=
	for log in "$@"; do
		[ -f "$log" ] || continue
		while read -r kind repo ref f size; do
			case $kind in
			blob | tag)
				if [ "$kind" = blob ]; then
					req GET "/v2/$repo/blobs/$ref"
				else
					req GET "/v2/$repo/manifests/$ref"
				fi
				if [ "$CODE" != 200 ] || ! cmp -s "$TMP/b" "$f"; then
					echo "LOST: $kind $repo $ref ($CODE)" >&2
					if [ -n "${FULL:-}" ]; then
						LOST_END=$((LOST_END + 1))
						LOST_END_BYTES=$((LOST_END_BYTES + size))
					else
						LOST=$((LOST + 1))
						LOST_BYTES=$((LOST_BYTES + size))
					fi
				fi
				if [ -z "${FULL:-}" ]; then
					ACKED=$((ACKED + 1))
					ACKED_BYTES=$((ACKED_BYTES + size))
				fi
				last_try=
				;;
			try | trytag)
				# Settle the previous attempt (one in flight per worker).
				[ -n "$last_try" ] && settle $last_try
				last_try="$kind $repo $ref $f"
				;;
			error)
				[ -z "${FULL:-}" ] && ERRORS=$((ERRORS + 1))
				echo "error answer during the run: $repo $ref" >&2
				;;
			esac
		done <"$log"
		[ -n "$last_try" ] && settle $last_try
		last_try=
	done
}

# settle KIND REPO REF FILE: a push cut off by the kill (or refused): absent,
# or there whole.
settle() {
	[ -n "${FULL:-}" ] && return
	CUT=$((CUT + 1))
	if [ "$1" = try ]; then
		req GET "/v2/$2/blobs/$3"
	else
		req GET "/v2/$2/manifests/$3"
	fi
	if [ "$CODE" = 200 ] && cmp -s "$TMP/b" "$4"; then
		return
	fi
	if [ "$CODE" != 404 ]; then
		PARTIAL=$((PARTIAL + 1))
		echo "PARTIAL: $1 $2 $3 answered $CODE with $(stat -c %s "$TMP/b") bytes" >&2
	fi
}

# blobs_sound: every blob file written since the marker is named by its
# digest (on S3: every object under blobs/ not looked at before).
BAD_FILES=0
blobs_sound() {
	local f k
	if [ -n "${REGISTRY_TEST_S3_CONF:-}" ]; then
		touch "$TMP/w/seen"
		while read -r k; do
			grep -qxF "$k" "$TMP/w/seen" && continue
			echo "$k" >>"$TMP/w/seen"
			if [ "$(reg_s3 "/$k" | sha256sum | cut -d' ' -f1)" != "${k##*/}" ]; then
				BAD_FILES=$((BAD_FILES + 1))
				echo "BAD BLOB OBJECT: $k" >&2
			fi
		done < <(reg_s3_keys blobs/)
		return
	fi
	while read -r f; do
		if [ "$(sha256sum "$f" | cut -d' ' -f1)" != "$(basename "$f")" ]; then
			BAD_FILES=$((BAD_FILES + 1))
			echo "BAD BLOB FILE: $f" >&2
		fi
	done < <(find "$TMP/data/blobs" -type f -newer "$TMP/w/marker")
}

INTEGRITY_BAD=0
SANITIZER=0
started=$SECONDS
touch "$TMP/w/marker"
for round in $(seq 1 "$KILLS"); do
	reg_start "$BIN"
	verify "$TMP"/w/log.*."$((round - 1))"
	touch "$TMP/w/marker"
	pids=()
	for w in $(seq 1 "$WORKERS"); do
		worker "$w" "$round" &
		pids+=($!)
	done
	# A random moment: 0.2 to 1.5 s into the pushes.
	sleep "$((RANDOM % 14 / 10)).$((RANDOM % 10))$((RANDOM % 10))"
	sleep 0.2
	kill -KILL "$REG_PID"
	reg_wait "$REG_PID"
	REG_PID=
	reg_wait_all "${pids[@]}"
	if grep -qE 'Sanitizer|runtime error' "$REG_LOG"; then
		SANITIZER=$((SANITIZER + 1))
		tail -30 "$REG_LOG" >&2
	fi
	ic=$(reg_sql "$TMP/data/registry.db" 'PRAGMA integrity_check' 2>&1)
	if [ "$ic" != ok ]; then
		INTEGRITY_BAD=$((INTEGRITY_BAD + 1))
		echo "integrity_check after kill $round: $ic" >&2
	fi
	blobs_sound
	[ $((round % 10)) = 0 ] && echo "   $round kills, $ACKED pushes acknowledged so far ($((SECONDS - started)) s)"
done

# Last restart, with a short upload_ttl so the sessions the kills cut off
# expire: verify the last round, then everything ever acknowledged.
# upload_files: what uploads left in the store (files, or S3 objects)
upload_files() {
	if [ -n "${REGISTRY_TEST_S3_CONF:-}" ]; then
		reg_s3_keys uploads/ | wc -l
	else
		find "$TMP/data/uploads" -type f | wc -l
	fi
}
uploads_before=$(upload_files)
printf 'upload_ttl = 1s\n' >"$TMP/ttl.conf"
sleep 1.1 # older than the TTL by the time the server starts
reg_start "$BIN" -c "$TMP/ttl.conf"
verify "$TMP"/w/log.*."$KILLS"
FULL=1 verify "$TMP"/w/log.*
sleep 2.5 # the sweeper runs every TTL/2
uploads_left=$(upload_files)
rows_left=$(reg_sql "$TMP/data/registry.db" 'SELECT count(*) FROM uploads' 2>&1)
if [ -n "${REGISTRY_TEST_S3_CONF:-}" ]; then
	files=$(reg_s3_keys blobs/ | wc -l)
else
	files=$(find "$TMP/data/blobs" -type f | wc -l)
fi

echo "   kills survived: $KILLS (workers: $WORKERS, $((SECONDS - started)) s)"
echo "   pushes acknowledged: $ACKED ($ACKED_BYTES bytes), all re-read byte-exact at the end"
echo "   pushes cut off by a kill: $CUT (partially visible: $PARTIAL)"
echo "   bytes lost: $((LOST_BYTES + LOST_END_BYTES)) (after a restart: $LOST pushes, at the end: $LOST_END); 4xx/5xx answers: $ERRORS"
echo "   blob files: $files, corrupt: $BAD_FILES; failed integrity checks: $INTEGRITY_BAD"
echo "   upload files the kills left: $uploads_before; after expiry: $uploads_left, session rows: $rows_left"
check "some pushes were acknowledged" [ "$ACKED" -gt 0 ]
check "some pushes were cut off by kills" [ "$CUT" -gt 0 ]
check "no acknowledged push lost after its restart ($LOST_BYTES bytes in $LOST)" [ "$LOST" = 0 ]
check "no acknowledged push lost by the end ($LOST_END_BYTES bytes in $LOST_END)" [ "$LOST_END" = 0 ]
check "no partial blob or manifest served" [ "$PARTIAL" = 0 ]
check "no 4xx or 5xx answer to any push" [ "$ERRORS" = 0 ]
check "some blob files (objects) were stored ($files)" [ "$files" -gt 0 ]
check "every blob file matches its digest" [ "$BAD_FILES" = 0 ]
check "SQLite integrity_check ok after every kill" [ "$INTEGRITY_BAD" = 0 ]
check "no sanitizer report" [ "$SANITIZER" = 0 ]
check "leftover upload files removed after expiry" [ "$uploads_left" = 0 ]
check "leftover upload sessions removed after expiry" [ "$rows_left" = 0 ]
reg_stop
summary
