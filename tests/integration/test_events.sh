#!/bin/bash
# Events, against a real receiver: Debian's `webhook` (adnanh/webhook), which
# checks the X-Registry-Signature HMAC itself and runs a recorder per POST.
# The receiver is stopped, restarted and slowed (past the POST timeout), and
# the registry is killed with SIGKILL in between: every acknowledged push
# arrives, once per event id (retries repeat ids, never invent new ones), in
# push order per repository; a slow receiver does not hold up pushes. Also:
# pull events for GET and not HEAD, delete and mount events, the repos= and
# events= filters, a wrong secret refused by the receiver and retried, the
# actor of signed-in requests (refused requests make no event), and bad
# notify lines or secret files stop start-up.
# timeout: 400
set -u
. "$(dirname "$0")/lib.sh"
BIN=$1
MT=application/vnd.oci.image.manifest.v1+json

if ! command -v webhook >/dev/null || ! command -v jq >/dev/null; then
	skip "test_events: needs Debian's webhook and jq (deploy/install-deps.sh --test)"
	summary
	exit
fi

WH=$TMP/wh
mkdir -p "$WH"
WH_PID=
WPORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
printf 's3cret\n' >"$TMP/secret"
printf 'wrong\n' >"$TMP/wrong"
echo 0 >"$WH/delay"

# The recorder: one line per POST it is given (the envelope, as webhook
# re-encodes it), written before it sleeps the delay, so a POST the registry
# gave up on is still recorded (a duplicate the test must see counted once).
cat >"$WH/record.sh" <<EOF
#!/bin/sh
printf '%s\n' "\$2" >>"$WH/\$1.jsonl"
sleep "\$(cat "$WH/delay")"
# while HOOK.hold exists, the answer is held (HOOK.held says so), 60 s at most
if [ -e "$WH/\$1.hold" ]; then
	touch "$WH/\$1.held"
	i=0
	while [ -e "$WH/\$1.hold" ] && [ \$i -lt 600 ]; do sleep 0.1; i=\$((i + 1)); done
	rm -f "$WH/\$1.held"
fi
echo recorded
EOF
chmod +x "$WH/record.sh"
# "signed": only POSTs whose HMAC matches (anything else: 500, which the
# registry retries); "plain": no check.
cat >"$WH/hooks.json" <<EOF
[{"id": "signed", "execute-command": "$WH/record.sh",
  "pass-arguments-to-command": [{"source": "string", "name": "signed"}, {"source": "entire-payload"}],
  "include-command-output-in-response": true,
  "trigger-rule": {"match": {"type": "payload-hmac-sha256", "secret": "s3cret",
    "parameter": {"source": "header", "name": "X-Registry-Signature"}}}},
 {"id": "plain", "execute-command": "$WH/record.sh",
  "pass-arguments-to-command": [{"source": "string", "name": "plain"}, {"source": "entire-payload"}],
  "include-command-output-in-response": true}]
EOF

wh_start() {
	webhook -hooks "$WH/hooks.json" -ip 127.0.0.1 -port "$WPORT" -verbose >>"$WH/webhook.log" 2>&1 &
	WH_PID=$!
	for _ in $(seq 1 50); do
		curl -s -o /dev/null "http://127.0.0.1:$WPORT/hooks/none" && return 0
		sleep 0.1
	done
	echo "webhook did not start:" >&2
	cat "$WH/webhook.log" >&2
	exit 1
}
wh_stop() {
	[ -n "$WH_PID" ] || return 0
	kill "$WH_PID" 2>/dev/null
	reg_wait "$WH_PID" 10
	WH_PID=
}
trap 'wh_stop; reg_cleanup' EXIT

