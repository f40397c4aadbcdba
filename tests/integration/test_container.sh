#!/bin/bash
# deploy/Containerfile, built and run for real, with nothing from a
# registry: a Debian 12 base image made here from Debian's archive
# (debootstrap --variant=minbase bookworm, imported by podman as the
# Containerfile's FROM, debian:12-slim), `podman build` of the Containerfile
# (its build stage compiles this tree), then the image run with a data
# volume on a loopback port: /v2/ answers, skopeo pushes an image and pulls
# it back byte for byte (also from a second container on the same volume),
# the image's HEALTHCHECK (`registry healthcheck`) passes through `podman
# healthcheck run`, the image has no curl, the registry runs as its own user
# (uid 10001, not root) and exits 0 on `podman stop`.
#
# The binary argument is not used: the image builds its own. The base
# image's tarball and podman's store live under build/container (not
# committed): the first run takes a few minutes (debootstrap, the build
# stage's packages), later ones reuse the base and the build's layers.
# Needs root (podman with its own store, vfs, as FACTS.md says), podman,
# skopeo and debootstrap (deploy/install-deps.sh --test).
# timeout: 1200
# long
set -u

# A private mount namespace, where tmpfs over /run and /dev/shm takes
# podman's runtime state and locks and hides the host's (as
# tests/clients/run.sh does); whatever is mounted ends with it.
if [ -z "${CONTAINER_NS:-}" ] && [ "$(id -u)" = 0 ] &&
	unshare --mount --propagation private true 2>/dev/null; then
	export CONTAINER_NS=1
	exec unshare --mount --propagation private -- bash "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"
TOP=$(cd "$(dirname "$0")/../.." && pwd)
CACHE=$TOP/build/container
BASE_TAR=$CACHE/debian12-minbase.tar
BASE_IMG=docker.io/library/debian:12-slim # the Containerfile's FROM
IMG=localhost/registry-container-test:latest
ARCHIVE=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

if [ "$(id -u)" != 0 ]; then
	skip "test_container: needs root (podman with its own store)"
	summary
	exit
fi
for c in podman skopeo debootstrap python3; do
	if ! command -v "$c" >/dev/null; then
		skip "test_container: $c is not installed (deploy/install-deps.sh --test)"
		summary
		exit
	fi
done
if [ "${CONTAINER_NS:-}" = 1 ]; then
	mount -t tmpfs -o mode=755 regcontainer-run /run
	mount -t tmpfs -o mode=1777 regcontainer-shm /dev/shm
fi
mkdir -p "$CACHE"
# podman's database remembers its run and tmp folders: the same paths each
# run, on the namespace's fresh /run
RUNROOT=/run/regcontainer
P=(podman --root "$CACHE/podman" --runroot "$RUNROOT/run" --tmpdir "$RUNROOT/tmp"
	--storage-driver vfs --cgroup-manager cgroupfs --events-backend none)
# crun refuses this sandbox's hybrid cgroups; runc does not (tests/clients/podman.sh)
RT=()
command -v runc >/dev/null && RT=(--runtime runc)
container_cleanup() {
	"${P[@]}" rm -af -t 5 >/dev/null 2>&1
	"${P[@]}" volume rm -af >/dev/null 2>&1
	reg_cleanup
}
trap container_cleanup EXIT
T0=$(date +%s)

