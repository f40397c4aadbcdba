#!/bin/bash
# bench/run.sh - `make bench`: our registry side by side with Debian's
# docker-registry (CNCF distribution 2.8, the reference) and nginx serving the
# same files statically (the ceiling), all on 127.0.0.1 with fresh data
# folders, under the same workloads, in one run.
#
#   bench/run.sh REGISTRY_BINARY LOADGEN_BINARY
#
# Prints one Markdown table (each figure with its ratio to the reference and to
# the ceiling, and the issue's target) and writes under bench/results/:
# results.csv, results.md, samples.csv (every single measurement), machine.txt
# and chart.png. Figures are medians of BENCH_RUNS runs; the servers are run
# in turn inside each run, so drift on a noisy machine hits all three alike.
# Nothing here asserts a time: a missed target is reported, not failed.
#
# Environment (defaults in brackets):
#   BENCH_RUNS [5]          runs per workload (median reported)
#   BENCH_WRK_SEC [3]       seconds per wrk run
#   BENCH_TAGS [100000]     tags and repositories seeded into ours
#   BENCH_REF_SEED [20000]  the same, into the reference (its HTTP seeding
#                           runs at a few hundred requests/s)
#   BENCH_REF_SEED_SEC [90] time bound of each reference seeding step
#   BENCH_PORT [15400]      ports PORT+1 (ours), +2 (reference), +3 (nginx)
#   BENCH_OUT [bench/results]
set -euo pipefail

REG=$(readlink -f "${1:?usage: run.sh REGISTRY_BINARY LOADGEN_BINARY}")
LG=$(readlink -f "${2:?usage: run.sh REGISTRY_BINARY LOADGEN_BINARY}")
RUNS=${BENCH_RUNS:-5}
WRK_SEC=${BENCH_WRK_SEC:-3}
TAGS=${BENCH_TAGS:-100000}
REF_SEED=${BENCH_REF_SEED:-20000}
REF_SEED_SEC=${BENCH_REF_SEED_SEC:-90}
PORT0=${BENCH_PORT:-15400}
OUT=${BENCH_OUT:-$(cd "$(dirname "$0")" && pwd)/results}
NPROC=$(nproc)

SERVERS="ours ref ngx"
# Second instances holding a catalog of 100, measured side by side with the
# big ones: pages of a few tens of microseconds are only comparable when
# they are measured in turn, not minutes apart.
SMALL="ours2 ref2"
declare -A NAME=([ours]=ours [ref]=reference [ngx]=nginx [ours2]="ours (small)"
	[ref2]="reference (small)")
declare -A PORT=([ours]=$((PORT0 + 1)) [ref]=$((PORT0 + 2)) [ngx]=$((PORT0 + 3))
	[ours2]=$((PORT0 + 4)) [ref2]=$((PORT0 + 5)))
declare -A BASE PID
for s in $SERVERS $SMALL; do BASE[$s]=http://127.0.0.1:${PORT[$s]}; done

OCI_MANIFEST=application/vnd.oci.image.manifest.v1+json
ACCEPT="Accept: $OCI_MANIFEST, application/vnd.docker.distribution.manifest.v2+json"
T_START=$(date +%s)

log() { printf '[%4ds] %s\n' $(($(date +%s) - T_START)) "$*" >&2; }
die() {
	echo "bench: $*" >&2
	exit 1
}

for c in docker-registry nginx wrk curl openssl gnuplot dd; do
	command -v "$c" >/dev/null || die "$c not found (deploy/install-deps.sh --bench installs it)"
done
for s in $SERVERS $SMALL; do
	if (exec 3<>"/dev/tcp/127.0.0.1/${PORT[$s]}") 2>/dev/null; then
		die "port ${PORT[$s]} is in use: set BENCH_PORT"
	fi
done

W=$(mktemp -d /tmp/regbench.XXXXXX)
cleanup() {
	for s in $SERVERS $SMALL; do stop "$s"; done
	rm -rf "$W"
}
trap cleanup EXIT
mkdir -p "$OUT" "$W/files"
: >"$OUT/samples.csv.tmp"

# ---- the servers ----

