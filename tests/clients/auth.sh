#!/bin/bash
# access-control and TLS cases; run by run.sh as `auth.sh CASE` (see lib.sh
# for the contract). `start` runs a second registry of our own (REGISTRY_BIN)
# in token mode: HTTPS with a CA made by `registry cert` on one port, plain
# HTTP on 127.0.0.1 on another, users made by `registry user add`, and these
# rules:
#   alice    everything everywhere
#   bob      pull on team/**, everything on bob/**
#   anonymous  pull on public/**
# `stop` ends it and fails if it did not exit cleanly or its log has a
# sanitizer report. Clients log in through the registry's own /token.
#
# The HTTPS port: where run.sh's private namespace maps registry.test to ::1
# in /etc/hosts, it is [::1]:TPORT and every HTTPS client names it
# registry.test:TPORT, an address outside dockerd's default insecure range
# 127.0.0.0/8, so docker must verify the CA (docker_tls shows it refusing
# without it). Elsewhere it is 127.0.0.1:TPORT, where docker's check of the
# CA cannot be shown (docker_tls says so).
set -euo pipefail
# shellcheck source=lib.sh
. "$CLIENTS_DIR/lib.sh"

A=$WORK/auth
sk() { tmo 90 skopeo --insecure-policy "$@"; }
pm() {
	tmo 90 podman --root "$A/podman/root" --runroot "$A/podman/run" --tmpdir "$A/podman/tmp" \
		--storage-driver vfs --cgroup-manager cgroupfs --events-backend none "$@"
}
# the docker daemon docker.sh started; our own CLI config (logins)
D=$WORK/docker
export DOCKER_HOST=unix://$D/docker.sock DOCKER_CONFIG=$A/docker-cli DOCKER_BUILDKIT=0
DOCKER_CLI=/usr/bin/docker
[ -x "$DOCKER_CLI" ] || DOCKER_CLI=docker
dk() { tmo 90 "$DOCKER_CLI" "$@"; }

TLSNAME=registry.test

ports() {
	need "$A/ports" auth-start
	read -r TPORT PPORT TLSHOST <"$A/ports"
	TLSREG=$TLSHOST:$TPORT
	PLAINREG=127.0.0.1:$PPORT
}

# registry.test resolves to ::1 and nothing else (run.sh's /etc/hosts).
name_is_v6_loopback() {
	local addrs
	addrs=$(getent ahosts "$TLSNAME" 2>/dev/null | awk '{print $1}' | sort -u) || return 1
	[ "$addrs" = "::1" ]
}

# expect_fail WHAT PATTERN CMD...: CMD fails and says PATTERN (grep -E).
expect_fail() {
	local what=$1 pat=$2 out
	shift 2
	if out=$("$@" 2>&1); then
		die "$what: succeeded, should have failed: $out"
	fi
	echo "$out" | tail -n 3
	echo "$out" | grep -qiE -- "$pat" || die "$what: failed, but without '$pat'"
	echo "ok: $what refused"
}

