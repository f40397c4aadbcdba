#!/bin/bash
# bench/replicas.sh - `make bench`'s replica rows (run.sh calls it; it also
# runs alone): aggregate push and pull throughput of 1, 2 and 3 replicas
# behind nginx, as the README's "Running several replicas" sets them up, and
# one replica hit directly (no nginx) as the reference, so nginx's own cost
# shows:
#
#   bench/replicas.sh REGISTRY_BINARY [OUT_DIR]
#
# One throwaway PostgreSQL 15 (tests/pg.sh, over its Unix socket), three
# `registry serve` processes on it (metadata = postgres) sharing one data
# folder (storage = filesystem), and three throwaway nginx balancers
# (tests/nginx.sh: round robin, one worker) over the first 1, 2 and 3 of
# them. In each run every setup takes its turn (so drift on a busy machine
# hits all alike) at three workloads:
#
#   push      BENCH_RL_CLIENTS curl clients at once, each pushing
#             BENCH_RL_PUSHES distinct blobs of BENCH_RL_PUSH_MIB MiB one
#             after the other (POST, then PUT ?digest= with the body
#             streamed; the POSTs are made first, by one curl): all the
#             bytes over the time from the first POST to the last 201, MB/s;
#   pull      wrk (2 threads, 32 connections, BENCH_WRK_SEC seconds) GETs
#             one blob of BENCH_RL_PULL_MIB MiB: requests/s x its size, MB/s;
#   manifest  wrk the same on a manifest by tag: requests/s (each is one
#             indexed query on PostgreSQL).
#
# Around each workload it reads the CPU time of the replicas, of nginx
# (master and worker), of PostgreSQL (postmaster and backends), of the load
# clients (this shell's children: curl, wrk) and of the whole machine
# (/proc/stat), and reports each as cores busy on average. Replicas cannot
# scale past the cores they share with the balancer, the database and the
# clients: the note under the table says how busy the machine already was
# with one replica. Nothing here asserts a figure.
#
# Prints Markdown tables and writes OUT_DIR/replicas.md, replicas.csv
# (medians) and replicas-samples.csv (every measurement).
#
# Environment (defaults in brackets); about 3 minutes with the defaults on 2
# cores busy with other work too:
#   BENCH_RL_RUNS [3]       runs (medians reported)
#   BENCH_WRK_SEC [3]       seconds per wrk run
#   BENCH_RL_CLIENTS [8]    concurrent push clients
#   BENCH_RL_PUSHES [2]     blobs each client pushes per run
#   BENCH_RL_PUSH_MIB [16]  size of each pushed blob
#   BENCH_RL_PULL_MIB [4]   size of the pulled blob
#   BENCH_RL_UNTUNED [0]    1: one more setup, nginx untuned (below)
set -euo pipefail
REG=$(readlink -f "${1:?usage: replicas.sh REGISTRY_BINARY [OUT_DIR]}")
here=$(cd "$(dirname "$0")" && pwd)
OUT=${2:-$here/results}
RUNS=${BENCH_RL_RUNS:-3}
SEC=${BENCH_WRK_SEC:-3}
CLIENTS=${BENCH_RL_CLIENTS:-8}
PUSHES=${BENCH_RL_PUSHES:-2}
PUSH_MIB=${BENCH_RL_PUSH_MIB:-16}
PULL_MIB=${BENCH_RL_PULL_MIB:-4}
REPLICAS=3
NPROC=$(nproc)
HZ=$(getconf CLK_TCK)
MT=application/vnd.oci.image.manifest.v1+json
T_START=$(date +%s)

log() { printf '[%4ds] replicas: %s\n' $(($(date +%s) - T_START)) "$*" >&2; }
die() {
	echo "bench/replicas.sh: $*" >&2
	exit 1
}
for c in curl wrk openssl sha256sum python3; do
	command -v "$c" >/dev/null || die "needs $c (deploy/install-deps.sh --bench installs it)"
done

W=$(mktemp -d /tmp/bench-rl.XXXXXX)
PGD=$(mktemp -d /tmp/bench-rlpg.XXXXXX) # its own: handed to user postgres
SRC=$(mktemp -d /dev/shm/bench-rl.XXXXXX 2>/dev/null || mktemp -d /tmp/bench-rlsrc.XXXXXX) # pushed blobs
declare -a RPID=() RPORT=() CPIDS=()
declare -A BASE
cleanup() {
	local p
	for p in "${CPIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${RPID[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${RPID[@]}"; do
		for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
	done
	for n in $(seq 1 $REPLICAS) t; do "$here/../tests/nginx.sh" stop "$W/ngx$n" 2>/dev/null || true; done
	"$here/../tests/pg.sh" stop "$PGD" 2>/dev/null || true
	rm -rf "$W" "$PGD" "$SRC"
}
trap cleanup EXIT
mkdir -p "$OUT" "$W/data"

