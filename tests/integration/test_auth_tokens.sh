#!/bin/bash
# Tokens end to end, beyond test_auth.sh: refresh tokens expire after
# auth_token_refresh_lifetime; and a token an external issuer signed (here
# the test itself, with openssl: an ES256 JWT under a key and certificate it
# makes) is accepted through auth_token_trust for the scope it grants, and
# refused beyond it, or when anything in it is off.
set -u
. "$(dirname "$0")/lib.sh"
BIN=$1
MT=application/vnd.oci.image.manifest.v1+json
DATA=$TMP/data
mkdir -p "$DATA"


echo pw-alice | "$BIN" user add alice --password-stdin --cost 4 --data "$DATA" >/dev/null

# ---- refresh tokens expire ----
cat >"$TMP/refresh.conf" <<EOF
auth = token
auth_rule = "team-a/** alice pull,push"
auth_token_refresh_lifetime = 2s
EOF
auth_start "$TMP/refresh.conf"
post_token() {
	TCODE=$(curl -s -o "$TMP/tok" -w '%{http_code}' --data "$1" "$BASE/token")
	TOKEN=$(jq -r '.access_token // empty' "$TMP/tok" 2>/dev/null)
	REFRESH=$(jq -r '.refresh_token // empty' "$TMP/tok" 2>/dev/null)
}
post_token "grant_type=password&username=alice&password=pw-alice&access_type=offline&service=registry"
check "refresh: a password grant with offline access ($TCODE)" [ "$TCODE" = 200 ]
check "refresh: ...gives a refresh token" [ -n "$REFRESH" ]
R=$REFRESH
post_token "grant_type=refresh_token&refresh_token=$R&service=registry&scope=repository%3Ateam-a%2Fapp%3Apull"
check "refresh: the refresh token works at once ($TCODE)" [ "$TCODE" = 200 ]
check "refresh: ...giving an access token" [ -n "$TOKEN" ]
sleep 3
post_token "grant_type=refresh_token&refresh_token=$R&service=registry&scope=repository%3Ateam-a%2Fapp%3Apull"
check "refresh: the same refresh token 3 s later, past its lifetime ($TCODE)" [ "$TCODE" = 401 ]
check "refresh: ...says it expired" grep -q 'invalid refresh token: expired' "$TMP/tok"
check "refresh: ...gives no access token" [ -z "$TOKEN" ]

