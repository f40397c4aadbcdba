#!/bin/bash
# Access control against the real binary. The same data (seeded with auth
# off) is served in each mode, none, basic and token, and every operation
# (pull, push, delete, mount, catalog) is tried by every kind of caller: no
# credentials, a wrong password, a user without the right, the user with
# it. Then: the challenges word for word, token expiry, failed-login
# throttling (429), users added and removed while the registry runs, the
# `registry user` command, and configurations that must not start.
set -u
. "$(dirname "$0")/lib.sh"
BIN=$1
MT=application/vnd.oci.image.manifest.v1+json
DATA=$TMP/data
mkdir -p "$DATA"


# ---- users: alice (team-a: all), bob (team-a: pull; team-b: all), carol
# (team-c: pull, push), and dave whose hash comes from Apache's htpasswd.
for u in alice bob carol; do
	echo "pw-$u" | "$BIN" user add "$u" --password-stdin --cost 4 --data "$DATA" >/dev/null
done
check "user add wrote the users file" [ -s "$DATA/htpasswd" ]
check "users file is 0600" [ "$(stat -c %a "$DATA/htpasswd")" = 600 ]
if command -v htpasswd >/dev/null; then
	htpasswd -bB "$DATA/htpasswd" dave pw-dave 2>/dev/null
	HAVE_DAVE=1
else
	echo "note: htpasswd (apache2-utils) missing: its hashes are only unit-tested" >&2
	HAVE_DAVE=
fi
check "user list" [ "$("$BIN" user list --data "$DATA" | head -3 | tr '\n' ' ')" = "alice bob carol " ]

cat >"$TMP/rules.conf" <<EOF
auth_group = "team-a: alice"
auth_rule = "team-a/** @team-a *"
auth_rule = "team-a/** bob pull"
auth_rule = "team-b/** bob *"
auth_rule = "team-c/** carol pull,push"
auth_rule = "team-d/** dave pull,push"
auth_rule = "public/** anonymous pull"
auth_fail_limit = 0
EOF
printf 'auth = none\n' >"$TMP/none.conf"
{ printf 'auth = basic\nauth_realm = "test registry"\n'; cat "$TMP/rules.conf"; } >"$TMP/basic.conf"
{ printf 'auth = token\n'; cat "$TMP/rules.conf"; } >"$TMP/token.conf"

# ---- seed, with auth off: a blob, a config, an image in three repositories.
auth_start "$TMP/none.conf"
printf 'hello blob' >"$TMP/blob"
D1=$(sha256 "$TMP/blob")
printf '{}' >"$TMP/config"
DC=$(sha256 "$TMP/config")
manifest() { # manifest FILE NOTE
	printf '{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":2},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":10}],"annotations":{"note":"%s"}}' \
		"$MT" "$DC" "$D1" "$2" >"$1"
}
manifest "$TMP/man" seed
for r in team-a/app team-b/app public/app; do
	req POST "/v2/$r/blobs/uploads/?digest=$D1" --data-binary @"$TMP/blob"
	req POST "/v2/$r/blobs/uploads/?digest=$DC" --data-binary @"$TMP/config"
	req PUT "/v2/$r/manifests/v1" -H "Content-Type: $MT" --data-binary @"$TMP/man"
	expect "seed $r" 201
done
reg_stop

# ---- the callers ----
MODE=none
AUTH=()
# get_token CREDS SCOPE...: asks /token; TCODE its status, TOKEN the token.
get_token() {
	local creds=$1 q="service=registry" s args=()
	shift
	for s in "$@"; do q="$q&scope=$s"; done
	[ -n "$creds" ] && args=(-u "$creds")
	TCODE=$(curl -s -o "$TMP/tok" -w '%{http_code}' "${args[@]}" "$BASE/token?$q")
	TOKEN=$(sed -n 's/.*"token":"\([^"]*\)".*/\1/p' "$TMP/tok")
}
# as WHO SCOPE...: sets AUTH for the next requests, the way a client would
# in MODE (Basic credentials, or a token for the scopes, from /token).
as() {
	local who=$1 creds
	shift
	case $who in
	nobody) creds= ;;
	wrong) creds=alice:wrong ;;
	*) creds=$who:pw-$who ;;
	esac
	AUTH=()
	if [ "$MODE" = token ]; then
		[ "$who" = nobody ] && return 0
		get_token "$creds" "$@"
		if [ "$who" = wrong ]; then
			check "token mode: /token refuses a wrong password ($TCODE)" [ "$TCODE" = 401 ]
			check "token mode: /token's challenge is Basic" grep -q '^WWW-Authenticate: Basic realm=' \
				<(curl -s -D - -o /dev/null -u "$creds" "$BASE/token?service=registry")
			return 0
		fi
		check "$MODE: /token for $who ($TCODE)" [ "$TCODE" = 200 ]
		check "$MODE: ...gives $who a token" [ -n "$TOKEN" ]
		AUTH=(-H "Authorization: Bearer $TOKEN")
	elif [ -n "$creds" ]; then
		AUTH=(-u "$creds")
	fi
}