# ---- PostgreSQL, the replicas, the balancers ----

log "PostgreSQL, $REPLICAS replicas on one data folder, nginx over 1..$REPLICAS of them"
PG=$("$here/../tests/pg.sh" start "$PGD")
"$here/../tests/pg.sh" createdb "$PGD" bench
printf 'gc_interval = 0\nmetadata = postgres\npostgres = "%s dbname=bench"\n' "$PG" >"$W/registry.conf"

# start_replica I: the first creates the schema; each is up once it answers.
start_replica() {
	local i=$1 port=""
	"$REG" serve -c "$W/registry.conf" --listen 127.0.0.1:0 --data "$W/data" 2>"$W/replica$i.log" &
	RPID[i]=$!
	for _ in $(seq 1 100); do
		port=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$W/replica$i.log" | tail -1)
		[ -n "$port" ] && curl -sf -o /dev/null "http://127.0.0.1:$port/v2/" && break
		port=""
		sleep 0.1
	done
	[ -n "$port" ] || { tail -20 "$W/replica$i.log" >&2; die "replica $i did not start"; }
	RPORT[i]=$port
}
for i in $(seq 1 $REPLICAS); do start_replica "$i"; done
BASE[direct]=http://127.0.0.1:${RPORT[1]}
SETUPS=direct
declare -A LABEL=([direct]="1 replica, direct (no nginx)")
for n in $(seq 1 $REPLICAS); do
	# shellcheck disable=SC2046
	port=$("$here/../tests/nginx.sh" start "$W/ngx$n" $(for i in $(seq 1 "$n"); do echo "${RPORT[i]}"; done))
	BASE[lb$n]=http://127.0.0.1:$port
	SETUPS="$SETUPS lb$n"
	if [ "$n" = 1 ]; then LABEL[lb$n]="1 replica, nginx"; else LABEL[lb$n]="$n replicas, nginx"; fi
done

# BENCH_RL_UNTUNED=1: one more setup, all replicas behind nginx without
# what the README's example has for throughput (NGINX_UNTUNED=1 to
# tests/nginx.sh): no idle connections kept to the replicas (every request
# opens a new one) and nginx's default one-page relay buffer.
if [ "${BENCH_RL_UNTUNED:-0}" = 1 ]; then
	# shellcheck disable=SC2046
	port=$(NGINX_UNTUNED=1 "$here/../tests/nginx.sh" start "$W/ngxt" $(for i in $(seq 1 $REPLICAS); do echo "${RPORT[i]}"; done))
	BASE[lbt]=http://127.0.0.1:$port
	SETUPS="$SETUPS lbt"
	LABEL[lbt]="$REPLICAS replicas, nginx without upstream keepalive, 4 KiB buffers"
fi

# ---- the image pulled ----

printf '{}' >"$W/config"
openssl rand -out "$W/layer" $((PULL_MIB * 1024 * 1024))
D_CONFIG=sha256:$(sha256sum "$W/config" | cut -d' ' -f1)
D_LAYER=sha256:$(sha256sum "$W/layer" | cut -d' ' -f1)
for f in config layer; do
	d=D_${f^^}
	curl -sf -o /dev/null -X POST -H 'Content-Type: application/octet-stream' -H 'Expect:' \
		--data-binary "@$W/$f" "${BASE[direct]}/v2/pull/app/blobs/uploads/?digest=${!d}" ||
		die "seeding: push of $f failed"
done
printf '{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":2},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%d}]}' \
	"$MT" "$D_CONFIG" "$D_LAYER" $((PULL_MIB * 1024 * 1024)) >"$W/manifest"
curl -sf -o /dev/null -X PUT -H "Content-Type: $MT" --data-binary "@$W/manifest" \
	"${BASE[direct]}/v2/pull/app/manifests/v1" || die "seeding: manifest push failed"
for s in $SETUPS; do # every path answers before anything is measured
	curl -sf -o /dev/null "${BASE[$s]}/v2/pull/app/blobs/$D_LAYER" || die "$s: blob GET failed"