start() {
	local bin=${REGISTRY_BIN:-} i code
	[ -n "${REGISTRY_CMD:-}" ] && skip_mode "REGISTRY_CMD is set: the auth cases need our own registry"
	[ -n "$bin" ] && [ -x "$bin" ] || die "REGISTRY_BIN is not set to the registry binary"
	mkdir -p "$A/data" "$A/podman" "$A/docker-cli"
	echo pw-alice | tmo 30 "$bin" user add alice --password-stdin --data "$A/data"
	echo pw-bob | tmo 30 "$bin" user add bob --password-stdin --data "$A/data"
	if name_is_v6_loopback; then
		TLSHOST=$TLSNAME
		TPORT=$(free_port_on ::1)
		tlslisten="[::1]:$TPORT"
		echo "HTTPS as $TLSHOST:$TPORT ($TLSNAME is ::1 in /etc/hosts)"
	else
		TLSHOST=127.0.0.1
		TPORT=$(free_port)
		tlslisten=127.0.0.1:$TPORT
		echo "HTTPS on 127.0.0.1:$TPORT ($TLSNAME is not ::1 here: not in run.sh's namespace)"
	fi
	tmo 30 "$bin" cert 127.0.0.1 localhost "$TLSNAME" ::1 --data "$A/data"
	mkdir -p "$A/certs"
	cp "$A/data/tls/ca.crt" "$A/certs/ca.crt"
	PPORT=$(free_port)
	[ "$TPORT" != "$PPORT" ] || PPORT=$(free_port)
	cat >"$A/registry.conf" <<EOF
listen = $tlslisten
listen_plain = 127.0.0.1:$PPORT
data = $A/data
tls_cert = $A/data/tls/server.crt
tls_key = $A/data/tls/server.key
auth = token
auth_rule = "** alice *"
auth_rule = "team/** bob pull"
auth_rule = "bob/** bob *"
auth_rule = "public/** anonymous pull"
EOF
	cat "$A/registry.conf"
	# Not our child when `stop` runs (another invocation): its exit status
	# reaches stop through $A/rc, written by the shell that waits for it.
	rm -f "$A/rc" "$A/pid"
	(
		"$bin" serve -c "$A/registry.conf" </dev/null >"$A/registry.log" 2>&1 &
		echo $! >"$A/pid.new"
		mv "$A/pid.new" "$A/pid"
		rc=0
		wait $! || rc=$?
		echo "$rc" >"$A/rc"
	) </dev/null >/dev/null 2>&1 &
	for i in $(seq 1 50); do
		[ -s "$A/pid" ] && break
		sleep 0.1
	done
	for i in $(seq 1 80); do
		kill -0 "$(cat "$A/pid")" 2>/dev/null || { cat "$A/registry.log"; die "the auth registry exited at start"; }
		code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$A/certs/ca.crt" "https://$TLSHOST:$TPORT/v2/" || true)
		[ "$code" = 401 ] && break
		sleep 0.25
		: "$i"
	done
	expect_eq "HTTPS /v2/ without a token" 401 "$code"
	# the token realm is built from the Host header the client sent
	expect_eq "realm of the HTTPS challenge" "https://$TLSHOST:$TPORT/token" \
		"$(curl -s -o /dev/null -D - --cacert "$A/certs/ca.crt" "https://$TLSHOST:$TPORT/v2/" |
			sed -n 's/^[Ww][Ww][Ww]-[Aa]uthenticate: Bearer realm="\([^"]*\)".*/\1/p')"
	expect_eq "plain /v2/ without a token" 401 "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PPORT/v2/")"
	echo "$TPORT $PPORT $TLSHOST" >"$A/ports"
}

# SIGTERM; exit status 0 and no sanitizer report, or FAIL.
stop() {
	local pid rc=0 i
	[ -s "$A/pid" ] || return 0
	pid=$(cat "$A/pid")
	rm -f "$A/pid"
	kill -0 "$pid" 2>/dev/null || die "the auth registry died during the run: $(tail -n 5 "$A/registry.log")"
	kill -TERM "$pid"
	for i in $(seq 1 40); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.25
		: "$i"
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid"
		die "the auth registry was still running 10 s after SIGTERM"
	fi
	for i in $(seq 1 20); do
		[ -s "$A/rc" ] && break
		sleep 0.1
	done
	rc=$(cat "$A/rc" 2>/dev/null || echo unknown)
	if grep -qE 'ERROR: [A-Za-z]+Sanitizer|runtime error:' "$A/registry.log"; then
		grep -m 1 -A 12 -E 'ERROR: [A-Za-z]+Sanitizer|runtime error:' "$A/registry.log"
		die "sanitizer report in the auth registry's log"
	fi
	[ "$rc" = 0 ] || die "the auth registry exited with status $rc after SIGTERM, not 0"
	echo "ok: the auth registry stopped"
}

