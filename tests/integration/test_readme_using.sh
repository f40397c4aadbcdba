#!/bin/bash
# The README's first steps, run as written: "Set-up: two commands" and
# "Using it". Their fenced blocks are taken from the README by heading, so
# this test follows the README as it changes.
#   - `make run`: what the Makefile's run target does (`make -n run`) is run
#     in an empty folder holding the shipped registry.conf, with the binary
#     under test and a free loopback port instead of 5000; it serves, and its
#     data goes to ./data, as the README says;
#   - the skopeo lines of "Using it", as written but the port, push an OCI
#     layout into that registry and list its tags; curl checks the registry
#     serves the very bytes pushed.
# Not run here: `make test` (it runs this script; far too long for one
# test), the long runs of the second block (make fuzz, stress, valgrind,
# tsan), and the docker, podman and buildah lines, which need images in
# those tools' own storage (and dockerd): tests/clients/{docker,podman,
# buildah}.sh drive those tools against the registry.
set -u
. "$(dirname "$0")/lib.sh"
BIN=$(realpath "$1")
SRC=$(cd "$(dirname "$0")/../.." && pwd)
README=$SRC/README.md
MT=application/vnd.oci.image.manifest.v1+json

export CURL_HOME=$TMP
echo 'max-time = 60' >"$TMP/.curlrc"