done
openssl rand -out "$SRC/base" $((PUSH_MIB * 1024 * 1024))

# ---- CPU accounting ----

# watch: sets WATCH to the processes whose CPU is counted, as "KIND:PID ...":
# r the replicas, n every balancer's master and worker (idle ones cost
# nothing), p PostgreSQL's postmaster and its children (the backends).
watch() {
	local m p n
	WATCH=""
	for p in "${RPID[@]}"; do WATCH="$WATCH r:$p"; done
	for n in $(seq 1 $REPLICAS) t; do
		[ -e "$W/ngx$n/nginx.pid" ] || continue
		m=$(cat "$W/ngx$n/nginx.pid")
		for p in $m $(pgrep -P "$m"); do WATCH="$WATCH n:$p"; done
	done
	m=$(head -1 "$PGD/data/postmaster.pid")
	for p in $m $(pgrep -P "$m"); do WATCH="$WATCH p:$p"; done
}
# cpu_snap: sets SNAP to "registry nginx postgres clients busy total": CPU
# seconds of each (utime + stime of the processes in WATCH, threads
# included; clients: this shell's reaped children, from `times`) and the
# machine's busy and total seconds from /proc/stat (all cores). Not in a
# subshell, for `times`.
cpu_snap() {
	times >"$W/times"
	SNAP=$(awk -v watch="$WATCH" -v hz="$HZ" '
		function sec(s,  m) { m = s; sub(/m.*/, "", m); sub(/^[0-9]*m/, "", s); sub(/s$/, "", s); return m * 60 + s }
		BEGIN {
			n = split(watch, w, " ")
			for (i = 1; i <= n; i++) {
				split(w[i], kp, ":")
				f = "/proc/" kp[2] "/stat"
				if ((getline line < f) > 0) {
					sub(/^.*\) /, "", line)
					split(line, a, " ")
					t[kp[1]] += a[12] + a[13]
				}
				close(f)
			}
		}
		FILENAME == "/proc/stat" && $1 == "cpu" { busy = $2 + $3 + $4 + $7 + $8 + $9; total = busy + $5 + $6 }
		FILENAME != "/proc/stat" && FNR == 2 { c = sec($1) + sec($2) }
		END { printf "%.2f %.2f %.2f %.2f %.2f %.2f", t["r"] / hz, t["n"] / hz, t["p"] / hz, c, busy / hz, total / hz }
	' /proc/stat "$W/times")
}
# cpu_cores BEFORE AFTER ELAPSED: "registry nginx postgres clients other
# machine%": cores busy on average over ELAPSED seconds (other: the machine's
# busy time less all of ours, i.e. other work on it and kernel threads); the
# machine as % of all its cores.
cpu_cores() {
	awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN {
		split(a, x, " "); split(b, y, " ")
		for (i = 1; i <= 4; i++) { d = (y[i] - x[i]) / t; ours += d; printf "%.2f ", d }
		o = (y[5] - x[5]) / t - ours
		printf "%.2f %.0f", o < 0 ? 0 : o, 100 * (y[5] - x[5]) / (y[6] - x[6]) }'
}

# ---- the workloads ----

declare -A ALL # ALL[workload,setup] = the runs' values; ALLCPU[...,setup,column]
declare -A ALLCPU
: >"$W/samples.csv"
record() { # WORKLOAD SETUP RUN VALUE CPU-LINE
	local i=1 k
	echo "$1,$2,$3,$4,${5// /,}" >>"$W/samples.csv"
	ALL[$1,$2]="${ALL[$1,$2]:-} $4"
	for k in $5; do
		ALLCPU[$1,$2,$i]="${ALLCPU[$1,$2,$i]:-} $k"
		i=$((i + 1))
	done
}
now() { date +%s.%N; }