# skopeo copy --dest-creds / --src-creds over plain HTTP, in token mode.
skopeo_creds() {
	local want
	ports
	make_oci_layout "$A/layout" v1
	want=$(jq -r '.manifests[0].digest' "$A/layout/index.json")
	sk copy --dest-tls-verify=false --dest-creds alice:pw-alice --digestfile "$A/team.digest" \
		"oci:$A/layout:v1" "docker://$PLAINREG/team/app:v1"
	expect_eq "digest alice pushed" "$want" "$(cat "$A/team.digest")"
	sk copy --dest-tls-verify=false --dest-creds alice:pw-alice \
		"oci:$A/layout:v1" "docker://$PLAINREG/public/app:v1"
	# (containers/image words a 401 to a HEAD as "denied")
	expect_fail "push without credentials" 'unauthorized|authentication required|denied' \
		sk copy --dest-tls-verify=false "oci:$A/layout:v1" "docker://$PLAINREG/team/anon:v1"
	expect_fail "push with a wrong password" 'unauthorized|authentication required|invalid username/password' \
		sk copy --dest-tls-verify=false --dest-creds alice:nope "oci:$A/layout:v1" "docker://$PLAINREG/team/x:v1"
	expect_fail "bob pushing to team/ (pull only)" 'denied' \
		sk copy --dest-tls-verify=false --dest-creds bob:pw-bob "oci:$A/layout:v1" "docker://$PLAINREG/team/bob:v1"
	# bob may push into bob/: layers already in team/app are mounted (bob may pull it)
	sk copy --src-tls-verify=false --dest-tls-verify=false --src-creds bob:pw-bob --dest-creds bob:pw-bob \
		"docker://$PLAINREG/team/app:v1" "docker://$PLAINREG/bob/app:v1"
	sk copy --src-tls-verify=false --src-creds bob:pw-bob "docker://$PLAINREG/bob/app:v1" "oci:$A/back:v1"
	expect_eq "digest bob pulled back" "$want" "$(jq -r '.manifests[0].digest' "$A/back/index.json")"
	oci_verify_blobs "$A/back"
	# anonymous pulls public/, and only that
	sk inspect --tls-verify=false --raw "docker://$PLAINREG/public/app:v1" | sha256_stdin >"$A/public.digest"
	expect_eq "anonymous pull of public/app" "$want" "$(cat "$A/public.digest")"
	expect_fail "anonymous pull of team/app" 'unauthorized|authentication required' \
		sk inspect --tls-verify=false --raw "docker://$PLAINREG/team/app:v1"
	expect_eq "bob's catalog-free tag list of team/app" v1 \
		"$(sk list-tags --tls-verify=false --creds bob:pw-bob "docker://$PLAINREG/team/app" | jq -r '.Tags | join(" ")')"
}

# podman login (token mode), then pull; a push bob may not do fails.
podman_login() {
	local want id
	ports
	need "$A/team.digest" auth-skopeo
	want=$(cat "$A/team.digest")
	mkdir -p "$A/podman"
	echo pw-nope | expect_fail "podman login with a wrong password" 'unauthorized|invalid username/password|authentication required' \
		pm login --authfile "$A/podman-auth.json" --tls-verify=false -u bob --password-stdin "$PLAINREG"
	echo pw-bob | pm login --authfile "$A/podman-auth.json" --tls-verify=false -u bob --password-stdin "$PLAINREG"
	pm pull --authfile "$A/podman-auth.json" --tls-verify=false "$PLAINREG/team/app:v1"
	expect_eq "digest podman pulled" "$want" "$(pm image inspect --format '{{.Digest}}' "$PLAINREG/team/app:v1")"
	id=$(pm image inspect --format '{{.Id}}' "$PLAINREG/team/app:v1")
	pm tag "$id" "$PLAINREG/team/podman:v1"
	expect_fail "podman push by bob to team/" 'denied' \
		pm push --authfile "$A/podman-auth.json" --tls-verify=false "$PLAINREG/team/podman:v1"
	pm logout --authfile "$A/podman-auth.json" "$PLAINREG"
	pm rmi -a -f >/dev/null
	expect_fail "podman pull after logout" 'unauthorized|authentication required|denied' \
		pm pull --authfile "$A/podman-auth.json" --tls-verify=false "$PLAINREG/team/app:v1"
}

# Over HTTPS with the CA trusted (--cert-dir), and refused without it.
tls_pull() {
	local want
	ports
	need "$A/team.digest" auth-skopeo
	want=$(cat "$A/team.digest")
	sk copy --src-cert-dir "$A/certs" --src-creds bob:pw-bob \
		"docker://$TLSREG/team/app:v1" "oci:$A/tls-back:v1"
	expect_eq "digest pulled over HTTPS" "$want" "$(jq -r '.manifests[0].digest' "$A/tls-back/index.json")"
	oci_verify_blobs "$A/tls-back"
	expect_fail "HTTPS without the CA" 'x509|certificate' \
		sk inspect --creds bob:pw-bob --raw "docker://$TLSREG/team/app:v1"
	sk copy --dest-cert-dir "$A/certs" --dest-creds bob:pw-bob \
		"oci:$A/layout:v1" "docker://$TLSREG/bob/over-tls:v1"
	echo pw-bob | pm login --authfile "$A/podman-tls.json" --cert-dir "$A/certs" -u bob --password-stdin "$TLSREG"
	pm pull --authfile "$A/podman-tls.json" --cert-dir "$A/certs" "$TLSREG/bob/over-tls:v1"
	expect_eq "digest podman pulled over HTTPS" "$want" \
		"$(pm image inspect --format '{{.Digest}}' "$TLSREG/bob/over-tls:v1")"
}

