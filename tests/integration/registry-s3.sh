#!/bin/bash
# registry-s3.sh - the registry binary (REGISTRY_S3_REAL) with the keys of
# REGISTRY_TEST_S3_CONF (a file: storage = s3 and the test RGW's s3_* keys)
# added to its configuration, for every command that reads one. run_s3.sh
# hands it to the real-client suite (tests/clients/run.sh) as the registry
# binary, so the suite's server and the ones its cases start themselves
# (auth.sh, policy.sh, mirror.sh's hub and mirror) keep their blobs on S3.
#
# A -c FILE is copied without its storage/s3_* lines (a key given twice is
# an error), with the keys appended; without one, a file of the keys alone
# is given. Each data folder gets its own s3_prefix (a hash of its path), so
# instances sharing the bucket never see each other's blobs, and a restart
# on the same folder finds its own. The merged files go to REG_S3_DIR, and
# each command's line "COMMAND PREFIX DATA" to REG_S3_DIR/invocations, for
# the caller to check the bucket afterwards. exec: the pid the caller sees
# is the registry's.
real=${REGISTRY_S3_REAL:?}
if [ -z "${REGISTRY_TEST_S3_CONF:-}" ] || [ $# = 0 ]; then
	exec "$real" "$@"
fi
case $1 in
version | --version | --help | -h | help) exec "$real" "$@" ;;
esac
. "$(dirname "$0")/wrap.sh"
wrap_parse "$@"
conf=$WRAP_CONF
data=$WRAP_DATA
args=("${WRAP_ARGS[@]}")
prefix=s3c-$(realpath -m "$data" | md5sum | cut -c1-12)/
merged=$(mktemp "${REG_S3_DIR:-/tmp}/s3-conf.XXXXXX")
{
	[ -n "$conf" ] && grep -vE '^[[:space:]]*(storage|s3_[a-z_]+)[[:space:]]*=' "$conf"
	printf '\n'
	grep -vE '^[[:space:]]*s3_prefix[[:space:]]*=' "$REGISTRY_TEST_S3_CONF"
	printf 's3_prefix = %s\n' "$prefix"
} >"$merged"
if [ -n "${REG_S3_DIR:-}" ]; then
	echo "${args[0]} $prefix $(realpath -m "$data")" >>"$REG_S3_DIR/invocations"
fi
exec "$real" "${args[@]}" -c "$merged"
