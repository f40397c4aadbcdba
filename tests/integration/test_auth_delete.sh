#!/bin/bash
# DELETE under access control: blobs, manifests (by digest) and tags, tried
# by every kind of caller (no credentials, a wrong password, a user with
# only pull, with pull and push, with only delete) in basic and token mode,
# on a private repository and on one anonymous may pull. Only the delete
# right deletes; a refused DELETE leaves the content there. Then
# `delete_enabled = false` refuses each of the three kinds.
set -u
. "$(dirname "$0")/lib.sh"
BIN=$1
MT=application/vnd.oci.image.manifest.v1+json
DATA=$TMP/data
mkdir -p "$DATA"


for u in puller pusher deleter; do
	echo "pw-$u" | "$BIN" user add "$u" --password-stdin --cost 4 --data "$DATA" >/dev/null
done
cat >"$TMP/rules.conf" <<EOF
auth_rule = "team/** puller pull"
auth_rule = "team/** pusher pull,push"
auth_rule = "team/** deleter delete"
auth_rule = "public/** anonymous pull"
auth_rule = "public/** pusher push"
auth_rule = "public/** deleter delete"
auth_fail_limit = 0
EOF
printf 'auth = none\n' >"$TMP/none.conf"
{ printf 'auth = basic\n'; cat "$TMP/rules.conf"; } >"$TMP/basic.conf"
{ printf 'auth = token\n'; cat "$TMP/rules.conf"; } >"$TMP/token.conf"

printf '{}' >"$TMP/config"
DC=$(sha256 "$TMP/config")
# seed MODE REPO: a layer, a config and a manifest tagged v1, pushed with
# auth off; sets BLOB and MAN (digests) for the repository.
seed() {
	local mode=$1 repo=$2
	printf 'layer of %s in %s' "$repo" "$mode" >"$TMP/layer"
	BLOB=$(sha256 "$TMP/layer")
	printf '{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":2},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%d}]}' \
		"$MT" "$DC" "$BLOB" "$(stat -c %s "$TMP/layer")" >"$TMP/man"
	MAN=$(sha256 "$TMP/man")
	req POST "/v2/$repo/blobs/uploads/?digest=$BLOB" --data-binary @"$TMP/layer"
	req POST "/v2/$repo/blobs/uploads/?digest=$DC" --data-binary @"$TMP/config"
	req PUT "/v2/$repo/manifests/v1" -H "Content-Type: $MT" --data-binary @"$TMP/man"
	expect "seed $repo for $mode" 201
}
auth_start "$TMP/none.conf"
for mode in basic token; do
	for repo in team public; do
		seed "$mode" "$repo/$mode"
		eval "BLOB_${repo}_$mode=\$BLOB MAN_${repo}_$mode=\$MAN"
	done
done
reg_stop

MODE=
AUTH=()
# as WHO REPO: AUTH for WHO, the way a client in MODE does it (Basic
# credentials; or a token from /token for every action on REPO, of which
# the token service grants what the rules allow).
as() {
	local who=$1 repo=$2 creds= args=()
	case $who in
	nobody) ;;
	wrong) creds=deleter:wrong ;;
	*) creds=$who:pw-$who ;;
	esac
	AUTH=()
	if [ "$MODE" = basic ]; then
		[ -n "$creds" ] && AUTH=(-u "$creds")
		return 0
	fi
	[ "$who" = nobody ] && return 0
	[ -n "$creds" ] && args=(-u "$creds")
	TCODE=$(curl -s -o "$TMP/tok" -w '%{http_code}' "${args[@]}" \
		"$BASE/token?service=registry&scope=repository:$repo:pull,push,delete")
	if [ "$who" = wrong ]; then
		check "$MODE: /token refuses a wrong password ($TCODE)" [ "$TCODE" = 401 ]
		return 0
	fi
	check "$MODE: /token for $who on $repo ($TCODE)" [ "$TCODE" = 200 ]
	AUTH=(-H "Authorization: Bearer $(jq -r .token "$TMP/tok")")
}

