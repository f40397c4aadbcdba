#!/bin/bash
# Runs every tests/integration/test_*.sh against the given registry binary
# and prints the total as "N passed, N failed".
set -u
bin=$(readlink -f "${1:?usage: run.sh REGISTRY_BINARY}")
here=$(dirname "$0")
passed=0
failed=0
for t in "$here"/test_*.sh; do
	echo "== $(basename "$t")"
	out=$(bash "$t" "$bin" 2>&1)
	rc=$?
	echo "$out" | grep -v '^[0-9]* passed, [0-9]* failed$'
	line=$(echo "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -1)
	p=$(echo "$line" | cut -d' ' -f1)
	f=$(echo "$line" | cut -d' ' -f3)
	[ -z "$p" ] && p=0 && f=1
	[ "$rc" != 0 ] && [ "$f" = 0 ] && f=1
	echo "   $p passed, $f failed"
	passed=$((passed + p))
	failed=$((failed + f))
done
echo "integration: $passed passed, $failed failed"
[ "$failed" = 0 ]
