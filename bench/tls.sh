#!/bin/bash
# bench/tls.sh - `make bench`'s HTTPS rows and the "push, then pull at once"
# row (run.sh calls it at the end; it also runs alone):
#
#   bench/tls.sh REGISTRY_BINARY [OUT_DIR]
#
# One registry serving HTTPS (tls_cert/tls_key from `registry cert`) with a
# plain-HTTP listener beside it (listen_plain), and nginx serving the same
# blob and manifest as static files over HTTPS with the same certificate
# and key. curl is the client of pulls and pushes (one 256 MiB blob), wrk
# of the manifest GETs (32 keep-alive TLS connections). In each run every
# server and scheme takes its turn, so drift on a shared machine hits all
# alike; the table gives medians and the spread (min-max) of the runs.
#
#   - pull over HTTPS: ours against nginx (target >= 0.9 x nginx);
#   - push over HTTPS (POST, PUT ?digest= streamed) against our own push
#     over plain HTTP (target >= 0.8 x plain);
#   - manifest GET by tag, 32 keep-alive TLS connections: ours, nginx;
#   - push, then pull at once: a blob never seen before is pushed and
#     pulled straight after (plain HTTP, so the disk and not TLS is
#     measured), then pulled again: first / warm (target >= 0.8).
#
# Prints a Markdown table and writes OUT_DIR/tls.md, tls.csv and
# tls-samples.csv. Nothing here asserts a time: a missed target is reported.
#
# Environment (defaults in brackets):
#   BENCH_RUNS [5]           runs per workload
#   BENCH_WRK_SEC [3]        seconds per wrk run
#   BENCH_TLS_MIB [256]      size of the pushed and pulled blob
#   BENCH_TLS_PORT [15460]   ports PORT+1 (ours, HTTPS), +2 (ours, plain), +3 (nginx)
set -euo pipefail
REG=$(readlink -f "${1:?usage: tls.sh REGISTRY_BINARY [OUT_DIR]}")
OUT=${2:-$(cd "$(dirname "$0")" && pwd)/results}
RUNS=${BENCH_RUNS:-5}
WRK_SEC=${BENCH_WRK_SEC:-3}
MIB=${BENCH_TLS_MIB:-256}
PORT0=${BENCH_TLS_PORT:-15460}
P_TLS=$((PORT0 + 1)) P_PLAIN=$((PORT0 + 2)) P_NGX=$((PORT0 + 3))
MT=application/vnd.oci.image.manifest.v1+json
for c in nginx wrk curl openssl; do
	command -v "$c" >/dev/null || { echo "bench/tls.sh: needs $c (deploy/install-deps.sh --bench)" >&2; exit 1; }
done
for p in $P_TLS $P_PLAIN $P_NGX; do
	if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
		echo "bench/tls.sh: port $p is in use: set BENCH_TLS_PORT" >&2
		exit 1
	fi
done
W=$(mktemp -d /tmp/bench-tls.XXXXXX)
REG_PID= NGX_PID=
cleanup() {
	[ -n "$REG_PID" ] && kill "$REG_PID" 2>/dev/null && wait "$REG_PID" 2>/dev/null
	[ -n "$NGX_PID" ] && kill "$NGX_PID" 2>/dev/null && wait "$NGX_PID" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT
log() { printf '[tls] %s\n' "$*" >&2; }
mkdir -p "$OUT" "$W/data" "$W/files" "$W/ngx/tmp"
TLS=https://127.0.0.1:$P_TLS PLAIN=http://127.0.0.1:$P_PLAIN NGX=https://127.0.0.1:$P_NGX
CA=(--cacert "$W/tls/ca.crt")

# ---- files, certificate, servers ----
openssl rand -out "$W/files/blob" $((MIB * 1024 * 1024))
D=sha256:$(sha256sum "$W/files/blob" | cut -d' ' -f1)
printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}' >"$W/files/config"
DC=sha256:$(sha256sum "$W/files/config" | cut -d' ' -f1)
printf '{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[]}' \
	"$MT" "$DC" "$(stat -c %s "$W/files/config")" >"$W/files/manifest"
"$REG" cert 127.0.0.1 --out "$W/tls" >/dev/null
cat >"$W/reg.conf" <<-EOF
	tls_cert = $W/tls/server.crt
	tls_key = $W/tls/server.key
	listen_plain = 127.0.0.1:$P_PLAIN
	log_level = warn
	gc_interval = 0
