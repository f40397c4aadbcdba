#!/bin/bash
# The README's "Pull-through cache and offline mirror" section, run as
# written: its fenced blocks (and the examples of its "three ways in" table)
# are taken from the README by that heading, so this test follows the README
# as it changes, and run against the real binary with no internet:
#   - HUB plays Docker Hub (this registry, `auth = token`, a user whose
#     USER:PASSWORD goes into the credentials= file), GHCR plays ghcr.io
#     (token auth, anonymous pulls, as ghcr.io serves public images);
#   - the machine with network is a folder W: the shipped registry.conf plus
#     the section's upstream lines, a mirror served from it (the three ways
#     in, OCI-Namespace, 405 on mirrored names, skopeo with the section's
#     registries.conf), then the "Seeding" block as written: images.txt,
#     `mirror sync`, `export`;
#   - the offline machine is a folder OFF: the archive moved there, the
#     `import` block, the offline registry.conf and its serve line, with
#     both hubs stopped: the images answer under the same names, the hubs'
#     digests, by prefix, ?ns= and bare name; what was not imported is a 404.
# Only the upstream URLs, the credentials file's path, the data folder's
# path, the listen address and the placeholder digest are substituted.
set -u
. "$(dirname "$0")/lib.sh"
BIN=$(realpath "$1")
README=$(dirname "$0")/../../README.md
SHIPPED_CONF=$(dirname "$0")/../../registry.conf
OCI_MAN=application/vnd.oci.image.manifest.v1+json
OCI_IDX=application/vnd.oci.image.index.v1+json
ACCEPT="Accept: $OCI_MAN, $OCI_IDX"

# No request of this test may hang it: every curl gives up after 60 s.
export CURL_HOME=$TMP
echo 'max-time = 60' >"$TMP/.curlrc"

HUB_PID="" GHCR_PID="" OFF_PID=""
mirror_cleanup() {
	for p in $HUB_PID $GHCR_PID $OFF_PID; do
		kill "$p" 2>/dev/null
		reg_wait "$p" 10
	done
	reg_cleanup
}
trap mirror_cleanup EXIT

