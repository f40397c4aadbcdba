# shellcheck shell=bash
# tests/ui/fixtures.sh - the images the browser test browses, pushed over the
# real API (sourced after tests/integration/lib.sh; uses BASE, TMP, BIN).
#
#   team-a/app      v1 and latest: a two-layer image from an OCI layout,
#                   pushed by skopeo as admin (tests/clients/lib.sh's layout)
#   team-a/multi    v1: an index of three platforms, with a signature and an
#                   SBOM referring to it, and a signature of the SBOM (nested)
#   team-b/app      release-1 (immutable by rule) and dev, pushed by bob
#   team-b/xss      xss: the XSS battery (below), pushed by bob
#   public/hello    1.0: what anonymous may pull
# The XSS battery puts each string of $TMP/payloads.json into every place a
# manifest or config can carry text: labels (keys and values), annotations
# of the index, the manifest and a layer, Env, Entrypoint, Cmd,
# ExposedPorts, WorkingDir, User, history created_by, the platform's
# variant, a referrer's artifactType and annotations. Tags and repository
# names cannot hold any of it (their grammar has no such characters).

UI_MT_MAN=application/vnd.oci.image.manifest.v1+json
UI_MT_IDX=application/vnd.oci.image.index.v1+json

# The strings that must show as text and never run. Each one sets
# window.__xss if a page lets it through as markup.
ui_payloads() {
	cat >"$TMP/payloads.txt" <<'EOF'
<script>window.__xss=1</script>
"><img src=x onerror="window.__xss=1">
' onmouseover='window.__xss=1
javascript:window.__xss=1
</textarea><svg onload=window.__xss=1>
</pre><script>window.__xss=1</script>
&amp;<b id=xssbold>bold</b>
EOF
	jq -R . "$TMP/payloads.txt" | jq -cs . >"$TMP/payloads.json"
}

# ui_blob REPO FILE [curl args]: a monolithic upload; prints the digest.
ui_blob() {
	local repo=$1 f=$2 d code
	shift 2
	d=$(sha256 "$f")
	code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$@" \
		-H 'Content-Type: application/octet-stream' --data-binary @"$f" \
		"$BASE/v2/$repo/blobs/uploads/?digest=$d")
	[ "$code" = 201 ] || {
		echo "blob push to $repo: $code" >&2
		return 1
	}
	echo "$d"
}

# ui_manifest REPO REF FILE MEDIATYPE [curl args]: prints the digest.
ui_manifest() {
	local repo=$1 ref=$2 f=$3 mt=$4 code
	shift 4
	code=$(curl -s -o "$TMP/mput" -w '%{http_code}' -X PUT "$@" -H "Content-Type: $mt" \
		--data-binary @"$f" "$BASE/v2/$repo/manifests/$ref")
	[ "$code" = 201 ] || {
		echo "manifest push to $repo:$ref: $code $(head -c 300 "$TMP/mput")" >&2
		return 1
	}
	sha256 "$f"
}

# ui_desc FILE MEDIATYPE: a descriptor of FILE (jq -c).
ui_desc() {
	jq -cn --arg m "$2" --arg d "$(sha256 "$1")" --argjson s "$(stat -c %s "$1")" \
		'{mediaType: $m, digest: $d, size: $s}'
}

# ui_image REPO OUT ARCH [VARIANT] -- [curl args]: a one-layer image whose
# config says ARCH; writes the manifest to OUT, pushes it by digest and
# prints the digest.
ui_image() {
	local repo=$1 out=$2 arch=$3 variant=$4 cfgd layd
	shift 5
	printf 'layer of %s %s %s\n' "$repo" "$arch" "$variant" | gzip -n >"$out.layer"
	jq -cn --arg a "$arch" --arg v "$variant" '{architecture: $a, os: "linux",
		created: "2024-01-02T03:04:05Z",
		config: {Cmd: ["/bin/sh"], Env: ["PATH=/bin"]},
		rootfs: {type: "layers", diff_ids: []},
		history: [{created: "2024-01-02T03:04:05Z", created_by: ("ui fixture " + $a)}]}
		+ (if $v == "" then {} else {variant: $v} end)' >"$out.config"
	cfgd=$(ui_blob "$repo" "$out.config" "$@") || return 1
	layd=$(ui_blob "$repo" "$out.layer" "$@") || return 1
	jq -cn --argjson c "$(ui_desc "$out.config" application/vnd.oci.image.config.v1+json)" \
		--argjson l "$(ui_desc "$out.layer" application/vnd.oci.image.layer.v1.tar+gzip)" \
		--arg mt "$UI_MT_MAN" '{schemaVersion: 2, mediaType: $mt, config: $c, layers: [$l]}' >"$out"
	: "$cfgd$layd"
	ui_manifest "$repo" "$(sha256 "$out")" "$out" "$UI_MT_MAN" "$@"
}

