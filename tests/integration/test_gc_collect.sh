#!/bin/bash
# One collection, as the server runs it every gc_interval and `registry gc`
# runs it (core_collect: the retain lines first, then what nothing
# references), against the real binary:
#   - gc_dry_run = true: `registry gc` lists the tags, links and blobs it
#     would remove, says in its summary that gc_dry_run is set, removes
#     nothing; the same run without it removes exactly what was listed;
#   - gc_dry_run = true, the server's timed runs: each would-be removal
#     logged at info with its rule, a summary line per run, nothing removed,
#     nothing counted as removed in /metrics;
#   - the server's timed run applies the retain lines first, then collects
#     what the tags held, in the same run: each removal logged at info with
#     the rule that allowed it, one summary line with the bytes freed, and
#     the blob files left add up to exactly what is still referenced;
#   - the GC families on /metrics: runs, removed by kind, freed bytes, the
#     last run's duration and time; promtool checks the page and a real
#     Prometheus (Debian's package, on loopback) answers a query for them;
#   - reading /metrics runs no collection and changes nothing; with
#     metrics_auth = same anonymous and a wrong password get 401, a user 200;
#   - a bad gc_dry_run value is refused at start, with the file and line.
# timeout: 300
set -u
. "$(dirname "$0")/lib.sh"
BIN=$1
DATA=$TMP/data
mkdir -p "$DATA"

# shellcheck source=images.sh
. "$(dirname "$0")/images.sh"
files() { (cd "$DATA/blobs" && find . -type f | sort); }
# metric NAME_WITH_LABELS: its value on the last page read ($TMP/b), or "".
metric() { grep -F "$1 " "$TMP/b" | grep -v '^#' | head -1 | awk '{print $NF}'; }
tags() { req GET "/v2/$1/tags/list"; grep -o '"r[0-9]"' "$TMP/b" | tr -d '\n'; }
# wait_log PATTERN [N]: waits (10 s at most) until N (1) log lines match.
wait_log() {
	for _ in $(seq 1 100); do
		[ "$(grep -c -- "$1" "$REG_LOG")" -ge "${2:-1}" ] && return 0
		sleep 0.1
	done
	return 1
}
# seed: ret/app with r1 then r2 (keep=1 lets r1 go), and other:v1 deleted
# by digest (its config, layer and manifest are garbage), on a server that
# does not collect, so no run races the pushes.
seed() {
	printf 'gc_interval = 0\n' >"$TMP/seed.conf"
	reg_start "$BIN" -c "$TMP/seed.conf"
	image ret/app r1 r1
	sleep 1.1 # pushed times are seconds: r2 is the newer
	image ret/app r2 r2
	image other v1 o
	req DELETE "/v2/other/manifests/$(sha256 "$TMP/o.m")"
	expect "delete other's manifest" 202
	reg_stop
	sleep 1.1 # past gc_untagged = 1s: r1's manifest, once untagged, goes in the same run
}
conf() { # conf FILE DRY INTERVAL [extra lines]
	printf 'gc_interval = %s\ngc_delay = 0\ngc_untagged = 1s\nretain = "ret/** keep=1"\ngc_dry_run = %s\n%s' \
		"$3" "$2" "${4:-}" >"$1"
}

seed
R1=$(sha256 "$TMP/r1.m")
ALL=$(stored)
GARBAGE=$(size "$TMP"/{r1,o}.{c,l,m})
LEFT=$(size "$TMP"/r2.{c,l,m} "$TMP/shared.l")
FILES=$(files)

# ---- `registry gc` with gc_dry_run = true ----
conf "$TMP/dry.conf" true 0
"$BIN" gc -c "$TMP/dry.conf" -d "$DATA" >"$TMP/dry.out" 2>"$TMP/dry.err"
check "gc with gc_dry_run: exit 0" [ $? = 0 ]
check "...lists the tag retention would remove" grep -qx "tag ret/app:r1 $R1" "$TMP/dry.out"
check "...lists other's three links" [ "$(grep -c '^link other ' "$TMP/dry.out")" = 3 ]
check "...and o's config, layer and manifest as blobs" \
	[ "$(grep '^blob ' "$TMP/dry.out" | cut -d' ' -f2 | sort | tr '\n' ' ')" = "$(for f in o.c o.l o.m; do sha256 "$TMP/$f"; done | sort | tr '\n' ' ')" ]
