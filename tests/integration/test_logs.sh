#!/bin/bash
# The registry's logs: libmicrohttpd's own start-up messages stay out of
# them at every level; the access log (access_log, access_log_format): one
# line per request with every field, escaped, in both formats, to a file or
# stderr or nowhere; rotation with Debian's logrotate and
# deploy/logrotate.conf (the registry reopens the file on SIGUSR1, nothing
# lost or doubled); the audit lines at info.
set -u
. "$(dirname "$0")/lib.sh"
BIN=$1
MT=application/vnd.oci.image.manifest.v1+json

# push_image REPO TAG [curl args]: a config blob and a manifest naming it,
# pushed as clients do (POST ?digest=, PUT manifest); sets BLOB_D, MAN_D.
push_image() {
	local repo=$1 tag=$2
	shift 2
	printf '{"n":"%s-%s-%s"}' "$repo" "$tag" "$RANDOM$RANDOM" >"$TMP/cfg.json"
	BLOB_D=$(sha256 "$TMP/cfg.json")
	req POST "/v2/$repo/blobs/uploads/?digest=$BLOB_D" "$@" --data-binary "@$TMP/cfg.json" \
		-H 'Content-Type: application/octet-stream'
	printf '{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[]}' \
		"$MT" "$BLOB_D" "$(stat -c %s "$TMP/cfg.json")" >"$TMP/man.json"
	MAN_D=$(sha256 "$TMP/man.json")
	req PUT "/v2/$repo/manifests/$tag" "$@" -H "Content-Type: $MT" --data-binary "@$TMP/man.json"
}

# ---- libmicrohttpd's noise ----
printf 'log_level = debug\n' >"$TMP/debug.conf"
reg_start "$BIN" -c "$TMP/debug.conf"
req GET /v2/
reg_stop
check "no 'EXTERNAL_LOGGER is not the first option' line, even at debug" \
	bash -c "! grep -q 'not the first option' '$REG_LOG'"
check "no other libmicrohttpd start-up message either" bash -c "! grep -q ' mhd: ' '$REG_LOG'"

# ---- the access log, combined ----
mkdir -p "$TMP/logs"
ALOG=$TMP/logs/access.log
printf 'access_log = %s\n' "$ALOG" >"$TMP/file.conf"
reg_start "$BIN" -c "$TMP/file.conf"
n0=$(wc -l <"$ALOG") # reg_start's probes
push_image app v1
expect "push" 201
req GET /v2/app/manifests/v1 -A 'tester/1.0 "quoted"' -e 'http://ref.example/'
expect "pull by tag" 200
req HEAD "/v2/app/blobs/$BLOB_D"
req GET /v2/app/manifests/nope
expect "a missing tag" 404
req GET '/v2/app%22x%0Ay/tags/list'
sleep 0.3 # the completed callback runs after the reply left
check "one line per request (6 more after $n0)" [ "$(wc -l <"$ALOG")" = $((n0 + 6)) ]
line=$(grep -F 'GET /v2/app/manifests/v1 ' "$ALOG")
check "combined: address, user '-', time, request line" \
	bash -c "echo '$line' | grep -qE '^127\.0\.0\.1 - - \[[0-9]{2}/[A-Z][a-z]{2}/[0-9]{4}:[0-9:]{8} \+0000\] \"GET /v2/app/manifests/v1 HTTP/1\.1\" 200 [0-9]+ '"
check "combined: bytes are the manifest's size" \
	bash -c "echo '$line' | grep -q '\" 200 $(stat -c %s "$TMP/man.json") '"
check "combined: referer, user agent escaped, duration, repository, digest of the tag" \
	grep -qF "\"http://ref.example/\" \"tester/1.0 \\x22quoted\\x22\" " "$ALOG"
check "combined: ... the repository and the tag's digest last" \
	bash -c "echo '$line' | grep -qE '\" [0-9]+\.[0-9]{6} \"app\" \"$MAN_D\"\$'"
check "the push's blob line names its digest" grep -qE "\"POST /v2/app/blobs/uploads/\\?? ?.*\" 201 0 .* \"app\" \"$BLOB_D\"$" "$ALOG"
check "the manifest PUT's line names the new digest" grep -qE "\"PUT /v2/app/manifests/v1 HTTP/1.1\" 201 0 .*\"app\" \"$MAN_D\"$" "$ALOG"
check "HEAD: 0 bytes, the blob's digest" grep -qE "\"HEAD /v2/app/blobs/$BLOB_D HTTP/1.1\" 200 0 .*\"$BLOB_D\"$" "$ALOG"
check "a 404 is logged with its status and body size" grep -qE '"GET /v2/app/manifests/nope HTTP/1.1" 404 [1-9][0-9]* ' "$ALOG"
check "a quote and a newline in the path are escaped: still one line" \
	grep -qF '"GET /v2/app\x22x\x0Ay/tags/list HTTP/1.1" 400' "$ALOG"
check "no line without its closing digest field" bash -c "! grep -vE '\"\$' '$ALOG'"
cp "$ALOG" "$TMP/before-rotate.log"
before=$(wc -l <"$ALOG")