# blocks HEADING DIR: the fenced blocks of the section HEADING, one file each
blocks() {
	mkdir -p "$2"
	awk -v dir="$2" -v h="$1" '
		/^## / { in_section = ($0 == h) }
		in_section && /^```/ {
			if (in_block) { in_block = 0; close(f) } else { in_block = 1; n++; f = sprintf("%s/%02d", dir, n) }
			next
		}
		in_section && in_block { print > f }
	' "$README"
}
blocks "## Set-up: two commands" "$TMP/setup"
blocks "## Using it" "$TMP/using"
SETUP=$(grep -lx 'make run .*' "$TMP/setup"/* 2>/dev/null | head -1)
USING=$(grep -lF 'skopeo copy' "$TMP/using"/* 2>/dev/null | head -1)
check "README: the set-up block is there" [ -n "$SETUP" ]
check "README: the using block is there" [ -n "$USING" ]
[ -n "$SETUP" ] && [ -n "$USING" ] || { summary; exit 1; }

# ---- make run ----
RUN_LINE=$(grep '^make run ' "$SETUP")
check "README: make run builds, then serves on port 5000 with its data in ./data" \
	bash -c "grep -qF '# builds, then serves on port 5000 with its data in ./data' <<<'$RUN_LINE'"
for l in $(grep -o '^make [a-z]*' "$SETUP" | cut -d' ' -f2); do
	[ "$l" = run ] || echo "note: not run here: make $l" >&2
done
# What `make run` runs, without building: the Makefile's recipe line
SERVE=$(cd "$SRC" && make -n run 2>/dev/null | grep ' serve ' | tail -1)
check "make run runs build/registry serve -c registry.conf ($SERVE)" \
	[ "$SERVE" = "build/registry serve -c registry.conf" ]
check "the shipped registry.conf listens on port 5000" grep -qx 'listen = 0.0.0.0:5000' "$SRC/registry.conf"
check "...and keeps its data in ./data" grep -qx 'data = ./data' "$SRC/registry.conf"
W=$TMP/fresh
mkdir -p "$W/build"
cp "$SRC/registry.conf" "$W/"
ln -s "$BIN" "$W/build/registry"
(cd "$W" && exec $SERVE --listen 127.0.0.1:0) 2>"$REG_LOG" &
REG_PID=$!
PORT=
for _ in $(seq 1 100); do
	PORT=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$REG_LOG" | tail -1)
	[ -n "$PORT" ] && curl -s -o /dev/null "http://127.0.0.1:$PORT/v2/" && break
	kill -0 "$REG_PID" 2>/dev/null || break
	sleep 0.1
done
check "make run's command serves (here on port $PORT)" [ -n "$PORT" ]
[ -n "$PORT" ] || { cat "$REG_LOG" >&2; summary; exit 1; }
BASE=http://127.0.0.1:$PORT
req GET /v2/
expect "GET /v2/" 200
check "...its data in ./data" [ -f "$W/data/registry.db" ]

# ---- Using it: the skopeo lines, as written but the port ----
for tool in docker podman buildah; do
	grep -q "^$tool " "$USING" && echo "note: not run here ($tool: tests/clients/$tool.sh): $(grep -m1 "^$tool " "$USING")" >&2
done
grep '^skopeo ' "$USING" | sed "s/localhost:5000/localhost:$PORT/g" >"$TMP/skopeo.sh"
check "README: two skopeo lines ($(wc -l <"$TMP/skopeo.sh"))" [ "$(wc -l <"$TMP/skopeo.sh")" = 2 ]
check "README: skopeo pushes oci:./layout to localhost:5000/app:v1" \
	grep -qxF 'skopeo copy --dest-tls-verify=false oci:./layout docker://localhost:5000/app:v1' "$USING"
# ./layout: the OCI image layout the README's line pushes (one image)
L=$W/layout
mkdir -p "$L/blobs/sha256"
blob() { # FILE: stores FILE in the layout; prints its digest
	local d
	d=$(sha256 "$1")
	cp "$1" "$L/blobs/sha256/${d#sha256:}"
	echo "$d"
}
mkdir -p "$TMP/rootfs"
echo "hello from the README" >"$TMP/rootfs/hello"
tar -C "$TMP/rootfs" -cf - hello | gzip -n >"$TMP/layer.tar.gz"
DIFF=sha256:$(gzip -dc "$TMP/layer.tar.gz" | sha256sum | cut -d' ' -f1)
printf '{"architecture":"amd64","os":"linux","config":{"Cmd":["/hello"]},"rootfs":{"type":"layers","diff_ids":["%s"]}}' \
	"$DIFF" >"$TMP/config.json"
DL=$(blob "$TMP/layer.tar.gz")
DC=$(blob "$TMP/config.json")
printf '{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":%s}]}' \
	"$MT" "$DC" "$(stat -c %s "$TMP/config.json")" "$DL" "$(stat -c %s "$TMP/layer.tar.gz")" >"$TMP/manifest.json"
DM=$(blob "$TMP/manifest.json")
printf '{"imageLayoutVersion":"1.0.0"}' >"$L/oci-layout"
printf '{"schemaVersion":2,"manifests":[{"mediaType":"%s","digest":"%s","size":%s}]}' \
	"$MT" "$DM" "$(stat -c %s "$TMP/manifest.json")" >"$L/index.json"

(cd "$W" && timeout 120 bash -e "$TMP/skopeo.sh") >"$TMP/skopeo.out" 2>&1
rc=$?
check "the skopeo lines run ($rc)" [ "$rc" = 0 ]
check "skopeo list-tags lists v1" bash -c "sed -n '/^{/,\$p' '$TMP/skopeo.out' | jq -e '.Tags == [\"v1\"]' >/dev/null"
req GET /v2/app/manifests/v1 -H "Accept: $MT"
expect "app:v1 is served" 200
check "...the manifest pushed, byte for byte" cmp -s "$TMP/b" "$TMP/manifest.json"
check "...under its digest" [ "$(hdr Docker-Content-Digest)" = "$DM" ]
req GET "/v2/app/blobs/$DL"
expect "its layer is served" 200
check "...byte for byte" cmp -s "$TMP/b" "$TMP/layer.tar.gz"
check "...stored in ./data" [ -f "$W/data/blobs/sha256/${DL:7:2}/${DL#sha256:}" ]
reg_stop
[ "$FAILED" = 0 ] || { echo "--- skopeo:" >&2; cat "$TMP/skopeo.out" >&2; }
summary
