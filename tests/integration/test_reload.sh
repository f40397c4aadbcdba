#!/bin/bash
# Reload (SIGHUP, `registry reload`): a changed rule, group, log level and
# access log take effect without a restart; a bad file keeps the running
# configuration and logs FILE:LINE; keys that need a restart are named and
# kept; an upload in progress and a slow request carry on across it; and
# under load (parallel pulls and pushes over HTTPS), changing a rule and the
# certificate fails no request, and afterwards the new rule is in effect and
# new connections get the new certificate (its serial, by openssl s_client).
# timeout: 300
set -u
. "$(dirname "$0")/lib.sh"
BIN=$1
MT=application/vnd.oci.image.manifest.v1+json
DATA=$TMP/data
mkdir -p "$DATA"

# serve CONF [args]: starts the registry with CONF on a free port; sets
# PORT and REG_PID (BASE is the caller's: the scheme differs).
serve() {
	local conf=$1
	shift
	: >"$REG_LOG"
	"$BIN" serve -c "$conf" --listen 127.0.0.1:0 --data "$DATA" "$@" 2>>"$REG_LOG" &
	REG_PID=$!
	for _ in $(seq 1 100); do
		PORT=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$REG_LOG" | tail -1)
		[ -n "$PORT" ] && return 0
		kill -0 "$REG_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "registry did not start:" >&2
	cat "$REG_LOG" >&2
	exit 1
}

# reloaded N: waits until the log holds N "reload:" outcome lines.
reloaded() {
	for _ in $(seq 1 50); do
		[ "$(grep -cE 'reload: (configuration from|.*the running configuration is kept)' "$REG_LOG")" -ge "$1" ] && return 0
		sleep 0.1
	done
	return 1
}

# push_image REPO TAG [curl args]: a config blob and a manifest naming it.
push_image() {
	local repo=$1 tag=$2
	shift 2
	printf '{"n":"%s-%s-%s"}' "$repo" "$tag" "$RANDOM$RANDOM" >"$TMP/cfg.json"
	local d
	d=$(sha256 "$TMP/cfg.json")
	req POST "/v2/$repo/blobs/uploads/?digest=$d" "$@" --data-binary "@$TMP/cfg.json" \
		-H 'Content-Type: application/octet-stream'
	printf '{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[]}' \
		"$MT" "$d" "$(stat -c %s "$TMP/cfg.json")" >"$TMP/man.json"
	req PUT "/v2/$repo/manifests/$tag" "$@" -H "Content-Type: $MT" --data-binary "@$TMP/man.json"
}

for u in alice bob; do
	echo "pw-$u" | "$BIN" user add "$u" --password-stdin --cost 4 --data "$DATA" >/dev/null
done
A=(-u alice:pw-alice)
B=(-u bob:pw-bob)

# ---- rules, groups, log level, access log; bad files; restart-only keys ----
CONF=$TMP/registry.conf
cat >"$CONF" <<EOF
auth = basic
auth_rule = "team-a/** alice pull,push"
auth_rule = "team-a/** bob pull"
EOF
serve "$CONF"
BASE="http://127.0.0.1:$PORT"
push_image team-a/app v1 "${A[@]}"
expect "alice pushes" 201
push_image team-a/app v2 "${B[@]}"
expect "bob may not push yet" 403

# An upload session begun before the reload, finished after it.
req POST /v2/team-a/app/blobs/uploads/ "${A[@]}"
expect "alice starts an upload" 202
LOC=$(hdr Location)
head -c 100000 /dev/urandom >"$TMP/part1"
req PATCH "$LOC" "${A[@]}" -H 'Content-Type: application/octet-stream' --data-binary "@$TMP/part1"
expect "its first chunk" 202
LOC=$(hdr Location)
# A slow request in flight across the reload (about 2 s at 100 KB/s).
head -c 200000 /dev/urandom >"$TMP/slow.bin"
SLOW_D=$(sha256 "$TMP/slow.bin")
curl -s -o /dev/null -w '%{http_code}' --limit-rate 100K "${A[@]}" -X POST \
	-H 'Content-Type: application/octet-stream' --data-binary "@$TMP/slow.bin" \
	"$BASE/v2/team-a/app/blobs/uploads/?digest=$SLOW_D" >"$TMP/slow.code" &