# ---- logrotate, with deploy/logrotate.conf's rules ----
if command -v logrotate >/dev/null; then
	sed -e "s@^/var/log/registry/access.log@$ALOG@" \
		-e "s@systemctl kill .*@kill -USR1 $REG_PID@" \
		"$(dirname "$0")/../../deploy/logrotate.conf" >"$TMP/logrotate.conf"
	check "the test's rules kept deploy/logrotate.conf's postrotate" grep -q "kill -USR1 $REG_PID" "$TMP/logrotate.conf"
	logrotate -f -s "$TMP/logrotate.state" "$TMP/logrotate.conf" 2>"$TMP/logrotate.err"
	check "logrotate ran cleanly" [ ! -s "$TMP/logrotate.err" ]
	sleep 0.3
	check "the rotated file is the old one, whole" cmp -s "$ALOG.1" "$TMP/before-rotate.log"
	push_image app v2
	req GET /v2/app/manifests/v2
	sleep 0.3
	check "new lines go to a new access.log" grep -q 'GET /v2/app/manifests/v2 ' "$ALOG"
	check "...and only there" bash -c "! grep -q 'manifests/v2' '$ALOG.1'"
	check "the rotated file did not grow" [ "$(wc -l <"$ALOG.1")" = "$before" ]
	check "SIGUSR1 is logged" grep -q "SIGUSR1: log files reopened" "$REG_LOG"
	check "the registry still serves after the reopen" curl -sf -o /dev/null "$BASE/v2/"
	# A second rotation: .1 is compressed (delaycompress) and .1 is the last.
	logrotate -f -s "$TMP/logrotate.state" "$TMP/logrotate.conf" 2>"$TMP/logrotate.err"
	sleep 0.3
	check "a second rotation compresses the first" [ -s "$ALOG.2.gz" ]
	check "...and the second holds the v2 lines" grep -q 'manifests/v2' "$ALOG.1"
else
	skip "logrotate is not installed (deploy/install-deps.sh --test installs it)"
fi
# The name taken by a folder: the reopen fails, lines go on to the old file.
mv "$ALOG" "$TMP/moved.log"
mkdir "$ALOG"
kill -USR1 "$REG_PID"
sleep 0.3
req GET /v2/
sleep 0.2
check "a failed reopen is logged" grep -q "SIGUSR1: cannot open access log $ALOG: Is a directory (lines go on to the old file)" "$REG_LOG"
check "...and lines go on to the old file" grep -q 'GET /v2/ ' "$TMP/moved.log"
reg_stop

# ---- json ----
printf 'access_log = %s\naccess_log_format = json\n' "$TMP/logs/json.log" >"$TMP/json.conf"
reg_start "$BIN" -c "$TMP/json.conf"
push_image lib/tool v1
req GET /v2/lib/tool/manifests/v1 -A $'agent\x01"x'
req GET '/v2/lib/tool%22%0A/tags/list'
sleep 0.3
reg_stop
if command -v jq >/dev/null; then
	check "json: every line is one JSON object" jq -e . "$TMP/logs/json.log" >/dev/null
	got=$(jq -r 'select(.path == "/v2/lib/tool/manifests/v1" and .method == "GET") | [.remote, .method, .proto, .status, .bytes, (.duration_ms|type), .user_agent, .repository, .digest] | join(" ")' "$TMP/logs/json.log")
	check "json: the fields ($got)" [ "$got" = "127.0.0.1 GET HTTP/1.1 200 $(stat -c %s "$TMP/man.json") number "$'agent\x01"x'" lib/tool $MAN_D" ]
	check "json: time in UTC with milliseconds" jq -se 'all(.time | test("^[0-9-]{10}T[0-9:]{8}\\.[0-9]{3}Z$"))' "$TMP/logs/json.log" >/dev/null
	check "json: a path with a quote and a newline parses" jq -se 'any(.path == "/v2/lib/tool\"\n/tags/list")' "$TMP/logs/json.log" >/dev/null
else
	skip "jq is not installed (deploy/install-deps.sh --test installs it)"
fi

# ---- stderr, off ----
printf 'access_log = stderr\n' >"$TMP/stderr.conf"
reg_start "$BIN" -c "$TMP/stderr.conf"
req GET /v2/app/tags/list
sleep 0.2
reg_stop
check "access_log = stderr: lines in the log" grep -q '"GET /v2/app/tags/list HTTP/1.1" ' "$REG_LOG"
reg_start "$BIN"
req GET /v2/app/tags/list
sleep 0.2
reg_stop
check "the default (off): no access lines" bash -c "! grep -q 'HTTP/1.1\"' '$REG_LOG'"
printf 'access_log = /nonexistent/dir/a.log\n' >"$TMP/bad.conf"
rc=0
timeout 10 "$BIN" serve -c "$TMP/bad.conf" --listen 127.0.0.1:0 --data "$TMP/data" 2>"$TMP/bad.out" || rc=$?
check "an access log that cannot be opened stops start-up (exit $rc)" [ "$rc" = 1 ]
check "...saying which file and why" grep -q "cannot open access log /nonexistent/dir/a.log: No such file" "$TMP/bad.out"