# ---- /token signs only names the API's grammar takes ----
# access_of TOKEN: its access claim, compact JSON
access_of() {
	local p
	p=$(echo "$1" | cut -d. -f2 | tr '_-' '/+')
	while [ $((${#p} % 4)) != 0 ]; do p="$p="; done
	echo "$p" | base64 -d | jq -c .access
}
for name in team-a//app team-a/app- team-a/.app team-a/a..b team-a/App team-a/a___b; do
	TCODE=$(curl -s -o "$TMP/tok" -w '%{http_code}' -u alice:pw-alice \
		"$BASE/token?service=registry&scope=repository:$name:pull")
	check "grammar: /token for $name answers ($TCODE)" [ "$TCODE" = 200 ]
	check "grammar: ...but grants nothing on $name ($(access_of "$(jq -r .token "$TMP/tok")"))" \
		[ "$(access_of "$(jq -r .token "$TMP/tok")")" = '[]' ]
done
TCODE=$(curl -s -o "$TMP/tok" -w '%{http_code}' -u alice:pw-alice \
	"$BASE/token?service=registry&scope=repository:team-a/a__b.c-d/e:pull")
check "grammar: a name the grammar takes is granted" \
	[ "$(access_of "$(jq -r .token "$TMP/tok")")" = '[{"type":"repository","name":"team-a/a__b.c-d/e","actions":["pull"]}]' ]

# ---- POST /token takes its form's media type exactly (parameters aside) ----
FORM="grant_type=password&username=alice&password=pw-alice&service=registry"
for ct in "application/x-www-form-urlencoded" "application/x-www-form-urlencoded; charset=UTF-8" \
	"Application/X-WWW-Form-Urlencoded" "application/x-www-form-urlencoded ;charset=utf-8"; do
	TCODE=$(curl -s -o "$TMP/tok" -w '%{http_code}' -H "Content-Type: $ct" --data "$FORM" "$BASE/token")
	check "content-type: '$ct' is a form ($TCODE)" [ "$TCODE" = 200 ]
done
for ct in "application/x-www-form-urlencodedX" "application/x-www-form-urlencoded-json" \
	"application/x-www-form-urlencoded/x" "text/plain" ""; do
	TCODE=$(curl -s -o "$TMP/tok" -w '%{http_code}' -H "Content-Type: $ct" --data "$FORM" "$BASE/token")
	check "content-type: '$ct' is not a form ($TCODE)" [ "$TCODE" = 400 ]
	check "content-type: ...says so" grep -q 'POST /token takes an application/x-www-form-urlencoded form' "$TMP/tok"
done

# ---- removing a user revokes their access tokens too ----
echo pw-zoe | "$BIN" user add zoe --password-stdin --cost 4 --data "$DATA" >/dev/null
ZOE=$(curl -s -u zoe:pw-zoe "$BASE/token?service=registry" | jq -r .token)
req GET /v2/ -H "Authorization: Bearer $ZOE"
expect "revoke: zoe's token" 200
"$BIN" user del zoe --data "$DATA" >/dev/null
req GET /v2/ -H "Authorization: Bearer $ZOE"
expect "revoke: zoe's token once she is removed" 401 UNAUTHORIZED
check "revoke: ...says why" grep -q 'invalid token: the user was removed' "$TMP/b"
reg_stop

# ---- an external issuer's ES256 token ----
openssl ecparam -name prime256v1 -genkey -noout -out "$TMP/ext.key" 2>/dev/null
openssl req -new -x509 -key "$TMP/ext.key" -subj /CN=ext-token-server -days 2 \
	-out "$TMP/ext.crt" 2>/dev/null
check "external: openssl made a key and certificate" [ -s "$TMP/ext.crt" ]
b64url() { base64 -w0 | tr '+/' '-_' | tr -d '='; }
# hex_bytes: hex text on stdin -> those bytes on stdout
hex_bytes() { printf "$(sed 's/../\\x&/g')"; }
# es256 CLAIMS-JSON [KEY]: an ES256 JWT of CLAIMS signed with KEY (default
# the external issuer's), R||S as JWS wants (openssl gives DER).
es256() {
	local claims=$1 key=${2:-$TMP/ext.key} input r s
	input="$(printf '{"alg":"ES256","typ":"JWT"}' | b64url).$(printf '%s' "$claims" | b64url)"
	printf '%s' "$input" | openssl dgst -sha256 -sign "$key" -out "$TMP/sig.der"
	# the two INTEGERs of the DER sequence, each to 32 bytes
	read -r r s < <(openssl asn1parse -inform DER -in "$TMP/sig.der" |
		sed -n 's/.*INTEGER *://p' | tr '\n' ' ')
	# pad, then cut: ${r: -64} of a shorter r (a leading zero byte, 1 in
	# 256) is empty, which made a bad signature now and then
	r=$(printf '%064s' "$r" | tr ' ' 0)
	s=$(printf '%064s' "$s" | tr ' ' 0)
	r=${r: -64}
	s=${s: -64}
	printf '%s.%s' "$input" "$(printf '%s%s' "$r" "$s" | hex_bytes | b64url)"
}
NOW=$(date +%s)
claims() { # claims ISS AUD EXP ACCESS-JSON
	printf '{"iss":"%s","sub":"zed","aud":"%s","exp":%s,"nbf":%s,"iat":%s,"jti":"t%s","access":%s}' \
		"$1" "$2" "$3" "$NOW" "$NOW" "$RANDOM" "$4"
}
ACCESS='[{"type":"repository","name":"ext/app","actions":["pull","push"]}]'
cat >"$TMP/ext.conf" <<EOF
auth = token
auth_token_trust = "ext-token-server $TMP/ext.crt"
auth_rule = "team-a/** alice pull,push"
EOF
auth_start "$TMP/ext.conf"
EXT=$(es256 "$(claims ext-token-server registry $((NOW + 300)) "$ACCESS")")
H=(-H "Authorization: Bearer $EXT")
req GET /v2/ "${H[@]}"
expect "external: its token opens /v2/" 200
printf 'external layer' >"$TMP/layer"
DL=$(sha256 "$TMP/layer")
printf '{}' >"$TMP/config"
DC=$(sha256 "$TMP/config")
printf '{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":2},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":14}]}' \
	"$MT" "$DC" "$DL" >"$TMP/man"
req POST "/v2/ext/app/blobs/uploads/?digest=$DL" --data-binary @"$TMP/layer" "${H[@]}"
expect "external: push a blob to ext/app, which it grants" 201
req POST "/v2/ext/app/blobs/uploads/?digest=$DC" --data-binary @"$TMP/config" "${H[@]}"
expect "external: ...and the config" 201
req PUT /v2/ext/app/manifests/v1 -H "Content-Type: $MT" --data-binary @"$TMP/man" "${H[@]}"
expect "external: ...and a manifest" 201
req GET /v2/ext/app/manifests/v1 "${H[@]}"
expect "external: pull it back" 200
check "external: ...the same bytes" cmp -s "$TMP/b" "$TMP/man"
req DELETE /v2/ext/app/manifests/v1 "${H[@]}"
expect "external: delete, which it does not grant" 401 UNAUTHORIZED
check "external: ...asks for a wider token" grep -q 'error="insufficient_scope"' <(hdr WWW-Authenticate)
req GET /v2/ext/other/manifests/v1 "${H[@]}"
expect "external: another repository" 401 UNAUTHORIZED
req GET /v2/team-a/app/manifests/v1 "${H[@]}"
expect "external: a repository the rules give alice" 401 UNAUTHORIZED
req GET /v2/_catalog "${H[@]}"
expect "external: the catalog, not granted" 401 UNAUTHORIZED
# what must be refused
bad() { # bad WHAT TOKEN
	req GET /v2/ext/app/manifests/v1 -H "Authorization: Bearer $2"
	expect "external: $1" 401 UNAUTHORIZED
	check "external: ...is an invalid token" grep -q 'error="invalid_token"' <(hdr WWW-Authenticate)
}
bad "another issuer name" "$(es256 "$(claims someone-else registry $((NOW + 300)) "$ACCESS")")"
bad "another audience" "$(es256 "$(claims ext-token-server elsewhere $((NOW + 300)) "$ACCESS")")"
bad "expired" "$(es256 "$(claims ext-token-server registry $((NOW - 10)) "$ACCESS")")"
openssl ecparam -name prime256v1 -genkey -noout -out "$TMP/other.key" 2>/dev/null
bad "signed with another key" "$(es256 "$(claims ext-token-server registry $((NOW + 300)) "$ACCESS")" "$TMP/other.key")"
WIDE='[{"type":"repository","name":"ext/app","actions":["pull","push","delete"]}]'
bad "a widened claim on the original signature" \
	"$(echo "$EXT" | cut -d. -f1).$(claims ext-token-server registry $((NOW + 300)) "$WIDE" | b64url).$(echo "$EXT" | cut -d. -f3)"
reg_stop

summary