# outcome WHAT CODE: the expected status, and for 401/403 the error code.
outcome() {
	case $2 in
	401) expect "$MODE: $1" 401 UNAUTHORIZED ;;
	403) expect "$MODE: $1" 403 DENIED ;;
	*) expect "$MODE: $1" "$2" ;;
	esac
}

# matrix EXPECTED...: runs pull, push, delete, mount, catalog for each caller.
# Expectations per caller: "PULL PUSH DELETE MOUNT", in caller order
# nobody wrong bob carol alice (bob lacks push/delete on team-a, carol pull).
run_matrix() {
	local who exp pull push del mount i=0 n
	local -a want=("$@")
	for who in nobody wrong bob carol alice; do
		read -r pull push del mount <<<"${want[$i]}"
		i=$((i + 1))
		n=$MODE-$who
		manifest "$TMP/man-$n" "$n"
		as "$who" "repository:team-a/app:pull"
		req GET /v2/team-a/app/manifests/v1 "${AUTH[@]}"
		outcome "$who pulls team-a/app" "$pull"
		as "$who" "repository:team-a/app:pull,push"
		req PUT "/v2/team-a/app/manifests/$n" -H "Content-Type: $MT" --data-binary @"$TMP/man-$n" "${AUTH[@]}"
		outcome "$who pushes a manifest to team-a/app" "$push"
		req POST /v2/team-a/app/blobs/uploads/ "${AUTH[@]}"
		outcome "$who starts an upload to team-a/app" "$([ "$push" = 201 ] && echo 202 || echo "$push")"
		# delete what the seed pushed under another tag, by digest
		if [ "$del" = 202 ]; then
			# the one allowed to delete pushes something of its own first
			req PUT "/v2/team-a/app/manifests/del-$n" -H "Content-Type: $MT" \
				--data-binary @"$TMP/man-$n" "${AUTH[@]}"
		fi
		as "$who" "repository:team-a/app:delete"
		req DELETE "/v2/team-a/app/manifests/$(sha256 "$TMP/man-$n")" "${AUTH[@]}"
		outcome "$who deletes from team-a/app" "$del"
		# mount the seed blob from team-a/app into the caller's own team
		case $who in bob) dst=team-b ;; carol) dst=team-c ;; *) dst=team-a ;; esac
		as "$who" "repository:$dst/m-$MODE:pull,push" "repository:team-a/app:pull"
		req POST "/v2/$dst/m-$MODE/blobs/uploads/?mount=$D1&from=team-a/app" "${AUTH[@]}"
		outcome "$who mounts team-a/app's blob into $dst" "$mount"
		if [ "$mount" = 202 ]; then
			check "$MODE: $who's refused mount falls back to an upload session" \
				grep -q "^Location: /v2/$dst/m-$MODE/blobs/uploads/" "$TMP/h"
		fi
	done
}

# catalog_of WHO: the repositories the catalog shows WHO, space-separated.
catalog_of() {
	as "$1" "registry:catalog:*"
	req GET /v2/_catalog "${AUTH[@]}"
	CAT=$(tr -d '{}[]"' <"$TMP/b" | sed 's/^repositories://' | tr ',' ' ')
}

# ---- mode none: credentials are ignored, everything is allowed ----
MODE=none
auth_start "$TMP/none.conf"
run_matrix "200 201 202 201" "200 201 202 201" "200 201 202 201" "200 201 202 201" "200 201 202 201"
catalog_of nobody
check "none: the catalog lists everything ($CAT)" [ "$CAT" = "public/app team-a/app team-a/m-none team-b/app team-b/m-none team-c/m-none" ]
req GET /token
expect "none: no /token endpoint" 404
reg_stop