# ui_referrer REPO OUT ARTIFACT_TYPE SUBJECT_FILE SUBJECT_MT [ANNOTATIONS_JSON]
# -- [curl args]: an artifact manifest (empty config, one small blob) whose
# subject is SUBJECT_FILE; pushed by digest; prints the digest.
ui_referrer() {
	local repo=$1 out=$2 at=$3 subj=$4 smt=$5 ann=${6:-"{}"}
	shift 7
	printf '{}' >"$out.empty"
	printf 'artifact %s\n' "$at" >"$out.blob"
	ui_blob "$repo" "$out.empty" "$@" >/dev/null || return 1
	ui_blob "$repo" "$out.blob" "$@" >/dev/null || return 1
	jq -cn --arg mt "$UI_MT_MAN" --arg at "$at" --argjson ann "$ann" \
		--argjson c "$(ui_desc "$out.empty" application/vnd.oci.empty.v1+json)" \
		--argjson l "$(ui_desc "$out.blob" application/octet-stream)" \
		--argjson s "$(ui_desc "$subj" "$smt")" \
		'{schemaVersion: 2, mediaType: $mt, artifactType: $at, config: $c, layers: [$l],
		  subject: $s, annotations: ({"org.opencontainers.image.created": "2024-01-02T03:04:05Z"} + $ann)}' >"$out"
	ui_manifest "$repo" "$(sha256 "$out")" "$out" "$UI_MT_MAN" "$@"
}

# ui_push_all ADMIN_CREDS BOB_CREDS: pushes every fixture; sets the digests
# the test checks (D_APP, D_MULTI, D_AMD64, D_ARM64, D_ARMV7, D_SIG, D_SBOM,
# D_SBOMSIG, D_REL, D_DEV, D_XSS, D_XSSIMG, D_XSSREF, D_PUB). Returns 1 on
# the first push that fails.
ui_push_all() {
	local admin=$1 bob=$2 f=$TMP/fx
	mkdir -p "$f"
	# team-a/app: skopeo from an OCI layout.
	# shellcheck source=../clients/lib.sh
	(CLIENTS_DIR=$UI_REPO_DIR/tests/clients && . "$CLIENTS_DIR/lib.sh" &&
		make_oci_layout "$f/layout" v1) || return 1
	timeout 60 skopeo --insecure-policy copy -q --dest-tls-verify=false --dest-creds "$admin" \
		"oci:$f/layout:v1" "docker://127.0.0.1:$PORT/team-a/app:v1" || return 1
	timeout 60 skopeo --insecure-policy copy -q --dest-tls-verify=false --dest-creds "$admin" \
		"oci:$f/layout:v1" "docker://127.0.0.1:$PORT/team-a/app:latest" || return 1
	D_APP=$(curl -s -u "$admin" -H "Accept: $UI_MT_MAN" "$BASE/v2/team-a/app/manifests/v1" | tee "$f/app.json" | sha256sum | cut -d' ' -f1)
	D_APP=sha256:$D_APP

	# team-a/multi: three platforms in an index, referrers on it.
	D_AMD64=$(ui_image team-a/multi "$f/amd64" amd64 "" -- -u "$admin") || return 1
	D_ARM64=$(ui_image team-a/multi "$f/arm64" arm64 "" -- -u "$admin") || return 1
	D_ARMV7=$(ui_image team-a/multi "$f/armv7" arm v7 -- -u "$admin") || return 1
	jq -cn --arg mt "$UI_MT_IDX" --argjson a "$(ui_desc "$f/amd64" "$UI_MT_MAN")" \
		--argjson b "$(ui_desc "$f/arm64" "$UI_MT_MAN")" --argjson c "$(ui_desc "$f/armv7" "$UI_MT_MAN")" \
		'{schemaVersion: 2, mediaType: $mt, manifests: [
			$a + {platform: {os: "linux", architecture: "amd64"}},
			$b + {platform: {os: "linux", architecture: "arm64"}},
			$c + {platform: {os: "linux", architecture: "arm", variant: "v7"}}],
		  annotations: {"org.opencontainers.image.description": "three platforms"}}' >"$f/multi"
	D_MULTI=$(ui_manifest team-a/multi v1 "$f/multi" "$UI_MT_IDX" -u "$admin") || return 1
	D_SIG=$(ui_referrer team-a/multi "$f/sig" application/vnd.dev.cosign.artifact.sig.v1+json \
		"$f/multi" "$UI_MT_IDX" "" -- -u "$admin") || return 1
	D_SBOM=$(ui_referrer team-a/multi "$f/sbom" application/spdx+json \
		"$f/multi" "$UI_MT_IDX" "" -- -u "$admin") || return 1
	D_SBOMSIG=$(ui_referrer team-a/multi "$f/sbomsig" application/vnd.dev.cosign.artifact.sig.v1+json \
		"$f/sbom" "$UI_MT_MAN" "" -- -u "$admin") || return 1

	# team-b/app, pushed by bob: release-1 is immutable by rule.
	D_REL=$(ui_image team-b/app "$f/rel" amd64 "" -- -u "$bob") || return 1
	ui_manifest team-b/app release-1 "$f/rel" "$UI_MT_MAN" -u "$bob" >/dev/null || return 1
	D_DEV=$(ui_image team-b/app "$f/dev" arm64 "" -- -u "$bob") || return 1
	ui_manifest team-b/app dev "$f/dev" "$UI_MT_MAN" -u "$bob" >/dev/null || return 1

	# public/hello: anonymous may pull it.
	D_PUB=$(ui_image public/hello "$f/pub" amd64 "" -- -u "$admin") || return 1
	ui_manifest public/hello 1.0 "$f/pub" "$UI_MT_MAN" -u "$admin" >/dev/null || return 1

	ui_push_xss "$bob"
}

