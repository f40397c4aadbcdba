#!/bin/bash
# run_s3.sh BIN ASAN_BIN - `make integration-s3`: starts one Ceph RGW
# (tests/rgw.sh), runs test_s3.sh against it with both binaries, then the API
# integration scripts below with storage = s3 (lib.sh appends
# REGISTRY_TEST_S3_CONF to every server's configuration), and stops RGW.
#
# The pull-through cache's scripts (test_proxy, test_mirror_*,
# test_revalidate, test_offline) run too: their caches (the servers reg_start
# starts) are on S3, and so are the imports those servers then serve; their
# upstreams and `mirror sync` seeds stay on files, which the scripts corrupt
# or inspect on purpose. test_killloop (SIGKILLs during concurrent pushes)
# checks the bucket instead of the folder: every object under blobs/ holds
# the bytes its key names, and the kills' upload objects are swept.
#
# Then PG_S3_SCRIPTS on PostgreSQL + S3 (below), and the real-client suite
# with storage = s3, then on PostgreSQL + S3 (S3_CLIENTS=0 leaves it out).
#
# Scripts left out, and why (each checks the filesystem store's files or runs
# CLI commands that do not get the S3 fragment, or a part S3 lacks):
#   test_gc, test_gc_collect, test_concurrent, test_resume: count or size
#     blob/upload files on disk;
#   test_lifecycle: corrupts blob files on disk for scrub, runs `registry
#     scrub` without the S3 configuration;
#   test_backup, test_upgrade, test_durability, test_crash, fulldisk:
#     filesystem-specific (backup, fsync, disk full, on-disk layout);
#   the rest (auth, TLS, UI, logs, notify, reload, ...): do not touch blobs
#     in a way the backend changes.
set -u
bin=${1:?usage: run_s3.sh BIN ASAN_BIN}
asan=${2:-}
here=$(cd "$(dirname "$0")" && pwd)
S3_SCRIPTS=${S3_SCRIPTS:-"test_api.sh test_ranges.sh test_emptied.sh test_hostile.sh test_shutdown.sh test_policy.sh
	test_proxy.sh test_mirror_access.sh test_mirror_upstream.sh test_revalidate.sh test_offline.sh
	test_killloop.sh"}
# ...and, on one PostgreSQL (tests/pg.sh), PG_S3_SCRIPTS with metadata =
# postgres as well: one replica on PostgreSQL + S3, nothing on this machine's
# disk but the upload buffers (REGISTRY_TEST_PG: a database per script).
PG_S3_SCRIPTS=${PG_S3_SCRIPTS:-"test_api.sh test_ranges.sh test_emptied.sh test_hostile.sh test_killloop.sh
	test_replicas_lb.sh"}
# ...and LB_SCRIPTS on three replicas behind nginx (registry-lb.sh), each
# script's servers on PostgreSQL + S3 as above: every request lands on the
# next replica. Not these: test_hostile (nginx answers malformed requests
# itself, before any replica), test_killloop and test_shutdown (they signal
# the server's pid, here the wrapper's), test_policy and the cache's
# scripts (they start servers of their own with SQLite, which replicas
# cannot share).
LB_SCRIPTS=${LB_SCRIPTS:-"test_api.sh test_ranges.sh test_emptied.sh test_auth_tokens.sh"}
rgw=$(mktemp -d /tmp/regrgw.XXXXXX)
pgdir=$(mktemp -d /tmp/regpgs3.XXXXXX)
trap '"$here/../rgw.sh" stop "$rgw"; "$here/../pg.sh" stop "$pgdir"; rm -rf "$pgdir"' EXIT
start=$(date +%s)
if ! "$here/../rgw.sh" start "$rgw" >"$rgw.out" 2>&1; then
	cat "$rgw.out" >&2
	rm -f "$rgw.out"
	. "$here/../skip.sh"
	skip_record "integration-s3: Ceph RGW cannot start (deploy/install-deps.sh --test installs ceph-mon ceph-osd radosgw ceph-common)" || exit 1
	exit 0
fi
rm -f "$rgw.out"
. "$rgw/env"
echo "RGW at $RGW_ENDPOINT, ready in $(($(date +%s) - start)) s"
curl -s -o /dev/null --aws-sigv4 "aws:amz:us-east-1:s3" -u "$RGW_ACCESS:$RGW_SECRET" \
	-H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' -X PUT "$RGW_ENDPOINT/api"
printf '%s:%s\n' "$RGW_ACCESS" "$RGW_SECRET" >"$rgw/cred"
chmod 600 "$rgw/cred"
printf 'storage = s3\ns3_endpoint = %s\ns3_bucket = api\ns3_credentials = %s\n' \
	"$RGW_ENDPOINT" "$rgw/cred" >"$rgw/s3.conf"
export RGW_ENV=$rgw/env
rc=0
INTEGRATION_SCRIPTS=test_s3.sh "$here/run.sh" "$bin" || rc=1
if [ -n "$asan" ]; then
	ASAN_OPTIONS=detect_leaks=1 INTEGRATION_SCRIPTS=test_s3.sh "$here/run.sh" "$asan" || rc=1
fi
REGISTRY_TEST_S3_CONF=$rgw/s3.conf INTEGRATION_SCRIPTS=$S3_SCRIPTS "$here/run.sh" "$bin" || rc=1
if ! pg=$("$here/../pg.sh" start "$pgdir"); then
	echo "FAIL: integration-s3: PostgreSQL cannot start (deploy/install-deps.sh --test installs postgresql)"
	exit 1
fi
echo "integration-s3: on PostgreSQL + S3: $PG_S3_SCRIPTS"
REGISTRY_TEST_PG=$pg REGISTRY_TEST_S3_CONF=$rgw/s3.conf INTEGRATION_SCRIPTS=$PG_S3_SCRIPTS \
	"$here/run.sh" "$bin" || rc=1
echo "integration-s3: three replicas behind nginx, on PostgreSQL + S3: $LB_SCRIPTS"
REGISTRY_LB_REAL=$(readlink -f "$bin") REGISTRY_TEST_PG=$pg REGISTRY_TEST_S3_CONF=$rgw/s3.conf \
	INTEGRATION_SCRIPTS=$LB_SCRIPTS "$here/run.sh" "$here/registry-lb.sh" || rc=1

# The real clients (tests/clients/run.sh: skopeo, buildah, podman, docker,
# containerd) against the plain binary through registry-s3.sh, so the
# suite's server and those its cases start (auth.sh, policy.sh, mirror.sh's
# hub and mirror) all keep their blobs on S3, each under its own prefix;
# then again with registry-pg.sh behind it, each server's index on a
# PostgreSQL database of its own (one per data folder); then with each of
# those servers three replicas behind nginx (registry-lb.sh in front).
# clients LABEL DIR [pg|lb]: one run of the suite, then its checks.
clients() {
	local label=$1 cl=$2 mode=${3:-} real servers=0 prefix data db n reps
	mkdir -p "$cl"
	real=$(readlink -f "$bin")
	case $mode in
	pg)
		REGISTRY_PG_REAL=$real REGISTRY_TEST_PG=$pg REG_PG_DB=regcl REG_PG_DIR=$cl \
			REGISTRY_TEST_PG_CONF=on REGISTRY_S3_REAL=$here/registry-pg.sh REG_S3_DIR=$cl \
			REGISTRY_TEST_S3_CONF=$rgw/s3.conf "$here/../clients/run.sh" "$here/registry-s3.sh" || rc=1
		;;
	lb)
		CLIENTS_REPLICAS=3 REGISTRY_LB_REAL=$here/registry-s3.sh REGISTRY_PG_REAL=$real REGISTRY_TEST_PG=$pg \
			REG_PG_DB=reglb REG_PG_DIR=$cl REGISTRY_TEST_PG_CONF=on \
			REGISTRY_S3_REAL=$here/registry-pg.sh REG_S3_DIR=$cl REGISTRY_TEST_S3_CONF=$rgw/s3.conf \
			"$here/../clients/run.sh" "$here/registry-lb.sh" || rc=1
		;;
	*)
		REGISTRY_S3_REAL=$real REG_S3_DIR=$cl REGISTRY_TEST_S3_CONF=$rgw/s3.conf \
			"$here/../clients/run.sh" "$here/registry-s3.sh" || rc=1
		;;
	esac
	# ...and did: every server the suite started has blobs in the bucket
	# (and with pg or lb, repositories in its database; with lb, it was
	# three replicas)
	while read -r reps prefix data; do
		servers=$((servers + 1))
		if curl -s --aws-sigv4 "aws:amz:us-east-1:s3" -u "$RGW_ACCESS:$RGW_SECRET" \
			-H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' \
			"$RGW_ENDPOINT/api?list-type=2&max-keys=1&prefix=${prefix%/}%2Fblobs%2F" | grep -q '<Key>'; then
			echo "ok: clients on $label: the server on $data stored its blobs under $prefix"
		else
			echo "FAIL: clients on $label: no blobs under $prefix for the server on $data"
			rc=1
		fi
		[ -n "$mode" ] || continue
		db=$([ "$mode" = lb ] && echo reglb || echo regcl)_$(realpath -m "$data" | md5sum | cut -c1-8)
		n=$(psql -qtA "$pg dbname=$db" -c "SELECT count(*) FROM repos" 2>/dev/null)
		if [ "${n:-0}" -gt 0 ]; then
			echo "ok: clients on $label: the server on $data indexed $n repositories in database $db"
		else
			echo "FAIL: clients on $label: no repositories in database $db for the server on $data"
			rc=1
		fi
		[ "$mode" = lb ] || continue
		if [ "$reps" -ge 3 ]; then
			echo "ok: clients on $label: the server on $data was $reps replicas"
		else
			echo "FAIL: clients on $label: the server on $data was $reps replica(s), not 3"
			rc=1
		fi
	done < <(awk '$1 == "serve" { print $2, $3 }' "$cl/invocations" 2>/dev/null | sort | uniq -c)
	if [ "$servers" -lt 5 ]; then
		echo "FAIL: clients on $label: $servers server(s) started through registry-s3.sh, expected 5 (suite, auth, policy, hub, mirror)"
		rc=1
	fi
}
if [ "${S3_CLIENTS:-1}" = 1 ]; then
	clients S3 "$rgw/clients"
	clients "PostgreSQL + S3" "$rgw/clients-pg" pg
	clients "three replicas behind nginx on PostgreSQL + S3" "$rgw/clients-lb" lb
else
	echo "integration-s3: the real-client suite left out (S3_CLIENTS=0)"
fi
echo "integration-s3: $(($(date +%s) - start)) s"
exit $rc