SLOW=$!
sleep 0.5

cat >"$CONF" <<EOF
auth = basic
auth_group = "pushers: alice bob"
auth_rule = "team-a/** @pushers pull,push"
log_level = debug
access_log = $TMP/access.log
EOF
"$BIN" reload -c "$CONF" -d "$DATA" >"$TMP/reload.out" 2>&1
check "registry reload exits 0" [ $? = 0 ]
check "...naming the pid it signalled" grep -q "sent SIGHUP to pid $REG_PID" "$TMP/reload.out"
check "the reload is applied" reloaded 1
check "...and logged" grep -q "reload: configuration from $CONF applied (auth basic, 1 rule(s), 1 group(s), 0 upstream(s), 0 quota(s), 0 immutable, 0 retain, delete on, access log $TMP/access.log)" "$REG_LOG"
push_image team-a/app v2 "${B[@]}"
expect "bob may push now (a new group and rule)" 201
cat "$TMP/part1" >"$TMP/whole"
head -c 50000 /dev/urandom >"$TMP/part2"
cat "$TMP/part2" >>"$TMP/whole"
req PUT "$LOC?digest=$(sha256 "$TMP/whole")" "${A[@]}" -H 'Content-Type: application/octet-stream' \
	--data-binary "@$TMP/part2"
expect "the upload begun before the reload completes after it" 201
reg_wait "$SLOW" 30
check "the slow push in flight across the reload succeeded ($(cat "$TMP/slow.code"))" [ "$(cat "$TMP/slow.code")" = 201 ]
req HEAD "/v2/team-a/app/blobs/$SLOW_D" "${A[@]}"
expect "...and its blob is there" 200
check "the new log level: debug lines" grep -q ' debug request PUT /v2/team-a/app/manifests/v2' "$REG_LOG"
check "the new access log gets lines" grep -q '"PUT /v2/team-a/app/manifests/v2 HTTP/1.1" 201' "$TMP/access.log"

# A bad file: FILE:LINE, and nothing changes.
cp "$CONF" "$TMP/good.conf"
printf 'auth_rule = "team-a/** @nosuchgroup pull"\n' >>"$CONF"
kill -HUP "$REG_PID"
check "a bad file: logged" reloaded 2
check "...with FILE:LINE and what is wrong" grep -qE "error reload: $CONF:6: .*nosuchgroup.*; the running configuration is kept" "$REG_LOG"
push_image team-a/app v3 "${B[@]}"
expect "...and the running rules still apply" 201
printf 'auth = basic\nno equals sign here\n' >"$CONF"
kill -HUP "$REG_PID"
check "a syntax error: logged" reloaded 3
check "...with FILE:LINE" grep -q "error reload: $CONF:2: missing '=' after the key; the running configuration is kept" "$REG_LOG"
req GET /v2/team-a/app/tags/list "${B[@]}"
expect "...and bob still pulls" 200
printf 'auth = basic\nauth_users = %s/missing-dir/htpasswd\nauth_token_key = /nonexistent/k\nauth = token\n' "$TMP" >"$CONF"
kill -HUP "$REG_PID"
check "a key set twice: logged, kept" reloaded 4

# Keys that need a restart: named, kept; the rest applied.
cp "$TMP/good.conf" "$CONF"
sed -i 's/^log_level = debug/log_level = info/' "$CONF"
printf 'threads = 7\nconnection_timeout = 5m\nupload_ttl = 1h\nlisten = 127.0.0.1:1\n' >>"$CONF"
kill -HUP "$REG_PID"
check "restart-only keys: the reload applies the rest" reloaded 5
check "...naming threads and connection_timeout" bash -c "grep -q 'warn reload: threads changed, which needs a restart: the running value is kept' '$REG_LOG' && grep -q 'reload: connection_timeout changed' '$REG_LOG'"
check "...not upload_ttl, which reloads" bash -c "! grep -q 'reload: upload_ttl changed' '$REG_LOG'"
check "...not listen, which --listen set (flags win over the file, as at start)" bash -c "! grep -q 'reload: listen changed' '$REG_LOG'"
check "...nor what did not change" bash -c "! grep -q 'reload: data changed' '$REG_LOG'"
check "...still on the same port" curl -sf -o /dev/null "${A[@]}" "$BASE/v2/"
n=$(grep -c ' debug ' "$REG_LOG")
req GET /v2/ "${A[@]}"
check "...log level info again: no more debug lines" [ "$(grep -c ' debug ' "$REG_LOG")" = "$n" ]
kill -0 "$REG_PID"
check "the registry still runs after every reload" [ $? = 0 ]
reg_stop

