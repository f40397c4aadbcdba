#!/bin/sh
# Development stand-in for our registry: runs Debian's docker-registry (the
# CNCF distribution registry, `apt-get install docker-registry`) behind the
# same command line as build/registry, so the client tests can be checked
# against a known-good server:
#   REGISTRY_CMD=tests/clients/distribution.sh tests/clients/run.sh
# Usage: distribution.sh serve --listen HOST:PORT --data DIR
# DISTRIBUTION_LOG_LEVEL=debug makes it chattier (default info).
# The tests never depend on this script or on the docker-registry package.
set -eu

usage() {
	echo "usage: $0 serve --listen HOST:PORT --data DIR" >&2
	exit 2
}
[ "${1:-}" = serve ] || usage
shift
listen="" data=""
while [ $# -gt 0 ]; do
	case $1 in
	--listen) [ $# -ge 2 ] || usage; listen=$2; shift 2 ;;
	--data) [ $# -ge 2 ] || usage; data=$2; shift 2 ;;
	*) usage ;;
	esac
done
if [ -z "$listen" ] || [ -z "$data" ]; then usage; fi
command -v docker-registry >/dev/null || {
	echo "$0: docker-registry not installed (apt-get install docker-registry)" >&2
	exit 1
}

mkdir -p "$data/storage"
cfg="$data/distribution.yml"
cat >"$cfg" <<YML
version: 0.1
log:
  level: ${DISTRIBUTION_LOG_LEVEL:-info}
  formatter: text
storage:
  filesystem:
    rootdirectory: $data/storage
  delete:
    enabled: true
http:
  addr: $listen
  headers:
    X-Content-Type-Options: [nosniff]
YML
# distribution reads REGISTRY_* variables as configuration overrides (the
# client tests export REGISTRY_AUTH_FILE, for instance): start it clean.
exec env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin docker-registry serve "$cfg"
