#!/bin/bash
# Who may read what through the pull-through cache, on 127.0.0.1:
#   - HUB, a second instance of this registry (no auth), is the upstream of
#     two mirrored names: `docker.io` (namespaces=library, so dockerd's bare
#     `library/...` names route to it) and `ghcr.io` (prefix and ?ns= only);
#   - the mirror under test has `auth = basic`, a local private repository
#     (team-a/secret) and rules over names as sent and over cache names.
# What must hold, by every spelling (prefix, ?ns=, bare name), with HUB up
# and with HUB unreachable:
#   1. a blob or manifest the cached repository does not hold comes from the
#      upstream for that repository or not at all: local content of other
#      repositories is never served through a cache name (404 upstream ->
#      404; upstream down -> 503), and such a read links nothing;
#   2. the rules see the cache name (`ghcr.io/team-b/app`), not the name as
#      sent (`team-b/app?ns=ghcr.io`); an ns= naming no upstream does not
#      reach the cache; the catalog lists no cache name the caller may not
#      pull.
set -u
. "$(dirname "$0")/lib.sh"
BIN=$1

export CURL_HOME=$TMP
echo 'max-time = 60' >"$TMP/.curlrc"

HUB_PID=""
access_cleanup() {
	[ -n "$HUB_PID" ] && kill "$HUB_PID" 2>/dev/null && reg_wait "$HUB_PID" 10
	reg_cleanup
}
trap access_cleanup EXIT

# ---- HUB: the upstream, open, debug log to count what the mirror asks ----
HUB_LOG=$TMP/hub.log
printf 'log_level = debug\n' >"$TMP/hub.conf"
start_hub() { # [PORT]
	"$BIN" serve -c "$TMP/hub.conf" --listen "127.0.0.1:${1:-0}" --data "$TMP/hub" 2>>"$HUB_LOG" &
	HUB_PID=$!
	for _ in $(seq 1 100); do
		HUB_PORT=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$HUB_LOG" | tail -1)
		if [ -n "$HUB_PORT" ] && curl -s -o /dev/null "http://127.0.0.1:$HUB_PORT/v2/"; then
			HUB=http://127.0.0.1:$HUB_PORT
			return 0
		fi
		sleep 0.1
	done
	echo "hub did not start" >&2
	exit 1
}
stop_hub() {
	kill -TERM "$HUB_PID"
	reg_wait "$HUB_PID"
	HUB_PID=""
}
start_hub