# ---- mode basic ----
MODE=basic
auth_start "$TMP/basic.conf"
req GET /v2/
expect "basic: /v2/ without credentials" 401 UNAUTHORIZED
check "basic: challenge" [ "$(hdr WWW-Authenticate)" = 'Basic realm="test registry",charset="UTF-8"' ]
req GET /v2/ -u alice:pw-alice
expect "basic: /v2/ with credentials" 200
req GET /v2/ -u alice:wrong
expect "basic: /v2/ with a wrong password" 401 UNAUTHORIZED
check "basic: a wrong password is challenged again" [ -n "$(hdr WWW-Authenticate)" ]
run_matrix "401 401 401 401" "401 401 401 401" "200 403 403 201" "403 403 403 202" "200 201 202 201"
# carol may push to team-c but not team-a: the push above was refused
req GET /v2/team-a/app/manifests/v1 -u carol:pw-carol
check "basic: 403 carries no challenge" [ -z "$(hdr WWW-Authenticate)" ]
req GET /v2/public/app/manifests/v1
expect "basic: anonymous pulls public/app" 200
req HEAD "/v2/public/app/blobs/$D1"
expect "basic: anonymous HEADs a public blob" 200
req POST /v2/public/app/blobs/uploads/
expect "basic: anonymous may not push to public/app" 401 UNAUTHORIZED
# podman sends empty credentials when it has none: anonymous, not a wrong password
req GET /v2/public/app/manifests/v1 -H "Authorization: Basic Og=="
expect "basic: empty credentials (podman) pull public/app as anonymous" 200
req GET /v2/team-a/app/manifests/v1 -H "Authorization: Basic Og=="
expect "basic: ...and are challenged for team-a/app" 401 UNAUTHORIZED
if [ -n "$HAVE_DAVE" ]; then
	req POST "/v2/team-d/x/blobs/uploads/?digest=$D1" -u dave:pw-dave --data-binary @"$TMP/blob"
	expect "basic: dave (hash by htpasswd -B) pushes to team-d" 201
	req GET /v2/ -u dave:nope
	expect "basic: dave with a wrong password" 401
fi
catalog_of alice
check "basic: alice's catalog ($CAT)" [ "$CAT" = "public/app team-a/app team-a/m-basic team-a/m-none" ]
catalog_of bob
check "basic: bob's catalog ($CAT)" [ "$CAT" = "public/app team-a/app team-a/m-basic team-a/m-none team-b/app team-b/m-basic team-b/m-none" ]
catalog_of carol
check "basic: carol's catalog ($CAT)" [ "$CAT" = "public/app team-c/m-none" ]
catalog_of nobody
check "basic: anonymous catalog ($CAT)" [ "$CAT" = "public/app" ]
catalog_of wrong
expect "basic: catalog with a wrong password" 401 UNAUTHORIZED
as bob
req GET "/v2/_catalog?n=2" "${AUTH[@]}"
check "basic: filtered catalog pages by what is shown" [ "$(cat "$TMP/b")" = '{"repositories":["public/app","team-a/app"]}' ]
check "basic: ...with a Link to the next page" [ "$(hdr Link)" = '</v2/_catalog?n=2&last=team-a/app>; rel="next"' ]
req GET "/v2/_catalog?n=2&last=team-a/m-none" "${AUTH[@]}"
check "basic: ...and the next page skips what bob may not see" [ "$(cat "$TMP/b")" = '{"repositories":["team-b/app","team-b/m-basic"]}' ]
# a mount without `from` would search every repository: with auth, a session
req POST "/v2/team-a/x/blobs/uploads/?mount=$D1" -u alice:pw-alice
expect "basic: a mount without from falls back to a session" 202
# the token endpoint is not there in basic mode
req GET /token -u alice:pw-alice
expect "basic: no /token" 404

# users added and removed while the registry runs
req GET /v2/ -u erin:pw-erin
expect "basic: erin unknown" 401
echo pw-erin | "$BIN" user add erin --password-stdin --cost 4 --data "$DATA" >/dev/null
req GET /v2/ -u erin:pw-erin
expect "basic: erin, added while running, logs in" 200
echo pw-erin2 | "$BIN" user add erin --password-stdin --cost 4 --data "$DATA" >/dev/null
req GET /v2/ -u erin:pw-erin
expect "basic: erin's old password, after a change" 401
req GET /v2/ -u erin:pw-erin2
expect "basic: erin's new password" 200
"$BIN" user del erin --data "$DATA" >/dev/null
req GET /v2/ -u erin:pw-erin2
expect "basic: erin, removed while running" 401
reg_stop