ref_config() { # DIR NAME
	cat >"$1/config.yml" <<-YML
		version: 0.1
		log:
		  level: warn
		  accesslog:
		    disabled: true
		storage:
		  cache:
		    blobdescriptor: inmemory
		  filesystem:
		    rootdirectory: $1/storage
		  delete:
		    enabled: true
		http:
		  addr: 127.0.0.1:${PORT[$2]}
		  secret: bench-secret
	YML
}

ngx_config() { # DIR
	local user=""
	# Workers must write the DAV and temp folders, which are root's here.
	[ "$(id -u)" = 0 ] && user="user root root;"
	mkdir -p "$1/tmp" "$1/dav"
	cp -al "$W/static" "$1/root"
	cat >"$1/nginx.conf" <<-CONF
		daemon off;
		master_process on;
		worker_processes auto;
		$user
		pid $1/nginx.pid;
		error_log $1/error.log warn;
		events { worker_connections 1024; }
		http {
		  access_log off;
		  sendfile on;
		  tcp_nopush on;
		  keepalive_requests 10000000;
		  client_body_temp_path $1/tmp;
		  proxy_temp_path $1/tmp;
		  fastcgi_temp_path $1/tmp;
		  uwsgi_temp_path $1/tmp;
		  scgi_temp_path $1/tmp;
		  types { }
		  default_type application/octet-stream;
		  server {
		    listen 127.0.0.1:${PORT[ngx]};
		    root $1/root;
		    index index.json;
		    location ~ /manifests/ { default_type $OCI_MANIFEST; }
		    location ~ (/tags/list|/_catalog)\$ { default_type application/json; }
		    location /dav/ { root $1; dav_methods PUT; create_full_put_path on; client_max_body_size 0; }
		  }
		}
	CONF
}

# start NAME DIR: starts a server on a fresh DIR and sets STARTUP_MS to the
# milliseconds from exec to its first answer to GET /v2/. Not in a subshell:
# PID[NAME] must stay set for stop.
start() {
	local s=$1 d=$2
	rm -rf "$d"
	mkdir -p "$d"
	rm -f "$W/stamp.$s"
	case $s in
	ours | ours2) "$LG" stamp "$W/stamp.$s" "$REG" serve --listen "127.0.0.1:${PORT[$s]}" \
		--data "$d/data" >>"$d/log" 2>&1 & ;;
	ref | ref2)
		ref_config "$d" "$s"
		"$LG" stamp "$W/stamp.$s" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
			docker-registry serve "$d/config.yml" >>"$d/log" 2>&1 &
		;;
	ngx)
		ngx_config "$d"
		"$LG" stamp "$W/stamp.$s" nginx -c "$d/nginx.conf" -e "$d/error.log" >>"$d/log" 2>&1 &
		;;
	esac
	PID[$s]=$!
	STARTUP_MS=$("$LG" waitup "${BASE[$s]}" "$W/stamp.$s") || {
		tail -20 "$d/log" >&2
		die "${NAME[$s]} did not start"
	}
}

stop() {
	local s=$1
	[ -n "${PID[$s]:-}" ] || return 0
	kill -TERM "${PID[$s]}" 2>/dev/null || true
	wait "${PID[$s]}" 2>/dev/null || true
	PID[$s]=
}

# mem KEY NAME: kB of /proc status field KEY (VmRSS, VmHWM) of server NAME,
# summed over nginx's master and workers.
mem() {
	local pids=${PID[$2]} total=0 p v
	[ "$2" = ngx ] && pids="$pids $(pgrep -P "${PID[$2]}" | tr '\n' ' ')"
	for p in $pids; do
		v=$(awk -v k="$1:" '$1 == k { print $2 }' "/proc/$p/status" 2>/dev/null || echo 0)
		total=$((total + ${v:-0}))
	done
	echo "$total"
}

# ---- measurements ----

