#!/bin/sh
# Installs the Debian packages the registry needs to build, run and test.
# Run as root on Debian 12. Safe to run again: it installs only what is missing.
#   deploy/install-deps.sh          build and run deps
#   deploy/install-deps.sh --test   also the clients the tests drive
set -eu

BUILD="build-essential pkg-config libmicrohttpd-dev libssl-dev libjansson-dev libsqlite3-dev check curl"
TEST="skopeo podman buildah docker.io uidmap fuse-overlayfs sqlite3 clang"

pkgs=$BUILD
[ "${1:-}" = "--test" ] && pkgs="$BUILD $TEST"

missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "missing Debian packages:$missing" >&2
	echo "install them with: sudo apt-get install$missing" >&2
	exit 1
fi
echo "installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