# ---- mode token ----
MODE=token
auth_start "$TMP/token.conf"
req GET /v2/
expect "token: /v2/ without a token" 401 UNAUTHORIZED
check "token: challenge" [ "$(hdr WWW-Authenticate)" = "Bearer realm=\"http://127.0.0.1:$PORT/token\",service=\"registry\"" ]
req GET /v2/team-a/app/manifests/v1
check "token: a pull's challenge names its scope" [ "$(hdr WWW-Authenticate)" = "Bearer realm=\"http://127.0.0.1:$PORT/token\",service=\"registry\",scope=\"repository:team-a/app:pull\"" ]
req GET /v2/team-a/app/manifests/v1 -H "Host: registry.example:8443"
check "token: the realm follows the Host the client used" grep -q 'realm="http://registry.example:8443/token"' <(hdr WWW-Authenticate)
req GET /v2/ -H "X-Forwarded-Proto: https"
check "token: X-Forwarded-Proto from a peer not in auth_trusted_proxies is ignored" \
	grep -q "realm=\"http://127.0.0.1:$PORT/token\"" <(hdr WWW-Authenticate)
req GET /v2/ -u alice:pw-alice
expect "token: Basic credentials are not a token" 401 UNAUTHORIZED
check "token: key made on first start" [ -s "$DATA/token.key" ]
check "token: key is 0600" [ "$(stat -c %a "$DATA/token.key")" = 600 ]
get_token alice:pw-alice
check "token: docker login's token request (no scope)" [ "$TCODE" = 200 ]
req GET /v2/ -H "Authorization: Bearer $TOKEN"
expect "token: /v2/ with a token" 200
check "token: response has token, access_token, expires_in, issued_at" \
	grep -q '"token":".*"access_token":".*"expires_in":300,"issued_at":"' "$TMP/tok"
get_token "" "repository:public/app:pull"
req GET /v2/public/app/manifests/v1 -H "Authorization: Bearer $TOKEN"
expect "token: an anonymous token pulls public/app" 200
req GET "/token?service=another&scope=repository:public/app:pull"
expect "token: a token for another service" 400 INVALID
run_matrix "401 401 401 401" "401 401 401 401" "200 403 403 201" "403 403 403 202" "200 201 202 201"
catalog_of alice
check "token: alice's catalog ($CAT)" [ "$CAT" = "public/app team-a/app team-a/m-basic team-a/m-none team-a/m-token" ]
catalog_of carol
check "token: carol's catalog ($CAT)" [ "$CAT" = "public/app team-c/m-none" ]
catalog_of nobody
expect "token: catalog without a token" 401 UNAUTHORIZED
check "token: catalog challenge scope" grep -q 'scope="registry:catalog:\*"' <(hdr WWW-Authenticate)
# a token for one repository is no good for another
get_token bob:pw-bob "repository:team-b/app:pull"
req GET /v2/team-a/app/manifests/v1 -H "Authorization: Bearer $TOKEN"
expect "token: bob's team-b token on team-a" 401 UNAUTHORIZED
check "token: ...asks for a wider token" grep -q 'error="insufficient_scope"' <(hdr WWW-Authenticate)
# tampered: the payload of alice's token on bob's signature
get_token alice:pw-alice "repository:team-a/app:pull,push,delete"
ALICE=$TOKEN
get_token bob:pw-bob "repository:team-a/app:pull"
FORGED="$(echo "$TOKEN" | cut -d. -f1).$(echo "$ALICE" | cut -d. -f2).$(echo "$TOKEN" | cut -d. -f3)"
req DELETE "/v2/team-a/app/manifests/$D1" -H "Authorization: Bearer $FORGED"
expect "token: a tampered token" 401 UNAUTHORIZED
check "token: ...is an invalid token" grep -q 'error="invalid_token"' <(hdr WWW-Authenticate)
req GET /v2/ -H "Authorization: Bearer $(echo "$ALICE" | cut -d. -f1-2)."
expect "token: a token without its signature" 401 UNAUTHORIZED