declare -A VAL # VAL[workload,server] = median
sample() {     # WORKLOAD SERVER RUN VALUE
	echo "$1,$2,$3,$4" >>"$OUT/samples.csv.tmp"
}
median() { # values... -> median
	printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 }
		END { if (NR == 0) print ""; else if (NR % 2) print a[(NR + 1) / 2];
		      else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
# measure WORKLOAD "SERVERS" CMD...: runs CMD SERVER RUN for each run and
# server (interleaved), keeps the median of what it prints per server.
measure() {
	local w=$1 servers=$2 r s v
	shift 2
	declare -A all=()
	for r in $(seq 1 "$RUNS"); do
		for s in $servers; do
			v=$("$@" "$s" "$r")
			sample "$w" "$s" "$r" "$v"
			all[$s]="${all[$s]:-} $v"
		done
	done
	for s in $servers; do
		# shellcheck disable=SC2086
		VAL[$w,$s]=$(median ${all[$s]})
	done
	log "$w: ours ${VAL[$w,ours]:-} reference ${VAL[$w,ref]:-} nginx ${VAL[$w,ngx]:-}"
}

push_once() { # server run -> MB/s of one 256 MiB push
	sync
	if [ "$1" = ngx ]; then
		"$LG" put "${BASE[$1]}" /dav "$W/files/blob256" | awk '{ print $3 }'
	else
		"$LG" push "${BASE[$1]}" bench "$W/files/blob256" | awk '{ print $3 }'
	fi
}
par_once() { # server run -> aggregate MB/s of 16 parallel 32 MiB pushes
	sync
	if [ "$1" = ngx ]; then
		"$LG" put "${BASE[$1]}" /dav "$W"/files/par?? | awk '{ print $3 }'
	else
		"$LG" push "${BASE[$1]}" par "$W"/files/par?? | awk '{ print $3 }'
	fi
}
pull_once() { # server run -> MB/s of 4 GETs of the 256 MiB blob
	"$LG" pull "${BASE[$1]}" "/v2/bench/blobs/$D_BIG" 4 | awk '{ print $3 }'
}
wrk_once() { # path server run -> requests/s, 32 connections
	local out
	out=$(wrk -t2 -c32 -d"${WRK_SEC}s" -H "$ACCEPT" "${BASE[$2]}$1")
	if grep -q 'Non-2xx' <<<"$out"; then
		echo "$out" >&2
		die "wrk: error responses from ${NAME[$2]} on $1"
	fi
	awk '/^Requests\/sec:/ { print $2 }' <<<"$out"
}
wrk_manifest() { wrk_once /v2/bench/manifests/latest "$@"; }
wrk_small() { wrk_once "/v2/bench/blobs/$D_SMALL" "$@"; }

# pages FILE: each line of FILE is "WORKLOAD SERVER INSTANCE PATH". In each
# run, every line in turn GETs PATH from INSTANCE over a fresh connection,
# repeatedly for 0.4 s (3 times at least); VAL[WORKLOAD,SERVER] is the
# median over the runs of each run's median latency, in ms.
pages() {
	local r w s i path out
	declare -A all=()
	for r in $(seq 1 "$RUNS"); do
		while read -r w s i path; do
			out=$("$LG" lat "${BASE[$i]}" "$path" 5000 0.4)
			sample "$w" "$s" "$r" "$(awk '{ print $2 }' <<<"$out")"
			all[$w,$s]="${all[$w,$s]:-} $(awk '{ print $2 }' <<<"$out")"
			BYTES[$w,$s]=$(awk '{ print $4 }' <<<"$out")
		done <"$1"
	done
	while read -r w s i path; do
		# shellcheck disable=SC2086
		VAL[$w,$s]=$(median ${all[$w,$s]})
		log "$w ${NAME[$s]}: ${VAL[$w,$s]} ms (runs:${all[$w,$s]}; ${BYTES[$w,$s]} bytes)"
	done <"$1"
}
declare -A BYTES

# ---- files ----

log "making test files in $W"
openssl rand -out "$W/files/blob256" $((256 * 1024 * 1024))
for i in $(seq -w 1 16); do openssl rand -out "$W/files/par$i" $((32 * 1024 * 1024)); done
openssl rand -out "$W/files/small" 4096
printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}' \
	>"$W/files/config"
D_BIG=$("$LG" digest "$W/files/blob256")
D_SMALL=$("$LG" digest "$W/files/small")
D_CONFIG=$("$LG" digest "$W/files/config")
printf '{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":4096}]}' \
	"$OCI_MANIFEST" "$D_CONFIG" "$(stat -c %s "$W/files/config")" "$D_SMALL" >"$W/files/manifest"
D_MANIFEST=$("$LG" digest "$W/files/manifest")