check "...says gc_dry_run is set" grep -qx "gc_dry_run is set: nothing was removed" "$TMP/dry.err"
check "...retention: would" grep -q "retention: 1 tag(s) would be removed" "$TMP/dry.err"
check "...summary: would remove, would be freed" grep -q "would remove 0 manifest(s), 3 blob link(s), 3 blob(s), 0 orphan file(s): .* ($(size "$TMP"/o.{c,l,m}) bytes) would be freed" "$TMP/dry.err"
check "...its log line says why it was a dry run" grep -q "gc (dry run: gc_dry_run is set): would remove" "$TMP/dry.err"
check "...removed no file" [ "$(files)" = "$FILES" ]
"$BIN" gc --dry-run -c "$TMP/dry.conf" -d "$DATA" >"$TMP/dry2.out" 2>/dev/null
check "--dry-run with gc_dry_run: the same list" diff "$TMP/dry.out" "$TMP/dry2.out"
conf "$TMP/nodry.conf" false 0
"$BIN" gc --dry-run -c "$TMP/nodry.conf" -d "$DATA" >/dev/null 2>"$TMP/dry3.err"
check "--dry-run alone does not claim gc_dry_run" bash -c "! grep -q gc_dry_run '$TMP/dry3.err'"
check "...and removed nothing either" [ "$(files)" = "$FILES" ]
printf 'gc_interval = 0\n' >"$TMP/seed.conf"
reg_start "$BIN" -c "$TMP/seed.conf"
check "the tags are all still there" [ "$(tags ret/app)" = '"r1""r2"' ]
reg_stop

# ---- the server's timed runs with gc_dry_run = true ----
conf "$TMP/srvdry.conf" true 1s
START=$(date +%s)
reg_start "$BIN" -c "$TMP/srvdry.conf"
check "timed dry runs: a summary line each, saying gc_dry_run is set" \
	wait_log "info gc (dry run: gc_dry_run is set): would remove" 2
# a dry run of the collection does not see what a dry run of retention frees
check "...the summary counts other's garbage and the tag" \
	grep -q "gc (dry run: gc_dry_run is set): would remove 0 manifest(s), 3 link(s), 3 blob(s) and 0 orphan file(s), $(size "$TMP"/o.{c,l,m}) bytes would be freed; 1 tag(s) by retention" "$REG_LOG"
check "...the tag, at info, with the rule" \
	grep -q "info retain: would remove tag ret/app:r1 $R1: no rule keeps it, by \"ret/\*\* keep=1\"" "$REG_LOG"
check "...each blob, at info, with size and rule" \
	grep -q "info gc: would remove blob $(sha256 "$TMP/o.l") 3000 bytes: no repository links it, nothing referenced it for gc_delay (0s)" "$REG_LOG"
check "...each link, with its rule" \
	grep -q "info gc: would remove link other $(sha256 "$TMP/o.c"): no manifest of the repository uses it" "$REG_LOG"