# listen and data from the file (no flags): named when they change.
printf 'listen = 127.0.0.1:0\ndata = %s\n' "$DATA" >"$CONF"
: >"$REG_LOG"
"$BIN" serve -c "$CONF" 2>>"$REG_LOG" &
REG_PID=$!
for _ in $(seq 1 50); do grep -q listening "$REG_LOG" && break; sleep 0.1; done
printf 'listen = 127.0.0.1:1\ndata = %s/elsewhere\n' "$TMP" >"$CONF"
"$BIN" reload -d "$DATA" >/dev/null
check "listen and data changed: reloaded" reloaded 1
check "...naming listen" grep -q "warn reload: listen changed, which needs a restart: the running value is kept" "$REG_LOG"
check "...naming data" grep -q "warn reload: data changed, which needs a restart: the running value is kept" "$REG_LOG"
check "...and still serving the first folder" [ ! -e "$TMP/elsewhere" ]
reg_stop

# `registry reload` with nothing serving the folder.
"$BIN" reload -d "$DATA" >"$TMP/reload.out" 2>&1
check "reload with no server: exit 1" [ $? = 1 ]
check "...saying the lock is free" grep -q "no registry serves $DATA (its lock is free)" "$TMP/reload.out"
"$BIN" reload -d "$TMP/nowhere" >"$TMP/reload.out" 2>&1
check "reload of a folder never served: exit 1" [ $? = 1 ]
"$BIN" reload extra >/dev/null 2>&1
check "reload with an argument: exit 2" [ $? = 2 ]
# A stale lock file naming a live process that is no registry (this shell).
echo $$ >"$DATA/serve.lock"
exec 9<"$DATA/serve.lock"
flock -x 9
"$BIN" reload -d "$DATA" >"$TMP/reload.out" 2>&1
check "a lock held by something that is no registry: exit 1" [ $? = 1 ]
check "...saying so" grep -q "pid $$ (from $DATA/serve.lock) is not a registry" "$TMP/reload.out"
exec 9<&-

# ---- under load: a rule and the certificate change, no request fails ----
if ! command -v openssl >/dev/null; then
	skip "openssl is not installed (deploy/install-deps.sh --test installs it)"
	summary
	exit
fi
CERTS=$TMP/tls
"$BIN" cert 127.0.0.1 localhost --out "$CERTS" >/dev/null
serial() { # serial FILE: a certificate's serial, upper-case hex
	openssl x509 -in "$1" -noout -serial | sed 's/^serial=//' | tr a-f A-F
}
served_serial() { # the serial a new connection to the registry gets
	openssl s_client -connect "127.0.0.1:$PORT" -servername localhost </dev/null 2>/dev/null |
		openssl x509 -noout -serial | sed 's/^serial=//' | tr a-f A-F
}
cat >"$CONF" <<EOF
auth = basic
tls_cert = $CERTS/server.crt
tls_key = $CERTS/server.key
auth_rule = "load/** alice pull,push"
auth_rule = "load/** bob pull"
auth_rule = "team-a/** alice,bob pull"
EOF
serve "$CONF"
BASE="https://localhost:$PORT"
CURL_TLS=(--cacert "$CERTS/ca.crt" --resolve "localhost:$PORT:127.0.0.1")
FIRST=$(serial "$CERTS/server.crt")
check "the served certificate is the first one" [ "$(served_serial)" = "$FIRST" ]
push_image load/img v1 "${A[@]}" "${CURL_TLS[@]}"
expect "a first push over HTTPS" 201