EOF
"$REG" serve -c "$W/reg.conf" --listen "127.0.0.1:$P_TLS" --data "$W/data" 2>"$W/reg.log" &
REG_PID=$!
mkdir -p "$W/ngx/root/v2/bench/blobs" "$W/ngx/root/v2/bench/manifests"
ln "$W/files/blob" "$W/ngx/root/v2/bench/blobs/$D"
ln "$W/files/manifest" "$W/ngx/root/v2/bench/manifests/latest"
user=""
[ "$(id -u)" = 0 ] && user="user root root;"
# nginx as a team would set it up for HTTPS: its defaults, the same
# certificate; sendfile stays on (it is unused under TLS without kTLS).
cat >"$W/ngx/nginx.conf" <<-CONF
	daemon off;
	master_process on;
	worker_processes auto;
	$user
	pid $W/ngx/nginx.pid;
	error_log $W/ngx/error.log warn;
	events { worker_connections 1024; }
	http {
	  access_log off;
	  sendfile on;
	  tcp_nopush on;
	  keepalive_requests 10000000;
	  client_body_temp_path $W/ngx/tmp;
	  proxy_temp_path $W/ngx/tmp;
	  fastcgi_temp_path $W/ngx/tmp;
	  uwsgi_temp_path $W/ngx/tmp;
	  scgi_temp_path $W/ngx/tmp;
	  types { }
	  default_type application/octet-stream;
	  server {
	    listen 127.0.0.1:$P_NGX ssl;
	    ssl_certificate $W/tls/server.crt;
	    ssl_certificate_key $W/tls/server.key;
	    ssl_session_cache shared:SSL:1m;
	    root $W/ngx/root;
	    location ~ /manifests/ { default_type $MT; }
	  }
	}
CONF
nginx -c "$W/ngx/nginx.conf" -e "$W/ngx/error.log" 2>>"$W/ngx/error.log" &
NGX_PID=$!
for _ in $(seq 1 100); do
	curl -sf -o /dev/null "${CA[@]}" "$TLS/v2/" && curl -sf -o /dev/null "${CA[@]}" "$NGX/v2/bench/manifests/latest" && break
	sleep 0.1
done