# ---- the blocks, by the section's heading ----
mkdir -p "$TMP/blocks"
awk -v dir="$TMP/blocks" '
	/^## / { in_section = ($0 == "## Pull-through cache and offline mirror") }
	in_section && /^```/ {
		if (in_block) { in_block = 0; close(f) } else { in_block = 1; n++; f = sprintf("%s/%02d", dir, n) }
		next
	}
	in_section && in_block { print > f }
' "$README"
# the section's prose, for the examples it gives inline and in its table
awk '/^## / { s = ($0 == "## Pull-through cache and offline mirror") } s' "$README" >"$TMP/section"
# ...and as one line, for phrases a line break may cut
tr '\n' ' ' <"$TMP/section" >"$TMP/prose"
NBLOCKS=$(ls "$TMP/blocks" | wc -l)
check "the README's mirror section has its blocks ($NBLOCKS)" [ "$NBLOCKS" -ge 7 ]
# block PATTERN: the file of the one block holding PATTERN (fixed string)
block() {
	local f found=
	for f in "$TMP/blocks"/*; do
		if grep -qF -- "$1" "$f"; then
			[ -z "$found" ] || { echo "two blocks hold '$1'" >&2; return 1; }
			found=$f
		fi
	done
	[ -n "$found" ] && echo "$found"
}
UPCONF=$(block "upstream = docker.io https://")
DAEMON=$(block '"registry-mirrors"')
CONTAINERD=$(block "config_path")
REGCONF=$(block "[[registry.mirror]]")
SEED=$(block "cat > images.txt")
IMPORT=$(block "registry import")
OFFCONF=$(block "upstream = docker.io offline")
OFFSERVE=$(block "registry serve")
for b in UPCONF DAEMON CONTAINERD REGCONF SEED IMPORT OFFCONF OFFSERVE; do
	check "README: the $b block is there" [ -n "${!b}" ]
done
[ -n "$UPCONF" ] && [ -n "$REGCONF" ] && [ -n "$SEED" ] && [ -n "$IMPORT" ] &&
	[ -n "$OFFCONF" ] && [ -n "$OFFSERVE" ] || { summary; exit 1; }

# The blocks call the binary `registry`, as an installed one.
mkdir -p "$TMP/bin"
ln -s "$BIN" "$TMP/bin/registry"
export PATH=$TMP/bin:$PATH

# ---- the stand-ins for Docker Hub and ghcr.io ----
# inst_start NAME CONF DATA: serves DATA with CONF on a free loopback port;
# sets INST_PID and INST_URL. The log is $TMP/NAME.log.
inst_start() {
	local log=$TMP/$1.log port=
	"$BIN" serve -c "$2" --listen 127.0.0.1:0 --data "$3" 2>>"$log" &
	INST_PID=$!
	for _ in $(seq 1 100); do
		port=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$log" | tail -1)
		if [ -n "$port" ] && curl -s -o /dev/null "http://127.0.0.1:$port/v2/"; then
			INST_URL=http://127.0.0.1:$port
			return 0
		fi
		kill -0 "$INST_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "$1 did not start:" >&2
	cat "$log" >&2
	exit 1
}
# inst_stop NAME PID: SIGTERM, and the instance must exit 0 with a clean log.
inst_stop() {
	local rc=0
	kill -TERM "$2"
	reg_wait "$2" || rc=$?
	check "$1 exits 0 on SIGTERM (got $rc)" [ "$rc" = 0 ]
	check "$1: no sanitizer report" bash -c "! grep -qE 'Sanitizer|runtime error' '$TMP/$1.log'"
}

# Pushes go to URL with a token for the repository from its /token.
# put_blob URL CREDS REPO FILE: a monolithic upload; prints the digest.
put_blob() {
	local d t
	d=$(sha256 "$4")
	t=$(curl -s -u "$2" "$1/token?service=registry&scope=repository:$3:pull,push" | jq -r .token)
	curl -sf -o /dev/null -X POST "$1/v2/$3/blobs/uploads/?digest=$d" -H "Authorization: Bearer $t" \
		-H 'Content-Type: application/octet-stream' --data-binary @"$4" || return 1
	echo "$d"
}
# put_manifest URL CREDS REPO REF FILE TYPE: prints the manifest's digest.
put_manifest() {
	local t
	t=$(curl -s -u "$2" "$1/token?service=registry&scope=repository:$3:pull,push" | jq -r .token)
	curl -sf -o /dev/null -X PUT "$1/v2/$3/manifests/$4" -H "Authorization: Bearer $t" \
		-H "Content-Type: $6" --data-binary @"$5" || return 1
	sha256 "$5"
}
# put_image URL CREDS REPO REF OUT OS/ARCH[/VARIANT]: an image of one random
# layer for that platform, tagged REF ("-": by digest only); the manifest is
# written to OUT, its digest printed.
put_image() {
	local url=$1 creds=$2 repo=$3 ref=$4 out=$5 os arch variant cd ld
	IFS=/ read -r os arch variant <<<"$6"
	head -c $((20000 + RANDOM)) /dev/urandom >"$out.layer"
	printf '{"architecture":"%s","os":"%s"%s,"rootfs":{"type":"layers","diff_ids":[]},"c":"%s %s"}' \
		"$arch" "$os" "${variant:+,\"variant\":\"$variant\"}" "$repo" "$RANDOM$RANDOM" >"$out.config"
	cd=$(put_blob "$url" "$creds" "$repo" "$out.config") || return 1
	ld=$(put_blob "$url" "$creds" "$repo" "$out.layer") || return 1
	printf '{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":%s}]}' \
		"$OCI_MAN" "$cd" "$(stat -c %s "$out.config")" "$ld" "$(stat -c %s "$out.layer")" >"$out"
	[ "$ref" = - ] && ref=$(sha256 "$out")
	put_manifest "$url" "$creds" "$repo" "$ref" "$out" "$OCI_MAN"
}
# platform_entry MANIFEST OS/ARCH[/VARIANT]: its descriptor in an index.
platform_entry() {
	local os arch variant
	IFS=/ read -r os arch variant <<<"$2"
	printf '{"mediaType":"%s","digest":"%s","size":%s,"platform":{"architecture":"%s","os":"%s"%s}}' \
		"$OCI_MAN" "$(sha256 "$1")" "$(stat -c %s "$1")" "$arch" "$os" "${variant:+,\"variant\":\"$variant\"}"
}

H=$TMP/hubimg
mkdir -p "$H" "$TMP/hub" "$TMP/ghcr"
printf 'auth = token\nlog_level = debug\n' >"$TMP/hub.conf"
"$BIN" user add hubuser --password-stdin --cost 4 -d "$TMP/hub" <<<"hub-secret" >/dev/null 2>&1
inst_start hub "$TMP/hub.conf" "$TMP/hub"
HUB_PID=$INST_PID HUB=$INST_URL
HC=hubuser:hub-secret
# ghcr.io: public images, pulled with an anonymous token
cat >"$TMP/ghcr.conf" <<'EOF'
auth = token
log_level = debug
auth_rule = "** anonymous pull"
auth_rule = "** ghuser pull,push"
EOF
"$BIN" user add ghuser --password-stdin --cost 4 -d "$TMP/ghcr" <<<"gh-secret" >/dev/null 2>&1
inst_start ghcr "$TMP/ghcr.conf" "$TMP/ghcr"
GHCR_PID=$INST_PID GHCR=$INST_URL
GC=ghuser:gh-secret

DDEB=$(put_image "$HUB" $HC library/debian 12 "$H/debian" linux/amd64)
D319=$(put_image "$HUB" $HC library/alpine 3.19 "$H/a319" linux/amd64)
D320=$(put_image "$HUB" $HC library/alpine 3.20 "$H/a320" linux/amd64)
D321=$(put_image "$HUB" $HC library/alpine 3.21 "$H/a321" linux/amd64)
# nginx:1.27 for three platforms; images.txt asks for two of them
for p in linux/amd64 linux/arm64/v8 linux/arm/v7; do
	put_image "$HUB" $HC library/nginx - "$H/nginx-${p//\//-}" "$p" >/dev/null
done
printf '{"schemaVersion":2,"mediaType":"%s","manifests":[%s,%s,%s]}' "$OCI_IDX" \
	"$(platform_entry "$H/nginx-linux-amd64" linux/amd64)" \
	"$(platform_entry "$H/nginx-linux-arm64-v8" linux/arm64/v8)" \
	"$(platform_entry "$H/nginx-linux-arm-v7" linux/arm/v7)" >"$H/nginx"
DNGINX=$(put_manifest "$HUB" $HC library/nginx 1.27 "$H/nginx" "$OCI_IDX")
DTOOL=$(put_image "$GHCR" $GC org/tool 1 "$H/tool" linux/amd64)
check "HUB and GHCR hold the test images" \
	[ -n "$DDEB" ] && [ -n "$D319" ] && [ -n "$D320" ] && [ -n "$D321" ] && [ -n "$DNGINX" ] && [ -n "$DTOOL" ]
CODE=$(curl -s -o /dev/null -w '%{http_code}' "$HUB/v2/library/alpine/manifests/3.20")
check "HUB refuses anonymous pulls: the mirror needs its credentials= ($CODE)" [ "$CODE" = 401 ]

# ---- the machine with network: registry.conf with the section's lines ----
W=$TMP/online
mkdir -p "$W"
# The lines go into the shipped registry.conf (its comment says so), with
# the hubs' URLs for Docker Hub's and ghcr.io's, and the credentials file
# where this test may write.
CRED=$TMP/etc/registry/hub.cred
mkdir -p "$(dirname "$CRED")"
echo "$HC" >"$CRED"
chmod 600 "$CRED"
# Its data folder is moved out of ./data (as a service's would be, say to
# /srv/registry/data): every command of the section must then find it
# through -c registry.conf.
WDATA=$W/srv/registry/data
{
	sed "s#^data = ./data\$#data = $WDATA#" "$SHIPPED_CONF"
	sed -e "s#https://registry-1.docker.io#$HUB#" -e "s#https://ghcr.io#$GHCR#" \
		-e "s#/etc/registry/hub.cred#$CRED#" "$UPCONF"
} >"$W/registry.conf"
check "the data folder is $WDATA" grep -q "^data = $WDATA\$" "$W/registry.conf"
check "the upstream lines name the credentials file" grep -q "credentials=$CRED\$" "$W/registry.conf"
check "...and the hubs' URLs" bash -c "grep -q '^upstream = docker.io $HUB ' '$W/registry.conf' && grep -q '^upstream = ghcr.io $GHCR\$' '$W/registry.conf'"
check "README: credentials= is one line USER:PASSWORD" grep -qF '`credentials=` names a file with one line `USER:PASSWORD`' "$TMP/prose"

# ---- the mirror itself, pulling through (data in a folder of its own) ----
(cd "$W" && exec "$BIN" serve -c registry.conf --listen 127.0.0.1:0 --data "$TMP/data") 2>"$REG_LOG" &
REG_PID=$!
for _ in $(seq 1 100); do
	PORT=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$REG_LOG" | tail -1)
	[ -n "$PORT" ] && curl -s -o /dev/null "http://127.0.0.1:$PORT/v2/" && break
	kill -0 "$REG_PID" 2>/dev/null || break
	sleep 0.1
done
check "the mirror starts with the README's registry.conf" [ -n "$PORT" ]
[ -n "$PORT" ] || { cat "$REG_LOG" >&2; summary; exit 1; }
BASE=http://127.0.0.1:$PORT

# The table's examples, as the README gives them: `HOST:5000/NAME:TAG` for
# the prefix, `GET PATH` for ?ns= and bare names.
row() { grep -E "^\| $1" "$TMP/section" | grep -o '`[^`]*`'; }
# ref_path HOST:5000/NAME:TAG: /v2/NAME/manifests/TAG
ref_path() {
	local r=${1#HOST:5000/}
	echo "/v2/${r%:*}/manifests/${r##*:}"
}
PREFIXES=$(row 'a path prefix' | tr -d '`')
NS_WAY=$(row '`\?ns=NAME`' | grep '^`GET ' | tr -d '`' | cut -d' ' -f2)
BARE_WAY=$(row 'a bare name' | grep '^`GET ' | tr -d '`' | cut -d' ' -f2)
check "README table: two prefix examples ($(tr '\n' ' ' <<<"$PREFIXES"))" [ "$(echo "$PREFIXES" | wc -w)" = 2 ]
check "README table: a ?ns= example ($NS_WAY)" [ -n "$NS_WAY" ]
check "README table: a bare-name example ($BARE_WAY)" [ -n "$BARE_WAY" ]
check "README table: ?ns= is echoed as OCI-Namespace" bash -c "grep -E '^\| \`\?ns=NAME\`' '$TMP/section' | grep -qF '(echoed as \`OCI-Namespace\`)'"

# get_as WHAT PATH WANT-FILE: the manifest the hub serves, byte for byte
get_as() {
	req GET "$2" -H "$ACCEPT"
	expect "$1: $2" 200
	check "$1: $2 is the hub's manifest" cmp -s "$TMP/b" "$3"
	check "$1: $2 has the hub's digest" [ "$(hdr Docker-Content-Digest)" = "$(sha256 "$3")" ]
}
for p in $PREFIXES; do
	case $p in
	*/docker.io/library/alpine:3.20) get_as "pull-through, prefix" "$(ref_path "$p")" "$H/a320" ;;
	*/ghcr.io/org/tool:1) get_as "pull-through, prefix (ghcr.io, anonymous)" "$(ref_path "$p")" "$H/tool" ;;
	*) check "README table: an example this test knows ($p)" false ;;
	esac
