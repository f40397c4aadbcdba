#!/bin/bash
# A registry on metadata = postgres outlives its database's restarts
# without being restarted itself:
#   - while PostgreSQL is stopped, requests that need it answer 503
#     UNAVAILABLE (OCI error JSON) at once, /readyz says not ready, logins
#     fail closed (503), the process neither crashes nor hangs, and the
#     log says the outage once, not once per request;
#   - after PostgreSQL starts again on the same port and socket folder,
#     every worker thread's connection recovers: 20 concurrent pulls of the
#     earlier image succeed, a new push succeeds, a login succeeds (not
#     503), /readyz is ready, and the recovery is logged once;
#   - a restart while the registry is idle (no request in between) costs no
#     request: the first after it is answered on a new connection.
# Always starts its own PostgreSQL (tests/pg.sh): it restarts it.
# timeout: 120
set -u
here=$(cd "$(dirname "$0")" && pwd)
OWN_PG=$(mktemp -d /tmp/regpg.XXXXXX)
REGISTRY_TEST_PG=$("$here/../pg.sh" start "$OWN_PG") || { echo "FAIL: cannot start PostgreSQL" >&2; exit 1; }
export REGISTRY_TEST_PG
. "$here/lib.sh"
# the binary itself: this script's database is its own
BIN=${REGISTRY_PG_REAL:-$1}

cleanup() {
	reg_cleanup
	"$here/../pg.sh" stop "$OWN_PG" 2>/dev/null
	rm -rf "$OWN_PG"
}
trap cleanup EXIT

MT=application/vnd.oci.image.manifest.v1+json
U=alice:pw-alice
echo pw-alice | "$BIN" user add alice --password-stdin --cost 4 --users "$TMP/users" >/dev/null
{
	echo "auth = basic"
	echo "auth_users = $TMP/users"
	echo "auth_fail_limit = 5"
	echo "threads = 8"
	echo "log_level = ${RC_LOG_LEVEL:-info}"
} >"$TMP/reg.conf"
reg_start "$BIN" -c "$TMP/reg.conf"

# push TAG: a config blob and an image manifest of it, tagged TAG
push() {
	printf '{"tag":"%s"}\n' "$1" >"$TMP/config-$1"
	local c size
	c=$(sha256 "$TMP/config-$1")
	size=$(stat -c %s "$TMP/config-$1")
	req POST "/v2/app/blobs/uploads/?digest=$c" -u $U -H 'Content-Type: application/octet-stream' \
		--data-binary @"$TMP/config-$1"
	[ "$CODE" = 201 ] || return 1
	printf '{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[]}' \
		"$MT" "$c" "$size" >"$TMP/m-$1"
	req PUT "/v2/app/manifests/$1" -u $U -H "Content-Type: $MT" --data-binary @"$TMP/m-$1"
	[ "$CODE" = 201 ]
}
# pulls N: N pulls of app:v1 at once (xargs: every one bounded by curl's
# --max-time); prints how many answered 200
pulls() {
	seq 1 "$1" | xargs -P "$1" -I{} curl -s -o /dev/null --max-time 20 -w '%{http_code}\n' \
		-u $U -H "Accept: $MT" "$BASE/v2/app/manifests/v1" | grep -c '^200$'
}
# logged PATTERN: how many lines of the log since the last `mark` match
MARK=0
logged() {
	tail -n +$((MARK + 1)) "$REG_LOG" | grep -c -- "$1"
}
mark() {
	MARK=$(wc -l <"$REG_LOG")
}

check "push v1" push v1
check "20 concurrent pulls before any restart" [ "$(pulls 20)" = 20 ]
req GET /readyz
expect "ready at first" 200

# ---- a restart while idle: no request between stop and start ----
check "PostgreSQL restarts on the same port" "$here/../pg.sh" restart "$OWN_PG"
req GET /v2/app/manifests/v1 -u $U -H "Accept: $MT"
expect "idle restart: the first pull after it" 200
check "idle restart: 20 concurrent pulls, every thread's connection new" [ "$(pulls 20)" = 20 ]
check "idle restart: push v2" push v2
req GET /v2/ -u $U
expect "idle restart: a login" 200

# ---- an outage: requests while the database is down ----
# (the idle restart's own short outage may have been logged: a background
# thread can have tried its first connection then)
mark
"$here/../pg.sh" stop "$OWN_PG"
start=$(date +%s)
req GET /v2/app/manifests/v1 -u $U -H "Accept: $MT"
expect "down: a pull" 503 UNAVAILABLE
req GET /v2/app/tags/list -u $U
expect "down: a tag list" 503
req GET /readyz
expect "down: /readyz not ready" 503
req GET /v2/ -u $U
expect "down: a login fails closed" 503 UNAVAILABLE
check "down: 20 concurrent pulls answer, none 200" [ "$(pulls 20)" = 0 ]
for i in $(seq 1 20); do req GET /v2/app/manifests/v1 -u $U -H "Accept: $MT"; done
expect "down: the last of 20 more pulls" 503 UNAVAILABLE
check "down: answered at once (all in $(($(date +%s) - start)) s)" [ $(($(date +%s) - start)) -lt 20 ]
check "down: the registry still runs" kill -0 "$REG_PID"
OUT='PostgreSQL cannot be reached\|cannot connect to PostgreSQL'
check "down: the outage logged once ($(logged "$OUT"))" [ "$(logged "$OUT")" = 1 ]
check "down: the metadata index says nothing more ($(logged ' error meta:\| error cannot open'))" \
	[ "$(logged ' error meta:\| error cannot open')" = 1 ]

# ---- back: the same port, the registry not restarted ----
check "PostgreSQL starts again on the same port" "$here/../pg.sh" restart "$OWN_PG"
sleep 1.2 # past a connection's reconnect pacing (1 s after a failed attempt)
check "back: 20 concurrent pulls of v1" [ "$(pulls 20)" = 20 ]
req GET /v2/app/manifests/v2 -u $U -H "Accept: $MT"
expect "back: a pull of v2" 200
check "back: cmp v2" cmp -s "$TMP/b" "$TMP/m-v2"
check "back: push v3" push v3
req GET /v2/ -u $U
expect "back: a login" 200
req GET /v2/ -u alice:wrong
expect "back: a wrong password is counted again (401, not 503)" 401 UNAUTHORIZED
ready=
for _ in $(seq 1 50); do
	req GET /readyz
	[ "$CODE" = 200 ] && ready=1 && break
	sleep 0.1
done
check "back: /readyz ready again" [ -n "$ready" ]
req GET /v2/app/tags/list -u $U
check "back: the tags are v1 v2 v3" grep -q '"v1","v2","v3"' "$TMP/b"
check "back: the recovery logged once ($(logged 'PostgreSQL can be reached again'))" \
	[ "$(logged 'PostgreSQL can be reached again')" = 1 ]
check "the outage still logged once" [ "$(logged "$OUT")" = 1 ]
check "several threads' connections recovered ($(logged 'reconnected'))" [ "$(logged 'reconnected')" -ge 2 ]

reg_stop
summary
