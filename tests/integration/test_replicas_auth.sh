#!/bin/bash
# Failed-login counts shared by two replicas on one PostgreSQL (metadata =
# postgres), each with its own copy of the users file, as on two machines:
#   - failures spread over both replicas lock the user after auth_fail_limit
#     in all (429 TOOMANYREQUESTS with Retry-After from both), the lock's
#     start logged once;
#   - after the window a right password works on both, the end logged once;
#   - a success on one replica clears the user's count on the other;
#   - `registry user unlock` written to one replica's users file lifts the
#     lock on both (the shared rows go);
#   - the spraying address's own limit counts across replicas too;
#   - with the database stopped, logins are refused (503 with Retry-After:
#     fail closed) and no password is tried (only when this script started
#     its own PostgreSQL).
# Uses REGISTRY_TEST_PG when set (make integration-pg), else starts its own
# PostgreSQL (tests/pg.sh) and stops it at the end.
# timeout: 120
set -u
here=$(cd "$(dirname "$0")" && pwd)
OWN_PG=
if [ -z "${REGISTRY_TEST_PG:-}" ]; then
	OWN_PG=$(mktemp -d /tmp/regpg.XXXXXX)
	REGISTRY_TEST_PG=$("$here/../pg.sh" start "$OWN_PG") || { echo "FAIL: cannot start PostgreSQL" >&2; exit 1; }
	export REGISTRY_TEST_PG
fi
. "$here/lib.sh"
# the binary itself: the replicas share one database (lib.sh's)
BIN=${REGISTRY_PG_REAL:-$1}
PIDS=()

cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do reg_wait "$p" 10; done
	reg_cleanup
	if [ -n "$OWN_PG" ]; then
		"$here/../pg.sh" stop "$OWN_PG" 2>/dev/null
		rm -rf "$OWN_PG"
	fi
}
trap cleanup EXIT

LIMIT=4
WINDOW=6
mkdir -p "$TMP/data"
for u in alice bob; do
	echo "pw-$u" | "$BIN" user add "$u" --password-stdin --cost 4 --users "$TMP/users1" >/dev/null
done
cp "$TMP/users1" "$TMP/users2" # each machine its own copy
for n in 1 2; do
	{
		echo "auth = basic"
		echo "auth_users = $TMP/users$n"
		echo "auth_fail_limit = $LIMIT"
		echo "auth_fail_window = ${WINDOW}s"
		echo "auth_trusted_proxies = 127.0.0.1"
		echo "$REGISTRY_TEST_PG_CONF"
	} >"$TMP/replica$n.conf"
done

replica() {
	: >"$TMP/replica$1.log"
	"$BIN" serve -c "$TMP/replica$1.conf" --listen 127.0.0.1:0 --data "$TMP/data" 2>>"$TMP/replica$1.log" &
	PIDS[$1]=$!
}
replica_wait() {
	local n=$1 log=$TMP/replica$1.log port
	if port=$(reg_port "$log" "${PIDS[$n]}"); then
		eval "PORT_$n=$port"
		return 0
	fi
	echo "replica $n did not start:" >&2
	cat "$log" >&2
	return 1
}
# login N FROM USER:PASSWORD: GET /v2/ on replica N as a client at FROM
login() {
	BASE="http://127.0.0.1:$(eval echo "\$PORT_$1")"
	req GET /v2/ -u "$3" -H "X-Forwarded-For: $2"
}
# logged PATTERN: how many lines of both replicas' logs match
logged() {
	cat "$TMP/replica1.log" "$TMP/replica2.log" | grep -c -- "$1"
}

replica 1
replica 2
check "replica 1 starts" replica_wait 1
check "replica 2 starts" replica_wait 2
check "both say the counts are shared" \
	[ "$(logged 'failed logins are counted in the shared metadata index')" = 2 ]

# ---- failures spread over both replicas: the limit is the cluster's ----
A=198.51.100.1
for i in $(seq 1 $LIMIT); do
	n=$((i % 2 + 1))
	login $n $A "alice:guess$i"
	expect "spread: guess $i at alice's password, on replica $n" 401 UNAUTHORIZED
done
for n in 1 2; do
	login $n $A alice:pw-alice
	expect "spread: after $LIMIT guesses in all, alice's right password on replica $n" 429 TOOMANYREQUESTS
	ra=$(hdr Retry-After)
	check "spread: ...with Retry-After from replica $n ($ra)" [ "${ra:-0}" -gt 0 -a "${ra:-0}" -le $WINDOW ]
done
login 1 198.51.100.9 alice:pw-alice
expect "spread: alice from another address is not locked" 200
login 2 $A bob:pw-bob
expect "spread: bob from the locked address is not locked" 200
check "spread: the lock's start is logged once in all ($(logged "$LIMIT failed logins as 'alice' from $A"))" \
	[ "$(logged "$LIMIT failed logins as 'alice' from $A within $WINDOW s")" = 1 ]
