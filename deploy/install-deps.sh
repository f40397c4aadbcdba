#!/bin/sh
# Installs the Debian packages the registry needs to build, run and test.
# Run as root on Debian 12. Safe to run again: it installs only what is missing.
#   deploy/install-deps.sh          build and run deps
#   deploy/install-deps.sh --test   also the clients the tests drive
#   deploy/install-deps.sh --bench  also what `make bench` compares with and uses
#                                   (their system services are kept stopped)
set -eu

BUILD="build-essential pkg-config libmicrohttpd-dev libssl-dev libjansson-dev libsqlite3-dev libcurl4-openssl-dev libpq-dev libcrypt-dev zlib1g-dev check curl"
TEST="skopeo podman buildah docker.io uidmap fuse-overlayfs sqlite3 clang libclang-rt-dev valgrind busybox-static jq docker-registry apache2-utils strace python3 logrotate openssl prometheus systemd man-db python3-yaml webhook chromium debootstrap postgresql ceph-mon ceph-osd radosgw ceph-common nginx-light"
BENCH="ceph-mon ceph-osd radosgw ceph-common docker-registry nginx-light wrk gnuplot-nox openssl procps sqlite3 python3 postgresql"

pkgs=$BUILD
[ "${1:-}" = "--test" ] && pkgs="$BUILD $TEST"
[ "${1:-}" = "--bench" ] && pkgs="$BUILD $BENCH"

missing=""
for p in $pkgs; do
	[ "$p" = nginx-light ] && [ -x /usr/sbin/nginx ] && continue # any nginx will do
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
# The bench and the tests run their own docker-registry (the bench also
# nginx, the tests also prometheus, a webhook receiver and PostgreSQL): their
# packages' services (on :5000, :80, :9090, :9000 and :5432) must not start.
# policy-rc.d stops invoke-rc.d from starting them now; systemd must also
# not start them at the next boot.
policy=""
if [ "${1:-}" = "--bench" ] || [ "${1:-}" = "--test" ]; then
	case " $missing " in *" docker-registry "* | *" nginx-light "* | *" prometheus "* | *" webhook "* | *" radosgw "* | *" ceph-mon "* | *" postgresql "*) quiet=1 ;; *) quiet="" ;; esac
else
	quiet=""
fi
if [ -n "$quiet" ] && [ ! -e /usr/sbin/policy-rc.d ]; then
	policy=/usr/sbin/policy-rc.d
	printf '#!/bin/sh\nexit 101\n' >"$policy"
	chmod 755 "$policy"
	trap 'rm -f "$policy"' EXIT
fi
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
if [ -n "$quiet" ] && [ -d /run/systemd/system ]; then
	for unit in docker-registry nginx prometheus webhook ceph-mon ceph-osd radosgw postgresql; do
		case " $missing " in *" $unit "* | *" $unit-light "*)
			systemctl disable --now "$unit" >/dev/null 2>&1 || true ;;
		esac
	done
fi