# push SETUP RUN: CLIENTS clients at once push their blobs, each as a client
# does: POST, then PUT ?digest= with the blob streamed. The blobs are distinct
# (a unique first line, then the same random bytes), written to tmpfs and
# hashed before the clock starts, so the clients read memory, not the disk
# the replicas write. Few processes, since on 2 cores a curl's start-up is
# CPU the servers lose: one curl makes every POST (one after the other),
# then one curl per client its PUTs, over one connection.
push() {
	local s=$1 r=$2 c j f t0 t1 before mbs bytes=0 rc=0 i
	local -a posts=() puts=() locs=()
	rm -f "$SRC"/c*
	for c in $(seq 1 "$CLIENTS"); do
		for j in $(seq 1 "$PUSHES"); do
			f=$SRC/c$c.$j
			{ printf 'run %s setup %s client %s blob %s\n' "$r" "$s" "$c" "$j"; cat "$SRC/base"; } >"$f"
			bytes=$((bytes + $(stat -c %s "$f")))
			posts+=(-o /dev/null "${BASE[$s]}/v2/push/$s/r$r/c$c/blobs/uploads/")
		done
	done
	find "$SRC" -name 'c*' -print0 | xargs -0 -n 1 -P "$NPROC" sha256sum >"$W/digests"
	declare -A dig=()
	while read -r d f; do dig[$f]=sha256:$d; done <"$W/digests"
	cpu_snap
	before=$SNAP
	t0=$(now)
	curl -sf -X POST -w '%header{location}\n' "${posts[@]}" >"$W/locs" || die "$s: a POST failed"
	mapfile -t locs <"$W/locs"
	[ ${#locs[@]} = $((CLIENTS * PUSHES)) ] || die "$s: ${#locs[@]} upload sessions, not $((CLIENTS * PUSHES))"
	CPIDS=()
	i=0
	for c in $(seq 1 "$CLIENTS"); do
		puts=()
		for j in $(seq 1 "$PUSHES"); do
			f=${locs[i]}
			i=$((i + 1))
			case $f in http*) ;; *) f=${BASE[$s]}$f ;; esac
			case $f in *\?*) f="$f&" ;; *) f="$f?" ;; esac
			[ "$j" = 1 ] || puts+=(--next)
			puts+=(-sf -o /dev/null -H 'Expect:' -H 'Content-Type: application/octet-stream'
				-T "$SRC/c$c.$j" "${f}digest=${dig[$SRC/c$c.$j]}")
		done
		curl "${puts[@]}" &
		CPIDS+=($!)
	done
	for c in "${CPIDS[@]}"; do wait "$c" || rc=1; done
	CPIDS=()
	t1=$(now)
	cpu_snap
	[ $rc = 0 ] || die "$s: a PUT failed"
	mbs=$(awk -v t0="$t0" -v t1="$t1" -v b="$bytes" 'BEGIN { printf "%.0f", b / (t1 - t0) / 1e6 }')
	record push "$s" "$r" "$mbs" "$(cpu_cores "$before" "$SNAP" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')")"
	rm -f "$SRC"/c*
}
# get WORKLOAD SETUP RUN PATH BYTES: wrk on PATH; requests/s (x BYTES / 1e6
# when BYTES is not 0, as MB/s).
get() {
	local w=$1 s=$2 r=$3 path=$4 bytes=$5 out before t0 t1 v
	cpu_snap
	before=$SNAP
	t0=$(now)
	out=$(wrk -t2 -c32 -d"${SEC}s" -H "Accept: $MT" "${BASE[$s]}$path")
	t1=$(now)
	cpu_snap
	if grep -q 'Non-2xx' <<<"$out"; then
		echo "$out" >&2
		die "$s: error responses on $path"
	fi
	grep -q 'Socket errors' <<<"$out" && log "$s $w: wrk $(grep 'Socket errors' <<<"$out")"
	v=$(awk -v b="$bytes" '/^Requests\/sec:/ { if (b > 0) printf "%.0f", $2 * b / 1e6; else printf "%.0f", $2 }' <<<"$out")
	record "$w" "$s" "$r" "$v" "$(cpu_cores "$before" "$SNAP" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')")"
}