# nginx's tree: the same files (hard links), pages of 100 entries as files.
S=$W/static
mkdir -p "$S/v2/bench/blobs" "$S/v2/bench/manifests" "$S/v2/tags100/tags"
echo '{}' >"$S/v2/index.json"
ln "$W/files/blob256" "$S/v2/bench/blobs/$D_BIG"
ln "$W/files/small" "$S/v2/bench/blobs/$D_SMALL"
ln "$W/files/config" "$S/v2/bench/blobs/$D_CONFIG"
ln "$W/files/manifest" "$S/v2/bench/manifests/latest"
ln "$W/files/manifest" "$S/v2/bench/manifests/$D_MANIFEST"
seq -f 't%06g' 0 99 | awk 'BEGIN { printf "{\"name\":\"tags100\",\"tags\":[" }
	{ printf "%s\"%s\"", (NR > 1 ? "," : ""), $1 } END { printf "]}" }' >"$S/v2/tags100/tags/list"
seq -f 'cat/r%06g' 0 99 | awk 'BEGIN { printf "{\"repositories\":[" }
	{ printf "%s\"%s\"", (NR > 1 ? "," : ""), $1 } END { printf "]}" }' >"$S/v2/_catalog"

# ---- the machine's ceilings ----

log "ceilings: openssl speed -evp sha256, dd"
SHA_MBS=$(openssl speed -evp sha256 -bytes 16384 -seconds 2 2>/dev/null |
	awk '$1 == "sha256" { v = $NF; sub(/k$/, "", v); print v / 1000 }')
[ -n "$SHA_MBS" ] || die "cannot read openssl speed's output"
dd_mbs() { # dd args... -> MB/s of writing the 256 MiB blob
	local t0 t1
	t0=$(date +%s.%N)
	dd if="$W/files/blob256" of="$W/ddtest" bs=1M "$@" 2>/dev/null
	t1=$(date +%s.%N)
	rm -f "$W/ddtest"
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", 268.435456 / (b - a) }'
}
sync
DISK_MBS=$(dd_mbs conv=fsync)
DISK_DIRECT_MBS=$(dd_mbs oflag=direct conv=fsync)
log "sha256 $SHA_MBS MB/s; disk write+fsync $DISK_MBS MB/s (O_DIRECT $DISK_DIRECT_MBS MB/s)"

# ---- start the three, put the same image into each ----

for s in $SERVERS; do start "$s" "$W/$s"; done

# upload SERVER REPO FILE DIGEST: POST then a monolithic PUT, as clients do.
upload() {
	local loc sep
	loc=$(curl -sf -D - -o /dev/null -X POST "${BASE[$1]}/v2/$2/blobs/uploads/" |
		tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
	case $loc in http*) ;; *) loc=${BASE[$1]}$loc ;; esac
	case $loc in *\?*) sep='&' ;; *) sep='?' ;; esac
	curl -sf -o /dev/null -X PUT -H 'Content-Type: application/octet-stream' \
		--data-binary "@$3" "$loc${sep}digest=$4" || die "${NAME[$1]}: upload of $3 failed"
}
mount_into() { # SERVER REPO: links the image's blobs into REPO
	local d
	for d in "$D_SMALL" "$D_CONFIG"; do
		curl -sf -o /dev/null -X POST "${BASE[$1]}/v2/$2/blobs/uploads/?mount=$d&from=bench" ||
			die "${NAME[$1]}: mount into $2 failed"
	done
}
for s in ours ref; do
	upload "$s" bench "$W/files/small" "$D_SMALL"
	upload "$s" bench "$W/files/config" "$D_CONFIG"
	curl -sf -o /dev/null -X PUT -H "Content-Type: $OCI_MANIFEST" \
		--data-binary "@$W/files/manifest" "${BASE[$s]}/v2/bench/manifests/latest" ||
		die "${NAME[$s]}: manifest push failed"
done

# ---- throughput ----

log "push of a 256 MiB blob (POST, chunked PATCH, PUT), $RUNS runs"
measure push "$SERVERS" push_once
log "pull of it"
for s in $SERVERS; do pull_once "$s" 0 >/dev/null; done # warm the page cache
measure pull "$SERVERS" pull_once
log "manifest GET by tag, 32 connections, ${WRK_SEC}s per run"
measure manifest "$SERVERS" wrk_manifest
log "4 KiB blob GET, 32 connections"
measure small "$SERVERS" wrk_small
log "16 parallel pushes of distinct 32 MiB blobs"
measure par16 "$SERVERS" par_once

