#!/bin/bash
# docker cases; run by run.sh as `docker.sh CASE` (see lib.sh for the
# contract). `start` runs a private dockerd (Debian's docker.io) on files
# under WORK/docker; `stop` ends it and removes every trace of it.
set -euo pipefail
# shellcheck source=lib.sh
. "$CLIENTS_DIR/lib.sh"

D=$WORK/docker
CGROUP_PARENT=/regclients-${WORK##*.}
export DOCKER_HOST=unix://$D/docker.sock DOCKER_CONFIG=$D/cli DOCKER_BUILDKIT=0
# Debian's CLI matches the daemon; any docker CLI on PATH would do.
DOCKER_CLI=/usr/bin/docker
[ -x "$DOCKER_CLI" ] || DOCKER_CLI=docker
dk() { tmo 90 "$DOCKER_CLI" "$@"; }

PORT=${REG##*:}
IMG=$REG/app:v1

daemon_alive() {
	[ -s "$D/dockerd.pid" ] && kill -0 "$(cat "$D/dockerd.pid")" 2>/dev/null
}

# The daemon runs in a private mount namespace (its bind mounts vanish with
# it) where an empty dir hides /etc/docker (no key.json or certs.d from or to
# the host). No bridge, no iptables, no sysctl changes: containers run with
# --network none. 127.0.0.0/8 is an insecure registry by default.
start() {
	command -v dockerd >/dev/null || skip "dockerd not installed (apt-get install docker.io)"
	mkdir -p "$D/etc" "$D/cli" "$D/root" "$D/exec"
	echo '{}' >"$D/daemon.json"
	[ -e /etc/docker/key.json ] && touch "$D/had-key.json"
	[ -d /etc/docker ] || touch "$D/no-etc-docker"
	# shellcheck disable=SC2016 # $1 and $@ are the inner shell's
	setsid unshare --mount --propagation private sh -c '
		if [ -d /etc/docker ]; then mount --bind "$1" /etc/docker; fi
		shift
		exec "$@"' sh "$D/etc" \
		dockerd --config-file "$D/daemon.json" \
		--data-root "$D/root" --exec-root "$D/exec" --pidfile "$D/dockerd.pidfile" \
		-H "unix://$D/docker.sock" \
		--storage-driver vfs --exec-opt native.cgroupdriver=cgroupfs --cgroup-parent "$CGROUP_PARENT" \
		--bridge none --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false \
		--userland-proxy=false --log-level info \
		</dev/null >"$D/dockerd.log" 2>&1 &
	echo $! >"$D/dockerd.pid"
	local i
	for i in $(seq 1 60); do
		if ! daemon_alive; then
			tail -n 20 "$D/dockerd.log"
			skip "dockerd exited at start: $(grep -E 'level=(fatal|error)|failed' "$D/dockerd.log" | tail -n 1)"
		fi
		if tmo 5 "$DOCKER_CLI" version >/dev/null 2>&1; then
			dk version
			dk info --format 'storage={{.Driver}} cgroup={{.CgroupDriver}} insecure={{json .RegistryConfig.InsecureRegistryCIDRs}}'
			return 0
		fi
		sleep 0.5
		: "$i"
	done
	tail -n 20 "$D/dockerd.log"
	skip "dockerd did not answer within 30 s: $(tail -n 1 "$D/dockerd.log")"
}

stop() {
	[ -d "$D" ] || return 0
	local pid i
	if daemon_alive; then
		pid=$(cat "$D/dockerd.pid")
		kill -TERM "$pid" 2>/dev/null || true
		for i in $(seq 1 40); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.5
			: "$i"
		done
		kill -KILL "$pid" 2>/dev/null || true
	fi
	kill_users_of "$D" # containerd and shims, should any be left
	umount_below "$D"
	# cgroups the daemon made for containers (children first), if empty
	find /sys/fs/cgroup/*"$CGROUP_PARENT" -depth -type d -exec rmdir {} + 2>/dev/null || true
	if [ ! -e "$D/had-key.json" ] && [ -e "$D/no-etc-docker" ]; then
		rm -f /etc/docker/key.json
		rmdir /etc/docker 2>/dev/null || true
	fi
}

# docker build (legacy builder): FROM scratch + COPY of a static busybox.
build() {
	local bb
	bb=$(payload) || die "no static busybox (apt-get install busybox-static)"
	mkdir -p "$D/ctx"
	cp "$bb" "$D/ctx/busybox"
	printf '%s\n' 'FROM scratch' 'COPY busybox /busybox' 'CMD ["/busybox", "echo", "hello"]' >"$D/ctx/Dockerfile"
	dk build --network none --iidfile "$D/iid" -t "$IMG" "$D/ctx"
	expect_digest "built image ID" "$(cat "$D/iid")"
}

# docker push prints "TAG: digest: sha256:... size: N"; the registry must
# serve exactly that manifest.
pushed_digest() {
	sed -n 's/^.*: digest: \(sha256:[0-9a-f]*\) size: [0-9]*$/\1/p' "$1" | tail -n 1
}

push() {
	local got
	need "$D/iid" docker-build
	dk push "$IMG" | tee "$D/push.out"
	got=$(pushed_digest "$D/push.out")
	expect_digest "digest docker reports" "$got"
	echo "$got" >"$D/digest"
	expect_eq "digest of the manifest the registry serves" "$got" "$(remote_manifest_digest app:v1)"
	tmo 60 skopeo --insecure-policy inspect --tls-verify=false --raw "docker://$IMG" |
		jq -e '.mediaType == "application/vnd.docker.distribution.manifest.v2+json"' >/dev/null ||
		die "docker did not push a Docker schema 2 manifest"
	dk image inspect --format '{{json .RepoDigests}}' "$IMG" | grep -qF "\"$REG/app@$got\"" ||
		die "RepoDigests lacks $REG/app@$got"
	echo "ok: RepoDigests has $REG/app@$got"
}

# the same registry named localhost:PORT (also insecure by default).
push_localhost() {
	local want got
	need "$D/digest" docker-push
	want=$(cat "$D/digest")
	dk tag "$IMG" "localhost:$PORT/app:v1"
	dk push "localhost:$PORT/app:v1" | tee "$D/push-localhost.out"
	got=$(pushed_digest "$D/push-localhost.out")
	expect_eq "digest pushed as localhost:$PORT" "$want" "$got"
	# the daemon already knows these blobs are there: no layer is re-sent
	if grep -q 'Pushed$' "$D/push-localhost.out"; then
		echo "note: docker re-sent layers it had pushed already"
	fi
}

# push to another repository of the same registry (docker tries a
# cross-repository blob mount for layers it knows are in app).
push_repo() {
	local want got
	need "$D/digest" docker-push
	want=$(cat "$D/digest")
	dk tag "$IMG" "$REG/docker/other:v1"
	dk push "$REG/docker/other:v1" | tee "$D/push-other.out"
	got=$(pushed_digest "$D/push-other.out")
	expect_eq "digest pushed to docker/other" "$want" "$got"
	expect_eq "digest docker/other serves" "$want" "$(remote_manifest_digest docker/other:v1)"
}

# forget the image, pull it back: same digest and image ID.
pull() {
	local want id out
	need "$D/digest" docker-push
	want=$(cat "$D/digest")
	id=$(cat "$D/iid")
	dk rmi -f "$id"
	if dk image inspect "$IMG" >/dev/null 2>&1; then die "image still present after rmi"; fi
	dk pull "$IMG" | tee "$D/pull.out"
	out=$(sed -n 's/^Digest: //p' "$D/pull.out")
	expect_eq "digest docker pulled" "$want" "$out"
	expect_eq "image ID after pull" "$id" "$(dk image inspect --format '{{.Id}}' "$IMG")"
	dk pull "$REG/app@$want" >/dev/null
	echo "ok: pulled by digest"
	echo "$id" >"$D/pulled"
}

# runs the image docker-pull brought back (not the one docker-build made).
run() {
	local out
	need "$D/pulled" docker-pull
	out=$(dk run --rm --network none "$IMG" /busybox echo hello)
	expect_eq "docker run output" hello "$out"
	out=$(dk run --rm --network none "$IMG")
	expect_eq "output of the image's CMD" hello "$out"
}

# docker pulls what skopeo pushed: an OCI manifest and a Docker schema 2 one.
pull_skopeo() {
	local d f out t
	for t in v1 v2s2; do
		f=$WORK/skopeo/$([ $t = v1 ] && echo oci || echo v2s2).digest
		need "$f" "skopeo-push-$([ $t = v1 ] && echo oci || echo v2s2)"
		d=$(cat "$f")
		dk pull "$REG/skopeo/test:$t" | tee "$D/pull-skopeo-$t.out"
		expect_eq "digest of skopeo/test:$t" "$d" "$(sed -n 's/^Digest: //p' "$D/pull-skopeo-$t.out")"
		out=$(dk run --rm --network none "$REG/skopeo/test:$t")
		expect_eq "output of skopeo/test:$t" hello "$out"
	done
}

"$@"
