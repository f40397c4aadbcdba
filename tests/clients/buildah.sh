#!/bin/bash
# buildah cases; run by run.sh as `buildah.sh CASE` (see lib.sh for the
# contract). buildah keeps its images in a private vfs store under WORK.
set -euo pipefail
# shellcheck source=lib.sh
. "$CLIENTS_DIR/lib.sh"

B=$WORK/buildah
bh() {
	tmo 90 buildah --root "$B/root" --runroot "$B/run" --storage-driver vfs "$@"
}
export BUILDAH_ISOLATION=chroot

# build from scratch, commit (OCI), push; and push again as Docker schema 2.
push() {
	local bb ctr id got
	bb=$(payload) || die "no static busybox (apt-get install busybox-static)"
	mkdir -p "$B"
	ctr=$(bh from --pull=never scratch)
	bh copy "$ctr" "$bb" /bin/busybox
	bh config --cmd '["/bin/busybox","echo","hello"]' --env PATH=/bin --label test=regclients "$ctr"
	bh commit --iidfile "$B/iid" "$ctr" localhost/regclients/app:v1
	bh rm "$ctr"
	id=$(cat "$B/iid")
	id=${id#sha256:}
	echo "committed image $id"
	bh push --retry 0 --tls-verify=false --digestfile "$B/digest" \
		localhost/regclients/app:v1 "docker://$REG/buildah/app:v1"
	got=$(cat "$B/digest")
	expect_digest "pushed digest" "$got"
	expect_eq "digest of the manifest the registry serves" "$got" "$(remote_manifest_digest buildah/app:v1)"
	bh push --retry 0 --tls-verify=false --format v2s2 --digestfile "$B/digest-v2s2" \
		localhost/regclients/app:v1 "docker://$REG/buildah/app:v2s2"
	expect_eq "served v2s2 digest" "$(cat "$B/digest-v2s2")" "$(remote_manifest_digest buildah/app:v2s2)"
	tmo 60 skopeo --insecure-policy inspect --tls-verify=false --raw "docker://$REG/buildah/app:v2s2" |
		jq -e '.mediaType == "application/vnd.docker.distribution.manifest.v2+json"' >/dev/null ||
		die "buildah/app:v2s2 is not a Docker schema 2 manifest"
}

# remove the local image, pull it back, compare ID, digest and content.
pull() {
	local want id got ctr mnt
	need "$B/digest" buildah-push
	want=$(cat "$B/digest")
	id=$(cat "$B/iid")
	id=${id#sha256:}
	bh rmi -a -f
	[ -z "$(bh images -q)" ] || die "local images left after rmi"
	bh pull --retry 0 --tls-verify=false "docker://$REG/buildah/app:v1"
	got=$(bh images --no-trunc --format '{{.ID}}' "$REG/buildah/app:v1")
	expect_eq "image ID after pull" "$id" "${got#sha256:}"
	got=$(bh images --digests --format '{{.Digest}}' "$REG/buildah/app:v1")
	expect_eq "image digest after pull" "$want" "$got"
	ctr=$(bh from --pull=never "$REG/buildah/app:v1")
	mnt=$(bh mount "$ctr")
	cmp "$(payload)" "$mnt/bin/busybox" || die "pulled /bin/busybox differs from the payload"
	echo "ok: pulled /bin/busybox is identical to the payload"
	bh umount "$ctr"
	bh rm "$ctr"
	bh pull --retry 0 --tls-verify=false "docker://$REG/buildah/app:v2s2"
	got=$(bh images --no-trunc --format '{{.ID}}' "$REG/buildah/app:v2s2")
	[ -n "$got" ] || die "buildah/app:v2s2 not pulled"
	echo "ok: buildah/app:v2s2 pulled as image $got"
}

"$@"
