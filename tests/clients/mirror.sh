#!/bin/bash
# Pull-through cache cases; run by run.sh as `mirror.sh CASE` (see lib.sh for
# the contract). They need our registry binary (REGISTRY_BIN, which run.sh
# exports; with a REGISTRY_CMD stand-in they skip).
#
# `start` runs two more instances of the registry on 127.0.0.1:
#   hub     plays Docker Hub: token auth, a user; its debug log counts requests
#   mirror  `upstream = docker.io http://HUB namespaces=library credentials=...`
# and pushes a runnable busybox image to the hub as library/mirrortest:1.
# Then every client pulls it through the mirror, each its own way:
#   skopeo, podman   path prefix: MIRROR/docker.io/library/mirrortest:1, and
#                    podman with a registries.conf mirror for docker.io
#   docker           dockerd's registry-mirrors: `docker pull mirrortest:1`
#   containerd       hosts.toml mirror (ctr --hosts-dir): ?ns=docker.io
# and `counts` checks in the hub's log that the mirror fetched each blob from
# it once for all of them. `stop` ends both instances.
set -euo pipefail
# shellcheck source=lib.sh
. "$CLIENTS_DIR/lib.sh"

M=$WORK/mirror
IMG=library/mirrortest:1
PW=mirror-test-secret

need_bin() {
	[ -z "${REGISTRY_CMD:-}" ] && [ -n "${REGISTRY_BIN:-}" ] ||
		skip_mode "needs our registry binary (not a REGISTRY_CMD stand-in)"
}