# push_blob BASE REPO FILE [curl args]: prints the digest.
push_blob() {
	local base=$1 repo=$2 f=$3 d loc sep
	shift 3
	d=$(sha256 "$f")
	loc=$(curl -sf -o /dev/null -D - -X POST "$base/v2/$repo/blobs/uploads/" "$@" |
		sed -n 's/^[Ll]ocation: *//p' | tr -d '\r')
	[ -n "$loc" ] || return 1
	case $loc in /*) loc=$base$loc ;; esac
	case $loc in *\?*) sep='&' ;; *) sep='?' ;; esac
	curl -sf -o /dev/null -X PUT "$loc${sep}digest=$d" "$@" \
		-H 'Content-Type: application/octet-stream' --data-binary @"$f" || return 1
	echo "$d"
}
# push_image BASE REPO TAG OUT LAYER [curl args]: an OCI image with one
# layer; writes the manifest to OUT and prints its digest.
push_image() {
	local base=$1 repo=$2 tag=$3 out=$4 layer=$5 cd ld
	shift 5
	printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"comment":"%s:%s"}' \
		"$repo" "$tag" >"$out.config"
	cd=$(push_blob "$base" "$repo" "$out.config" "$@") || return 1
	ld=$(push_blob "$base" "$repo" "$layer" "$@") || return 1
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":%s}]}' \
		"$cd" "$(stat -c %s "$out.config")" "$ld" "$(stat -c %s "$layer")" >"$out"
	curl -sf -o /dev/null -X PUT "$base/v2/$repo/manifests/$tag" "$@" \
		-H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data-binary @"$out" || return 1
	sha256 "$out"
}

head -c 5000 /dev/urandom >"$TMP/la"
head -c 6000 /dev/urandom >"$TMP/lb"
head -c 7000 /dev/urandom >"$TMP/private"
LA=$(sha256 "$TMP/la")
LB=$(sha256 "$TMP/lb")
P=$(sha256 "$TMP/private")
MA=$(push_image "$HUB" library/alpine 1 "$TMP/ma" "$TMP/la")
MB=$(push_image "$HUB" team-b/app 1 "$TMP/mb" "$TMP/lb")
check "HUB has library/alpine:1 and team-b/app:1" [ -n "$MA" ] && [ -n "$MB" ]

# ---- the mirror: basic auth ----
for u in teama alice carol; do
	echo "pw-$u" | "$BIN" user add "$u" --password-stdin --cost 4 --data "$TMP/data" >/dev/null
done
cat >"$TMP/mirror.conf" <<EOF
log_level = debug
auth = basic
auth_rule = "team-a/** teama pull,push"
auth_rule = "public/** anonymous pull"
auth_rule = "library/** anonymous pull"
auth_rule = "team-b/** alice pull"
auth_rule = "docker.io/** carol pull"
auth_rule = "ghcr.io/** carol pull"
upstream = docker.io $HUB namespaces=library
upstream = ghcr.io $HUB
proxy_revalidate = 1h
proxy_negative_ttl = 0
proxy_timeout = 3s
proxy_retries = 0
EOF
# reg_start waits for a 200 from /v2/, which auth answers 401: start by hand
mkdir -p "$TMP/data"
"$BIN" serve -c "$TMP/mirror.conf" --listen 127.0.0.1:0 --data "$TMP/data" 2>>"$REG_LOG" &
REG_PID=$!
for _ in $(seq 1 100); do
	PORT=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$REG_LOG" | tail -1)
	[ -n "$PORT" ] && curl -s -o /dev/null "http://127.0.0.1:$PORT/v2/" && break
	sleep 0.1
done
BASE=http://127.0.0.1:$PORT
A=(-u alice:pw-alice)
C=(-u carol:pw-carol)

# team-a's private image, pushed here: its layer P and manifest MP must
# never come out through a mirrored name.
MP=$(push_image "$BASE" team-a/secret 1 "$TMP/mp" "$TMP/private" -u teama:pw-teama)
check "team-a pushed its private image locally" [ -n "$MP" ]
req GET "/v2/team-a/secret/blobs/$P" -u teama:pw-teama
expect "team-a reads its own layer" 200

links() { # DIGEST: how many repositories may serve it
	reg_sql "$TMP/data/registry.db" "SELECT count(*) FROM repo_blobs WHERE digest = '$1'"
}
repos() { # every repository name, one a line
	reg_sql "$TMP/data/registry.db" "SELECT name FROM repos ORDER BY name"
}
hub_gets() { # PATH-REGEX: requests HUB has seen for it
	grep -cE "debug request (GET|HEAD) $1\$" "$HUB_LOG"
}
REPOS0=$(repos)

# ---- 1. local content never leaks through a cache name ----
# carol may pull every cache name: what she reads must come from HUB.
for spelling in "/v2/ghcr.io/anything" "/v2/anything|?ns=ghcr.io" "/v2/library/anything" \
	"/v2/docker.io/library/anything" "/v2/public/anything|?ns=ghcr.io"; do
	path=${spelling%|*}
	q=
	case $spelling in *\|*) q=${spelling#*|} ;; esac
	for m in GET HEAD; do
		req "$m" "$path/blobs/$P$q" "${C[@]}"
		expect "$m $path/blobs/<team-a's layer>$q: not upstream, so unknown" 404
	done
	req GET "$path/blobs/$P$q" "${C[@]}"
	expect "...GET says BLOB_UNKNOWN" 404 BLOB_UNKNOWN
	req GET "$path/blobs/$MP$q" "${C[@]}"
	expect "GET $path/blobs/<team-a's manifest>$q" 404 BLOB_UNKNOWN
	req GET "$path/manifests/$MP$q" "${C[@]}"
	expect "GET $path/manifests/<team-a's manifest>$q" 404 MANIFEST_UNKNOWN
done
check "...each of them was asked of HUB" [ "$(hub_gets "/v2/anything/blobs/$P")" -ge 1 ]
check "no read linked team-a's layer anywhere else ($(links "$P") links)" [ "$(links "$P")" = 1 ]
check "no read made a repository" [ "$(repos)" = "$REPOS0" ]

# The upstream serves it: stored once, served from the store (deduplicated).
req GET "/v2/docker.io/library/alpine/blobs/$LA" "${C[@]}"
expect "carol pulls alpine's layer by prefix" 200
check "...its bytes" cmp -s "$TMP/b" "$TMP/la"
req GET "/v2/ghcr.io/library/alpine/blobs/$LA" "${C[@]}"
expect "the same layer through the other upstream: HUB says it has it" 200
check "...its bytes" cmp -s "$TMP/b" "$TMP/la"
req GET "/v2/ghcr.io/team-b/app/blobs/$LA" "${C[@]}"
expect "a stored layer that HUB's team-b/app does not hold" 404 BLOB_UNKNOWN
check "...not linked there" [ "$(links "$LA")" = 2 ]

# ---- 2. the rules see the cache name ----
req GET "/v2/public/anything/blobs/$P?ns=ghcr.io"
expect "anonymous, public/** as sent, ?ns=ghcr.io: ghcr.io/public/anything is not public" 401 UNAUTHORIZED
req GET "/v2/public/anything/blobs/$LA?ns=ghcr.io"
expect "...nor for a blob the cache holds" 401 UNAUTHORIZED
req GET /v2/library/alpine/manifests/1
expect "anonymous, library/** as sent, bare name: docker.io/library/alpine is not public" 401 UNAUTHORIZED
req GET "/v2/library/alpine/blobs/$P"
expect "anonymous, bare name, team-a's layer" 401 UNAUTHORIZED
req GET "/v2/team-b/app/manifests/1?ns=ghcr.io" "${A[@]}"
expect "alice, team-b/** as sent, ?ns=ghcr.io: the cache name is not hers" 403 DENIED
req GET /v2/ghcr.io/team-b/app/manifests/1 "${A[@]}"
expect "alice, by prefix" 403 DENIED
req GET "/v2/team-b/app/blobs/$LB?ns=ghcr.io" "${A[@]}"
expect "alice, a blob by ?ns=" 403 DENIED
req GET /v2/library/alpine/manifests/1 "${A[@]}"
expect "alice, bare name" 403 DENIED
# carol: ghcr.io/** and docker.io/**, by every spelling
req GET /v2/ghcr.io/team-b/app/manifests/1 "${C[@]}"
expect "carol, by prefix" 200
check "...HUB's manifest" cmp -s "$TMP/b" "$TMP/mb"
req GET "/v2/team-b/app/manifests/1?ns=ghcr.io" "${C[@]}"
expect "carol, by ?ns=" 200
check "...echoed as OCI-Namespace" [ "$(hdr OCI-Namespace)" = ghcr.io ]
req GET "/v2/team-b/app/blobs/$LB?ns=ghcr.io" "${C[@]}"
expect "carol, a blob by ?ns=" 200
req GET /v2/library/alpine/manifests/1 "${C[@]}"
expect "carol, bare name (dockerd)" 200
check "...HUB's manifest" cmp -s "$TMP/b" "$TMP/ma"
req GET /v2/team-b/app/tags/list?ns=ghcr.io "${C[@]}"
expect "carol, tags by ?ns=" 200
req GET /v2/team-b/app/tags/list?ns=ghcr.io "${A[@]}"
expect "alice, tags by ?ns=" 403 DENIED
# an ns= naming no upstream does not reach the cache: the name is local
n0=$(hub_gets "/v2/library/alpine/manifests/1")
req GET "/v2/library/alpine/manifests/1?ns=quay.io"
expect "anonymous, ?ns=quay.io (no such upstream): the local library/alpine, which does not exist" 404 NAME_UNKNOWN
check "...no OCI-Namespace" [ -z "$(hdr OCI-Namespace)" ]
req GET "/v2/library/alpine/blobs/$LA?ns=quay.io"
expect "...nor its blobs" 404 BLOB_UNKNOWN
req GET "/v2/library/alpine/manifests/1?ns=quay.io" "${C[@]}"
expect "carol, ?ns=quay.io: library/alpine is local (and anyone's), and missing" 404 NAME_UNKNOWN
req GET "/v2/team-b/app/manifests/1?ns=quay.io" "${A[@]}"
expect "alice, ?ns=quay.io: her local team-b/app, missing" 404 NAME_UNKNOWN
check "...HUB was not asked" [ "$(hub_gets "/v2/library/alpine/manifests/1")" = "$n0" ]
req GET "/v2/team-a/secret/manifests/1?ns=nowhere.example" -u teama:pw-teama
expect "teama, ?ns=nowhere.example: her own local repository" 200
check "...its manifest" cmp -s "$TMP/b" "$TMP/mp"
# the catalog lists no cache name the caller may not pull
req GET /v2/_catalog "${A[@]}"
expect "alice's catalog" 200
check "...no cache names (she may pull none)" bash -c "! grep -q 'ghcr.io\|docker.io' '$TMP/b'"
req GET /v2/_catalog
expect "anonymous catalog" 200
check "...no cache names" bash -c "! grep -q 'ghcr.io\|docker.io' '$TMP/b'"
req GET /v2/_catalog "${C[@]}"
expect "carol's catalog" 200
check "...the cache names she pulled" grep -q '"ghcr.io/team-b/app"' "$TMP/b"
check "...not team-a's" bash -c "! grep -q 'team-a' '$TMP/b'"
check "refused reads linked nothing ($(links "$P") links to team-a's layer)" [ "$(links "$P")" = 1 ]

# ---- HUB unreachable ----
REPOS1=$(repos)
stop_hub
for spelling in "/v2/ghcr.io/anything" "/v2/anything|?ns=ghcr.io" "/v2/library/anything" \
	"/v2/ghcr.io/team-b/app" "/v2/team-b/app|?ns=ghcr.io"; do
	path=${spelling%|*}
	q=
	case $spelling in *\|*) q=${spelling#*|} ;; esac
	req GET "$path/blobs/$P$q" "${C[@]}"
	expect "HUB down: GET $path/blobs/<team-a's layer>$q is not served" 503 UNAVAILABLE
	req GET "$path/manifests/$MP$q" "${C[@]}"
	expect "HUB down: GET $path/manifests/<team-a's manifest>$q" 503 UNAVAILABLE
done
req GET "/v2/ghcr.io/team-b/app/blobs/$LA" "${C[@]}"
expect "HUB down: a stored layer this cached repository does not hold" 503 UNAVAILABLE
req GET "/v2/public/anything/blobs/$P?ns=ghcr.io"
expect "HUB down: anonymous ?ns=" 401 UNAUTHORIZED
req GET "/v2/library/anything/blobs/$P"
expect "HUB down: anonymous bare name" 401 UNAUTHORIZED
req GET "/v2/team-b/app/blobs/$LB?ns=ghcr.io" "${A[@]}"
expect "HUB down: alice ?ns=" 403 DENIED
req GET "/v2/team-b/app/blobs/$LB?ns=ghcr.io" "${C[@]}"
expect "HUB down: carol, a cached blob by ?ns=" 200
check "...its bytes" cmp -s "$TMP/b" "$TMP/lb"
req GET /v2/library/alpine/manifests/1 "${C[@]}"
expect "HUB down: carol, a cached tag by bare name" 200
check "HUB down: no read linked team-a's layer ($(links "$P") links)" [ "$(links "$P")" = 1 ]
check "HUB down: no read made a repository" [ "$(repos)" = "$REPOS1" ]

reg_stop

# ---- token mode: grants are decided on the cache name too ----
start_hub "$HUB_PORT"
sed -i 's/^auth = basic/auth = token/' "$TMP/mirror.conf"
: >"$REG_LOG"
"$BIN" serve -c "$TMP/mirror.conf" --listen 127.0.0.1:0 --data "$TMP/data" 2>>"$REG_LOG" &
REG_PID=$!
for _ in $(seq 1 100); do
	PORT=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$REG_LOG" | tail -1)
	[ -n "$PORT" ] && curl -s -o /dev/null "http://127.0.0.1:$PORT/v2/" && break
	sleep 0.1
done
BASE=http://127.0.0.1:$PORT
token() { # USER SCOPE
	curl -s -u "$1:pw-$1" "$BASE/token?service=registry&scope=$2" |
		sed -n 's/.*"token":"\([^"]*\)".*/\1/p'
}
req GET /v2/library/alpine/manifests/1 -H "Authorization: Bearer $(token carol repository:library/alpine:pull)"
expect "token: carol's dockerd-style scope library/alpine, bare name" 200
req GET /v2/library/alpine/manifests/1 -H "Authorization: Bearer $(token alice repository:library/alpine:pull)"
expect "token: alice asks for library/alpine, the rules see docker.io/library/alpine" 403 DENIED
req GET "/v2/team-b/app/manifests/1?ns=ghcr.io" -H "Authorization: Bearer $(token alice repository:team-b/app:pull)"
expect "token: alice's team-b/app token does not open ghcr.io/team-b/app" 403 DENIED
req GET "/v2/team-b/app/manifests/1?ns=ghcr.io" -H "Authorization: Bearer $(token carol repository:team-b/app:pull)"
expect "token: carol, ?ns= with a token for the name as sent" 401 UNAUTHORIZED
check "...the challenge asks for the cache name" \
	grep -qi '^www-authenticate: .*scope="repository:ghcr.io/team-b/app:pull"' "$TMP/h"
req GET "/v2/team-b/app/manifests/1?ns=ghcr.io" -H "Authorization: Bearer $(token carol repository:ghcr.io/team-b/app:pull)"
expect "token: carol, ?ns= with a token for the cache name" 200
req GET "/v2/public/anything/blobs/$P?ns=ghcr.io"
expect "token: anonymous ?ns=" 401 UNAUTHORIZED
req GET "/v2/public/anything/blobs/$P?ns=ghcr.io" -H "Authorization: Bearer $(token carol repository:ghcr.io/public/anything:pull)"
expect "token: carol, team-a's layer through a cache name" 404 BLOB_UNKNOWN
check "token: no read linked team-a's layer ($(links "$P") links)" [ "$(links "$P")" = 1 ]
reg_stop
summary
