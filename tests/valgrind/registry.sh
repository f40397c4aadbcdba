#!/bin/sh
# registry.sh - runs the registry binary named by $REGISTRY_BIN under
# valgrind, with the arguments given: a drop-in for the binary in the
# integration tests (`make valgrind`). Any leak or memory error makes the
# exit status 1, which the tests' reg_stop reports.
exec valgrind --quiet --leak-check=full --show-leak-kinds=definite,indirect,possible \
	--errors-for-leak-kinds=definite,indirect,possible --error-exitcode=1 \
	--suppressions="$(dirname "$0")/registry.supp" \
	"${REGISTRY_BIN:?set REGISTRY_BIN to the registry binary}" "$@"