done
get_as "pull-through, ?ns=" "$NS_WAY" "$H/a320"
check "?ns=docker.io is echoed as OCI-Namespace ($(hdr OCI-Namespace))" [ "$(hdr OCI-Namespace)" = docker.io ]
get_as "pull-through, bare name" "$BARE_WAY" "$H/a320"
check "a bare name gets no OCI-Namespace" [ -z "$(hdr OCI-Namespace)" ]
get_as "pull-through, ?ns=ghcr.io" "/v2/org/tool/manifests/1?ns=ghcr.io" "$H/tool"
req GET "/v2/library/alpine/blobs/$(sha256 "$H/a320.layer")"
expect "pull-through: a layer, bare name" 200
check "...its bytes" cmp -s "$TMP/b" "$H/a320.layer"
req GET /v2/library/alpine/manifests/3.20?ns=quay.io -H "$ACCEPT"
expect "?ns= naming no configured upstream: an ordinary local name" 404 NAME_UNKNOWN
check "...not echoed" [ -z "$(hdr OCI-Namespace)" ]
# "Pushes and deletes to a mirrored name are refused with 405 UNSUPPORTED"
for way in /v2/docker.io/library/alpine/manifests/mine /v2/library/alpine/manifests/mine \
	"/v2/org/tool/manifests/mine?ns=ghcr.io"; do
	req PUT "$way" -H "Content-Type: $OCI_MAN" --data-binary @"$H/a320"
	expect "push to a mirrored name $way" 405 UNSUPPORTED