# ---- the base image, from Debian's archive ----
if [ ! -s "$BASE_TAR" ]; then
	if ! debootstrap --variant=minbase bookworm "$TMP/rootfs" "$ARCHIVE" >"$TMP/debootstrap.log" 2>&1; then
		skip "test_container: debootstrap cannot fetch Debian 12 from $ARCHIVE: $(tail -1 "$TMP/debootstrap.log")"
		summary
		exit
	fi
	rm -rf "$TMP"/rootfs/var/cache/apt/archives/*.deb "$TMP"/rootfs/var/lib/apt/lists/*
	tar --numeric-owner -C "$TMP/rootfs" -cf "$BASE_TAR.tmp" . && mv "$BASE_TAR.tmp" "$BASE_TAR"
	rm -rf "$TMP/rootfs"
fi
check "a Debian 12 minbase tarball ($(du -m "$BASE_TAR" | cut -f1) MB, cached in build/container)" [ -s "$BASE_TAR" ]
if ! "${P[@]}" image exists "$BASE_IMG"; then
	"${P[@]}" import "$BASE_TAR" "$BASE_IMG" >"$TMP/import.log" 2>&1
fi
check "imported as the Containerfile's FROM ($BASE_IMG)" "${P[@]}" image exists "$BASE_IMG"
check "...which is Debian 12" bash -c "tar -xOf '$BASE_TAR' ./etc/debian_version | grep -q '^12\.'"

# ---- podman build ----
# The build stage tagged on its own first, so its layers (packages, the
# compiled tree) stay cached when older images are pruned.
build() {
	"${P[@]}" build --pull=never --network host --isolation chroot --format docker \
		--build-arg VERSION="$(cd "$TOP" && git describe --always --dirty 2>/dev/null || echo test)" \
		-f deploy/Containerfile "$@" "$TOP" >>"$TMP/build.log" 2>&1
}
(cd "$TOP" && build --target build -t localhost/registry-container-test-build:latest && build -t "$IMG")
rc=$?
echo "test_container: base and build done at $(($(date +%s) - T0)) s"
check "podman build -f deploy/Containerfile: exit 0 ($(($(date +%s) - T0)) s so far)" [ "$rc" = 0 ]
if [ "$rc" != 0 ]; then
	tail -30 "$TMP/build.log" >&2
	summary
	exit
fi
"${P[@]}" image prune -f >/dev/null 2>&1 # earlier runs' images; the tagged ones stay
echo "test_container: pruned at $(($(date +%s) - T0)) s"
check "the image says who runs it: registry" [ "$("${P[@]}" image inspect --format '{{.Config.User}}' "$IMG")" = registry ]
hc=$("${P[@]}" image inspect --format '{{.Config.Healthcheck.Test}}' "$IMG")
hc_is_ours() { [[ "$hc" == *'/usr/local/bin/registry healthcheck -c /etc/registry/registry.conf'* ]]; }
check "the image's HEALTHCHECK is registry healthcheck ($hc)" hc_is_ours

# ---- run it: a data volume, a loopback port ----
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
printf 'listen = 127.0.0.1:%s\ndata = /var/lib/registry\nlog_level = info\n' "$PORT" >"$TMP/reg.conf"
chmod 644 "$TMP/reg.conf"
run() { # run NAME: the image, detached, with the volume and the configuration
	"${P[@]}" run -d --name "$1" "${RT[@]}" --network host --ulimit nofile=1024:1024 \
		--ulimit nproc=4096:4096 -v regdata:/var/lib/registry \
		-v "$TMP/reg.conf:/etc/registry/registry.conf:ro" "$IMG" >"$TMP/$1.id" 2>"$TMP/$1.err"
}
up() { # up: waits until /v2/ answers 200
	for _ in $(seq 1 100); do
		[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/v2/")" = 200 ] && return 0
		sleep 0.2
	done
	return 1
}
run reg1
check "podman run: the container starts ($(cat "$TMP/reg1.err"))" [ -s "$TMP/reg1.id" ]
check "GET /v2/ answers 200 on 127.0.0.1:$PORT" up
pid=$("${P[@]}" inspect --format '{{.State.Pid}}' reg1)
check "the registry's process runs as uid 10001, not root ($(ps -o uid=,comm= -p "$pid"))" \
	[ "$(ps -o uid= -p "$pid" | tr -d ' ')" = 10001 ]
check "...inside, id -u says 10001" [ "$("${P[@]}" exec reg1 id -u 2>/dev/null)" = 10001 ]
check "the image has no curl" bash -c "! '${P[0]}' ${P[*]:1} exec reg1 sh -c 'command -v curl' >/dev/null 2>&1"
"${P[@]}" healthcheck run reg1 >"$TMP/hc.out" 2>&1
rc=$?
check "podman healthcheck run: healthy ($(head -1 "$TMP/hc.out"))" [ "$rc" = 0 ]
check "...as the container's state says" bash -c \
	"[ \"\$('${P[0]}' ${P[*]:1} inspect --format '{{.State.Health.Status}}' reg1)\" = healthy ]"

# ---- skopeo: push, pull ----
mkdir -p "$TMP/ctx"
head -c 100000 /dev/urandom >"$TMP/ctx/payload.bin"
printf 'FROM scratch\nCOPY payload.bin /payload.bin\n' >"$TMP/ctx/Containerfile"
"${P[@]}" build --pull=never --isolation chroot -t localhost/tiny:1 -f "$TMP/ctx/Containerfile" "$TMP/ctx" >>"$TMP/build.log" 2>&1
STORE="containers-storage:[vfs@$CACHE/podman+$RUNROOT/run]localhost/tiny:1"
skopeo copy --dest-tls-verify=false --digestfile "$TMP/pushed.digest" "$STORE" \
	"docker://127.0.0.1:$PORT/tiny/app:1" >"$TMP/push.log" 2>&1
check "skopeo copy pushes an image to the container ($(tail -1 "$TMP/push.log"))" [ -s "$TMP/pushed.digest" ]
pulled() { # pulled DIR: skopeo copies tiny/app:1 into an OCI layout; its payload.bin matches
	rm -rf "$1"
	skopeo copy --src-tls-verify=false "docker://127.0.0.1:$PORT/tiny/app:1" "oci:$1:app" >"$1.log" 2>&1 &&
		for b in "$1"/blobs/sha256/*; do
			tar -xOf "$b" payload.bin 2>/dev/null | cmp -s - "$TMP/ctx/payload.bin" && return 0
		done
	return 1
}
check "skopeo copy pulls it back, the layer's file byte for byte" pulled "$TMP/oci1"
d=$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://127.0.0.1:$PORT/tiny/app:1" 2>/dev/null)
check "...the manifest digest pushed is the one served ($d)" [ "$d" = "$(cat "$TMP/pushed.digest")" ]

# ---- stop; a second container on the same volume ----
"${P[@]}" stop -t 40 reg1 >/dev/null 2>&1
check "podman stop: the registry exits 0 on SIGTERM" [ "$("${P[@]}" inspect --format '{{.State.ExitCode}}' reg1)" = 0 ]
"${P[@]}" healthcheck run reg1 >/dev/null 2>&1
check "podman healthcheck run on the stopped container: not healthy" [ "$?" != 0 ]
run reg2
check "a second container on the volume answers" up
check "...and serves what the first one stored" pulled "$TMP/oci2"
"${P[@]}" stop -t 40 reg2 >/dev/null 2>&1
check "it exits 0 too" [ "$("${P[@]}" inspect --format '{{.State.ExitCode}}' reg2)" = 0 ]
"${P[@]}" logs reg2 >"$TMP/reg2.log" 2>&1
check "no error in its log" bash -c "! grep -q ' error ' '$TMP/reg2.log'"
echo "test_container: $(($(date +%s) - T0)) s"
summary