# docker login + push + pull, token mode, through the test's dockerd.
docker_login() {
	local out got
	ports
	need "$D/iid" docker-build
	echo pw-nope | expect_fail "docker login with a wrong password" 'unauthorized|authentication required' \
		dk login -u alice --password-stdin "$PLAINREG"
	echo pw-alice | dk login -u alice --password-stdin "$PLAINREG"
	# docker asked for offline access and kept our refresh token instead of
	# the password: the push and pull below get their tokens by OAuth2 POST.
	jq -e --arg r "$PLAINREG" '.auths[$r].identitytoken | length > 0' "$A/docker-cli/config.json" >/dev/null ||
		die "docker login kept no refresh token: $(cat "$A/docker-cli/config.json")"
	echo "ok: docker login stored a refresh token, not the password"
	dk tag "$(cat "$D/iid")" "$PLAINREG/team/docker:v1"
	dk push "$PLAINREG/team/docker:v1" | tee "$A/docker-push.out"
	got=$(sed -n 's/^.*: digest: \(sha256:[0-9a-f]*\) size: [0-9]*$/\1/p' "$A/docker-push.out" | tail -n 1)
	expect_digest "digest docker pushed" "$got"
	echo "$got" >"$A/docker.digest"
	dk rmi -f "$PLAINREG/team/docker:v1" >/dev/null
	dk pull "$PLAINREG/team/docker:v1" | tee "$A/docker-pull.out"
	expect_eq "digest docker pulled" "$got" "$(sed -n 's/^Digest: //p' "$A/docker-pull.out")"
	dk logout "$PLAINREG"
	dk rmi -f "$PLAINREG/team/docker:v1" >/dev/null
	expect_fail "docker pull after logout" 'unauthorized|authentication required|denied|pull access' \
		dk pull "$PLAINREG/team/docker:v1"
	echo pw-bob | dk login -u bob --password-stdin "$PLAINREG"
	out=$(dk pull "$PLAINREG/team/docker:v1")
	echo "$out"
	expect_eq "digest bob pulled" "$got" "$(echo "$out" | sed -n 's/^Digest: //p')"
	expect_fail "docker push by bob to team/" 'denied' dk push "$PLAINREG/team/docker:v1"
	dk logout "$PLAINREG"
}

# docker over HTTPS, the CA in the daemon's certs.d (the test's dockerd sees
# $WORK/docker/etc as /etc/docker). As registry.test:TPORT (::1), a registry
# dockerd holds secure: without the CA, login and pull must fail on the
# certificate (no insecure fallback); with it, they work. As 127.0.0.1:TPORT
# (outside run.sh's namespace) docker would not insist on the CA: only that
# the login and pull went over HTTPS (the port speaks only TLS) is shown.
docker_tls() {
	local got certs
	ports
	need "$A/docker.digest" auth-docker
	got=$(cat "$A/docker.digest")
	certs=$D/etc/certs.d/$TLSREG
	rm -rf "$certs"
	if [ "$TLSHOST" = "$TLSNAME" ]; then
		echo pw-bob | expect_fail "docker login without the CA in certs.d" 'x509|certificate' \
			dk login -u bob --password-stdin "$TLSREG"
		expect_fail "docker pull without the CA in certs.d" 'x509|certificate' \
			dk pull "$TLSREG/team/docker:v1"
		# the endpoints of a secure registry are HTTPS only: no plain HTTP
		if grep -F "http://$TLSREG/" "$D/dockerd.log"; then
			die "dockerd tried plain HTTP on $TLSREG"
		fi
		echo "ok: dockerd did not fall back to HTTP"
	fi
	mkdir -p "$certs"
	cp "$A/certs/ca.crt" "$certs/ca.crt"
	echo pw-bob | dk login -u bob --password-stdin "$TLSREG"
	dk pull "$TLSREG/team/docker:v1" | tee "$A/docker-tls.out"
	expect_eq "digest docker pulled over HTTPS" "$got" "$(sed -n 's/^Digest: //p' "$A/docker-tls.out")"
	dk logout "$TLSREG"
	dk rmi -f "$TLSREG/team/docker:v1" >/dev/null
	grep -q 'with TLS' "$A/registry.log" || die "the registry did not serve TLS"
	if [ "$TLSHOST" != "$TLSNAME" ]; then
		echo "NOTE: CA verification by docker not proven ($TLSREG is insecure to dockerd; run.sh maps $TLSNAME to ::1 only in its private namespace, as root)"
	fi
}

"$@"