done
req DELETE "/v2/docker.io/library/alpine/manifests/$D320"
expect "delete of a mirrored manifest" 405 UNSUPPORTED
# "push your own images to names no upstream serves"
req POST "/v2/ours/app/blobs/uploads/?digest=$(sha256 "$H/a320.config")" --data-binary @"$H/a320.config"
req POST "/v2/ours/app/blobs/uploads/?digest=$(sha256 "$H/a320.layer")" --data-binary @"$H/a320.layer"
req PUT /v2/ours/app/manifests/v1 -H "Content-Type: $OCI_MAN" --data-binary @"$H/a320"
expect "a local push beside the mirror (ours/app)" 201

# "Pointing clients at it": podman, buildah, skopeo read registries.conf;
# skopeo takes the section's file as written (mirror.example:5000 being this
# mirror) and pulls docker.io/library/alpine through it. Docker Hub itself
# is unreachable here, so the answer can only come from the mirror.
sed "s/mirror\.example:5000/127.0.0.1:$PORT/g" "$REGCONF" >"$TMP/registries.conf"
timeout 60 skopeo --registries-conf "$TMP/registries.conf" inspect --raw \
	docker://docker.io/library/alpine:3.21 >"$TMP/sk.json" 2>"$TMP/sk.err"
check "skopeo with the README's registries.conf pulls alpine:3.21 through the mirror ($(tail -1 "$TMP/sk.err"))" \
	cmp -s "$TMP/sk.json" "$H/a321"
