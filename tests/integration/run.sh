#!/bin/bash
# Runs every tests/integration/test_*.sh against the given registry binary
# and prints the total as "N passed, N failed".
#
# Each script runs under a time limit (INTEGRATION_TIMEOUT, 600 s, or its own
# "# timeout: SECONDS" line): timeout(1) kills the script's whole process
# group, servers included, and the run names the script and the last checks
# it passed. Output is printed as it comes, so CI shows progress.
# INTEGRATION_EXCLUDE="test_a.sh test_b.sh" leaves those out of this run.
set -u
bin=$(readlink -f "${1:?usage: run.sh REGISTRY_BINARY}")
here=$(dirname "$0")
passed=0
failed=0
logs=$(mktemp -d /tmp/regrun.XXXXXX)
trap 'rm -rf "$logs"' EXIT
# Every wait on a process is bounded (reg_wait in lib.sh): a bare `wait`
# on a process that ignores a signal would hang the run without a word.
bare=$(grep -nE '(^|[;&|({]|then|do|else)[[:space:]]*wait([[:space:]]|$)' "$here"/test_*.sh "$here"/fulldisk.sh)
if [ -n "$bare" ]; then
	echo "FAIL: a wait without a bound (use reg_wait or reg_wait_all):"
	echo "$bare" | sed "s@$here/@   @"
	failed=$((failed + 1))
fi
# INTEGRATION_SCRIPTS: only these (names, as run_s3.sh gives); else every
# script but those with a line "# needs: rgw" (test_s3.sh,
# test_replicas_lb.sh), which `make integration-s3` runs beside its RGW.
if [ -n "${INTEGRATION_SCRIPTS:-}" ]; then
	scripts=()
	for n in $INTEGRATION_SCRIPTS; do scripts+=("$here/$n"); done
else
	scripts=()
	for t in "$here"/test_*.sh; do grep -q '^# needs: rgw' "$t" || scripts+=("$t"); done
fi
# run_one SCRIPT: runs it under its limit into $logs/NAME.out, then writes
# NAME.rc and NAME.secs (their presence says it is done).
run_one() {
	local t=$1 name limit start rc
	name=$(basename "$t")
	limit=$(sed -n 's/^# timeout: \([0-9][0-9]*\)$/\1/p' "$t" | head -1)
	limit=${limit:-${INTEGRATION_TIMEOUT:-600}}
	start=$(date +%s)
	TEST_PROGRESS="$logs/$name.progress" timeout -k 10 "$limit" bash "$t" "$bin" \
		>"$logs/$name.out" 2>&1
	rc=$?
	echo "$limit" >"$logs/$name.limit"
	echo $(($(date +%s) - start)) >"$logs/$name.secs"
	echo "$rc" >"$logs/$name.rc"
}

# report NAME: prints a finished script's output and its count.
report() {
	local name=$1 rc line p f
	rc=$(cat "$logs/$name.rc")
	echo "== $name"
	grep -vE '^[0-9]+ passed, [0-9]+ failed$' "$logs/$name.out"
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$logs/$name.out" | tail -1)
	p=$(echo "$line" | cut -d' ' -f1)
	f=$(echo "$line" | cut -d' ' -f3)
	if [ -z "$p" ]; then # it ended before its summary: count what it checked
		p=$(grep -c '^ok: ' "$logs/$name.progress")
		f=$(grep -c '^FAIL: ' "$logs/$name.progress")
	fi
	if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
		echo "TIMEOUT: $name did not finish within $(cat "$logs/$name.limit") s (killed); its last checks:"
		tail -n 3 "$logs/$name.progress" | sed 's/^/     /'
		f=$((f + 1))
	fi
	[ "$rc" != 0 ] && [ "$f" = 0 ] && f=1
	echo "   $p passed, $f failed ($(cat "$logs/$name.secs") s)"
	passed=$((passed + p))
	failed=$((failed + f))
}

# INTEGRATION_JOBS scripts at once (default 1). A script with a line
# "# alone" (it measures time, or loads both cores itself) runs with no
# other beside it; one with a line "# long" (minutes, where most take
# seconds) starts first, so the others run beside it instead of the pass
# ending with it alone. Output is printed per script as each ends.
jobs=${INTEGRATION_JOBS:-1}
long=()
short=()
for t in "${scripts[@]}"; do
	if grep -q '^# long$' "$t"; then long+=("$t"); else short+=("$t"); fi
done
scripts=("${long[@]}" "${short[@]}")
running=()
reap() { # reports the scripts of running[] that have ended
	local n still=()
	for n in "${running[@]}"; do
		if [ -e "$logs/$n.rc" ]; then report "$n"; else still+=("$n"); fi
	done
	running=("${still[@]}")
}
for t in "${scripts[@]}"; do
	name=$(basename "$t")
	# INTEGRATION_EXCLUDE: names a pass leaves to another (said where set)
	case " ${INTEGRATION_EXCLUDE:-} " in *" $name "*) continue ;; esac
	alone=$(grep -c '^# alone$' "$t")
	: >"$logs/$name.progress"
	# wait for a free slot; one that must run alone waits for all
	while [ "${#running[@]}" -ge "$jobs" ] || { [ "$alone" != 0 ] && [ "${#running[@]}" -gt 0 ]; }; do
		wait -n 2>/dev/null || sleep 0.2
		reap
	done
	run_one "$t" &
	running+=("$name")
	if [ "$alone" != 0 ] || [ "$jobs" = 1 ]; then
		while [ "${#running[@]}" -gt 0 ]; do
			wait -n 2>/dev/null || sleep 0.2
			reap
		done
	fi
done
while [ "${#running[@]}" -gt 0 ]; do
	wait -n 2>/dev/null || sleep 0.2
	reap
done
echo "integration: $passed passed, $failed failed"
[ "$failed" = 0 ]
