#!/bin/bash
# podman cases; run by run.sh as `podman.sh CASE` (see lib.sh for the
# contract). podman keeps images, containers and its own state in a private
# vfs store under WORK; it needs the image the buildah cases pushed.
set -euo pipefail
# shellcheck source=lib.sh
. "$CLIENTS_DIR/lib.sh"

P=$WORK/podman
pm() {
	tmo 90 podman --root "$P/root" --runroot "$P/run" --tmpdir "$P/tmp" \
		--storage-driver vfs --cgroup-manager cgroupfs --events-backend none "$@"
}

# pull what buildah pushed: same image ID and digest as buildah saw.
pull() {
	local want id
	mkdir -p "$P"
	need "$WORK/buildah/digest" buildah-push
	want=$(cat "$WORK/buildah/digest")
	id=$(cat "$WORK/buildah/iid")
	pm pull --tls-verify=false "$REG/buildah/app:v1"
	expect_eq "image ID" "${id#sha256:}" "$(pm image inspect --format '{{.Id}}' "$REG/buildah/app:v1")"
	expect_eq "image digest" "$want" "$(pm image inspect --format '{{.Digest}}' "$REG/buildah/app:v1")"
	echo "$want" >"$P/pulled"
}

# tag under a new name, push, remove everything, pull back, compare.
push() {
	local id digest
	need "$P/pulled" podman-pull
	id=$(pm image inspect --format '{{.Id}}' "$REG/buildah/app:v1")
	pm tag "$REG/buildah/app:v1" "$REG/podman/app:v2"
	pm push --tls-verify=false --digestfile "$P/digest" "$REG/podman/app:v2"
	digest=$(cat "$P/digest")
	expect_digest "pushed digest" "$digest"
	expect_eq "digest of the manifest the registry serves" "$digest" "$(remote_manifest_digest podman/app:v2)"
	pm rmi -a -f
	[ -z "$(pm images -q)" ] || die "local images left after rmi"
	pm pull --tls-verify=false "$REG/podman/app:v2"
	expect_eq "image ID after the round trip" "$id" "$(pm image inspect --format '{{.Id}}' "$REG/podman/app:v2")"
	expect_eq "image digest after the round trip" "$digest" "$(pm image inspect --format '{{.Digest}}' "$REG/podman/app:v2")"
	pm pull --tls-verify=false "$REG/podman/app@$digest"
	echo "ok: pulled by digest"
	echo "$digest" >"$P/roundtrip"
}

# run the pulled image, no network. Two things of this sandbox (and of
# many CI containers) are worked around: crun refuses a cgroup v1/v2 hybrid
# whose unified hierarchy has controllers ("cgroups in hybrid mode not
# supported"), so runc is used when installed; and rootful podman asks for
# RLIMIT_NOFILE/NPROC beyond the hard limits, which needs CAP_SYS_RESOURCE
# ("setrlimit: Operation not permitted"), so modest limits are given.
run() {
	local out rt=()
	need "$P/roundtrip" podman-push-pull
	if command -v runc >/dev/null; then rt=(--runtime runc); fi
	out=$(pm run --rm --network none "${rt[@]}" --ulimit nofile=1024:1024 --ulimit nproc=4096:4096 \
		--pull never "$REG/podman/app:v2" /bin/busybox echo hello)
	expect_eq "container output" hello "$out"
}

"$@"
