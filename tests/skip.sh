# shellcheck shell=bash
# skip.sh - how a test says it could not run something (sourced by the
# integration and client libraries).
#
# A skip is never silent: it prints "SKIP: reason" and appends "script:
# reason" to $REGISTRY_SKIP_FILE, which `make test` summarises at its end.
# Under CI (CI=true) what `make test` installs must run, so skip_record
# returns 1 there and the caller turns the skip into a failure.

# skip_record REASON...: 0 = skipped, 1 = must fail (CI).
skip_record() {
	echo "SKIP: $*"
	if [ -n "${REGISTRY_SKIP_FILE:-}" ]; then
		echo "$(basename "${0:-test}"): $*" >>"$REGISTRY_SKIP_FILE"
	fi
	if [ "${CI:-}" = true ]; then
		echo "FAIL: a skip under CI=true: $*" >&2
		return 1
	fi
	return 0
}
