#!/bin/bash
# run.sh [NAME...] - `make mutants`: makes each deliberate bug of mutants.txt
# in a scratch copy of this tree, one at a time, builds, and runs the tests
# the mutant names. A test suite that still passes with the bug in place let
# it survive: the run fails, naming it. Each bug is a literal text to find
# (exactly once, in one file) and what to put instead, not a line number,
# so the list survives refactoring; a pattern that no longer matches fails
# the run too (update the mutant with the code).
#
# Tests: "unit:SUITE" (the Check suite SUITE), "integration:test_X.sh" (a
# script of tests/integration against build/registry). With NAMEs, only
# those mutants run. MUTANTS_KEEP=1 keeps the scratch tree.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
list=$here/mutants.txt
scratch=$(mktemp -d /tmp/mutants.XXXXXX)
cleanup() {
	if [ "${MUTANTS_KEEP:-}" = 1 ]; then echo "kept $scratch"; else rm -rf "$scratch"; fi
}
trap cleanup EXIT

# The tree as it is now (committed or not), without build outputs.
(cd "$top" && git ls-files -co --exclude-standard -z | tar --null -cf - -T -) |
	tar -xf - -C "$scratch"
build() {
	make -s -C "$scratch" -j2 build/registry build/unit >"$scratch/build.log" 2>&1
}
echo "building the unmutated tree in $scratch"
build || { tail -20 "$scratch/build.log"; echo "mutants: the tree does not build"; exit 1; }

# run_test SPEC: 0 if it passes.
run_test() {
	case $1 in
	unit:*)
		(cd "$scratch" && CK_FORK=no CK_RUN_SUITE="${1#unit:}" timeout -k 5 300 build/unit) \
			>"$scratch/test.log" 2>&1
		;;
	integration:*)
		(cd "$scratch" && INTEGRATION_TIMEOUT=600 timeout -k 10 600 \
			bash "tests/integration/${1#integration:}" build/registry) >"$scratch/test.log" 2>&1
		;;
	*)
		echo "mutants: unknown test '$1'" >&2
		return 2
		;;
	esac
}

# Reads mutants.txt into parallel arrays: blocks of "key: value" lines
# (name, file, find, replace, tests), blank-line separated; # comments.
names=() files=() finds=() repls=() tests=()
flush() {
	if [ -n "${m_name:-}" ]; then
		names+=("$m_name") files+=("$m_file") finds+=("$m_find") repls+=("$m_repl") tests+=("$m_tests")
	fi
	m_name="" m_file="" m_find="" m_repl="" m_tests=""
}
flush
while IFS= read -r line || [ -n "$line" ]; do
	case $line in
	'#'*) ;;
	'') flush ;;
	name:*) m_name=${line#name: } ;;
	file:*) m_file=${line#file: } ;;
	find:*) m_find=${line#find: } ;;
	replace:*) m_repl=${line#replace:} m_repl=${m_repl# } ;;
	tests:*) m_tests=${line#tests: } ;;
	*) echo "mutants.txt: cannot read: $line" >&2; exit 2 ;;
	esac
done <"$list"
flush

wanted() {
	[ $# -eq 1 ] && return 0
	local n
	for n in "${@:2}"; do [ "$n" = "$1" ] && return 0; done
	return 1
}

# The tests must pass on the unmutated tree, or a "kill" means nothing.
declare -A baseline=()
for i in "${!names[@]}"; do
	wanted "${names[$i]}" "$@" || continue
	for t in ${tests[$i]}; do
		[ -n "${baseline[$t]:-}" ] && continue
		if run_test "$t"; then baseline[$t]=ok; else
			tail -20 "$scratch/test.log"
			echo "mutants: $t fails on the unmutated tree"
			exit 1
		fi
	done
done

killed=0 survived=0 broken=0
for i in "${!names[@]}"; do
	name=${names[$i]} file=${files[$i]}
	wanted "$name" "$@" || continue
	cp -p "$scratch/$file" "$scratch/$file.orig" 2>/dev/null || {
		echo "BROKEN: $name: no file $file"
		broken=$((broken + 1))
		continue
	}
	n=$(FIND=${finds[$i]} REPL=${repls[$i]} perl -0777 -i -pe \
		'BEGIN { $c = 0 } $c = () = /\Q$ENV{FIND}\E/g; s/\Q$ENV{FIND}\E/$ENV{REPL}/ if $c == 1; END { print STDERR $c }' \
		"$scratch/$file" 2>&1 >/dev/null)
	if [ "$n" != 1 ]; then
		echo "BROKEN: $name: '${finds[$i]}' occurs $n times in $file, not once"
		mv "$scratch/$file.orig" "$scratch/$file"
		broken=$((broken + 1))
		continue
	fi
	by=""
	if ! build; then
		echo "BROKEN: $name: does not build with the mutation"
		tail -5 "$scratch/build.log"
		broken=$((broken + 1))
	else
		for t in ${tests[$i]}; do
			run_test "$t" || { by=$t; break; }
		done
		if [ -n "$by" ]; then
			echo "KILLED: $name (by $by)"
			killed=$((killed + 1))
		else
			echo "SURVIVED: $name: ${tests[$i]} pass with the bug in $file"
			survived=$((survived + 1))
		fi
	fi
	mv "$scratch/$file.orig" "$scratch/$file"
	touch "$scratch/$file"
done
build >/dev/null
echo "mutants: $killed killed, $survived survived, $broken broken"
[ "$survived" = 0 ] && [ "$broken" = 0 ]