median() { # values... -> median
	printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 }
		END { if (NR == 0) print ""; else if (NR % 2) print a[(NR + 1) / 2];
		      else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
for r in $(seq 1 "$RUNS"); do
	for s in $SETUPS; do
		log "run $r/$RUNS, ${LABEL[$s]}"
		watch
		push "$s" "$r"
		get pull "$s" "$r" "/v2/pull/app/blobs/$D_LAYER" $((PULL_MIB * 1024 * 1024))
		get manifest "$s" "$r" /v2/pull/app/manifests/v1 0
	done
done
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- medians, tables, the note ----

declare -A VAL CPU
for w in push pull manifest; do
	for s in $SETUPS; do
		# shellcheck disable=SC2086
		VAL[$w,$s]=$(median ${ALL[$w,$s]})
		for i in 1 2 3 4 5 6; do
			# shellcheck disable=SC2086
			CPU[$w,$s,$i]=$(median ${ALLCPU[$w,$s,$i]})
		done
	done
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf (b > 0 ? "%.2f" : "-"), a / b }'; }
{
	echo "setup,replicas,via,workload,value,unit,registry_cores,nginx_cores,postgres_cores,client_cores,other_cores,machine_busy_pct"
	for s in $SETUPS; do
		for w in push pull manifest; do
			u=MB/s
			[ $w = manifest ] && u=req/s
			case $s in
			direct) n=1 via=direct ;;
			lbt) n=$REPLICAS via=nginx-untuned ;;
			*) n=${s#lb} via=nginx ;;
			esac
			echo "$s,$n,$via,$w,${VAL[$w,$s]},$u,${CPU[$w,$s,1]},${CPU[$w,$s,2]},${CPU[$w,$s,3]},${CPU[$w,$s,4]},${CPU[$w,$s,5]},${CPU[$w,$s,6]}"
		done
	done
} >"$OUT/replicas.csv"
{
	echo "workload,setup,run,value,registry_cores,nginx_cores,postgres_cores,client_cores,other_cores,machine_busy_pct"
	cat "$W/samples.csv"
} >"$OUT/replicas-samples.csv"

# ours: cores the benchmark's own processes used, at 1 replica behind nginx.
ours() { awk -v a="${CPU[$1,lb1,1]}" -v b="${CPU[$1,lb1,2]}" -v c="${CPU[$1,lb1,3]}" -v d="${CPU[$1,lb1,4]}" \
	'BEGIN { printf "%.1f", a + b + c + d }'; }
max_busy=0
for w in push pull manifest; do
	b=${CPU[$w,lb1,6]%.*}
	[ "$b" -gt "$max_busy" ] && max_busy=$b
done
{
	echo "Replicas on PostgreSQL and one data folder: $NPROC cores, $(date -u +%Y-%m-%d), load average $LOAD0 before, $LOAD1 after; medians of $RUNS runs."
	echo
	echo "| setup | push MB/s ($CLIENTS clients x $PUSHES x $PUSH_MIB MiB) | pull MB/s ($PULL_MIB MiB blob, wrk 32 conns, ${SEC} s) | manifest GETs/s (wrk 32 conns) | vs 1 replica via nginx (push / pull / GET) |"
	echo "| --- | ---: | ---: | ---: | --- |"
	for s in $SETUPS; do
		printf '| %s | %s | %s | %s | %s / %s / %s |\n' "${LABEL[$s]}" "${VAL[push,$s]}" "${VAL[pull,$s]}" \
			"${VAL[manifest,$s]}" "$(ratio "${VAL[push,$s]}" "${VAL[push,lb1]}")" \
			"$(ratio "${VAL[pull,$s]}" "${VAL[pull,lb1]}")" "$(ratio "${VAL[manifest,$s]}" "${VAL[manifest,lb1]}")"
	done
	echo
	echo "CPU during each workload, in cores busy on average (of $NPROC); other: the machine's busy time less all of ours (other work on it, kernel threads)."
	echo
	echo "| setup | workload | registry (all replicas) | nginx | postgres | clients (curl, wrk) | other | machine busy |"
	echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"
	for s in $SETUPS; do
		for w in push pull manifest; do
			printf '| %s | %s | %s | %s | %s | %s | %s | %s %% |\n' "${LABEL[$s]}" "$w" "${CPU[$w,$s,1]}" \
				"${CPU[$w,$s,2]}" "${CPU[$w,$s,3]}" "${CPU[$w,$s,4]}" "${CPU[$w,$s,5]}" "${CPU[$w,$s,6]}"
		done
	done
	echo
	echo "With 1 replica behind nginx the machine's $NPROC cores were ${CPU[push,lb1,6]} / ${CPU[pull,lb1,6]} / ${CPU[manifest,lb1,6]} % busy (push / pull / GET),"
	echo "$(ours push) / $(ours pull) / $(ours manifest) cores of it this benchmark's processes (replicas, nginx, PostgreSQL, clients), the rest other work on the machine and kernel threads."
	if [ "$max_busy" -ge 85 ]; then
		echo "So the cores were saturated with one replica already: more replicas on this machine have no CPU"
		echo "to add and cannot scale throughput. The ratios above measure replicas sharing these cores, not"
		echo "what replicas on machines of their own would give."
	else
		echo "The replicas share these cores with nginx, PostgreSQL and the clients: more replicas on one"
		echo "machine scale only as far as idle cores allow."
	fi
} | tee "$OUT/replicas.md"