# ---- tag lists and the catalog ----

# seed SERVER COUNT MAXSEC CONNS METHOD PATH [BODY HEADER]: prints how many
# requests were made.
seed() {
	local out
	out=$("$LG" reqs "${BASE[$1]}" "$5" "$6" "$4" 0 "$2" "$3" "${7:-}" "${8:-}")
	log "seed ${NAME[$1]} $5 $6: $out (done seconds req/s)"
	awk '{ print $1 }' <<<"$out"
}
declare -A NTAGS NREPOS
log "seeding tags: 100 and $TAGS (ours), 100 and $REF_SEED (reference)"
for s in ours ref; do
	mount_into "$s" tags100
	mount_into "$s" tags100k
	seed "$s" 100 0 4 PUT "/v2/tags100/manifests/t{i}" "$W/files/manifest" \
		"Content-Type: $OCI_MANIFEST" >/dev/null
done
# Ours takes up to 64 tags per manifest PUT (?tag=, OCI distribution 1.1).
awk -v n="$TAGS" -v d="$D_MANIFEST" 'BEGIN {
	for (i = 0; i < n; i += 64) {
		p = "/v2/tags100k/manifests/" d
		for (j = i; j < i + 64 && j < n; j++)
			p = p (j == i ? "?" : "&") sprintf("tag=t%06d", j)
		print p
	} }' >"$W/tagpaths"
seed ours "$TAGS" 0 8 PUT "@$W/tagpaths" "$W/files/manifest" "Content-Type: $OCI_MANIFEST" >/dev/null
NTAGS[ours]=$TAGS
NTAGS[ref]=$(seed ref "$REF_SEED" "$REF_SEED_SEC" 32 PUT "/v2/tags100k/manifests/t{i}" \
	"$W/files/manifest" "Content-Type: $OCI_MANIFEST")

log "tag list pages (n=100), $RUNS runs, in turn"
mid_ours=$(printf %06d $((NTAGS[ours] / 2)))
mid_ref=$(printf %06d $((NTAGS[ref] / 2)))
cat >"$W/pages" <<-PAGES
	tags100 ours ours /v2/tags100/tags/list?n=100
	tags100k ours ours /v2/tags100k/tags/list?n=100
	tagsmid ours ours /v2/tags100k/tags/list?n=100&last=t$mid_ours
	tags100 ref ref /v2/tags100/tags/list?n=100
	tags100k ref ref /v2/tags100k/tags/list?n=100
	tagsmid ref ref /v2/tags100k/tags/list?n=100&last=t$mid_ref
	tags100 ngx ngx /v2/tags100/tags/list?n=100
PAGES
pages "$W/pages"
VAL[tags100k,ngx]=${VAL[tags100,ngx]}
VAL[tagsmid,ngx]=${VAL[tags100,ngx]}

log "seeding repositories: $TAGS (ours), $REF_SEED (reference), 100 in each small instance"
# bench, tags100, tags100k exist already.
n=$(seed ours $((TAGS - 3)) 0 8 POST "/v2/cat/r{i}/blobs/uploads/?mount=$D_SMALL&from=bench")
NREPOS[ours]=$((n + 3))
n=$(seed ref $((REF_SEED - 3)) "$REF_SEED_SEC" 32 POST \
	"/v2/cat/r{i}/blobs/uploads/?mount=$D_SMALL&from=bench")
NREPOS[ref]=$((n + 3))
for s in $SMALL; do
	start "$s" "$W/$s"
	upload "$s" bench "$W/files/small" "$D_SMALL"
	seed "$s" 99 0 4 POST "/v2/cat/r{i}/blobs/uploads/?mount=$D_SMALL&from=bench" >/dev/null
done
log "catalog pages (n=100), $RUNS runs, in turn"
mid_ours=$(printf %06d $((NREPOS[ours] / 2)))
mid_ref=$(printf %06d $((NREPOS[ref] / 2)))
cat >"$W/pages" <<-PAGES
	cat100 ours ours2 /v2/_catalog?n=100
	cat100k ours ours /v2/_catalog?n=100
	catmid ours ours /v2/_catalog?n=100&last=cat/r$mid_ours
	cat100 ref ref2 /v2/_catalog?n=100
	cat100k ref ref /v2/_catalog?n=100
	catmid ref ref /v2/_catalog?n=100&last=cat/r$mid_ref
	cat100 ngx ngx /v2/_catalog?n=100