# ui_push_xss CREDS: team-b/xss:xss, an index over one image, every text
# field holding the payloads; a referrer whose artifactType is one.
ui_push_xss() {
	local cred=$1 f=$TMP/fx cfgd layd
	ui_payloads
	printf 'xss layer\n' | gzip -n >"$f/xss.layer"
	jq -c --arg d "$(sha256 "$f/xss.layer")" '. as $p | {
		architecture: "amd64", os: "linux", created: "2024-01-02T03:04:05Z",
		author: $p[0],
		config: {
			Env: [$p[] | "XSS=" + .],
			Entrypoint: [$p[0], $p[1]],
			Cmd: [$p[2], $p[3], $p[4]],
			ExposedPorts: ([$p[] | {key: ., value: {}}] | from_entries),
			WorkingDir: $p[4],
			User: $p[1],
			Labels: (([$p[] | {key: ., value: .}] | from_entries) +
				{"org.opencontainers.image.url": $p[3], "org.opencontainers.image.source": $p[3],
				 "xss.pre": $p[5], "xss.amp": $p[6]})},
		rootfs: {type: "layers", diff_ids: [$d]},
		history: [$p[] | {created: "2024-01-02T03:04:05Z", created_by: .}]}' \
		"$TMP/payloads.json" >"$f/xss.config"
	cfgd=$(ui_blob team-b/xss "$f/xss.config" -u "$cred") || return 1
	layd=$(ui_blob team-b/xss "$f/xss.layer" -u "$cred") || return 1
	: "$cfgd$layd"
	jq -c --arg mt "$UI_MT_MAN" --argjson c "$(ui_desc "$f/xss.config" application/vnd.oci.image.config.v1+json)" \
		--argjson l "$(ui_desc "$f/xss.layer" application/vnd.oci.image.layer.v1.tar+gzip)" \
		'. as $p | {schemaVersion: 2, mediaType: $mt, config: $c,
			layers: [$l + {annotations: {"org.opencontainers.image.title": $p[4], "xss.layer": $p[0]}}],
			annotations: (([$p[] | {key: ., value: .}] | from_entries) +
				{"org.opencontainers.image.url": $p[3], "org.opencontainers.image.documentation": $p[3]})}' \
		"$TMP/payloads.json" >"$f/xssimg"
	D_XSSIMG=$(ui_manifest team-b/xss "$(sha256 "$f/xssimg")" "$f/xssimg" "$UI_MT_MAN" -u "$cred") || return 1
	jq -c --arg mt "$UI_MT_IDX" --argjson m "$(ui_desc "$f/xssimg" "$UI_MT_MAN")" \
		'. as $p | {schemaVersion: 2, mediaType: $mt,
			manifests: [$m + {platform: {os: "linux", architecture: "amd64", variant: $p[1]},
				annotations: {"xss.desc": $p[0]}}],
			annotations: (([$p[] | {key: ., value: .}] | from_entries) +
				{"org.opencontainers.image.url": $p[3]})}' \
		"$TMP/payloads.json" >"$f/xss"
	D_XSS=$(ui_manifest team-b/xss xss "$f/xss" "$UI_MT_IDX" -u "$cred") || return 1
	D_XSSREF=$(ui_referrer team-b/xss "$f/xssref" "application/vnd.x+json;$(sed -n 1p "$TMP/payloads.txt")" \
		"$f/xss" "$UI_MT_IDX" "$(jq -c '[.[] | {key: ., value: .}] | from_entries' "$TMP/payloads.json")" \
		-- -u "$cred") || return 1
}
