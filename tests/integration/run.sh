#!/bin/bash
# Runs every tests/integration/test_*.sh against the given registry binary
# and prints the total as "N passed, N failed".
#
# Each script runs under a time limit (INTEGRATION_TIMEOUT, 600 s, or its own
# "# timeout: SECONDS" line): timeout(1) kills the script's whole process
# group, servers included, and the run names the script and the last checks
# it passed. Output is printed as it comes, so CI shows progress.
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
for t in "$here"/test_*.sh; do
	name=$(basename "$t")
	limit=$(sed -n 's/^# timeout: \([0-9][0-9]*\)$/\1/p' "$t" | head -1)
	limit=${limit:-${INTEGRATION_TIMEOUT:-600}}
	echo "== $name"
	export TEST_PROGRESS="$logs/$name.progress"
	: >"$TEST_PROGRESS"
	start=$(date +%s)
	timeout -k 10 "$limit" bash "$t" "$bin" 2>&1 | tee "$logs/$name.out" |
		grep --line-buffered -vE '^[0-9]+ passed, [0-9]+ failed$'
	rc=${PIPESTATUS[0]}
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$logs/$name.out" | tail -1)
	p=$(echo "$line" | cut -d' ' -f1)
	f=$(echo "$line" | cut -d' ' -f3)
	if [ -z "$p" ]; then # it ended before its summary: count what it checked
		p=$(grep -c '^ok: ' "$TEST_PROGRESS")
		f=$(grep -c '^FAIL: ' "$TEST_PROGRESS")
	fi
	if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
		echo "TIMEOUT: $name did not finish within $limit s (killed); its last checks:"
		tail -n 3 "$TEST_PROGRESS" | sed 's/^/     /'
		f=$((f + 1))
	fi
	[ "$rc" != 0 ] && [ "$f" = 0 ] && f=1
	echo "   $p passed, $f failed ($(($(date +%s) - start)) s)"
	passed=$((passed + p))
	failed=$((failed + f))
done
echo "integration: $passed passed, $failed failed"
[ "$failed" = 0 ]
