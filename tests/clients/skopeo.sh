#!/bin/bash
# skopeo cases; run by run.sh as `skopeo.sh CASE` (see lib.sh for the contract).
# The image is an OCI layout made by hand (make_oci_layout), so these cases
# need no other client.
set -euo pipefail
# shellcheck source=lib.sh
. "$CLIENTS_DIR/lib.sh"

S=$WORK/skopeo
sk() { tmo 90 skopeo --insecure-policy "$@"; }

# push: OCI layout -> registry, the manifest unchanged (OCI media types).
push_oci() {
	mkdir -p "$S"
	make_oci_layout "$S/src" v1
	local want got
	want=$(jq -r '.manifests[0].digest' "$S/src/index.json")
	sk copy --dest-tls-verify=false --digestfile "$S/oci.digest" \
		"oci:$S/src:v1" "docker://$REG/skopeo/test:v1"
	got=$(cat "$S/oci.digest")
	expect_eq "digest skopeo reports for the push" "$want" "$got"
	expect_eq "digest of the manifest the registry serves" "$want" "$(remote_manifest_digest skopeo/test:v1)"
	sk inspect --tls-verify=false --raw "docker://$REG/skopeo/test:v1" >"$S/remote.json"
	expect_eq "manifest media type" application/vnd.oci.image.manifest.v1+json "$(jq -r .mediaType "$S/remote.json")"
	cmp "$S/remote.json" "$(oci_manifest_path "$S/src")" || die "served manifest differs from the pushed one"
	sk inspect --tls-verify=false "docker://$REG/skopeo/test:v1" >"$S/inspect.json"
	expect_eq "inspect .Digest" "$want" "$(jq -r .Digest "$S/inspect.json")"
	expect_eq "inspect .Layers" "$(manifest_layers "$(oci_manifest_path "$S/src")")" \
		"$(jq -r '.Layers | join(" ")' "$S/inspect.json")"
	expect_eq "inspect .Architecture" "$(goarch)" "$(jq -r .Architecture "$S/inspect.json")"
	sk inspect --tls-verify=false --config "docker://$REG/skopeo/test:v1" | jq -e '.rootfs.diff_ids | length == 2' >/dev/null ||
		die "config blob not served intact"
}

# pull: registry -> a new OCI layout, by tag and by digest; byte-identical.
pull_oci() {
	local want src
	need "$S/oci.digest" skopeo-push-oci
	want=$(cat "$S/oci.digest")
	src=$(oci_manifest_path "$S/src")
	sk copy --src-tls-verify=false "docker://$REG/skopeo/test:v1" "oci:$S/back:v1"
	expect_eq "pulled manifest digest" "$want" "$(jq -r '.manifests[0].digest' "$S/back/index.json")"
	cmp "$src" "$(oci_manifest_path "$S/back")" || die "pulled manifest differs"
	expect_eq "pulled layer digests" "$(manifest_layers "$src")" "$(manifest_layers "$(oci_manifest_path "$S/back")")"
	oci_verify_blobs "$S/back"
	expect_eq "blob set" "$(find "$S/src/blobs/sha256" -type f -printf '%f\n' | sort | tr '\n' ' ')" \
		"$(find "$S/back/blobs/sha256" -type f -printf '%f\n' | sort | tr '\n' ' ')"
	sk copy --src-tls-verify=false "docker://$REG/skopeo/test@$want" "oci:$S/bydigest:x"
	expect_eq "manifest digest pulled by digest" "$want" "$(jq -r '.manifests[0].digest' "$S/bydigest/index.json")"
}

# push with --format v2s2: converted to a Docker schema 2 manifest; layers
# are the same blobs; pulled back unchanged.
push_v2s2() {
	local oci got d
	need "$S/oci.digest" skopeo-push-oci
	oci=$(oci_manifest_path "$S/src")
	sk copy --format v2s2 --dest-tls-verify=false --digestfile "$S/v2s2.digest" \
		"oci:$S/src:v1" "docker://$REG/skopeo/test:v2s2"
	got=$(cat "$S/v2s2.digest")
	expect_digest "v2s2 digest" "$got"
	sk inspect --tls-verify=false --raw "docker://$REG/skopeo/test:v2s2" >"$S/v2s2.json"
	expect_eq "served digest" "$got" "$(sha256_stdin <"$S/v2s2.json")"
	expect_eq "manifest media type" application/vnd.docker.distribution.manifest.v2+json \
		"$(jq -r .mediaType "$S/v2s2.json")"
	expect_eq "config media type" application/vnd.docker.container.image.v1+json \
		"$(jq -r .config.mediaType "$S/v2s2.json")"
	expect_eq "layer digests (same blobs as the OCI push)" "$(manifest_layers "$oci")" "$(manifest_layers "$S/v2s2.json")"
	sk copy --src-tls-verify=false "docker://$REG/skopeo/test:v2s2" "dir:$S/v2s2-back"
	expect_eq "pulled v2s2 manifest digest" "$got" "$(sha256_file "$S/v2s2-back/manifest.json")"
	for d in $(manifest_layers "$S/v2s2.json") "$(jq -r .config.digest "$S/v2s2.json")"; do
		expect_eq "pulled blob" "$d" "$(sha256_file "$S/v2s2-back/${d#sha256:}")"
	done
	# The OCI tag still resolves to the OCI manifest.
	expect_eq "v1 unchanged" "$(cat "$S/oci.digest")" "$(remote_manifest_digest skopeo/test:v1)"
}

# registry -> registry into another repository (clients may try a
# cross-repository blob mount here); then list-tags on both.
copy_repo() {
	local want
	need "$S/oci.digest" skopeo-push-oci
	want=$(cat "$S/oci.digest")
	sk copy --src-tls-verify=false --dest-tls-verify=false --digestfile "$S/copy.digest" \
		"docker://$REG/skopeo/test:v1" "docker://$REG/skopeo/copy:latest"
	expect_eq "copied manifest digest" "$want" "$(cat "$S/copy.digest")"
	expect_eq "served copy digest" "$want" "$(remote_manifest_digest skopeo/copy:latest)"
}

list_tags() {
	need "$S/v2s2.digest" skopeo-push-v2s2
	need "$S/copy.digest" skopeo-copy-repo
	sk list-tags --tls-verify=false "docker://$REG/skopeo/test" >"$S/tags.json"
	cat "$S/tags.json"
	expect_eq "repository" "$REG/skopeo/test" "$(jq -r .Repository "$S/tags.json")"
	expect_eq "tags" "v1 v2s2" "$(jq -r '.Tags | sort | join(" ")' "$S/tags.json")"
	sk list-tags --tls-verify=false "docker://$REG/skopeo/copy" >"$S/tags2.json"
	expect_eq "tags of skopeo/copy" "latest" "$(jq -r '.Tags | join(" ")' "$S/tags2.json")"
	if sk list-tags --tls-verify=false "docker://$REG/skopeo/no-such-repo" >"$S/tags3.json" 2>&1; then
		die "list-tags of a repository never pushed succeeded: $(cat "$S/tags3.json")"
	fi
	echo "ok: list-tags of an unknown repository fails: $(tail -n 1 "$S/tags3.json")"
}

"$@"
