#!/bin/bash
# run.sh SECONDS FUZZER... - runs each libFuzzer target for SECONDS, starting
# from its seed corpus tests/fuzz/corpus/<name>/ (read only) and a working
# corpus under build/fuzz/corpus/<name>/ (kept between runs, so longer runs
# build on earlier ones). Prints each target's executions and fails on the
# first crash, leak, timeout or broken promise, naming the input that
# caused it (build/fuzz/crash-<name>-*).
#
# By hand: build/fuzz/fuzz_NAME build/fuzz/corpus/NAME tests/fuzz/corpus/NAME
# (libFuzzer adds what it finds to the FIRST folder: keep the seeds second,
# so they stay a few small files).
set -u
secs=${1:?usage: run.sh SECONDS FUZZER...}
shift
here=$(dirname "$0")
out=build/fuzz
failed=0
total=0
for bin in "$@"; do
	name=${bin##*/fuzz_}
	mkdir -p "$out/corpus/$name"
	dict=()
	[ -f "$here/$name.dict" ] && dict=(-dict="$here/$name.dict")
	log=$out/$name.log
	"$bin" -max_total_time="$secs" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix="$out/crash-$name-" "${dict[@]}" \
		"$out/corpus/$name" "$here/corpus/$name" >"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1)
	printf '  fuzz_%-9s %10s executions in %ss (%s, corpus %s)\n' "$name" "${runs:-?}" \
		"$secs" "${cov:-cov: ?}" "$(ls "$out/corpus/$name" | wc -l)"
	total=$((total + ${runs:-0}))
	if [ "$rc" != 0 ]; then
		failed=$((failed + 1))
		echo "FAIL: fuzz_$name (exit $rc); see $log" >&2
		grep -E 'ERROR|broken promise|SUMMARY|Test unit written' "$log" | head -10 >&2
	fi
done
echo "fuzz: $total executions, $failed target(s) failed"
[ "$failed" = 0 ]
