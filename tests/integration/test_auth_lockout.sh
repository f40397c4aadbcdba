#!/bin/bash
# Failed-login lockout against the real binary: failures count per
# (address, user) and per address; a success clears only its own user's
# count (so logging in between guesses does not reset the guesses at
# another user's password); spraying many user names from one address is
# stopped by the address's own, higher limit; lockouts are logged when they
# start and end; `registry user unlock NAME` lifts one on a running server;
# X-Forwarded-For is believed only from auth_trusted_proxies; a failed
# login with an unknown name does not log that name.
set -u
. "$(dirname "$0")/lib.sh"
BIN=$1
DATA=$TMP/data
mkdir -p "$DATA"


for u in alice bob; do
	echo "pw-$u" | "$BIN" user add "$u" --password-stdin --cost 4 --data "$DATA" >/dev/null
done
cat >"$TMP/lock.conf" <<EOF
auth = basic
auth_fail_limit = 3
auth_fail_window = 60s
auth_trusted_proxies = 127.0.0.1
EOF
auth_start "$TMP/lock.conf"
# login FROM USER:PASSWORD: GET /v2/ as a client at FROM behind the proxy
login() {
	req GET /v2/ -u "$2" -H "X-Forwarded-For: $1"
}

# ---- a user with an account cannot reset another user's count ----
A=198.51.100.1
for i in 1 2 3; do
	login $A "bob:guess$i"
	expect "attack: guess $i at bob's password" 401 UNAUTHORIZED
	login $A alice:pw-alice
	expect "attack: alice logs in after guess $i" 200
done
login $A bob:guess4
expect "attack: the 4th guess at bob's password, despite alice's logins" 429 TOOMANYREQUESTS
login $A bob:pw-bob
expect "attack: ...and bob's right password from that address" 429 TOOMANYREQUESTS
check "attack: Retry-After ($(hdr Retry-After))" [ "$(hdr Retry-After)" -gt 0 ]
login $A alice:pw-alice
expect "attack: alice, from the same address, is not locked out" 200
login 198.51.100.2 bob:pw-bob
expect "attack: bob from another address is not locked out" 200
check "attack: the lockout's start is logged" \
	grep -q "auth: 3 failed logins as 'bob' from $A within 60 s: refused for 60 s" "$REG_LOG"

# ---- registry user unlock, on a running registry ----
"$BIN" user unlock bob --data "$DATA" >"$TMP/out" 2>&1
check "unlock: exits 0 ($?)" [ $? = 0 ]
check "unlock: says what it did" grep -q "bob" "$TMP/out"
login $A bob:pw-bob
expect "unlock: bob logs in again from $A" 200
check "unlock: the end of the lockout is logged" \
	grep -q "auth: lockout of 'bob' at $A lifted by \`registry user unlock\`" "$REG_LOG"
login $A bob:again1
expect "unlock: the count started afresh (a wrong password is 401, not 429)" 401
"$BIN" user unlock nobody-such --data "$DATA" >/dev/null 2>&1
check "unlock: an unknown user exits 1 ($?)" [ $? = 1 ]
"$BIN" user unlock --data "$DATA" >/dev/null 2>&1
check "unlock: without a name exits 2 ($?)" [ $? = 2 ]

# ---- spraying names: the address's own limit (5 x 3) ----
S=198.51.100.3
for i in $(seq 1 15); do login $S "user$i:password"; done
expect "spray: the 15th name" 401 UNAUTHORIZED
login $S "user16:password"
expect "spray: the 16th name" 429 TOOMANYREQUESTS
login $S alice:pw-alice
expect "spray: then every login from that address" 429 TOOMANYREQUESTS
check "spray: the address's lockout is logged" \
	grep -q "auth: 15 failed logins from $S within 60 s: refused for 60 s" "$REG_LOG"
"$BIN" user unlock --address $S --data "$DATA" >/dev/null 2>&1
check "unlock --address: exits 0 ($?)" [ $? = 0 ]
login $S alice:pw-alice
expect "unlock --address: alice logs in from $S again" 200

# ---- a name that is no user's is not logged (it may be a password) ----
login 198.51.100.4 "S3cret-Passw0rd:alice"
expect "unknown name: refused" 401
check "unknown name: the log does not show it" bash -c "! grep -q S3cret-Passw0rd '$REG_LOG'"
check "unknown name: the log says an unknown name was tried" \
	grep -q "auth: failed login with an unknown user name from 198.51.100.4" "$REG_LOG"
login 198.51.100.4 "alice:wrong"
check "known name: the log shows it" grep -q "auth: failed login as 'alice' from 198.51.100.4" "$REG_LOG"

# ---- X-Forwarded-For: the right-most address that is not a trusted proxy ----
login "203.0.113.9, 127.0.0.1" bob:x
check "xff: a chain through the proxy counts for the client" \
	grep -q "failed login as 'bob' from 203.0.113.9$" "$REG_LOG"
login "not-an-address" bob:x
check "xff: garbage counts for the proxy itself" \
	grep -q "failed login as 'bob' from 127.0.0.1$" "$REG_LOG"
reg_stop

# ---- without auth_trusted_proxies, X-Forwarded-For is not believed ----
sed '/auth_trusted_proxies/d' "$TMP/lock.conf" >"$TMP/nolist.conf"
auth_start "$TMP/nolist.conf"
for i in 1 2 3; do login "192.0.2.$i" "bob:guess$i"; done
login 192.0.2.4 bob:pw-bob
expect "untrusted xff: 3 guesses under 3 forged addresses lock the real one" 429 TOOMANYREQUESTS
check "untrusted xff: logged with the real address" \
	grep -q "failed logins as 'bob' from 127.0.0.1 within" "$REG_LOG"
reg_stop

summary
