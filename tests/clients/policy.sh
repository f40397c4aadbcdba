#!/bin/bash
# storage-policy cases; run by run.sh as `policy.sh CASE` (see lib.sh for
# the contract). `start` runs a registry of our own (REGISTRY_BIN) on plain
# HTTP with a quota and an immutable-tag rule:
#   quota = "quota/** 100K"      (the busybox image is ~1 MiB: refused)
#   immutable = "prod/** v*"
# and the cases check what skopeo, podman and docker print when a push is
# refused: the quota's line, its size and its use; the immutable rule. The
# message is the error's `message` (docker prints "denied: MESSAGE").
# `stop` ends it and fails if it did not exit cleanly or its log has a
# sanitizer report.
set -euo pipefail
# shellcheck source=lib.sh
. "$CLIENTS_DIR/lib.sh"

Q=$WORK/policy
sk() { tmo 90 skopeo --insecure-policy "$@"; }
pm() {
	tmo 90 podman --root "$Q/podman/root" --runroot "$Q/podman/run" --tmpdir "$Q/podman/tmp" \
		--storage-driver vfs --cgroup-manager cgroupfs --events-backend none "$@"
}
D=$WORK/docker
export DOCKER_HOST=unix://$D/docker.sock DOCKER_CONFIG=$D/cli DOCKER_BUILDKIT=0
DOCKER_CLI=/usr/bin/docker
[ -x "$DOCKER_CLI" ] || DOCKER_CLI=docker
dk() { tmo 90 "$DOCKER_CLI" "$@"; }

# (skopeo and podman print the message as a quoted Go string: \" for ")
QUOTA_MSG='quota \\?"quota/\*\* 100K\\?" exceeded: [0-9.]+ [KM]?i?B used of 100.0 KiB, this push adds'
IMMUTABLE_MSG='tag prod/app:v1 is immutable \(rule \\?"prod/\*\* v\*\\?"\)'

port() {
	need "$Q/port" policy-start
	QREG=127.0.0.1:$(cat "$Q/port")
}

# expect_fail WHAT PATTERN CMD...: CMD fails and prints PATTERN (grep -E).
expect_fail() {
	local what=$1 pat=$2 out
	shift 2
	if out=$("$@" 2>&1); then
		die "$what: succeeded, should have been refused: $out"
	fi
	echo "$out" | tail -n 3
	echo "$out" | grep -qE -- "$pat" || die "$what: refused, but the client did not print '$pat'"
	echo "ok: $what refused, and the client printed why"
}

start() {
	local bin=${REGISTRY_BIN:-} i p
	[ -n "${REGISTRY_CMD:-}" ] && skip_mode "REGISTRY_CMD is set: the policy cases need our own registry"
	[ -n "$bin" ] && [ -x "$bin" ] || die "REGISTRY_BIN is not set to the registry binary"
	mkdir -p "$Q/data" "$Q/podman"
	p=$(free_port)
	cat >"$Q/registry.conf" <<EOF2
listen = 127.0.0.1:$p
data = $Q/data
quota = "quota/** 100K"
immutable = "prod/** v*"
EOF2
	rm -f "$Q/rc" "$Q/pid"
	(
		"$bin" serve -c "$Q/registry.conf" </dev/null >"$Q/registry.log" 2>&1 &
		echo $! >"$Q/pid.new"
		mv "$Q/pid.new" "$Q/pid"
		rc=0
		wait $! || rc=$?
		echo "$rc" >"$Q/rc"
	) </dev/null >/dev/null 2>&1 &
	for i in $(seq 1 80); do
		[ -s "$Q/pid" ] && curl -sf -o /dev/null "http://127.0.0.1:$p/v2/" && break
		sleep 0.25
		: "$i"
	done
	curl -sf -o /dev/null "http://127.0.0.1:$p/v2/" || { cat "$Q/registry.log"; die "the policy registry did not start"; }
	echo "$p" >"$Q/port"
}

stop() {
	local pid rc i
	[ -s "$Q/pid" ] || return 0
	pid=$(cat "$Q/pid")
	rm -f "$Q/pid"
	kill -0 "$pid" 2>/dev/null || die "the policy registry died during the run: $(tail -n 5 "$Q/registry.log")"
	kill -TERM "$pid"
	for i in $(seq 1 40); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.25
		: "$i"
	done
	kill -0 "$pid" 2>/dev/null && { kill -KILL "$pid"; die "still running 10 s after SIGTERM"; }
	for i in $(seq 1 20); do
		[ -s "$Q/rc" ] && break
		sleep 0.1
	done
	rc=$(cat "$Q/rc" 2>/dev/null || echo unknown)
	if grep -qE 'ERROR: [A-Za-z]+Sanitizer|runtime error:' "$Q/registry.log"; then
		grep -m 1 -A 12 -E 'ERROR: [A-Za-z]+Sanitizer|runtime error:' "$Q/registry.log"
		die "sanitizer report in the policy registry's log"
	fi
	[ "$rc" = 0 ] || die "the policy registry exited with status $rc after SIGTERM, not 0"
	echo "ok: the policy registry stopped"
}

# skopeo: a push past the quota; an immutable tag set, re-pushed (same
# digest: fine), then moved (the same image as Docker schema 2: refused).
skopeo_policy() {
	port
	make_oci_layout "$Q/layout" v1
	expect_fail "skopeo copy past the quota" "$QUOTA_MSG" \
		sk copy --dest-tls-verify=false "oci:$Q/layout:v1" "docker://$QREG/quota/app:v1"
	sk copy --dest-tls-verify=false "oci:$Q/layout:v1" "docker://$QREG/prod/app:v1"
	sk copy --dest-tls-verify=false "oci:$Q/layout:v1" "docker://$QREG/prod/app:v1"
	echo "ok: the same digest pushed again to an immutable tag"
	expect_fail "skopeo moving an immutable tag" "$IMMUTABLE_MSG" \
		sk copy --dest-tls-verify=false --format v2s2 "oci:$Q/layout:v1" "docker://$QREG/prod/app:v1"
	sk copy --dest-tls-verify=false --format v2s2 "oci:$Q/layout:v1" "docker://$QREG/prod/app:latest"
	echo "ok: a tag no rule names moves"
	echo done >"$Q/skopeo"
}

# podman: the image skopeo pushed, pushed past the quota and over the
# immutable tag as Docker schema 2.
podman_policy() {
	port
	need "$Q/skopeo" policy-skopeo
	pm pull --tls-verify=false "$QREG/prod/app:v1"
	pm tag "$QREG/prod/app:v1" "$QREG/quota/podman:v1"
	expect_fail "podman push past the quota" "$QUOTA_MSG" \
		pm push --tls-verify=false "$QREG/quota/podman:v1"
	expect_fail "podman moving an immutable tag" "$IMMUTABLE_MSG" \
		pm push --tls-verify=false --format v2s2 "$QREG/prod/app:v1"
}

# docker: the image docker-build made, pushed past the quota and over the
# immutable tag (docker pushes Docker schema 2: another digest).
docker_policy() {
	port
	need "$Q/skopeo" policy-skopeo
	need "$D/iid" docker-build
	dk tag "$(cat "$D/iid")" "$QREG/quota/docker:v1"
	expect_fail "docker push past the quota" "denied: $QUOTA_MSG" dk push "$QREG/quota/docker:v1"
	dk tag "$(cat "$D/iid")" "$QREG/prod/app:v1"
	expect_fail "docker moving an immutable tag" "denied: $IMMUTABLE_MSG" dk push "$QREG/prod/app:v1"
}

"$@"