# "or name images with the prefix directly: podman pull mirror.example:5000/docker.io/..."
PODMAN_REF=$(grep -o 'podman pull mirror\.example:5000/[^`]*' "$TMP/section" | cut -d' ' -f3)
check "README: podman pull by prefix ($PODMAN_REF)" [ -n "$PODMAN_REF" ]
timeout 60 skopeo inspect --tls-verify=false --raw "docker://${PODMAN_REF/mirror.example:5000/127.0.0.1:$PORT}" \
	>"$TMP/sk.json" 2>"$TMP/sk.err"
check "...the same name, with skopeo (podman's image library), is the hub's alpine:3.20 ($(tail -1 "$TMP/sk.err"))" \
	cmp -s "$TMP/sk.json" "$H/a320"
# "docker pull mirror.example:5000/ghcr.io/org/tool:1": that name by prefix,
# checked above with curl; dockerd itself is driven by tests/clients/mirror.sh.
check "README: docker pull by prefix names ghcr.io/org/tool:1" \
	grep -qF 'docker pull mirror.example:5000/ghcr.io/org/tool:1' "$TMP/prose"
# Not run here: /etc/docker/daemon.json (dockerd's registry-mirrors) and
# containerd's config.toml and hosts.toml need those daemons, as root, with
# their configuration in /etc; tests/clients/mirror.sh drives both against a
# mirror. Here: the daemon.json block is valid JSON naming the mirror, and
# what those daemons send (bare names, ?ns=docker.io) was checked with curl.
check "the daemon.json block is valid JSON with registry-mirrors" \
	jq -e '."registry-mirrors"[0] == "http://mirror.example:5000"' "$DAEMON"
check "the hosts.toml block mirrors to mirror.example:5000 for pull and resolve" \
	bash -c "grep -qF '[host.\"http://mirror.example:5000\"]' '$CONTAINERD' && grep -qF 'capabilities = [\"pull\", \"resolve\"]' '$CONTAINERD'"
