#!/bin/bash
# bench/s3.sh - `make bench`'s S3 rows (run.sh calls it; it also runs alone):
#
#   bench/s3.sh REGISTRY_BINARY [OUT_DIR]
#
# Against one Ceph RGW on this machine (tests/rgw.sh, or the one RGW_ENV
# names): a BENCH_S3_MB (256) MiB blob pushed to the registry (storage = s3,
# one monolithic POST) and pulled back, beside a plain curl PUT and GET of
# the same bytes straight to RGW (the limit here, in the same run), and
# beside distribution (Debian's docker-registry) with its own s3 driver on the
# same RGW (its redirects off, so its bytes pass through it as ours do). Every
# push is a POST, then one PUT ?digest= with the whole blob. Prints a Markdown
# table and writes OUT_DIR/s3.md and s3.csv.
set -uo pipefail
REG=$(readlink -f "${1:?usage: s3.sh REGISTRY_BINARY [OUT_DIR]}")
OUT=${2:-$(cd "$(dirname "$0")" && pwd)/results}
MB=${BENCH_S3_MB:-256}
HERE=$(cd "$(dirname "$0")" && pwd)
W=$(mktemp -d /tmp/bench-s3.XXXXXX)
PID= DPID= OWN=
cleanup() {
	local p
	for p in $PID $DPID; do
		kill "$p" 2>/dev/null
		for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
	done
	[ -n "$OWN" ] && "$HERE/../tests/rgw.sh" stop "$OWN"
	rm -rf "$W"
}
trap cleanup EXIT
if [ -n "${RGW_ENV:-}" ]; then
	. "$RGW_ENV"
else
	OWN=$W/rgw
	"$HERE/../tests/rgw.sh" start "$OWN" >"$W/rgw.out" 2>&1 || { cat "$W/rgw.out" >&2; exit 1; }
	. "$OWN/env"
fi
s3() { curl -s --aws-sigv4 "aws:amz:us-east-1:s3" -u "$RGW_ACCESS:$RGW_SECRET" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$@"; }
s3 -o /dev/null -X PUT "$RGW_ENDPOINT/bench"
head -c $((MB * 1024 * 1024)) /dev/urandom >"$W/blob"
D=sha256:$(sha256sum "$W/blob" | cut -d' ' -f1)
printf '%s:%s\n' "$RGW_ACCESS" "$RGW_SECRET" >"$W/cred"
chmod 600 "$W/cred"
printf 'storage = s3\ns3_endpoint = %s\ns3_bucket = bench\ns3_credentials = %s\ns3_prefix = b%s/\n' \
	"$RGW_ENDPOINT" "$W/cred" "$$" >"$W/conf"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$REG" serve -c "$W/conf" --listen "127.0.0.1:$PORT" --data "$W/data" 2>"$W/log" &
PID=$!
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/v2/" && break; sleep 0.1; done
mbs() { python3 -c "print(f'{$MB / $1:.0f}')"; } # MiB/s from seconds
t() { # t CMD...: seconds taken
	local s e
	s=$(date +%s.%N)
	"$@" >/dev/null
	e=$(date +%s.%N)
	python3 -c "print(f'{$e - $s:.2f}')"
}
# distribution with its s3 driver on the same RGW; AWS_CA_BUNDLE (set on
# these machines) makes it panic at start
DPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$W/dist.yml" <<EOF
version: 0.1
log: {level: error}
storage:
  s3: {accesskey: "$RGW_ACCESS", secretkey: "$RGW_SECRET", region: us-east-1, regionendpoint: "$RGW_ENDPOINT", bucket: bench, secure: false, v4auth: true, rootdirectory: /d$$}
  redirect: {disable: true}
http: {addr: "127.0.0.1:$DPORT"}
EOF
dist=no
if command -v docker-registry >/dev/null; then
	env -u AWS_CA_BUNDLE docker-registry serve "$W/dist.yml" >"$W/dist.log" 2>&1 &
	DPID=$!
	for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$DPORT/v2/" && { dist=yes; break; }; sleep 0.1; done
fi
# push_to PORT: POST, then the whole blob in one PUT ?digest= (both servers)
push_to() {
	local loc
	loc=$(curl -s -D - -o /dev/null -X POST "http://127.0.0.1:$1/v2/bench/s3/blobs/uploads/" |
		tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
	case $loc in http*) ;; *) loc=http://127.0.0.1:$1$loc ;; esac
	case $loc in *\?*) loc="$loc&digest=$D" ;; *) loc="$loc?digest=$D" ;; esac
	curl -s -f -o /dev/null -X PUT -H 'Content-Type: application/octet-stream' \
		--data-binary @"$W/blob" "$loc"
}
put_s3=$(t s3 -o /dev/null -T "$W/blob" "$RGW_ENDPOINT/bench/ref-$$")
get_s3=$(t s3 -o "$W/got1" "$RGW_ENDPOINT/bench/ref-$$")
push=$(t push_to "$PORT")
pull=$(t curl -s -o "$W/got2" "http://127.0.0.1:$PORT/v2/bench/s3/blobs/$D")
ok=yes
cmp -s "$W/got1" "$W/blob" && cmp -s "$W/got2" "$W/blob" || ok="NO (bytes differ)"
dpush=- dpull=-
if [ "$dist" = yes ]; then
	dpush=$(t push_to "$DPORT")
	dpull=$(t curl -s -o "$W/got3" "http://127.0.0.1:$DPORT/v2/bench/s3/blobs/$D")
	cmp -s "$W/got3" "$W/blob" || ok="NO (distribution's bytes differ)"
else
	echo "distribution (docker-registry) did not start: $(tail -3 "$W/dist.log")" >&2
fi
dmbs() { if [ "$1" = - ]; then echo -; else mbs "$1"; fi; }
mkdir -p "$OUT"
{
	echo "| S3 ($MB MiB blob, Ceph RGW on this machine) | seconds | MiB/s |"
	echo "|---|---|---|"
	echo "| curl PUT straight to RGW (the limit) | $put_s3 | $(mbs "$put_s3") |"
	echo "| registry push (storage = s3, 16 MiB parts, then server-side copy) | $push | $(mbs "$push") |"
	echo "| distribution push (its s3 driver) | $dpush | $(dmbs "$dpush") |"
	echo "| curl GET straight from RGW (the limit) | $get_s3 | $(mbs "$get_s3") |"
	echo "| registry pull (streamed, 4 MiB Range reads) | $pull | $(mbs "$pull") |"
	echo "| distribution pull (its s3 driver, redirect off) | $dpull | $(dmbs "$dpull") |"
	echo
	echo "bytes verified: $ok"
} | tee "$OUT/s3.md"
printf 'what,seconds\nrgw_put,%s\npush,%s\ndist_push,%s\nrgw_get,%s\npull,%s\ndist_pull,%s\n' \
	"$put_s3" "$push" "$dpush" "$get_s3" "$pull" "$dpull" >"$OUT/s3.csv"