# Workers: each pulls (new connections, so new handshakes) and pushes until
# told to stop, writing one line per request: its status.
STOP=$TMP/stop
worker() {
	local i=$1 n=0 code d f=$TMP/w$1.blob
	while [ ! -e "$STOP" ]; do
		n=$((n + 1))
		code=$(curl -s -o /dev/null -w '%{http_code}' "${CURL_TLS[@]}" "${A[@]}" \
			-H "Accept: $MT" "$BASE/v2/load/img/manifests/v1")
		echo "pull $code" >>"$TMP/w$i.log"
		printf 'w%s-%s-%s' "$i" "$n" "$RANDOM" >"$f"
		d=$(sha256 "$f")
		code=$(curl -s -o /dev/null -w '%{http_code}' "${CURL_TLS[@]}" "${A[@]}" -X POST \
			-H 'Content-Type: application/octet-stream' --data-binary "@$f" \
			"$BASE/v2/load/img/blobs/uploads/?digest=$d")
		echo "push $code" >>"$TMP/w$i.log"
	done
}
WORKERS=()
for i in 1 2 3 4; do
	worker "$i" &
	WORKERS+=($!)
done
sleep 1
for round in 1 2 3; do
	# A new certificate from the same CA, moved into place whole, and the
	# rule for bob flipped between pull and pull,push.
	mkdir -p "$TMP/tls-new"
	cp "$CERTS/ca.crt" "$CERTS/ca.key" "$TMP/tls-new/" # the same CA: clients trust it
	"$BIN" cert 127.0.0.1 localhost --out "$TMP/tls-new" >/dev/null
	cp "$TMP/tls-new/server.crt" "$CERTS/server.crt.new"
	cp "$TMP/tls-new/server.key" "$CERTS/server.key.new"
	mv "$CERTS/server.key.new" "$CERTS/server.key"
	mv "$CERTS/server.crt.new" "$CERTS/server.crt"
	if [ $((round % 2)) = 1 ]; then
		sed -i 's|^auth_rule = "load/\*\* bob pull"|auth_rule = "load/** bob pull,push"|' "$CONF"
	else
		sed -i 's|^auth_rule = "load/\*\* bob pull,push"|auth_rule = "load/** bob pull"|' "$CONF"
	fi
	"$BIN" reload -c "$CONF" -d "$DATA" >/dev/null
	check "round $round: reloaded" reloaded $round
	sleep 1
done
touch "$STOP"
reg_wait_all "${WORKERS[@]}"
total=$(cat "$TMP"/w*.log | wc -l)
bad=$(cat "$TMP"/w*.log | grep -cvE '^(pull 200|push 201)$')
check "under load: $total requests during 3 reloads, none failed ($bad)" [ "$bad" = 0 ]
check "...and there were some ($total)" [ "$total" -ge 40 ]
check "...with pulls and pushes" bash -c "grep -q '^pull 200' '$TMP/w1.log' && grep -q '^push 201' '$TMP/w1.log'"
NEW=$(serial "$CERTS/server.crt")
check "the certificate changed" [ "$NEW" != "$FIRST" ]
check "a new connection gets the new certificate (serial $NEW)" [ "$(served_serial)" = "$NEW" ]
check "the reload line names it" grep -q "TLS certificate serial $NEW" "$REG_LOG"
push_image load/img bob "${B[@]}" "${CURL_TLS[@]}"
expect "the new rule is in effect: bob may push (3 flips)" 201

# A certificate and key that are no pair: the running one stays.
cp "$CERTS/ca.key" "$CERTS/server.key"
kill -HUP "$REG_PID"
check "a key of another certificate: logged" reloaded 4
check "...saying which" grep -q "error reload: $CERTS/server.key is not the key of the certificate in $CERTS/server.crt; the running configuration is kept" "$REG_LOG"
check "...and HTTPS still serves the last good one" [ "$(served_serial)" = "$NEW" ]
req GET /v2/ "${A[@]}" "${CURL_TLS[@]}"
expect "...to clients that trust the CA" 200
# TLS cannot be switched off by a reload.
cp "$TMP/tls-new/server.key" "$CERTS/server.key"
grep -v '^tls_' "$CONF" >"$TMP/plain.conf"
cp "$TMP/plain.conf" "$CONF"
kill -HUP "$REG_PID"
check "tls off: reloaded with the rest" reloaded 5
check "...naming it" grep -q "reload: tls_cert/tls_key would turn HTTPS off, which needs a restart" "$REG_LOG"
req GET /v2/ "${A[@]}" "${CURL_TLS[@]}"
expect "...still HTTPS" 200
reg_stop

summary