# OAuth2: POST /token with a password or a refresh token (docker refreshes
# this way after `docker login`; containerd logs in this way).
# post_token FORM: TCODE, TOKEN, REFRESH from POST /token
post_token() {
	TCODE=$(curl -s -o "$TMP/tok" -w '%{http_code}' --data "$1" "$BASE/token")
	TOKEN=$(jq -r '.access_token // empty' "$TMP/tok" 2>/dev/null)
	REFRESH=$(jq -r '.refresh_token // empty' "$TMP/tok" 2>/dev/null)
}
FORM="service=registry&client_id=test&scope=repository%3Ateam-a%2Fapp%3Apull+repository%3Ateam-b%2Fapp%3Apull"
post_token "grant_type=password&username=bob&password=pw-bob&$FORM"
check "oauth: a password grant ($TCODE)" [ "$TCODE" = 200 ]
check "oauth: ...gives an access token" [ -n "$TOKEN" ]
check "oauth: ...without access_type=offline, no refresh token" [ -z "$REFRESH" ]
req GET /v2/team-b/app/manifests/v1 -H "Authorization: Bearer $TOKEN"
expect "oauth: its token pulls the second scope of a space-separated list" 200
post_token "grant_type=password&username=bob&password=pw-bob&access_type=offline&$FORM"
check "oauth: access_type=offline gives a refresh token" [ -n "$REFRESH" ]
BOB_REFRESH=$REFRESH
req GET /v2/team-a/app/manifests/v1 -H "Authorization: Bearer $BOB_REFRESH"
expect "oauth: a refresh token is no access token" 401 UNAUTHORIZED
req GET /v2/ -H "Authorization: Bearer $BOB_REFRESH"
expect "oauth: ...not even for /v2/, where any valid token will do" 401 UNAUTHORIZED
post_token "grant_type=refresh_token&refresh_token=$BOB_REFRESH&service=registry&scope=repository%3Ateam-a%2Fapp%3Apull%2Cpush"
check "oauth: a refresh grant ($TCODE)" [ "$TCODE" = 200 ]
check "oauth: ...gives an access token" [ -n "$TOKEN" ]
check "oauth: ...keeps its refresh token (none new)" [ -z "$REFRESH" ]
req GET /v2/team-a/app/manifests/v1 -H "Authorization: Bearer $TOKEN"
expect "oauth: the refreshed token pulls" 200
req POST /v2/team-a/app/blobs/uploads/ -H "Authorization: Bearer $TOKEN"
expect "oauth: ...but grants bob no push he lacks" 403 DENIED
post_token "grant_type=refresh_token&refresh_token=${BOB_REFRESH%?}x&service=registry"
check "oauth: a tampered refresh token ($TCODE)" [ "$TCODE" = 401 ]
post_token "grant_type=refresh_token&refresh_token=$ALICE&service=registry"
check "oauth: an access token as refresh token ($TCODE)" [ "$TCODE" = 401 ]
post_token "grant_type=password&username=bob&password=nope&$FORM"
check "oauth: a wrong password ($TCODE)" [ "$TCODE" = 401 ]
check "oauth: ...answers UNAUTHORIZED" grep -q '"code":"UNAUTHORIZED"' "$TMP/tok"
post_token "grant_type=client_credentials&$FORM"
check "oauth: an unknown grant type ($TCODE)" [ "$TCODE" = 400 ]
post_token "grant_type=password&password=x&$FORM"
check "oauth: a password grant without username ($TCODE)" [ "$TCODE" = 400 ]
TCODE=$(curl -s -o "$TMP/tok" -w '%{http_code}' -H 'Content-Type: application/json' --data '{}' "$BASE/token")
check "oauth: a JSON body ($TCODE)" [ "$TCODE" = 400 ]
TCODE=$(head -c 40000 /dev/zero | tr '\0' a | curl -s -o "$TMP/tok" -w '%{http_code}' --data-binary @- "$BASE/token")
check "oauth: a 40 KB form ($TCODE)" [ "$TCODE" = 413 ]
TCODE=$(curl -s -o "$TMP/tok" -w '%{http_code}' -u bob:pw-bob "$BASE/token?service=registry&client_id=docker&offline_token=true")
check "oauth: GET with offline_token=true (docker login) ($TCODE)" [ "$TCODE" = 200 ]
check "oauth: ...gives a refresh token" [ -n "$(jq -r '.refresh_token // empty' "$TMP/tok")" ]
# Changing the password or removing the user revokes refresh tokens.
echo pw-bob2 | "$BIN" user add bob --password-stdin --cost 4 --data "$DATA" >/dev/null
post_token "grant_type=refresh_token&refresh_token=$BOB_REFRESH&service=registry"
check "oauth: after bob's password changed, his refresh token ($TCODE)" [ "$TCODE" = 401 ]
check "oauth: ...says it was revoked" grep -q 'refresh token revoked' "$TMP/tok"
post_token "grant_type=password&username=bob&password=pw-bob2&access_type=offline&$FORM"
BOB_REFRESH=$REFRESH
post_token "grant_type=refresh_token&refresh_token=$BOB_REFRESH&service=registry"
check "oauth: a new refresh token works ($TCODE)" [ "$TCODE" = 200 ]
echo pw-bob | "$BIN" user add bob --password-stdin --cost 4 --data "$DATA" >/dev/null
post_token "grant_type=refresh_token&refresh_token=$BOB_REFRESH&service=registry"
check "oauth: ...until bob's password changes back ($TCODE)" [ "$TCODE" = 401 ]
reg_stop