URL=http://127.0.0.1:$WPORT/hooks
cat >"$TMP/events.conf" <<EOF
notify = $URL/signed events=push,delete,pull,mount secret=$TMP/secret timeout=1s
notify = $URL/plain events=push repos=team-a/** timeout=120s
notify = $URL/signed?wrong-key secret=$TMP/wrong
immutable = "ev/locked v*"
EOF

: >"$TMP/acked"
# push_image REPO TAG [curl args]: config + one layer + manifest; an
# acknowledged (201) push is appended to $TMP/acked as "REPO TAG DIGEST".
push_image() {
	local repo=$1 tag=$2 d
	shift 2
	head -c 2000 /dev/urandom >"$TMP/layer"
	printf '{"tag":"%s"}' "$tag" >"$TMP/config"
	for f in "$TMP/layer" "$TMP/config"; do
		d=$(sha256 "$f")
		req POST "/v2/$repo/blobs/uploads/?digest=$d" --data-binary @"$f" "$@"
	done
	LAYER=$(sha256 "$TMP/layer")
	printf '{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":2000}]}' \
		"$MT" "$(sha256 "$TMP/config")" "$(wc -c <"$TMP/config")" "$LAYER" >"$TMP/manifest"
	req PUT "/v2/$repo/manifests/$tag" -H "Content-Type: $MT" --data-binary @"$TMP/manifest" "$@"
	[ "$CODE" = 201 ] && echo "$repo $tag $(sha256 "$TMP/manifest")" >>"$TMP/acked"
}

# events FILE: one line per event received: "ID ACTION REPO TAG DIGEST ACTOR".
events() {
	[ -s "$WH/$1.jsonl" ] || return 0
	jq -r '.events[] | [.id, .action, .target.repository, (.target.tag // "-"),
		(.target.digest // "-"), (.actor.name // "-")] | join(" ")' "$WH/$1.jsonl"
}
# distinct FILE ACTION: the events of ACTION, each id once, in first arrival order.
distinct() {
	events "$1" | awk -v a="$2" '$2 == a && !seen[$1]++'
}
# wait_for FILE ACTION N: until N distinct events of ACTION arrived (60 s).
wait_for() {
	for _ in $(seq 1 600); do
		[ "$(distinct "$1" "$2" | wc -l)" -ge "$3" ] && return 0
		sleep 0.1
	done
	return 1
}

# metric NAME{LABELS}: its value on a fresh /metrics page ("" if absent).
metric() {
	curl -s "$BASE/metrics" | grep -F "$1 " | grep -v '^#' | head -1 | awk '{print $NF}'
}
# wait_metric NAME{LABELS} MIN: until the value is at least MIN (20 s).
wait_metric() {
	local v
	for _ in $(seq 1 200); do
		v=$(metric "$1")
		[ -n "$v" ] && [ "$v" -ge "$2" ] && return 0
		sleep 0.1
	done
	echo "$1 is '$v', not >= $2" >&2
	return 1
}

reg_start "$BIN" -c "$TMP/events.conf"
wh_start

# ---- a push, as distribution's envelope, signed ----
push_image ev/a v1 -A "events-test/1"
check "push acknowledged" [ "$CODE" = 201 ]
SIZE1=$(wc -c <"$TMP/manifest")
push_image team-a/app v1
check "wait: the two pushes arrive" wait_for signed push 2
jq -c '.events[0]' "$WH/signed.jsonl" | head -1 >"$TMP/first"
check "event: action push" [ "$(jq -r .action "$TMP/first")" = push ]
check "event: a uuid id" grep -qE '"id":"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-' "$TMP/first"
check "event: timestamp" grep -qE '"timestamp":"20[0-9-]{8}T[0-9:]{8}\.[0-9]{9}Z"' "$TMP/first"
check "event: target" [ "$(jq -r '[.target.repository, .target.tag, .target.mediaType, .target.size] | join(" ")' "$TMP/first")" = "ev/a v1 $MT $SIZE1" ]
check "event: the digest pushed" [ "$(jq -r .target.digest "$TMP/first")" = "$(sed -n '1s/.* //p' "$TMP/acked")" ]
check "event: request" [ "$(jq -r '[.request.method, .request.addr, .request.useragent] | join(" ")' "$TMP/first")" = "PUT 127.0.0.1 events-test/1" ]
check "event: anonymous actor has no name" [ "$(jq -r '.actor.name // "none"' "$TMP/first")" = none ]
check "event: source instance" grep -q '"instanceID":"' "$TMP/first"

# ---- /metrics: per receiver, by the index of its notify line ----
check "the start-up log names receiver 0's index" grep -q "notify $URL/signed .*receiver=\"0\" in /metrics" "$REG_LOG"
check "wait: receiver 0 delivered the two pushes" wait_metric 'registry_events_delivered_total{receiver="0"}' 2
check "receiver 1 (team-a only) delivered one" wait_metric 'registry_events_delivered_total{receiver="1"}' 1
check "receiver 2 (wrong key): failed POSTs counted" wait_metric 'registry_events_failed_posts_total{receiver="2"}' 1
curl -s "$BASE/metrics" >"$TMP/metrics"
check "receiver 2: both pushes still queued" grep -qx 'registry_events_queued{receiver="2"} 2' "$TMP/metrics"
check "receiver 2: none delivered" grep -qx 'registry_events_delivered_total{receiver="2"} 0' "$TMP/metrics"
check "dropped pull events: a family, 0" grep -qx 'registry_events_dropped_total{receiver="0"} 0' "$TMP/metrics"
check "no receiver URL on the page" bash -c "! grep -q 'hooks/' '$TMP/metrics'"
if command -v promtool >/dev/null; then
	check "the page with receivers passes promtool" bash -c "promtool check metrics <'$TMP/metrics'"
else
	skip "promtool (package prometheus) is not installed"
fi

# ---- pulls: GET is one, HEAD is not ----
req HEAD /v2/ev/a/manifests/v1
req GET /v2/ev/a/manifests/v1
check "pull answered" [ "$CODE" = 200 ]
check "wait: the pull event arrives" wait_for signed pull 1
sleep 1.5
check "one pull event (the HEAD made none)" [ "$(distinct signed pull | wc -l)" = 1 ]
check "pull event: repository and tag" [ "$(distinct signed pull | cut -d' ' -f3,4)" = "ev/a v1" ]

# ---- the receiver stops; pushes go on and are queued ----
wh_stop
for i in 2 3 4; do
	push_image ev/a "v$i"
	push_image ev/b "v$i"
done
check "pushes acknowledged with the receiver down" [ "$(wc -l <"$TMP/acked")" = 8 ]
n=$(reg_sql "$TMP/data/registry.db" "SELECT count(*) FROM events WHERE endpoint = '$URL/signed'")
check "the six pushes are queued in registry.db ($n)" [ "$n" -ge 6 ]
check "/metrics: receiver 0's queue depth follows ($(metric 'registry_events_queued{receiver="0"}'))" \
	wait_metric 'registry_events_queued{receiver="0"}' 6
check "/metrics: receiver 0's failed POSTs move while it is down" \
	wait_metric 'registry_events_failed_posts_total{receiver="0"}' 1

# ---- kill -9 of the registry; restart; more pushes ----
kill -KILL "$REG_PID"
reg_wait "$REG_PID"
REG_PID=
reg_start "$BIN" -c "$TMP/events.conf"
check "restart says what is queued" grep -q "notify $URL/signed .*[1-9][0-9]* queued" "$REG_LOG"
push_image ev/a v5
push_image ev/b v5

# ---- the receiver comes back slow: longer than timeout=1s per POST ----
echo 2 >"$WH/delay"
wh_start
sleep 1
push_image ev/a v6
check "a push with a slow receiver: 201" [ "$CODE" = 201 ]
sleep 4
echo 0 >"$WH/delay"
total=$(wc -l <"$TMP/acked")
check "wait: every acknowledged push arrives ($total)" wait_for signed push "$total"
# queued: the rows of an endpoint still in registry.db (acknowledged ones go)
queued() {
	reg_sql "$TMP/data/registry.db" "SELECT count(*) FROM events WHERE endpoint = '$1'"
}
for _ in $(seq 1 600); do
	[ "$(queued "$URL/signed")" = 0 ] && break
	sleep 0.1
done
check "and the receiver acknowledged them all: the queue is empty" [ "$(queued "$URL/signed")" = 0 ]
check "/metrics: receiver 0's queue is 0 again" [ "$(metric 'registry_events_queued{receiver="0"}')" = 0 ]
check "/metrics: and what it delivered since the restart counted" \
	wait_metric 'registry_events_delivered_total{receiver="0"}' 8

# ---- once per id, in order per repository ----
distinct signed push | awk '{ print $3, $4, $5 }' | sort >"$TMP/got"
sort "$TMP/acked" >"$TMP/want"
check "each acknowledged push arrived, none invented" cmp -s "$TMP/got" "$TMP/want"
check "as many distinct push ids as acknowledged pushes" [ "$(distinct signed push | wc -l)" = "$total" ]
raw=$(events signed | awk '$2 == "push"' | wc -l)
check "retries repeat ids ($raw received, $total distinct)" [ "$raw" -gt "$total" ]
for repo in ev/a ev/b; do
	check "$repo: in push order" [ "$(distinct signed push | awk -v r="$repo" '$3 == r { print $4 }' | tr '\n' ' ')" = \
		"$(awk -v r="$repo" '$1 == r { print $2 }' "$TMP/acked" | tr '\n' ' ')" ]
done
check "the registry logged the failures and the recovery" \
	bash -c "grep -q 'events: $URL/signed: .*retrying with backoff' '$REG_LOG' && grep -q 'events: $URL/signed: delivering again' '$REG_LOG'"

# ---- filters: repos= and events= (the plain receiver: team-a pushes only) ----
check "wait: the filtered receiver has team-a's push" wait_for plain push 1
check "repos= sends only matching repositories" [ "$(events plain | awk '{ print $3 }' | sort -u)" = team-a/app ]
check "events=push sends no pulls" [ "$(events plain | awk '$2 != "push"' | wc -l)" = 0 ]

# ---- a wrong secret: refused by the receiver, kept, retried ----
check "the receiver refused the wrongly signed POSTs" grep -q 'invalid payload signature' "$WH/webhook.log"
check "the registry retries them" grep -q "events: $URL/signed?wrong-key: .*; retrying with backoff" "$REG_LOG"
wrong=$(queued "$URL/signed?wrong-key")
check "and keeps them queued ($wrong)" [ "$wrong" = "$total" ]

# ---- a receiver that does not answer holds up no push ----
# The plain receiver holds its answer to a POST (timeout=120s: the registry
# waits for it) while another push is made: that push is acknowledged with
# the POST still open, which no timing could fake.
n0=$(distinct plain push | wc -l)
layer=$LAYER # ev/a's, mounted below
touch "$WH/plain.hold"
push_image team-a/hold v1
for _ in $(seq 1 300); do [ -e "$WH/plain.held" ] && break; sleep 0.1; done
check "wait: the receiver holds a POST open" [ -e "$WH/plain.held" ]
push_image team-a/hold v2
check "a push while the receiver holds a POST open: 201" [ "$CODE" = 201 ]
check "...acknowledged with that POST still open" [ -e "$WH/plain.held" ]
rm -f "$WH/plain.hold"
check "both pushes arrive once it answers" wait_for plain push $((n0 + 2))
LAYER=$layer

# ---- delete and mount ----
req DELETE /v2/ev/b/manifests/v2
check "tag deleted" [ "$CODE" = 202 ]
req POST "/v2/ev/c/blobs/uploads/?mount=$LAYER&from=ev/a"
check "blob mounted" [ "$CODE" = 201 ]
check "wait: the delete event" wait_for signed delete 1
check "wait: the mount event" wait_for signed mount 1
check "delete event: repository and tag" [ "$(distinct signed delete | cut -d' ' -f3,4)" = "ev/b v2" ]
check "mount event: repository and digest" [ "$(distinct signed mount | cut -d' ' -f3,5)" = "ev/c $LAYER" ]

# ---- a push a policy refuses (an immutable tag moved) queues nothing ----
push_image ev/locked v1
check "ev/locked:v1 pushed" [ "$CODE" = 201 ]
push_image ev/locked v1
check "moving the immutable tag is refused" [ "$CODE" = 403 ]
check "wait: the accepted push arrives" wait_for signed push "$(wc -l <"$TMP/acked")"
sleep 1.5
check "the refused push made no event" [ "$(distinct signed push | awk '$3 == "ev/locked"' | wc -l)" = 1 ]
reg_stop

# ---- who: the actor of signed-in requests; refused ones make no event ----
for u in alice bob; do
	echo "pw-$u" | "$BIN" user add "$u" --password-stdin --cost 4 --data "$TMP/data" >/dev/null
done
{
	cat "$TMP/events.conf"
	printf 'auth = basic\n'
	printf 'auth_rule = "ev/** alice pull,push"\n'
	printf 'auth_rule = "ev/** bob pull"\n'
} >"$TMP/auth.conf"
# reg_start, for a registry that answers /v2/ with 401
: >"$REG_LOG"
"$BIN" serve -c "$TMP/auth.conf" --listen 127.0.0.1:0 --data "$TMP/data" 2>>"$REG_LOG" &
REG_PID=$!
for _ in $(seq 1 100); do
	PORT=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$REG_LOG" | tail -1)
	[ -n "$PORT" ] && [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/v2/")" = 401 ] && break
	sleep 0.1
done
BASE=http://127.0.0.1:$PORT
before=$(wc -l <"$TMP/acked")
push_image ev/auth v1 -u alice:pw-alice
check "alice pushes" [ "$CODE" = 201 ]
push_image ev/auth anon
check "an anonymous push is refused" [ "$CODE" = 401 ]
push_image ev/auth bob -u bob:pw-bob
check "bob may not push" [ "$CODE" = 403 ]
req GET /v2/ev/auth/manifests/v1 -u bob:pw-bob
check "bob pulls" [ "$CODE" = 200 ]
req GET /v2/ev/auth/manifests/v1
check "an anonymous pull is refused" [ "$CODE" = 401 ]
check "wait: alice's push" wait_for signed push "$((before + 1))"
check "wait: bob's pull" wait_for signed pull 2
check "push event: actor alice" [ "$(distinct signed push | awk '$3 == "ev/auth" { print $4, $6 }')" = "v1 alice" ]
check "pull event: actor bob, the only one of ev/auth" [ "$(distinct signed pull | awk '$3 == "ev/auth" { print $6 }')" = bob ]
check "refused requests made no event" [ "$(events signed | awk '$3 == "ev/auth" && ($4 == "anon" || $4 == "bob")' | wc -l)" = 0 ]
reg_stop
wh_stop

# ---- bad lines and secrets stop start-up ----
bad_start() {
	printf '%s\n' "$1" >"$TMP/bad.conf"
	"$BIN" serve -c "$TMP/bad.conf" --listen 127.0.0.1:0 --data "$TMP/data2" >"$TMP/bad.log" 2>&1 &
	local pid=$! rc=0
	reg_wait "$pid" 10 || rc=$?
	BAD_RC=$rc
}
bad_start "notify = ftp://127.0.0.1/x"
check "a non-HTTP URL: exit 2" [ "$BAD_RC" = 2 ]
check "with FILE:LINE" grep -q "bad.conf:1: invalid notify" "$TMP/bad.log"
bad_start "notify = $URL/x events=push,shove"
check "an unknown event: exit 2" [ "$BAD_RC" = 2 ]
check "named" grep -q "unknown event 'shove'" "$TMP/bad.log"
printf 'notify = %s/x\nnotify = %s/x timeout=5s\n' "$URL" "$URL" >"$TMP/bad.conf"
"$BIN" serve -c "$TMP/bad.conf" --listen 127.0.0.1:0 --data "$TMP/data2" >"$TMP/bad.log" 2>&1 &
pid=$!
rc=0
reg_wait "$pid" 10 || rc=$?
check "a URL twice: exit 2 at its line" bash -c "[ $rc = 2 ] && grep -q 'bad.conf:2: notify $URL/x given twice' '$TMP/bad.log'"
bad_start "notify = $URL/x secret=$TMP/no-such-file"
check "a missing secret file: start-up fails" [ "$BAD_RC" = 1 ]
check "naming the file" grep -q "cannot read secret file $TMP/no-such-file" "$TMP/bad.log"
summary