PAGES
pages "$W/pages"
VAL[cat100k,ngx]=${VAL[cat100,ngx]}
VAL[catmid,ngx]=${VAL[cat100,ngx]}
for s in $SMALL; do stop "$s"; done

# `registry du` over ours as seeded: NTAGS tags on one manifest, NREPOS
# repositories sharing one blob (run beside the live server, as an admin
# would). Ours only: the others have no such command.
log "registry du --json over ${NTAGS[ours]} tags and ${NREPOS[ours]} repositories, $RUNS runs"
v=()
for r in $(seq 1 "$RUNS"); do
	t0=$(date +%s%N)
	"$REG" du --json -d "$W/ours/data" >"$W/du.json" 2>>"$W/du.err" || die "registry du failed"
	v+=("$(awk -v a="$t0" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e6 }')")
	sample du ours "$r" "${v[-1]}"
done
VAL[du,ours]=$(median "${v[@]}")

# ---- memory ----

for s in $SERVERS; do
	VAL[peak,$s]=$(awk -v k="$(mem VmHWM "$s")" 'BEGIN { printf "%.1f", k / 1024 }')
done
for s in $SERVERS; do stop "$s"; done

log "start-up and idle memory, $RUNS fresh starts each"
start_once() { # server run -> ms; leaves the idle RSS in $W/idle.SERVER.RUN
	start "$1" "$W/start-$1"
	sleep 0.5
	mem VmRSS "$1" >"$W/idle.$1.$2"
	mem RssAnon "$1" >"$W/anon.$1.$2"
	stop "$1"
	echo "$STARTUP_MS"
}
measure startup "$SERVERS" start_once
for s in $SERVERS; do
	v=()
	for r in $(seq 1 "$RUNS"); do
		v+=("$(awk '{ printf "%.1f", $1 / 1024 }' "$W/idle.$s.$r")")
		sample idle "$s" "$r" "${v[-1]}"
	done
	VAL[idle,$s]=$(median "${v[@]}")
	v=()
	for r in $(seq 1 "$RUNS"); do
		v+=("$(awk '{ printf "%.1f", $1 / 1024 }' "$W/anon.$s.$r")")
		sample anon "$s" "$r" "${v[-1]}"
	done
	VAL[anon,$s]=$(median "${v[@]}")
done

# ---- the table ----

TAGS_NOTE=""
if [ "${BYTES[tags100k,ref]:-0}" -gt $((20 * BYTES[tags100,ref])) ]; then
	TAGS_NOTE="the reference ignores n: its page is all ${NTAGS[ref]} tags, ${BYTES[tags100k,ref]} bytes"
fi
# One row per line: key|label|unit|higher-is-better|ceiling|ceiling-source|target|note
PAR_CEIL=$(awk -v a="$SHA_MBS" -v n="$NPROC" 'BEGIN { print a * (n < 16 ? n : 16) }')
ROWS=$(
	cat <<-ROWS
		push|push 256 MiB (POST, chunked PATCH, PUT)|MB/s|1|$SHA_MBS|SHA-256|ceil>=0.8|nginx: WebDAV PUT, no hash, no fsync
		pull|pull 256 MiB|MB/s|1|ngx|nginx|ceil>=0.9|
		manifest|manifest GET by tag, 32 conns|req/s|1|ngx|nginx|ceil>=0.5,ref>=20|
		small|4 KiB blob GET, 32 conns|req/s|1|ngx|nginx|ceil>=0.5,ref>=20|
		par16|16 parallel pushes of 32 MiB|MB/s|1|$PAR_CEIL|SHA-256 x $((NPROC < 16 ? NPROC : 16)) cores|ref>=2|nginx: WebDAV PUT
		tags100|tags page n=100, 100 tags|ms|0|ngx|nginx|-|
		tags100k|tags page n=100, ${NTAGS[ours]} tags (ref: ${NTAGS[ref]}), first|ms|0|ngx|nginx|same:tags100|${TAGS_NOTE:-}
		tagsmid|tags page n=100, ${NTAGS[ours]} tags (ref: ${NTAGS[ref]}), middle|ms|0|ngx|nginx|same:tags100|
		cat100|catalog page n=100, 100 repos (second instance)|ms|0|ngx|nginx|-|
		du|registry du --json, ${NTAGS[ours]} tags, ${NREPOS[ours]} repos (whole process)|ms|0|-|-|-|ours only: a command of its own
		cat100k|catalog page n=100, ${NREPOS[ours]} repos (ref: ${NREPOS[ref]}), first|ms|0|ngx|nginx|same:cat100|
		catmid|catalog page n=100, ${NREPOS[ours]} repos (ref: ${NREPOS[ref]}), middle|ms|0|ngx|nginx|same:cat100|
		idle|resident memory, idle (VmRSS)|MiB|0|ngx|nginx|abs<=4|nginx: master + workers
		anon|of which private (RssAnon; the rest is shared library pages)|MiB|0|ngx|nginx|-|
		peak|resident memory, peak (VmHWM)|MiB|0|ngx|nginx|abs<=32|after all of the above
		startup|start to first answer|ms|0|ngx|nginx|-|
	ROWS
)