# behind a balancer that ends TLS (auth_trusted_proxies names it): the realm
# is https when its X-Forwarded-Proto says so
{ cat "$TMP/token.conf"; echo "auth_trusted_proxies = 127.0.0.1"; } >"$TMP/token-proxy.conf"
auth_start "$TMP/token-proxy.conf"
req GET /v2/ -H "X-Forwarded-Proto: https" -H "Host: registry.example"
check "token behind a trusted proxy: X-Forwarded-Proto https makes the realm https" \
	[ "$(hdr WWW-Authenticate)" = "Bearer realm=\"https://registry.example/token\",service=\"registry\"" ]
req GET /v2/ -H "X-Forwarded-Proto: http"
check "...and http, http" grep -q "realm=\"http://127.0.0.1:$PORT/token\"" <(hdr WWW-Authenticate)
reg_stop

# ---- token expiry ----
printf 'auth_token_lifetime = 2s\n' | cat "$TMP/token.conf" - >"$TMP/short.conf"
auth_start "$TMP/short.conf"
get_token alice:pw-alice "repository:team-a/app:pull"
check "expiry: expires_in is the configured lifetime" grep -q '"expires_in":2,' "$TMP/tok"
req GET /v2/team-a/app/manifests/v1 -H "Authorization: Bearer $TOKEN"
expect "expiry: a fresh token pulls" 200
sleep 3
req GET /v2/team-a/app/manifests/v1 -H "Authorization: Bearer $TOKEN"
expect "expiry: the same token 3 s later" 401 UNAUTHORIZED
check "expiry: ...says so" grep -q 'invalid token: expired' "$TMP/b"
get_token alice:pw-alice "repository:team-a/app:pull"
req GET /v2/team-a/app/manifests/v1 -H "Authorization: Bearer $TOKEN"
expect "expiry: a new token pulls again" 200
reg_stop

# ---- throttling: 3 failed logins, then 429 for the window ----
sed 's/^auth_fail_limit = 0$/auth_fail_limit = 3\nauth_fail_window = 60s/' "$TMP/basic.conf" >"$TMP/throttle.conf"
auth_start "$TMP/throttle.conf"
for i in 1 2 3; do
	req GET /v2/ -u "alice:wrong$i"
	expect "throttle: failed login $i" 401
done
req GET /v2/ -u alice:wrong4
expect "throttle: the 4th attempt" 429 TOOMANYREQUESTS
RA=$(hdr Retry-After)
check "throttle: Retry-After is positive ($RA)" [ "${RA:-0}" -gt 0 ]
check "throttle: ...and within the window ($RA)" [ "${RA:-0}" -le 60 ]
req GET /v2/ -u alice:pw-alice
expect "throttle: even the right password, while locked" 429 TOOMANYREQUESTS
req GET /v2/public/app/manifests/v1
expect "throttle: anonymous pulls go on" 200
reg_stop

# ---- slowing: each login after failed ones is answered later (250 ms
# doubling), by suspending the connection, not a worker thread ----
sed 's/^auth_fail_limit = 0$/auth_fail_limit = 20\nauth_fail_window = 60s\nthreads = 1/' \
	"$TMP/basic.conf" >"$TMP/slow.conf"