# serve NAME CONF: runs an instance on a free port; prints host:port.
serve() {
	local name=$1 conf=$2 port i code
	port=$(free_port) || die "no free port"
	setsid "$REGISTRY_BIN" serve -c "$conf" --listen "127.0.0.1:$port" --data "$M/$name" \
		</dev/null >>"$M/$name.log" 2>&1 &
	echo $! >"$M/$name.pid"
	for i in $(seq 1 80); do
		code=$(curl -s -m 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/v2/" || true)
		if [ "$code" = 200 ] || [ "$code" = 401 ]; then
			echo "127.0.0.1:$port"
			return 0
		fi
		kill -0 "$(cat "$M/$name.pid")" 2>/dev/null || break
		sleep 0.25
		: "$i"
	done
	tail -n 20 "$M/$name.log" >&2
	die "$name did not start"
}

start() {
	need_bin
	mkdir -p "$M/hub" "$M/mirror"
	printf 'auth = token\nlog_level = debug\n' >"$M/hub.conf"
	echo "$PW" | tmo 30 "$REGISTRY_BIN" user add hubuser --password-stdin --cost 4 -d "$M/hub"
	serve hub "$M/hub.conf" >"$M/hub.addr"
	printf 'hubuser:%s\n' "$PW" >"$M/cred"
	cat >"$M/mirror.conf" <<EOF
log_level = debug
upstream = docker.io http://$(cat "$M/hub.addr") namespaces=library credentials=$M/cred
EOF
	serve mirror "$M/mirror.conf" >"$M/mirror.addr"
	echo "hub $(cat "$M/hub.addr"), mirror $(cat "$M/mirror.addr")"
	make_oci_layout "$M/src" v1
	tmo 90 skopeo --insecure-policy copy --dest-tls-verify=false --dest-creds "hubuser:$PW" \
		--digestfile "$M/digest" "oci:$M/src:v1" "docker://$(cat "$M/hub.addr")/$IMG"
	expect_digest "digest pushed to the hub" "$(cat "$M/digest")"
	[ "$(curl -s -o /dev/null -w '%{http_code}' "http://$(cat "$M/hub.addr")/v2/library/mirrortest/manifests/1")" = 401 ] ||
		die "the hub serves anonymous pulls: the token flow would not be tested"
	echo "ok: the hub wants a token"
}

stop() {
	local n pid rc=0
	[ -d "$M" ] || return 0
	for n in mirror hub; do
		[ -s "$M/$n.pid" ] || continue
		pid=$(cat "$M/$n.pid")
		kill -TERM "$pid" 2>/dev/null || continue
		for _ in $(seq 1 80); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.25
		done
		kill -KILL "$pid" 2>/dev/null && { echo "FAILED: $n did not stop on SIGTERM"; rc=1; }
		if grep -qE 'ERROR: [A-Za-z]+Sanitizer|runtime error:' "$M/$n.log"; then
			echo "FAILED: sanitizer report in the $n log"
			grep -m 1 -A 12 -E 'ERROR: [A-Za-z]+Sanitizer|runtime error:' "$M/$n.log"
			rc=1
		fi
		rm -f "$M/$n.pid"
	done
	return $rc
}

# Requests for the bare name (dockerd's and containerd's way) the mirror logged.
bare_requests() {
	grep -cE 'debug request (GET|HEAD) /v2/library/mirrortest/manifests/' "$M/mirror.log" || true
}

mirror_addr() {
	need "$M/digest" mirror-start
	cat "$M/mirror.addr"
}

# skopeo: path prefix, by tag and by digest, byte-identical manifest.
pull_skopeo() {
	local mir want
	mir=$(mirror_addr)
	want=$(cat "$M/digest")
	tmo 90 skopeo --insecure-policy copy --src-tls-verify=false \
		"docker://$mir/docker.io/$IMG" "oci:$M/skopeo:v1"
	expect_eq "digest skopeo pulled through the mirror" "$want" \
		"$(jq -r '.manifests[0].digest' "$M/skopeo/index.json")"
	oci_verify_blobs "$M/skopeo"
	cmp "$(oci_manifest_path "$M/skopeo")" "$(oci_manifest_path "$M/src")" ||
		die "the mirror changed the manifest"
	tmo 60 skopeo --insecure-policy inspect --tls-verify=false --raw \
		"docker://$mir/docker.io/library/mirrortest@$want" | sha256_stdin >"$M/bydigest"
	expect_eq "manifest by digest" "$want" "$(cat "$M/bydigest")"
	tmo 60 skopeo --insecure-policy list-tags --tls-verify=false \
		"docker://$mir/docker.io/library/mirrortest" | jq -e '.Tags == ["1"]' >/dev/null ||
		die "list-tags through the mirror"
	echo "ok: list-tags through the mirror"
}

# podman: path prefix; the image's digest is the upstream's.
pull_podman() {
	local mir want P=$M/podman
	mir=$(mirror_addr)
	want=$(cat "$M/digest")
	mkdir -p "$P"
	tmo 90 podman --root "$P/root" --runroot "$P/run" --tmpdir "$P/tmp" \
		--storage-driver vfs --cgroup-manager cgroupfs --events-backend none \
		pull --tls-verify=false "$mir/docker.io/$IMG"
	expect_eq "digest podman pulled through the mirror" "$want" \
		"$(podman --root "$P/root" --runroot "$P/run" --storage-driver vfs \
			image inspect --format '{{.Digest}}' "$mir/docker.io/$IMG")"
	# the README's registries.conf: a plain docker.io name, the mirror in front
	cat >"$M/registries.conf" <<EOF
unqualified-search-registries = []
[[registry]]
prefix = "docker.io"
location = "registry-1.docker.io"
[[registry.mirror]]
location = "$mir/docker.io"
insecure = true
EOF
	CONTAINERS_REGISTRIES_CONF=$M/registries.conf tmo 90 podman --root "$P/root2" \
		--runroot "$P/run2" --tmpdir "$P/tmp" --storage-driver vfs --cgroup-manager cgroupfs \
		--events-backend none pull "docker.io/$IMG"
	expect_eq "digest podman pulled as docker.io/$IMG (registries.conf mirror)" "$want" \
		"$(podman --root "$P/root2" --runroot "$P/run2" --storage-driver vfs \
			image inspect --format '{{.Digest}}' "docker.io/$IMG")"
}

# docker: registry-mirrors (reloaded with SIGHUP), then a plain `docker pull`
# of a Docker Hub name; the daemon has no other way to docker.io here.
pull_docker() {
	local mir want D=$WORK/docker out pid i before
	mir=$(mirror_addr)
	want=$(cat "$M/digest")
	[ -s "$D/dockerd.pid" ] || die "needs the docker-daemon case to have passed"
	export DOCKER_HOST=unix://$D/docker.sock DOCKER_CONFIG=$D/cli
	pid=$(cat "$D/dockerd.pid")
	printf '{"registry-mirrors": ["http://%s"]}\n' "$mir" >"$D/daemon.json"
	kill -HUP "$pid"
	for i in $(seq 1 40); do
		tmo 5 /usr/bin/docker info --format '{{json .RegistryConfig.Mirrors}}' | grep -q "$mir" && break
		sleep 0.25
		: "$i"
	done
	tmo 5 /usr/bin/docker info --format '{{json .RegistryConfig.Mirrors}}' | grep -q "$mir" ||
		die "dockerd did not take the mirror (SIGHUP reload)"
	echo "ok: dockerd mirrors docker.io through http://$mir"
	before=$(bare_requests)
	out=$(tmo 90 /usr/bin/docker pull mirrortest:1)
	echo "$out"
	expect_eq "digest docker pulled through the mirror" "$want" "$(echo "$out" | sed -n 's/^Digest: //p')"
	out=$(tmo 60 /usr/bin/docker run --rm --network none mirrortest:1)
	expect_eq "output of the mirrored image" hello "$out"
	# (the layers may be known to dockerd already: the skopeo cases pushed
	# the same busybox image, so a HEAD can be all it asks)
	[ "$(bare_requests)" -gt "$before" ] || die "the mirror never saw dockerd's requests"
	echo '{}' >"$D/daemon.json"
	kill -HUP "$pid"
}

# containerd: a hosts.toml mirror for docker.io; containerd adds ?ns=docker.io.
pull_containerd() {
	local mir want sock before D=$WORK/docker
	mir=$(mirror_addr)
	want=$(cat "$M/digest")
	command -v ctr >/dev/null || skip "ctr not installed (Debian's containerd)"
	sock=$(find "$D/exec" -name containerd.sock -type s 2>/dev/null | head -n 1)
	[ -n "$sock" ] || skip "no containerd socket under the docker daemon's exec root"
	mkdir -p "$M/certs.d/docker.io"
	cat >"$M/certs.d/docker.io/hosts.toml" <<EOF
server = "https://registry-1.docker.io"

[host."http://$mir"]
  capabilities = ["pull", "resolve"]
EOF
	before=$(bare_requests)
	# no network here: resolving docker.io can only go through the mirror
	tmo 90 ctr --address "$sock" --namespace regmirror content fetch --hosts-dir "$M/certs.d" \
		"docker.io/$IMG" | tee "$M/ctr.out"
	grep -q "manifest-$want" "$M/ctr.out" || die "containerd did not resolve to $want"
	[ "$(bare_requests)" -gt "$before" ] || die "the mirror never saw containerd's requests"
	echo "ok: containerd resolved $want through the mirror (?ns=docker.io)"
	curl -s -D - -o /dev/null "http://$mir/v2/library/mirrortest/manifests/1?ns=docker.io" |
		grep -qi '^OCI-Namespace: docker.io' || die "no OCI-Namespace echoed for ?ns="
	echo "ok: ?ns=docker.io echoed as OCI-Namespace"
	tmo 10 ctr --address "$sock" --namespace regmirror content prune references >/dev/null 2>&1 || true
}

# every blob of the image came from the hub once, whoever pulled it and how;
# with the mirror CLIENTS_REPLICAS replicas behind a balancer (run_s3.sh),
# at most once per replica (the single-flight is each replica's own, as the
# README says)
counts() {
	local d n h bad=0 most=${CLIENTS_REPLICAS:-1}
	need "$M/digest" mirror-start
	for d in $(jq -r '.config.digest, .layers[].digest' "$(oci_manifest_path "$M/src")"); do
		n=$(grep -c "debug request GET /v2/library/mirrortest/blobs/$d\$" "$M/hub.log" || true)
		echo "blob $d: $n upstream GET(s) (at most $most)"
		[ "$n" -ge 1 ] && [ "$n" -le "$most" ] || bad=1
	done
	[ "$bad" = 0 ] || die "some blob was fetched from the hub more than $most time(s) (or never)"
	n=$(grep -c 'debug request GET /v2/library/mirrortest/manifests/1$' "$M/hub.log" || true)
	h=$(grep -c 'debug request HEAD /v2/library/mirrortest/manifests/1$' "$M/hub.log" || true)
	echo "manifest by tag: $n upstream GET(s), $h HEAD(s)"
	# start's anonymous probe (401), then one fetch: a first try answered
	# 401, and the GET with the token. Later pulls are served from the
	# cache: at most one revalidation (a HEAD) per client pull (6 clients),
	# and only once proxy_revalidate (5 min) has passed.
	[ "$n" = 3 ] || die "$n GETs of the manifest at the hub: not the probe and one fetch (3)"
	[ "$h" -le 6 ] || die "$h HEADs of the manifest at the hub: more than one per pull"
}

"$@"
