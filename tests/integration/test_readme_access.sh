#!/bin/bash
# The README's "Access control and TLS" section, run as written: its fenced
# blocks are taken from the README by that heading (so this test follows
# the README as it changes) and run in an empty folder against the real
# binary, changing only what cannot be run here: the passwords (given on
# standard input), the ports (free ones on loopback), and the host name
# (registry.example.com reached through curl --resolve). The client set-up
# of step 4 (sudo, /etc) and the docker/podman/skopeo lines of step 5 are
# not run; curl checks what they would see, with the token flow the README
# shows: alice pushes team-a over HTTPS trusting the CA, bob is denied,
# anonymous is refused, the plain listener answers on loopback.
set -u
. "$(dirname "$0")/lib.sh"
BIN=$(realpath "$1")
README=$(dirname "$0")/../../README.md
MT=application/vnd.oci.image.manifest.v1+json
HOST=registry.example.com

# ---- the blocks, by the section's heading ----
W=$TMP/readme
mkdir -p "$W/build" "$TMP/blocks"
ln -s "$BIN" "$W/build/registry"
awk -v dir="$TMP/blocks" '
	/^## / { in_section = ($0 == "## Access control and TLS") }
	in_section && /^```/ {
		if (in_block) { in_block = 0; close(f) } else { in_block = 1; n++; f = sprintf("%s/%02d", dir, n) }
		next
	}
	in_section && in_block { print > f }
' "$README"
NBLOCKS=$(ls "$TMP/blocks" | wc -l)
check "the README's access section has its blocks ($NBLOCKS)" [ "$NBLOCKS" -ge 5 ]
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
USERS=$(block "user add")
CERT=$(block "registry cert")
CONF=$(block "cat > access.conf")
CURL=$(block 'TOKEN=$(curl')
for b in USERS CERT CONF CURL; do
	check "README: the $b block is there" [ -n "${!b}" ]
done
[ -n "$USERS" ] && [ -n "$CERT" ] && [ -n "$CONF" ] && [ -n "$CURL" ] || { summary; exit 1; }
for f in "$TMP/blocks"/*; do
	case $f in "$USERS" | "$CERT" | "$CONF" | "$CURL") ;; *)
		echo "note: not run here (client set-up): $(head -1 "$f")" >&2 ;;
	esac
done

# run FILE: runs a block's text as a bash script in $W, stopping at an error
run() {
	(cd "$W" && bash -e "$1") >>"$TMP/run.out" 2>&1
}

# ---- 1. Users: the passwords on standard input instead of the prompt ----
sed -E 's/^(build\/registry user add )([a-z]+)([^#]*)(#.*)?$/\1\2\3 --password-stdin --cost 4 <<<"pw-\2"/' \
	"$USERS" >"$TMP/users.sh"
run "$TMP/users.sh"
check "step 1 runs ($?)" [ $? = 0 ]
check "step 1: alice and bob are users" [ "$(cd "$W" && build/registry user list | tr '\n' ' ')" = "alice bob " ]

# ---- 2. A certificate: as written ----
run "$CERT"
check "step 2 runs ($?)" [ $? = 0 ]
for f in ca.crt ca.key server.crt server.key; do
	check "step 2 wrote data/tls/$f" [ -s "$W/data/tls/$f" ]
done

# ---- 3. The configuration: as written, but the ports; serve in the background ----
grep -v '^build/registry serve' "$CONF" >"$TMP/conf.sh"
run "$TMP/conf.sh"
check "step 3 writes access.conf ($?)" [ $? = 0 ]
SERVE=$(grep '^build/registry serve' "$CONF")
check "step 3 starts the registry with it ($SERVE)" [ "$SERVE" = "build/registry serve -c access.conf" ]
# the other way the README offers: the same lines in the shipped registry.conf,
# its `auth = none` line deleted (loading it is enough: `user list` loads it)
{ grep -v '^auth = none$' "$(dirname "$README")/registry.conf"; cat "$W/access.conf"; } >"$W/registry.conf"
(cd "$W" && build/registry user list -c registry.conf) >/dev/null 2>"$TMP/err"
rc=$?
check "step 3: the lines also go into registry.conf, its auth = none deleted ($(cat "$TMP/err"))" [ $rc = 0 ]
sed -i 's/^listen_plain = 127\.0\.0\.1:5001/listen_plain = 127.0.0.1:0/' "$W/access.conf"
check "step 3: the plain listener is 127.0.0.1:5001 (here: any free port)" grep -q '^listen_plain = 127.0.0.1:0' "$W/access.conf"
(cd "$W" && exec $SERVE --listen 127.0.0.1:0) 2>"$REG_LOG" &
REG_PID=$!
for _ in $(seq 1 100); do
	PORT=$(sed -n 's/.*listening on .*(port \([0-9]*\)) with TLS.*/\1/p' "$REG_LOG" | tail -1)
	[ -n "$PORT" ] && break
	kill -0 "$REG_PID" 2>/dev/null || break
	sleep 0.1
done
check "step 3: the log says it listens with TLS" [ -n "$PORT" ]
if [ -z "$PORT" ]; then
	cat "$REG_LOG" >&2
	summary
	exit 1
fi
PLAIN=$(sed -n 's/.*plain HTTP also on .*, port=\([0-9]*\).*/\1/p' "$REG_LOG" | tail -1)
CA=$W/data/tls/ca.crt
RES=(--resolve "$HOST:$PORT:127.0.0.1")
URL=https://$HOST:$PORT
BASE=$URL

# token CREDS SCOPE: TOKEN from the registry's /token, as the README's curl does
token() {
	local creds=()
	[ -n "$1" ] && creds=(-u "$1")
	TOKEN=$(curl -s --cacert "$CA" "${RES[@]}" "${creds[@]}" \
		"$URL/token?service=registry&scope=$2" | jq -r .token)
}
# push CREDS REPO: pushes a small image to REPO:v1 (blob, config, manifest)
# with a token for REPO; PCODE is the manifest PUT's status
push() {
	local h
	token "$1" "repository:$2:pull,push"
	h=(-H "Authorization: Bearer $TOKEN")
	printf 'layer of %s' "$2" >"$TMP/layer"
	printf '{}' >"$TMP/config"
	printf '{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":2},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%s}]}' \
		"$MT" "$(sha256 "$TMP/config")" "$(sha256 "$TMP/layer")" "$(stat -c %s "$TMP/layer")" >"$TMP/man"
	req POST "/v2/$2/blobs/uploads/?digest=$(sha256 "$TMP/layer")" --cacert "$CA" "${RES[@]}" "${h[@]}" --data-binary @"$TMP/layer"
	req POST "/v2/$2/blobs/uploads/?digest=$(sha256 "$TMP/config")" --cacert "$CA" "${RES[@]}" "${h[@]}" --data-binary @"$TMP/config"
	req PUT "/v2/$2/manifests/v1" --cacert "$CA" "${RES[@]}" "${h[@]}" -H "Content-Type: $MT" --data-binary @"$TMP/man"
	PCODE=$CODE
}

# ---- 4. HTTPS: trusted with the CA only, for the name the clients use ----
CODE=$(curl -s -o /dev/null -w '%{http_code}' "${RES[@]}" "$URL/v2/")
check "step 4: without the CA, curl does not trust it ($CODE)" [ "$CODE" = 000 ]
CODE=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CA" "${RES[@]}" "$URL/v2/")
check "step 4: with data/tls/ca.crt, $HOST answers over HTTPS ($CODE)" [ "$CODE" = 401 ]
CODE=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/v2/")
check "step 3: port $PORT speaks only HTTPS ($CODE)" [ "$CODE" = 000 ]

# ---- 5. Use it ----
push alice:pw-alice team-a/app
check "step 5: alice pushes team-a/app:v1 over HTTPS ($PCODE)" [ "$PCODE" = 201 ]
token bob:pw-bob "repository:team-a/app:pull"
req GET /v2/team-a/app/manifests/v1 --cacert "$CA" "${RES[@]}" -H "Authorization: Bearer $TOKEN"
expect "step 5: bob pulls team-a/app: denied" 403 DENIED
push bob:pw-bob team-b/tool
check "step 5: bob pushes team-b/tool ($PCODE)" [ "$PCODE" = 201 ]
token bob:pw-bob "repository:team-b/tool:pull"
req GET /v2/team-b/tool/tags/list --cacert "$CA" "${RES[@]}" -H "Authorization: Bearer $TOKEN"
check "step 5: bob lists team-b/tool's tags ($CODE)" [ "$(cat "$TMP/b")" = '{"name":"team-b/tool","tags":["v1"]}' ]
req GET /v2/team-a/app/manifests/v1 --cacert "$CA" "${RES[@]}"
expect "step 5: anonymous, without a token, is refused" 401 UNAUTHORIZED
token "" "repository:team-a/app:pull"
req GET /v2/team-a/app/manifests/v1 --cacert "$CA" "${RES[@]}" -H "Authorization: Bearer $TOKEN"
expect "step 5: anonymous, with an anonymous token, is refused" 401 UNAUTHORIZED
push alice:pw-alice library/base
check "rules: alice pushes library/base ($PCODE)" [ "$PCODE" = 201 ]
push bob:pw-bob library/mine
check "rules: bob may not push library/ ($PCODE)" [ "$PCODE" = 403 ]
token bob:pw-bob "repository:library/base:pull"
req GET /v2/library/base/manifests/v1 --cacert "$CA" "${RES[@]}" -H "Authorization: Bearer $TOKEN"
expect "rules: every signed-in user (bob) pulls library/" 200

# the README's curl block, as written but the password, host and port
sed -e 's/-u alice /-u alice:pw-alice /' \
	-e "s/$HOST:5000/$HOST:$PORT/g" \
	-e "s/\bcurl /curl --resolve $HOST:$PORT:127.0.0.1 /" "$CURL" >"$TMP/curl.sh"
check "step 5: the curl block asks for a token as alice" grep -q -- '-u alice:pw-alice' "$TMP/curl.sh"
(cd "$W" && bash -e "$TMP/curl.sh") >"$TMP/curl.out" 2>"$TMP/curl.err"
check "step 5: the curl block runs ($?)" [ $? = 0 ]
check "step 5: ...and lists what the README says ($(cat "$TMP/curl.out"))" \
	[ "$(cat "$TMP/curl.out")" = '{"name":"team-a/app","tags":["v1"]}' ]
check "step 5: ...which is what its comment shows" \
	grep -qF '# {"name":"team-a/app","tags":["v1"]}' "$CURL"

# the plain listener, on loopback (5001 in the README)
check "plain listener up ($PLAIN)" [ -n "$PLAIN" ]
CODE=$(curl -s -o "$TMP/b" -D "$TMP/h" -w '%{http_code}' "http://localhost:$PLAIN/v2/")
check "the plain listener answers on localhost ($CODE)" [ "$CODE" = 401 ]
check "...with an http:// realm" grep -q "realm=\"http://localhost:$PLAIN/token\"" "$TMP/h"
TOKEN=$(curl -s -u alice:pw-alice "http://localhost:$PLAIN/token?service=registry&scope=repository:team-a/app:pull" | jq -r .token)
CODE=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "http://localhost:$PLAIN/v2/team-a/app/manifests/v1")
check "...and serves alice team-a/app over plain HTTP ($CODE)" [ "$CODE" = 200 ]
reg_stop
[ "$FAILED" = 0 ] || { echo "--- what the blocks printed:" >&2; cat "$TMP/run.out" >&2; }

summary