# push BASE FILE DIGEST -> MB/s: POST, then one PUT ?digest= streaming FILE.
push() {
	local loc t
	loc=$(curl -sf "${CA[@]}" -D - -o /dev/null -X POST "$1/v2/bench/blobs/uploads/" |
		tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
	case $loc in http*) ;; *) loc=$1$loc ;; esac
	case $loc in *\?*) loc="$loc&" ;; *) loc="$loc?" ;; esac
	t=$(curl -sf "${CA[@]}" -o /dev/null -w '%{time_total}' -X PUT -H 'Expect:' \
		-H 'Content-Type: application/octet-stream' -T "$2" "${loc}digest=$3") ||
		{ echo "bench/tls.sh: push to $1 failed" >&2; exit 1; }
	awk -v s="$(stat -c %s "$2")" -v t="$t" 'BEGIN { printf "%.0f", s / t / 1e6 }'
}
# pull URL -> MB/s of one GET
pull() {
	curl -sf "${CA[@]}" -o /dev/null -w '%{speed_download}' "$1" |
		awk '{ printf "%.0f", $1 / 1e6 }' || { echo "bench/tls.sh: pull of $1 failed" >&2; exit 1; }
}
# wrk_get URL -> requests/s, 32 keep-alive connections
wrk_get() {
	local out
	out=$(wrk -t2 -c32 -d"${WRK_SEC}s" -H "Accept: $MT" "$1")
	if grep -q 'Non-2xx\|Socket errors' <<<"$out"; then
		echo "$out" >&2
		echo "bench/tls.sh: wrk: errors on $1" >&2
		exit 1
	fi
	awk '/^Requests\/sec:/ { printf "%.0f", $2 }' <<<"$out"
}
median() {
	printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END {
		if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
spread() { printf '%s\n' "$@" | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { print lo "-" hi }'; }

declare -A S # S[key] = the runs' values
sample() {   # KEY RUN VALUE
	S[$1]="${S[$1]:-} $3"
	echo "$1,$2,$3" >>"$W/samples.csv"
}
echo "workload,run,value" >"$W/samples.csv"

# the image in ours, over plain HTTP
push "$PLAIN" "$W/files/blob" "$D" >/dev/null
push "$PLAIN" "$W/files/config" "$DC" >/dev/null
curl -sf -o /dev/null -X PUT -H "Content-Type: $MT" --data-binary @"$W/files/manifest" \
	"$PLAIN/v2/bench/manifests/latest" || { echo "bench/tls.sh: manifest push failed" >&2; exit 1; }
pull "$TLS/v2/bench/blobs/$D" >/dev/null # page cache, both
pull "$NGX/v2/bench/blobs/$D" >/dev/null

log "pull and push of $MIB MiB over HTTPS and plain HTTP, $RUNS runs, interleaved"
for r in $(seq 1 "$RUNS"); do
	sync
	sample push_tls "$r" "$(push "$TLS" "$W/files/blob" "$D")"
	sync
	sample push_plain "$r" "$(push "$PLAIN" "$W/files/blob" "$D")"
	sample pull_tls "$r" "$(pull "$TLS/v2/bench/blobs/$D")"
	sample pull_ngx "$r" "$(pull "$NGX/v2/bench/blobs/$D")"
	sample pull_plain "$r" "$(pull "$PLAIN/v2/bench/blobs/$D")"
done
log "manifest GET by tag over 32 keep-alive TLS connections, ${WRK_SEC}s per run"
for r in $(seq 1 "$RUNS"); do
	sample man_tls "$r" "$(wrk_get "$TLS/v2/bench/manifests/latest")"
	sample man_ngx "$r" "$(wrk_get "$NGX/v2/bench/manifests/latest")"
done
log "push, then pull at once (a new blob each run), then pull again"
for r in $(seq 1 "$RUNS"); do
	cp "$W/files/blob" "$W/files/new"
	openssl rand 64 | dd of="$W/files/new" conv=notrunc status=none
	DN=sha256:$(sha256sum "$W/files/new" | cut -d' ' -f1)
	sync
	sample push_new "$r" "$(push "$PLAIN" "$W/files/new" "$DN")"
	sample pull_first "$r" "$(pull "$PLAIN/v2/bench/blobs/$DN")"
	sample pull_warm "$r" "$(pull "$PLAIN/v2/bench/blobs/$DN")"
	rm -f "$W/files/new"
done

# ---- the table ----
row() { # LABEL UNIT OURS_KEY OTHER_KEY OTHER_NAME TARGET
	# shellcheck disable=SC2086
	local o=$(median ${S[$3]}) os=$(spread ${S[$3]}) n=$(median ${S[$4]}) ns=$(spread ${S[$4]})
	local x met
	x=$(awk -v a="$o" -v b="$n" 'BEGIN { printf "%.2f", a / b }')
	met=$(awk -v x="$x" -v t="$6" 'BEGIN { print (t == "-" ? "-" : (x >= t ? "yes" : "NO")) }')
	printf '| %s | %s | %s (%s) | %s (%s) | %s | %s | %s |\n' "$1" "$2" "$o" "$os" "$n" "$ns" "$5" "$x" \
		"$([ "$6" = - ] && echo - || echo ">= $6: $met")"
	echo "\"$1\",$2,$o,$n,$5,$x,$6,$met" >>"$W/tls.csv"
}
echo "workload,unit,ours,other,other_is,ratio,target,met" >"$W/tls.csv"
{
	echo "- $(nproc) cores, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), Linux $(uname -r); $(nginx -v 2>&1 | sed 's/.*: //'); curl $(curl --version | awk 'NR == 1 { print $2 }'); medians of $RUNS runs (spread min-max); $(date -u +%Y-%m-%d)"
	echo
	echo "| workload | unit | ours | compared with | which | ratio | target, met |"
	echo "| --- | --- | ---: | ---: | --- | ---: | --- |"
	row "pull $MIB MiB over HTTPS" MB/s pull_tls pull_ngx "nginx, HTTPS" 0.9
	row "push $MIB MiB over HTTPS (POST, PUT ?digest=)" MB/s push_tls push_plain "ours, plain HTTP" 0.8
	row "manifest GET by tag, 32 keep-alive TLS conns" req/s man_tls man_ngx "nginx, HTTPS" -
	row "pull $MIB MiB over plain HTTP (for scale)" MB/s pull_plain pull_ngx "nginx, HTTPS" -
	row "push, then pull at once: the first pull" MB/s pull_first pull_warm "ours, the next pull" 0.8
	row "push, then pull at once: the push (plain HTTP)" MB/s push_new push_plain "ours, a push of a known blob" -
} >"$W/tls.md"
cp "$W/tls.md" "$W/tls.csv" "$OUT/"
cp "$W/samples.csv" "$OUT/tls-samples.csv"
cat "$W/tls.md"