auth_start "$TMP/slow.conf"
# login_time USERPASS: CODE and SECS (curl's time_total) of GET /v2/
login_time() {
	read -r CODE SECS < <(curl -s -o "$TMP/b" -w '%{http_code} %{time_total}\n' -u "$1" "$BASE/v2/")
}
login_time alice:wrong1
expect "slowing: a first wrong password" 401 UNAUTHORIZED
login_time alice:wrong2
expect "slowing: a second" 401 UNAUTHORIZED
check "slowing: ...held at least 250 ms (${SECS}s)" awk "BEGIN{exit !($SECS >= 0.25)}"
login_time alice:wrong3
check "slowing: a third held at least 500 ms (${SECS}s)" awk "BEGIN{exit !($SECS >= 0.5)}"
login_time alice:wrong4 # 1 s; the next ones are held 2 s
for i in 1 2 3; do
	curl -s -o /dev/null -w '%{http_code} %{time_total}\n' -u "alice:bg$i" "$BASE/v2/" >"$TMP/held$i" &
	eval "HELD$i=\$!"
done
sleep 0.3
req GET /v2/public/app/manifests/v1
expect "slowing: with one worker and 3 logins held, an anonymous pull" 200
check "slowing: ...was answered while they were still held" \
	bash -c "kill -0 $HELD1 2>/dev/null && kill -0 $HELD2 2>/dev/null && kill -0 $HELD3 2>/dev/null"
reg_wait_all "$HELD1" "$HELD2" "$HELD3"
for i in 1 2 3; do
	read -r c t <"$TMP/held$i"
	check "slowing: held login $i answered 401 after 2 s ($c ${t}s)" \
		bash -c "[ '$c' = 401 ] && awk 'BEGIN{exit !($t >= 2)}'"
done
login_time alice:pw-alice
expect "slowing: the right password is held too, then accepted" 200
check "slowing: ...after 4 s, the cap (${SECS}s)" awk "BEGIN{exit !($SECS >= 4)}"
login_time alice:wrong5
check "slowing: a success starts the address afresh" [ "$CODE" = 401 ]
login_time alice:wrong6 # held 250 ms: proves the count restarted
check "slowing: ...the next failure is held 250 ms again, not 4 s (${SECS}s)" \
	awk "BEGIN{exit !($SECS >= 0.25 && $SECS < 3.5)}"
# SIGTERM answers held logins at once and stops cleanly.
for i in 1 2; do login_time "alice:more$i"; done # the next one is held 2 s
curl -s -o /dev/null -w '%{http_code}\n' -u alice:last "$BASE/v2/" >"$TMP/held-term" &
HELDT=$!
sleep 0.3
reg_stop
reg_wait "$HELDT"
check "slowing: a login held at SIGTERM is answered 401" [ "$(cat "$TMP/held-term")" = 401 ]

sed 's/^auth = basic$/auth = token/' "$TMP/throttle.conf" >"$TMP/throttle-token.conf"
auth_start "$TMP/throttle-token.conf"
for i in 1 2 3; do get_token alice:wrong; done
check "throttle: /token refuses 3 wrong passwords" [ "$TCODE" = 401 ]
get_token alice:pw-alice
check "throttle: /token then answers 429 ($TCODE)" [ "$TCODE" = 429 ]
check "throttle: ...with TOOMANYREQUESTS" grep -q TOOMANYREQUESTS "$TMP/tok"
reg_stop

# ---- the user command ----
"$BIN" user add 'bad:name' --password-stdin --data "$DATA" </dev/null >/dev/null 2>&1
check "user add: a bad name exits 2" [ $? = 2 ]
"$BIN" user add anonymous --password-stdin --data "$DATA" </dev/null >/dev/null 2>&1
check "user add: 'anonymous' is refused" [ $? = 2 ]
printf '' | "$BIN" user add frank --password-stdin --data "$DATA" >/dev/null 2>&1
check "user add: no password exits 1" [ $? = 1 ]
head -c 73 /dev/zero | tr '\0' p | "$BIN" user add frank --password-stdin --data "$DATA" >/dev/null 2>"$TMP/err"
check "user add: a password over 72 bytes (bcrypt would cut it) exits 1 ($?)" [ $? = 1 ]
check "user add: ...and says why" grep -q 'longer than 72 bytes' "$TMP/err"
head -c 72 /dev/zero | tr '\0' p | "$BIN" user add frank --password-stdin --cost 4 --data "$DATA" >/dev/null 2>&1
check "user add: a password of 72 bytes is taken ($?)" [ $? = 0 ]
"$BIN" user del frank --data "$DATA" >/dev/null 2>&1
setsid "$BIN" user add frank --data "$DATA" </dev/null >/dev/null 2>&1
check "user add: no terminal and no --password-stdin exits 2" [ $? = 2 ]
"$BIN" user del nobody-here --data "$DATA" >/dev/null 2>&1
check "user del: unknown user exits 1" [ $? = 1 ]
"$BIN" user frob --data "$DATA" >/dev/null 2>&1
check "user: unknown subcommand exits 2" [ $? = 2 ]
echo pw | "$BIN" user add gina --password-stdin --cost 4 --users "$TMP/other.htpasswd" >/dev/null
check "user add --users writes that file" grep -q '^gina:\$2y\$04\$' "$TMP/other.htpasswd"
if command -v htpasswd >/dev/null; then
	check "htpasswd -v accepts our hash" bash -c "htpasswd -vb '$TMP/other.htpasswd' gina pw >/dev/null 2>&1"