check "...nothing removed" [ "$(files)" = "$FILES" ]
check "...the tags stay" [ "$(tags ret/app)" = '"r1""r2"' ]
req GET /metrics
check "metrics: runs counted ($(metric registry_gc_runs_total))" [ "$(metric registry_gc_runs_total)" -ge 2 ]
for k in tags manifests links blobs orphans uploads; do
	check "metrics: dry runs removed no $k" [ "$(metric "registry_gc_removed_total{kind=\"$k\"}")" = 0 ]
done
check "metrics: no bytes freed" [ "$(metric registry_gc_freed_bytes_total)" = 0 ]
check "metrics: the page passes promtool" bash -c "promtool check metrics <'$TMP/b'"
reg_stop

# ---- the server's timed run: retention first, then what the tag held ----
conf "$TMP/srv.conf" false 1s
reg_start "$BIN" -c "$TMP/srv.conf"
check "timed run: one summary line, bytes freed, the tag by retention" \
	wait_log "info gc: removed 1 manifest(s), 5 link(s), 6 blob(s) and 0 orphan file(s), $GARBAGE bytes freed; 1 tag(s) by retention; 0 idle upload(s)"
check "...retention's removal at info, with the rule" \
	grep -q "info retain: removed tag ret/app:r1 ($R1, pushed .*): no rule keeps it, by \"ret/\*\* keep=1\"" "$REG_LOG"
check "...the untagged manifest, with its rule" \
	grep -q "info gc: removed manifest ret/app@$R1: untagged for gc_untagged (1s) and no index, tag or referrer holds it" "$REG_LOG"
check "...each blob with its size and rule" [ "$(grep -c "info gc: removed blob sha256:[0-9a-f]* [0-9]* bytes: no repository links it" "$REG_LOG")" = 6 ]
check "...each link with its rule" [ "$(grep -c "info gc: removed link .*: no manifest of the repository uses it" "$REG_LOG")" = 5 ]
check "space comes back: du of the blob files is exactly $LEFT" [ "$(stored)" = "$LEFT" ]
check "r1 is gone, r2 stays" [ "$(tags ret/app)" = '"r2"' ]
req GET "/v2/ret/app/manifests/$R1" -H "Accept: $MT"
expect "...r1's manifest was collected in the same run" 404 MANIFEST_UNKNOWN
req GET /metrics
check "metrics: registry_gc_runs_total >= 1" [ "$(metric registry_gc_runs_total)" -ge 1 ]
for kv in tags=1 manifests=1 links=5 blobs=6 orphans=0 uploads=0; do
	check "metrics: removed ${kv%=*}: ${kv#*=}" [ "$(metric "registry_gc_removed_total{kind=\"${kv%=*}\"}")" = "${kv#*=}" ]
done
check "metrics: freed bytes $GARBAGE" [ "$(metric registry_gc_freed_bytes_total)" = "$GARBAGE" ]
when=$(metric registry_gc_last_run_timestamp_seconds)
NOW=$(date +%s)
check "metrics: the last run's time ($when) is now" bash -c "[ '${when:-0}' -ge $START ] && [ '${when:-0}' -le $NOW ]"
dur=$(metric registry_gc_duration_seconds)
check "metrics: the last run's duration ($dur)" bash -c "[ -n '$dur' ] && awk 'BEGIN { exit !($dur >= 0 && $dur < 60) }'"
check "metrics: no label names a repository or digest" bash -c "! grep '^registry_gc' '$TMP/b' | grep -qE 'ret/|sha256'"
check "metrics: the page passes promtool" bash -c "promtool check metrics <'$TMP/b'"

# a real Prometheus scrapes it and answers for the GC families
if prom_start $PORT; then
	freed=
	for _ in $(seq 1 300); do
		freed=$(prom_query 'registry_gc_freed_bytes_total')
		[ "$freed" = "$GARBAGE" ] && break
		sleep 0.1
	done
	check "prometheus: registry_gc_freed_bytes_total ($freed)" [ "$freed" = "$GARBAGE" ]
	check "prometheus: blobs removed" [ "$(prom_query 'registry_gc_removed_total{kind="blobs"}')" = 6 ]
	check "prometheus: a run within the last minute" [ "$(prom_query 'time() - registry_gc_last_run_timestamp_seconds < 60')" != "" ]
	prom_stop
fi
reg_stop

# ---- reading /metrics: who may, and it changes nothing ----
echo pw-alice | "$BIN" user add alice --password-stdin --cost 4 --data "$DATA" >/dev/null
printf 'auth = basic\nmetrics_auth = same\ngc_interval = 0\ngc_delay = 0\n' >"$TMP/auth.conf"
reg_start "$BIN" -c "$TMP/auth.conf"
req GET /metrics
expect "metrics_auth = same: anonymous" 401 UNAUTHORIZED
check "...sees no GC family" bash -c "! grep -q registry_gc '$TMP/b'"
req GET /metrics -u alice:wrong
expect "metrics_auth = same: a wrong password" 401 UNAUTHORIZED
# an orphan file past gc_delay: a collection would remove it, a read must not
printf 'orphan' >"$TMP/orphan"
HEX=$(sha256 "$TMP/orphan")
HEX=${HEX#sha256:}
mkdir -p "$DATA/blobs/sha256/${HEX:0:2}"
cp "$TMP/orphan" "$DATA/blobs/sha256/${HEX:0:2}/$HEX"
touch -d '2 hours ago' "$DATA/blobs/sha256/${HEX:0:2}/$HEX"
FILES=$(files)
for _ in $(seq 1 10); do curl -s -o /dev/null -u alice:pw-alice "$BASE/metrics"; done
req GET /metrics -u alice:pw-alice
expect "metrics_auth = same: alice" 200
check "no collection yet: runs 0" [ "$(metric registry_gc_runs_total)" = 0 ]
check "...freed 0" [ "$(metric registry_gc_freed_bytes_total)" = 0 ]
check "...the last-run gauge is the run recorded in the data folder (an earlier process's)" \
	[ "$(metric registry_gc_last_run_timestamp_seconds)" = "$(cut -d' ' -f1 "$DATA/gc.last")" ]
check "reads of /metrics removed nothing" [ "$(files)" = "$FILES" ]
reg_stop

# a bad value is refused with the file and line, by both
printf 'gc_interval = 0\ngc_dry_run = maybe\n' >"$TMP/bad.conf"
"$BIN" gc -c "$TMP/bad.conf" -d "$DATA" >/dev/null 2>"$TMP/bad.err"
check "gc_dry_run = maybe: registry gc exits 2" [ $? = 2 ]
check "...naming the file and line" grep -q "bad.conf:2: invalid gc_dry_run 'maybe'" "$TMP/bad.err"
"$BIN" serve -c "$TMP/bad.conf" --listen 127.0.0.1:0 -d "$DATA" 2>"$TMP/bad.err"
check "...and registry serve exits 2" [ $? = 2 ]
summary