# Each row's ratios and verdict, as |-separated fields: label unit hib
# ours ref nginx ceiling ceiling-source x-ref x-ceiling target met note.
# A ratio says how many times better ours is: ours/other for throughput,
# other/ours for times and memory.
while IFS='|' read -r key label unit hib ceil csrc target note; do
	ours=${VAL[$key,ours]:-}
	ref=${VAL[$key,ref]:-}
	ngx=${VAL[$key,ngx]:-}
	[ "$ceil" = ngx ] && ceil=$ngx
	base100=""
	case $target in same:*) base100=${VAL[${target#same:},ours]} ;; esac
	awk -v label="$label" -v unit="$unit" -v hib="$hib" -v ours="$ours" -v ref="$ref" \
		-v ngx="$ngx" -v ceil="$ceil" -v csrc="$csrc" -v target="$target" -v note="$note" \
		-v base100="$base100" '
	function x(a, b) {
		if (a == "" || b == "" || a + 0 == 0 || b + 0 == 0) return ""
		return hib ? a / b : b / a
	}
	BEGIN {
		xr = x(ours, ref); xc = x(ours, ceil); met = ""; t = ""
		n = split(target, parts, ",")
		for (i = 1; i <= n && target != "-"; i++) {
			split(parts[i], kv, ">=|<=")
			if (parts[i] ~ /^ceil>=/) {
				t = t (t ? ", " : "") ">= " kv[2] " x " csrc
				ok = xc != "" && xc >= kv[2]
			} else if (parts[i] ~ /^ref>=/) {
				t = t (t ? ", " : "") ">= " kv[2] " x reference"
				ok = xr != "" && xr >= kv[2]
			} else if (parts[i] ~ /^abs<=/) {
				t = t (t ? ", " : "") "<= " kv[2] " " unit
				ok = ours != "" && ours <= kv[2]
			} else if (parts[i] ~ /^same:/) {
				t = "as fast as at 100 (<= 1.25 x " sprintf("%.3g", base100) " ms)"
				ok = ours != "" && ours <= 1.25 * base100
			}
			met = (met == "" || met == "yes") && ok ? "yes" : "NO"
		}
		if (t == "") { t = "-"; met = "-" }
		printf "%s|%s|%d|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s\n", label, unit, hib,
		       ours, ref, ngx, ceil, csrc, xr == "" ? "" : sprintf("%.3f", xr),
		       xc == "" ? "" : sprintf("%.3f", xc), t, met, note
	}'
done <<<"$ROWS" >"$W/rows.txt"

{
	echo "workload,unit,higher_is_better,ours,reference,nginx,ceiling,ceiling_source,x_reference,x_ceiling,target,met,note"
	awk -F'|' '{
		for (i = 1; i <= NF; i++) {
			f = $i
			if (f ~ /[,"]/) { gsub(/"/, "\"\"", f); f = "\"" f "\"" }
			printf "%s%s", f, i < NF ? "," : "\n"
		} }' "$W/rows.txt"
} >"$OUT/results.csv"
mv "$OUT/samples.csv.tmp" "$OUT/samples.csv"
sed -i '1i workload,server,run,value' "$OUT/samples.csv"

CPU=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
MEM=$(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)
{
	echo "machine: $NPROC cores, $CPU, $MEM, Linux $(uname -r), $(sed -n 's/^PRETTY_NAME="\(.*\)"/\1/p' /etc/os-release)"
	echo "reference: $(docker-registry --version 2>&1 | head -1); ceiling: $(nginx -v 2>&1 | sed 's/.*: //')"
	echo "SHA-256 (openssl speed -evp sha256, 16 KiB): $SHA_MBS MB/s; disk write 256 MiB + fsync (dd): $DISK_MBS MB/s buffered, $DISK_DIRECT_MBS MB/s O_DIRECT"
	echo "medians of $RUNS runs (a page's run: the median of its GETs repeated for 0.4 s); $(date -u +%Y-%m-%d)"
} >"$OUT/machine.txt"

# The Markdown table, also printed.
fmt_num() { # value unit
	awk -v v="$1" -v u="$2" 'BEGIN {
		if (v == "") { print "-"; exit }
		if (u == "ms") printf (v < 10 ? "%.2f" : "%.1f"), v
		else if (u == "MiB") printf "%.1f", v
		else printf "%.0f", v }'
}
{
	sed 's/^/- /' "$OUT/machine.txt"
	echo
	echo "| workload | unit | ours | reference | nginx | x ref | x ceiling | target | met |"
	echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- |"
	while IFS='|' read -r label unit _ ours ref ngx _ csrc xr xc target met note; do
		[ -n "$note" ] && label="$label ($note)"
		printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$label" "$unit" \
			"$(fmt_num "$ours" "$unit")" "$(fmt_num "$ref" "$unit")" "$(fmt_num "$ngx" "$unit")" \
			"${xr:+$(printf %.2f "$xr")}" "${xc:+$(printf '%.2f (%s)' "$xc" "$csrc")}" "$target" "$met"
	done <"$W/rows.txt"
	echo
	echo "x ref, x ceiling: how many times better ours is (throughput ours/other; times and memory other/ours)."
} >"$OUT/results.md"

# ---- the chart: each workload, ours and nginx, as "times better than the reference" ----

awk -F'|' '$4 != "" && $5 != "" && $4 + 0 > 0 && $5 + 0 > 0 {
	hib = $3
	xo = hib ? $4 / $5 : $5 / $4
	xn = ($6 == "" || $6 + 0 == 0) ? 1e-9 : (hib ? $6 / $5 : $5 / $6)
	gsub(/"/, "", $1)
	printf "\"%s\" %g %g\n", $1, xo, xn }' "$W/rows.txt" >"$W/chart.dat"
gnuplot <<-GP
	set terminal pngcairo size 1400,800 font "DejaVu Sans,10"
	set output "$OUT/chart.png"
	set title "registry (ours) and nginx against docker-registry (reference = 1; higher is better; log scale)"
	set style data histograms
	set style histogram clustered gap 1
	set style fill solid 0.8 border -1
	set logscale y
	set yrange [0.01:*]
	set grid ytics
	set xtics rotate by -35 left
	set bmargin 14
	set key top left
	plot "$W/chart.dat" using 2:xtic(1) title "ours" lc rgb "#2a7fd4", \
	     "" using 3 title "nginx (static files)" lc rgb "#999999", \
	     1 with lines lc rgb "#d42a2a" title "reference"
GP

cat "$OUT/results.md"
# Garbage collection while serving: its own rows (bench/gc.sh says how).
log "garbage collection: 100,000 unreferenced blobs, pulls during and without"
"$(dirname "$0")/gc.sh" "$REG" "$OUT"
log "done: $OUT/results.csv, $OUT/results.md, $OUT/samples.csv, $OUT/chart.png, $OUT/gc.md"
"$(dirname "$0")/ui.sh" "$REG" "$OUT" # the web UI: page times on 10,000 tags and repositories
"$(dirname "$0")/tls.sh" "$REG" "$OUT" # HTTPS rows beside nginx, push then pull at once: tls.md
"$(dirname "$0")/s3.sh" "$REG" "$OUT" # blobs on S3: push and pull beside curl straight to Ceph RGW: s3.md
"$(dirname "$0")/pg.sh" "$REG" "$OUT" # manifest GETs/s, SQLite against PostgreSQL: pg.md
"$(dirname "$0")/replicas.sh" "$REG" "$OUT" # 1, 2, 3 replicas behind nginx, push and pull: replicas.md