fi
# Sixteen admins at once: the lock serialises them, none loses another's user.
for i in $(seq 1 16); do
	echo "pw$i" | "$BIN" user add "conc$i" --password-stdin --cost 4 --users "$TMP/conc.htpasswd" >/dev/null &
done
reg_wait_all $(jobs -p)
check "16 concurrent user adds: all 16 in the file" [ "$(grep -c '^conc[0-9]*:' "$TMP/conc.htpasswd")" = 16 ]
for i in $(seq 1 8); do
	"$BIN" user del "conc$i" --users "$TMP/conc.htpasswd" >/dev/null &
	echo "pw" | "$BIN" user add "late$i" --password-stdin --cost 4 --users "$TMP/conc.htpasswd" >/dev/null &
done
reg_wait_all $(jobs -p)
check "8 dels and 8 adds at once: 16 users, none of the deleted" \
	[ "$(grep -c '^late[0-9]*:' "$TMP/conc.htpasswd")/$(grep -c '^conc[1-8]:' "$TMP/conc.htpasswd")/$(grep -c . "$TMP/conc.htpasswd")" = 8/0/16 ]
check "no temporary files left" [ -z "$(ls "$DATA" | grep 'htpasswd\.' | grep -v '\.lock$')" ]

# ---- configurations that must not start ----
for mode in basic token none; do
	printf 'auth = %s\nauth_group = "g: alice"\nauth_rule = "x/* @g,@nogroup pull"\n' $mode >"$TMP/bad1.conf"
	timeout 10 "$BIN" serve -c "$TMP/bad1.conf" --listen 127.0.0.1:0 --data "$DATA" 2>"$TMP/err" >/dev/null
	check "auth = $mode: a rule naming an unknown group stops start-up, exit 2 ($?)" [ $? = 2 ]
	check "auth = $mode: ...naming the rule's line" \
		grep -q "^$TMP/bad1.conf:3: rule 'x/\* ...' names group @nogroup, which is not defined" "$TMP/err"
done
# rules with auth = none protect nothing: the registry says so at start
printf 'auth = none\nauth_rule = "x/** alice pull"\n' >"$TMP/norules.conf"
auth_start "$TMP/norules.conf"
check "auth = none with rules: a warning at start-up" \
	grep -q 'warn auth = none: the 1 auth_rule, 0 auth_group and 0 auth_token_trust line(s) are ignored' "$REG_LOG"
reg_stop
printf 'auth = basic\nauth_rule = "x/* alice fly"\n' >"$TMP/bad2.conf"
"$BIN" serve -c "$TMP/bad2.conf" --listen 127.0.0.1:0 --data "$DATA" 2>"$TMP/err" >/dev/null
check "a bad rule is a FILE:LINE error, exit 2" [ $? = 2 ]
check "...naming line 2" grep -q "^$TMP/bad2.conf:2: rule actions 'fly'" "$TMP/err"
printf 'auth = basic\nauth_rule = "x/* alice pull"\nauth = token\n' >"$TMP/bad3.conf"
"$BIN" serve -c "$TMP/bad3.conf" --listen 127.0.0.1:0 --data "$DATA" 2>"$TMP/err" >/dev/null
check "auth set twice is an error" grep -q "^$TMP/bad3.conf:3: 'auth' repeated" "$TMP/err"
printf 'junk\n' >"$TMP/broken.htpasswd"
printf 'auth = basic\nauth_users = %s\n' "$TMP/broken.htpasswd" >"$TMP/bad4.conf"
out=$("$BIN" serve -c "$TMP/bad4.conf" --listen 127.0.0.1:0 --data "$DATA" 2>&1)
check "an unreadable users file stops start-up" grep -q "broken.htpasswd:1: expected NAME:HASH" <<<"$out"

summary