check "spread: the table holds alice's row" \
	[ "$(psql -qtA "$REGISTRY_TEST_PG dbname=$REG_PG_DB" -c "SELECT failures FROM login_failures WHERE addr = '$A' AND name = 'alice'")" = $LIMIT ]

# ---- after the window ----
sleep $((WINDOW + 1))
login 2 $A alice:pw-alice
expect "window: after it, alice's right password on replica 2" 200
login 1 $A alice:pw-alice
expect "window: ...and on replica 1" 200
check "window: the lock's end is logged once in all ($(logged "lockout of 'alice' at $A ended"))" \
	[ "$(logged "lockout of 'alice' at $A ended")" = 1 ]

# ---- a success on one replica clears the count on the other ----
B=198.51.100.2
for i in $(seq 1 $((LIMIT - 1))); do login 1 $B "bob:guess$i"; done
expect "success: $((LIMIT - 1)) guesses at bob's password on replica 1" 401
login 2 $B bob:pw-bob
expect "success: bob logs in on replica 2" 200
login 1 $B bob:guess-again
expect "success: the next guess on replica 1 is a first one again (401, not 429)" 401
check "success: ...answered without a hold (count 1 in the table)" \
	[ "$(psql -qtA "$REGISTRY_TEST_PG dbname=$REG_PG_DB" -c "SELECT failures FROM login_failures WHERE addr = '$B' AND name = 'bob'")" = 1 ]

# ---- registry user unlock on one machine lifts the lock on both ----
C=198.51.100.3
for i in $(seq 1 $LIMIT); do login $((i % 2 + 1)) $C "alice:guess$i"; done
login 2 $C alice:pw-alice
expect "unlock: alice locked again (from $C)" 429 TOOMANYREQUESTS
"$BIN" user unlock alice --users "$TMP/users1" >"$TMP/out" 2>&1
check "unlock: written to replica 1's users file only (exit $?)" [ -e "$TMP/users1.unlock" -a ! -e "$TMP/users2.unlock" ]
login 1 $C alice:pw-alice
expect "unlock: alice logs in on replica 1, which read the request" 200
login 2 $C alice:pw-alice
expect "unlock: ...and on replica 2, which never saw it" 200
login 2 $C alice:wrong
expect "unlock: the count started afresh on replica 2 (401, not 429)" 401
check "unlock: the lifting is logged once in all ($(logged "lockout of 'alice' at $C lifted by"))" \
	[ "$(logged "lockout of 'alice' at $C lifted by \`registry user unlock\`")" = 1 ]

# ---- an address spraying names: its own limit (5 x) across replicas ----
S=198.51.100.4
for i in $(seq 1 $((5 * LIMIT))); do login $((i % 2 + 1)) $S "user$i:password"; done
expect "spray: the $((5 * LIMIT))th name" 401
for n in 1 2; do
	login $n $S bob:pw-bob
	expect "spray: then every login from $S on replica $n" 429 TOOMANYREQUESTS
done
"$BIN" user unlock --address $S --users "$TMP/users2" >/dev/null 2>&1
login 2 $S bob:pw-bob
expect "unlock --address on replica 2's file: bob logs in from $S on replica 2" 200
login 1 $S bob:pw-bob
expect "...and on replica 1" 200

# ---- the database stopped: fail closed ----
if [ -n "$OWN_PG" ]; then
	"$here/../pg.sh" stop "$OWN_PG"
	login 1 198.51.100.5 alice:pw-alice
	expect "down: a right password while the database is stopped" 503 UNAVAILABLE
	check "down: ...with Retry-After ($(hdr Retry-After))" [ "$(hdr Retry-After)" = 5 ]
	login 2 198.51.100.5 alice:wrong
	expect "down: a wrong one, on the other replica" 503 UNAVAILABLE
	BASE="http://127.0.0.1:$PORT_1"
	req GET /v2/
	expect "down: no credentials is still the 401 challenge" 401
	check "down: said once per replica" \
		[ "$(logged 'shared failed-login counts cannot be reached')" = 2 ]
	check "down: no password was tried (no failed login logged from .5)" \
		[ "$(logged 'failed login as .alice. from 198.51.100.5')" = 0 ]
else
	echo "NOTE: the database is shared with other scripts (make integration-pg): its outage not tried"
fi

for n in 1 2; do
	kill -TERM "${PIDS[$n]}"
	reg_wait "${PIDS[$n]}"
	check "replica $n exits 0 on SIGTERM" [ $? = 0 ]
done
PIDS=()
check "no sanitizer report" bash -c "! grep -qE 'Sanitizer|runtime error' '$TMP'/replica*.log"
summary
