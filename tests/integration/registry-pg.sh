#!/bin/bash
# registry-pg.sh - the registry binary (REGISTRY_PG_REAL) with the keys of
# REGISTRY_TEST_PG_CONF (lib.sh exports them: this script's own database)
# added to its configuration, for every command that reads one; run_pg.sh
# hands it to the integration scripts as their binary, so `registry gc`,
# `du`, `scrub`... run against the same PostgreSQL index as the servers.
# A -c FILE is copied without its metadata/postgres lines, with the keys
# appended; without one, a file of the keys alone is given. The database is
# one per data folder (lib.sh drops them all at the end). exec: the pid
# the script sees is the registry's.
real=${REGISTRY_PG_REAL:?}
if [ -z "${REGISTRY_TEST_PG_CONF:-}" ] || [ $# = 0 ]; then
	exec "$real" "$@"
fi
case $1 in
version | --help | -h | help) exec "$real" "$@" ;;
esac
. "$(dirname "$0")/wrap.sh"
wrap_parse "$@"
conf=$WRAP_CONF
data=$WRAP_DATA
args=("${WRAP_ARGS[@]}")
# One database per data folder, as SQLite's index lives in its folder: a
# folder without blobs/ (new, or wiped by the script) gets a new database;
# with blobs on S3 (registry-s3.sh in front) one that is missing or empty.
db=${REG_PG_DB:?}_$(realpath -m "$data" | md5sum | cut -c1-8)
psql_q() { PGOPTIONS="-c client_min_messages=warning" psql -qtA "$REGISTRY_TEST_PG dbname=postgres" -c "$1" >/dev/null 2>&1; }
fresh=
if [ -n "${REGISTRY_TEST_S3_CONF:-}" ]; then
	[ -z "$(ls -A "$data" 2>/dev/null)" ] && fresh=1
elif [ ! -d "$data/blobs" ]; then
	fresh=1
fi
if [ -n "$fresh" ]; then
	psql_q "DROP DATABASE IF EXISTS $db WITH (FORCE)"
fi
psql_q "CREATE DATABASE $db" || true
REGISTRY_TEST_PG_CONF=$(printf 'metadata = postgres\npostgres = "%s dbname=%s"\n' "$REGISTRY_TEST_PG" "$db")
merged=$(mktemp "${REG_PG_DIR:-/tmp}/pg-conf.XXXXXX")
{
	[ -n "$conf" ] && grep -vE '^[[:space:]]*(metadata|postgres)[[:space:]]*=' "$conf"
	printf '\n%s\n' "$REGISTRY_TEST_PG_CONF"
} >"$merged"
exec "$real" "${args[@]}" -c "$merged"