# deletes WHO REPO EXPECTED: WHO deletes the blob, the manifest by digest
# and the tag v1 of REPO; each answers EXPECTED (202: deleted, else
# refused with the error body, and the content is still there).
deletes() {
	local who=$1 repo=$2 want=$3 blob man what path
	local -a look
	blob=$(eval echo "\$BLOB_${repo%%/*}_$MODE")
	man=$(eval echo "\$MAN_${repo%%/*}_$MODE")
	as pusher "$repo" # to look afterwards
	look=("${AUTH[@]}")
	as "$who" "$repo"
	for what in tag manifest blob; do
		case $what in
		tag) path=/v2/$repo/manifests/v1 ;;
		manifest) path=/v2/$repo/manifests/$man ;;
		blob) path=/v2/$repo/blobs/$blob ;;
		esac
		req DELETE "$path" "${AUTH[@]}"
		case $want in
		401) expect "$MODE: $who deletes the $what of $repo" 401 UNAUTHORIZED ;;
		403) expect "$MODE: $who deletes the $what of $repo" 403 DENIED ;;
		*) expect "$MODE: $who deletes the $what of $repo" "$want" ;;
		esac
		if [ "$want" != 202 ]; then
			req HEAD "$path" "${look[@]}"
			check "$MODE: ...the $what of $repo is still there ($CODE)" [ "$CODE" = 200 ]
		fi
	done
}

for MODE in basic token; do
	auth_start "$TMP/$MODE.conf"
	for repo in team/$MODE public/$MODE; do
		deletes nobody "$repo" 401
		deletes wrong "$repo" 401
		deletes puller "$repo" 403
		deletes pusher "$repo" 403
	done
	# anonymous with a token: what anonymous may do is pull public/
	if [ "$MODE" = token ]; then
		TCODE=$(curl -s -o "$TMP/tok" -w '%{http_code}' \
			"$BASE/token?service=registry&scope=repository:public/token:pull,push,delete")
		check "token: an anonymous token ($TCODE)" [ "$TCODE" = 200 ]
		ANON=$(jq -r .token "$TMP/tok")
		req GET "/v2/public/token/manifests/v1" -H "Authorization: Bearer $ANON"
		expect "token: the anonymous token pulls public/token" 200
		req DELETE "/v2/public/token/blobs/$BLOB_public_token" -H "Authorization: Bearer $ANON"
		expect "token: ...but does not delete its blob" 401 UNAUTHORIZED
		req DELETE "/v2/public/token/manifests/$MAN_public_token" -H "Authorization: Bearer $ANON"
		expect "token: ...nor its manifest" 401 UNAUTHORIZED
		req DELETE "/v2/public/token/manifests/v1" -H "Authorization: Bearer $ANON"
		expect "token: ...nor its tag" 401 UNAUTHORIZED
	fi
	for repo in team/$MODE public/$MODE; do
		deletes deleter "$repo" 202
		as pusher "$repo"
		req HEAD "/v2/$repo/manifests/v1" "${AUTH[@]}"
		expect "$MODE: the tag the deleter removed from $repo is gone" 404
		req HEAD "/v2/$repo/blobs/$(eval echo "\$BLOB_${repo%%/*}_$MODE")" "${AUTH[@]}"
		expect "$MODE: the blob the deleter removed from $repo is gone" 404
	done
	reg_stop
done

# ---- delete_enabled = false: no DELETE of any kind, whoever asks ----
printf 'auth = none\n' >"$TMP/none.conf"
auth_start "$TMP/none.conf"
seed off off/app
reg_stop
printf 'delete_enabled = false\n' | cat "$TMP/basic.conf" - >"$TMP/nodelete.conf"
printf 'auth_rule = "off/** deleter pull,delete"\n' >>"$TMP/nodelete.conf"
MODE=basic
auth_start "$TMP/nodelete.conf"
for path in "/v2/off/app/blobs/$BLOB" "/v2/off/app/manifests/$MAN" /v2/off/app/manifests/v1; do
	req DELETE "$path" -u deleter:pw-deleter
	expect "delete_enabled = false: DELETE $path" 405 UNSUPPORTED
	req HEAD "$path" -u deleter:pw-deleter
	expect "delete_enabled = false: ...$path is still there" 200
done
reg_stop

summary