# ---- audit lines (info) ----
AD=$TMP/auditdata
mkdir -p "$AD"
for u in alice bob; do
	echo "pw-$u" | "$BIN" user add "$u" --password-stdin --cost 4 --data "$AD" >/dev/null
done
cat >"$TMP/audit.conf" <<CONF
auth = basic
auth_rule = "team-a/** alice pull,push,delete"
auth_rule = "team-a/** bob pull"
access_log = $TMP/logs/audit-access.log
CONF
: >"$REG_LOG"
"$BIN" serve -c "$TMP/audit.conf" --listen 127.0.0.1:0 --data "$AD" 2>>"$REG_LOG" &
REG_PID=$!
for _ in $(seq 1 100); do
	PORT=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$REG_LOG" | tail -1)
	[ -n "$PORT" ] && curl -s -o /dev/null "http://127.0.0.1:$PORT/v2/" && break
	sleep 0.1
done
BASE="http://127.0.0.1:$PORT"
A=(-u alice:pw-alice)
req GET /v2/ "${A[@]}"
expect "alice logs in" 200
push_image team-a/app v1 "${A[@]}"
expect "alice pushes" 201
first=$MAN_D
push_image team-a/app v1 "${A[@]}"
expect "alice moves the tag" 201
second=$MAN_D mounted=$BLOB_D
req POST "/v2/team-a/other/blobs/uploads/?mount=$BLOB_D&from=team-a/app" "${A[@]}"
expect "alice mounts" 201
req DELETE /v2/team-a/app/manifests/v1 "${A[@]}"
expect "alice deletes the tag" 202
req PUT /v2/team-a/app/manifests/v2 -u bob:pw-bob -H "Content-Type: $MT" --data-binary "@$TMP/man.json"
expect "bob may not push" 403
req GET /v2/team-a/app/tags/list -u alice:wrong
expect "a wrong password" 401
req GET /v2/team-a/app/tags/list
expect "no credentials" 401
sleep 0.3
check "audit: the login" grep -q "info audit: login alice from 127.0.0.1 (basic)" "$REG_LOG"
check "audit: the push, with its tag and digest, by alice" grep -q "info audit: push team-a/app:v1@$first by alice" "$REG_LOG"
check "audit: the tag moved" grep -q "info audit: push team-a/app:v1@$second by alice" "$REG_LOG"
check "audit: the mount" grep -q "info audit: mount team-a/other@$mounted by alice" "$REG_LOG"
check "audit: the delete" grep -q "info audit: delete team-a/app:v1 by alice" "$REG_LOG"
check "audit: bob refused" grep -q "info audit: denied push team-a/app to bob from 127.0.0.1" "$REG_LOG"
check "audit: the wrong password" grep -q "info audit: denied pull team-a/app from 127.0.0.1: credentials refused" "$REG_LOG"
check "audit: no line for the anonymous first step of a login" [ "$(grep -c 'audit: denied' "$REG_LOG")" = 2 ]
check "audit: a blob's upload is no info line" bash -c "! grep -q 'info audit: upload' '$REG_LOG'"
check "access log: the user" grep -qE "^127\.0\.0\.1 - alice .*\"DELETE /v2/team-a/app/manifests/v1 HTTP/1.1\" 202 " "$TMP/logs/audit-access.log"
check "access log: bob's refusal" grep -qE "^127\.0\.0\.1 - bob .*\"PUT /v2/team-a/app/manifests/v2 HTTP/1.1\" 403 " "$TMP/logs/audit-access.log"
reg_stop

# token mode: a login at /token
sed -i 's/^auth = basic/auth = token/' "$TMP/audit.conf"
: >"$REG_LOG"
"$BIN" serve -c "$TMP/audit.conf" --listen 127.0.0.1:0 --data "$AD" 2>>"$REG_LOG" &
REG_PID=$!
for _ in $(seq 1 100); do
	PORT=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$REG_LOG" | tail -1)
	[ -n "$PORT" ] && curl -s -o /dev/null "http://127.0.0.1:$PORT/v2/" && break
	sleep 0.1
done
BASE="http://127.0.0.1:$PORT"
req GET "/token?service=registry&scope=repository:team-a/app:pull" -u alice:pw-alice
expect "a token for alice" 200
req GET "/token?service=registry&scope=repository:team-a/app:pull" -u alice:nope
expect "a wrong password at /token" 401
req GET "/token?service=registry&scope=repository:team-a/app:pull"
expect "an anonymous token" 200
sleep 0.3
check "audit: the token login" grep -q "info audit: login alice from 127.0.0.1 (token)" "$REG_LOG"
check "audit: the refused token login" grep -q "info audit: denied login from 127.0.0.1: credentials refused" "$REG_LOG"
check "audit: no login line for an anonymous token" [ "$(grep -c 'audit: login' "$REG_LOG")" = 1 ]
reg_stop

# auth off: changes are audited all the same, by anonymous
reg_start "$BIN"
push_image pub v1
sleep 0.2
reg_stop
check "audit with auth off: by anonymous" grep -q "info audit: push pub:v1@$MAN_D by anonymous" "$REG_LOG"

summary