reg_stop

# ---- Seeding an offline machine: the block as written, in W ----
# The one substitution: the placeholder `ghcr.io/org/tool@sha256:...` gets
# the digest of GHCR's org/tool:1.
check "README: images.txt has the placeholder digest line" grep -qF 'ghcr.io/org/tool@sha256:...' "$SEED"
sed "s#ghcr\.io/org/tool@sha256:\.\.\.#ghcr.io/org/tool@$DTOOL#" "$SEED" >"$TMP/seed.sh"
(cd "$W" && bash -e "$TMP/seed.sh") >"$TMP/seed.out" 2>&1
rc=$?
check "the seeding block runs ($rc)" [ "$rc" = 0 ]
check "...with images.txt as the README lists it" bash -c \
	"diff <(sed -n '/^cat > images.txt <<EOF\$/,/^EOF\$/p' '$TMP/seed.sh' | sed '1d;\$d') '$W/images.txt'"
# sync: 5 images (debian:12, alpine 3.20 and 3.21 by tags=3.2*, nginx:1.27,
# the tool by digest), nothing failed, a summary in the sizes' one style
check "sync's summary: 5 images, none failed ($(grep '^summary:' "$TMP/seed.out"))" \
	grep -qE '^summary: 5 image\(s\) synced, 0 failed; [0-9]+ manifest\(s\); [0-9]+ blob\(s\) present \(0 were cached already\), [0-9.]+ (KiB|MiB) downloaded$' "$TMP/seed.out"
check "sync: no failed lines" bash -c "! grep -q '^failed: ' '$TMP/seed.out'"
in_store() { [ -n "$(find "$1/blobs" -name "${2#sha256:}" 2>/dev/null)" ]; }
check "sync: tags=3.2* fetched 3.20 and 3.21" bash -c "$(declare -f in_store); in_store '$WDATA' '$D320' && in_store '$WDATA' '$D321'"
check "sync: ...not 3.19" bash -c "$(declare -f in_store); ! in_store '$WDATA' '$D319'"
check "sync: platforms= fetched nginx's amd64 and arm64" bash -c "$(declare -f in_store); in_store '$WDATA' '$(sha256 "$H/nginx-linux-amd64")' && in_store '$WDATA' '$(sha256 "$H/nginx-linux-arm64-v8")'"
check "sync: ...not its arm/v7" bash -c "$(declare -f in_store); ! in_store '$WDATA' '$(sha256 "$H/nginx-linux-arm-v7")' && ! in_store '$WDATA' '$(sha256 "$H/nginx-linux-arm-v7.layer")'"
check "sync: the tool by digest, from ghcr.io anonymously" bash -c "$(declare -f in_store); in_store '$WDATA' '$DTOOL' && in_store '$WDATA' '$(sha256 "$H/tool.layer")'"
# export: what the README's line names, debian:12 and alpine:3.20
check "export says what it wrote ($(grep '^exported' "$TMP/seed.out"))" \
	grep -qE '^exported 2 image\(s\): [0-9]+ blobs, [0-9.]+ (KiB|MiB)$' "$TMP/seed.out"
check "...and where" grep -qx 'wrote images.tar' "$TMP/seed.out"
check "sizes in one style: no raw byte counts" bash -c "! grep -qE '[0-9] bytes' '$TMP/seed.out'"
check "images.tar is an OCI image layout" bash -c "tar tf '$W/images.tar' | grep -qx oci-layout && tar tf '$W/images.tar' | grep -qx index.json"
# "resumable: run it again after a failure": a second run skips what is cached
SYNC=$(grep '^registry mirror sync ' "$TMP/seed.sh" | sed 's/ *#.*//')
check "README: the sync line ($SYNC)" [ "$SYNC" = "registry mirror sync images.txt -c registry.conf" ]
(cd "$W" && $SYNC) >"$TMP/sync2.out" 2>&1
check "sync again exits 0 ($?)" [ $? = 0 ]
check "...skips what is cached ($(grep '^summary:' "$TMP/sync2.out"))" \
	grep -qE '^summary: 5 image\(s\) synced, 0 failed; [0-9]+ manifest\(s\); ([0-9]+) blob\(s\) present \(\1 were cached already\), 0 B downloaded$' "$TMP/sync2.out"
# "the format `skopeo copy oci-archive:` reads", and "skopeo copy
# oci-archive:images.tar:docker.io/library/debian:12 ... reads ours"
SKREF=$(grep -o 'skopeo copy oci-archive:images.tar:[^ `]*' "$TMP/section" | cut -d' ' -f3)
check "README: skopeo reads ours as $SKREF" [ "$SKREF" = oci-archive:images.tar:docker.io/library/debian:12 ]
(cd "$W" && timeout 60 skopeo --insecure-policy copy "$SKREF" "dir:$TMP/skdeb") >"$TMP/sk.err" 2>&1
check "skopeo copy $SKREF works ($(tail -1 "$TMP/sk.err"))" cmp -s "$TMP/skdeb/manifest.json" "$H/debian"
# The README's export names two of the five images; the others, with the
# same command: nginx as synced (two of three platforms), the tool by digest.
(cd "$W" && registry export docker.io/library/nginx:1.27 "ghcr.io/org/tool@$DTOOL" -c registry.conf -o more.tar) >"$TMP/more.out" 2>&1
check "export of the rest exits 0 ($?)" [ $? = 0 ]
check "export says which platform it left out" \
	grep -qF "left out linux/arm/v7 ($(sha256 "$H/nginx-linux-arm-v7")): not stored here" "$TMP/more.out"
NEWIDX=$(sed -n 's/^docker.io\/library\/nginx:1.27: \(sha256:[0-9a-f]*\)$/\1/p' "$TMP/more.out")
check "...and the new index's digest ($NEWIDX)" [ -n "$NEWIDX" ] && [ "$NEWIDX" != "$DNGINX" ]

inst_stop hub "$HUB_PID"
HUB_PID=
inst_stop ghcr "$GHCR_PID"
GHCR_PID=

# ---- the offline machine: the archive moved there, imported, served ----
OFF=$TMP/offline
SRV=$TMP/srv/registry/data
mkdir -p "$OFF"
mv "$W/images.tar" "$W/more.tar" "$OFF/"
sed "s#/srv/registry/data#$SRV#g" "$IMPORT" >"$TMP/import.sh"
(cd "$OFF" && bash -e "$TMP/import.sh") >"$TMP/import.out" 2>&1
rc=$?
check "the import block runs ($rc)" [ "$rc" = 0 ]
check "import: 2 images, every blob verified ($(grep '^imported' "$TMP/import.out"))" \
	grep -qE '^imported 2 image\(s\); [0-9]+ blob\(s\) verified \([0-9]+ new\), [0-9.]+ (KiB|MiB); 0 failed$' "$TMP/import.out"
(cd "$OFF" && registry import more.tar -d "$SRV") >"$TMP/import2.out" 2>&1
check "the rest imports the same way ($(grep '^imported' "$TMP/import2.out"))" [ $? = 0 ]
check "the commands' output has no sanitizer report" bash -c \
	"! grep -qE 'Sanitizer|runtime error' '$TMP/seed.out' '$TMP/sync2.out' '$TMP/more.out' '$TMP/import.out' '$TMP/import2.out'"
{
	cat "$SHIPPED_CONF"
	cat "$OFFCONF"
} >"$OFF/registry.conf"
SERVE=$(sed "s#/srv/registry/data#$SRV#g" "$OFFSERVE")
check "README: the offline machine serves the imported folder ($(cat "$OFFSERVE"))" \
	[ "$(cat "$OFFSERVE")" = "registry serve -c registry.conf -d /srv/registry/data" ]
: >"$TMP/off.log"
(cd "$OFF" && exec $SERVE --listen 127.0.0.1:0) 2>"$TMP/off.log" &
OFF_PID=$!
PORT=
for _ in $(seq 1 100); do
	PORT=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$TMP/off.log" | tail -1)
	[ -n "$PORT" ] && curl -s -o /dev/null "http://127.0.0.1:$PORT/v2/" && break
	kill -0 "$OFF_PID" 2>/dev/null || break
	sleep 0.1
done
check "the offline registry starts" [ -n "$PORT" ]
[ -n "$PORT" ] || { cat "$TMP/off.log" >&2; summary; exit 1; }
BASE=http://127.0.0.1:$PORT
check "its log says both upstreams are offline" \
	bash -c "grep -q 'mirroring docker.io offline' '$TMP/off.log' && grep -q 'mirroring ghcr.io offline' '$TMP/off.log'"
# the names the README gives: HOST:5000/docker.io/library/debian:12,
# ?ns=docker.io, and bare library/debian
OFFLINE_REF=$(grep -o '(`HOST:5000/docker.io/library/debian:12`, `?ns=docker.io`, and bare' "$TMP/prose" | cut -d'`' -f2)
check "README: the offline names ($OFFLINE_REF)" [ "$OFFLINE_REF" = HOST:5000/docker.io/library/debian:12 ]
check "README: ...and bare library/debian" grep -qF 'bare `library/debian`' "$TMP/prose"
get_as "offline, prefix" "$(ref_path "$OFFLINE_REF")" "$H/debian"
get_as "offline, ?ns=" /v2/library/debian/manifests/12?ns=docker.io "$H/debian"
check "...echoed as OCI-Namespace" [ "$(hdr OCI-Namespace)" = docker.io ]
get_as "offline, bare" /v2/library/debian/manifests/12 "$H/debian"
for way in /v2/docker.io/library/alpine/manifests/3.20 "/v2/library/alpine/manifests/3.20?ns=docker.io" \
	/v2/library/alpine/manifests/3.20 /v2/alpine/manifests/3.20?ns=docker.io; do
	get_as "offline (alpine:3.20)" "$way" "$H/a320"
done
req GET "/v2/library/debian/blobs/$(sha256 "$H/debian.layer")"
expect "offline: a layer, bare" 200
check "...its bytes" cmp -s "$TMP/b" "$H/debian.layer"
get_as "offline (ghcr.io), prefix" "/v2/ghcr.io/org/tool/manifests/$DTOOL" "$H/tool"
get_as "offline (ghcr.io), ?ns=" "/v2/org/tool/manifests/$DTOOL?ns=ghcr.io" "$H/tool"
req GET /v2/library/nginx/manifests/1.27 -H "$ACCEPT"
expect "offline: nginx:1.27, bare" 200
check "...the exported index ($NEWIDX)" [ "$(hdr Docker-Content-Digest)" = "$NEWIDX" ]
get_as "offline: nginx's arm64" "/v2/docker.io/library/nginx/manifests/$(sha256 "$H/nginx-linux-arm64-v8")" "$H/nginx-linux-arm64-v8"
# "what was not imported is a plain 404"
req GET /v2/library/alpine/manifests/3.21 -H "$ACCEPT"
expect "offline: alpine:3.21 (synced, not exported)" 404 MANIFEST_UNKNOWN
req GET /v2/docker.io/library/busybox/manifests/latest -H "$ACCEPT"
expect "offline: an image never synced" 404
req GET "/v2/library/nginx/manifests/$(sha256 "$H/nginx-linux-arm-v7")" -H "$ACCEPT"
expect "offline: the platform left out" 404 MANIFEST_UNKNOWN
check "offline: nothing was asked of any upstream" \
	bash -c "! grep -qE 'retry|unreachable|upstream (docker|ghcr)\.io \(' '$TMP/off.log'"
inst_stop off "$OFF_PID"
OFF_PID=

# "(Without an `upstream` line only the prefixed names work ...)"
check "README: without an upstream line only the prefixed names work" \
	grep -qF '(Without an `upstream` line only the prefixed names work;' "$TMP/prose"
reg_start "$BIN" --data "$SRV"
req GET /v2/docker.io/library/debian/manifests/12 -H "$ACCEPT"
expect "no upstream line: the prefixed name" 200
req GET /v2/library/debian/manifests/12 -H "$ACCEPT"
expect "no upstream line: the bare name is a local one" 404
reg_stop

[ "$FAILED" = 0 ] || {
	echo "--- what the seeding block printed:" >&2
	cat "$TMP/seed.out" >&2
	echo "--- import:" >&2
	cat "$TMP/import.out" >&2
}
summary
