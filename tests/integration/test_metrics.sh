#!/bin/bash
# /metrics, /healthz, /readyz and `registry healthcheck`: the page passes
# `promtool check metrics`, counters move with the requests that move them,
# no label carries a repository, digest or user name; anonymous reads them
# with auth = token on (metrics_auth = none), metrics_auth = same asks for
# credentials (the probes never do); metrics = off and metrics_listen say
# where /metrics is served; reading them changes nothing and /readyz leaves
# no file; /readyz fails below min_free_space and healthcheck says why; and
# a real Prometheus (Debian's package, on loopback) scrapes the registry and
# answers a query for a counter this test moved.
# timeout: 300
set -u
. "$(dirname "$0")/lib.sh"
BIN=$1
DATA=$TMP/data
mkdir -p "$DATA"

# serve CONF: starts the registry with CONF on a free port; waits for
# /healthz (never behind auth). Sets BASE, PORT, REG_PID; OPS_PORT when
# metrics_listen is set.
serve() {
	: >"$REG_LOG"
	"$BIN" serve -c "$1" --listen 127.0.0.1:0 --data "$DATA" 2>>"$REG_LOG" &
	REG_PID=$!
	for _ in $(seq 1 100); do
		PORT=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$REG_LOG" | tail -1)
		OPS_PORT=$(sed -n 's/.*metrics and health on .*, port=\([0-9]*\).*/\1/p' "$REG_LOG" | tail -1)
		if [ -n "$PORT" ] && curl -sf -o /dev/null "http://127.0.0.1:$PORT/healthz"; then
			BASE="http://127.0.0.1:$PORT"
			return 0
		fi
		kill -0 "$REG_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "registry did not start:" >&2
	cat "$REG_LOG" >&2
	exit 1
}

# metric NAME_WITH_LABELS: its value on the last /metrics page ($TMP/b), or "".
metric() {
	grep -F "$1 " "$TMP/b" | grep -v '^#' | head -1 | awk '{print $NF}'
}

# state: what the data folder holds (names, sizes, and the index's bytes):
# a read must leave it as it was. SQLite's -shm and -wal files appear when
# a worker thread first opens the index, whatever it then does: not ours.
state() {
	(cd "$DATA" && find . \( -path ./serve.lock -o -name '*-shm' -o -name '*-wal' \) -prune -o \
		-printf '%p %s\n' | sort && sha256sum registry.db)
}

push_blob() { # push_blob REPO FILE [curl auth args...]: POST ?digest=, monolithic
	local repo=$1 file=$2
	shift 2
	req POST "/v2/$repo/blobs/uploads/?digest=$(sha256 "$file")" "$@" \
		-H 'Content-Type: application/octet-stream' --data-binary "@$file"
}

echo pw-alice | "$BIN" user add alice --password-stdin --cost 4 --data "$DATA" >/dev/null
head -c 5000 /dev/urandom >"$TMP/blob"

# ---- auth = token, metrics_auth = none: anonymous reads all three ----
cat >"$TMP/token.conf" <<EOF
auth = token
auth_rule = "team/** alice pull,push"
EOF
serve "$TMP/token.conf"
req GET /v2/
expect "token mode: anonymous /v2/ is challenged" 401 UNAUTHORIZED
before=$(state)
req GET /healthz
expect "anonymous GET /healthz" 200
check "/healthz says ok" grep -qx ok "$TMP/b"
req HEAD /healthz
expect "anonymous HEAD /healthz" 200
req GET /readyz
expect "anonymous GET /readyz" 200
req HEAD /readyz
expect "anonymous HEAD /readyz" 200
req GET /metrics
expect "anonymous GET /metrics (metrics_auth = none)" 200
check "/metrics: Prometheus' text content type" grep -qi '^content-type: text/plain; version=0.0.4' "$TMP/h"
check "/metrics passes promtool check metrics" bash -c "promtool check metrics <'$TMP/b'"
for m in POST PUT DELETE PATCH; do
	req "$m" /metrics
	expect "$m /metrics" 405 UNSUPPORTED
	req "$m" /readyz
	expect "$m /readyz" 405 UNSUPPORTED
done
for _ in $(seq 1 20); do
	curl -s -o /dev/null "$BASE/readyz"
	curl -s -o /dev/null "$BASE/metrics"
done
check "20 reads of /readyz and /metrics change nothing in the data folder" [ "$before" = "$(state)" ]
check "/readyz leaves no probe file" bash -c "! ls -A '$DATA' | grep -q readyz"
check "...and made no repository" [ "$(reg_sql "$DATA/registry.db" 'SELECT count(*) FROM repos')" = 0 ]

# Counters a push moves, with alice's token.
TOKEN=$(curl -s -u alice:pw-alice "$BASE/token?service=registry&scope=repository:team/app:pull,push" | jq -r .token)
push_blob team/app "$TMP/blob" -H "Authorization: Bearer $TOKEN"
expect "alice pushes a blob" 201
req GET "/v2/team/app/blobs/$(sha256 "$TMP/blob")" -H "Authorization: Bearer $TOKEN"
expect "alice pulls it" 200
req GET /v2/team/app/manifests/nope -H "Authorization: Bearer $TOKEN"
expect "a manifest that is not there" 404 MANIFEST_UNKNOWN
curl -s -o /dev/null -u alice:wrong "$BASE/token?service=registry"
req GET /metrics
check "requests by route, method, code: the push" [ "$(metric 'registry_http_requests_total{route="upload_start",method="POST",code="201"}')" = 1 ]
check "...the pull" [ "$(metric 'registry_http_requests_total{route="blob",method="GET",code="200"}')" = 1 ]
check "...the 404" [ "$(metric 'registry_http_requests_total{route="manifest",method="GET",code="404"}')" = 1 ]
check "...the anonymous 401s on /v2/" [ "$(metric 'registry_http_requests_total{route="base",method="GET",code="401"}')" = 1 ]
check "...the 405s on /metrics" [ "$(metric 'registry_http_requests_total{route="metrics",method="POST",code="405"}')" = 1 ]
check "latency histogram of the blob route: one observation" [ "$(metric 'registry_http_request_duration_seconds_count{route="blob"}')" = 1 ]
check "...its +Inf bucket equals its count" [ "$(metric 'registry_http_request_duration_seconds_bucket{route="blob",le="+Inf"}')" = 1 ]
in=$(metric registry_http_received_bytes_total)
out=$(metric registry_http_sent_bytes_total)
check "bytes in count the blob's 5000 ($in)" [ "${in:-0}" -ge 5000 ]
check "bytes out count the blob's 5000 ($out)" [ "${out:-0}" -ge 5000 ]
check "connections open: at least this one" [ "$(metric registry_http_connections)" -ge 1 ]
check "requests in flight: this scrape" [ "$(metric registry_http_requests_in_flight)" -ge 1 ]
check "a failed login counted" [ "$(metric registry_auth_failed_logins_total)" = 1 ]
check "lockouts: per user and per address, both 0" bash -c "grep -q '^registry_auth_lockouts_total{scope=\"user\"} 0$' '$TMP/b' && grep -q '^registry_auth_lockouts_total{scope=\"address\"} 0$' '$TMP/b'"
# the store's counts are reused for up to 5 s: wait for a fresh one
for _ in $(seq 1 70); do
	req GET /metrics
	[ "$(metric registry_blobs)" = 1 ] && break
	sleep 0.1
done
check "registry_blobs counts the pushed blob" [ "$(metric registry_blobs)" = 1 ]
check "registry_stored_bytes: its 5000 bytes" [ "$(metric registry_stored_bytes)" = 5000 ]
check "registry_repositories: 1" [ "$(metric registry_repositories)" = 1 ]
check "no label names a repository, digest or user" bash -c "! grep -v '^#' '$TMP/b' | grep -qE 'team|sha256|alice'"
check "the page still passes promtool" bash -c "promtool check metrics <'$TMP/b'"
reg_stop

# ---- metrics_auth = same (basic): /metrics asks, the probes do not ----
cat >"$TMP/same.conf" <<EOF
auth = basic
metrics_auth = same
EOF
serve "$TMP/same.conf"
req GET /metrics
expect "metrics_auth = same: anonymous /metrics" 401 UNAUTHORIZED
req GET /metrics -u alice:wrong
expect "metrics_auth = same: a wrong password" 401 UNAUTHORIZED
req GET /metrics -u alice:pw-alice
expect "metrics_auth = same: alice" 200
req GET /healthz
expect "metrics_auth = same: anonymous /healthz" 200
req GET /readyz
expect "metrics_auth = same: anonymous /readyz" 200
reg_stop

# ---- metrics = off; min_free_space; healthcheck ----
cat >"$TMP/off.conf" <<EOF
metrics = off
min_free_space = 1000000G
EOF
serve "$TMP/off.conf"
req GET /metrics
expect "metrics = off: /metrics" 404 NOT_FOUND
req GET /healthz
expect "metrics = off: /healthz still" 200
req GET /readyz
expect "below min_free_space: /readyz" 503 UNAVAILABLE
check "...says why" grep -q 'below min_free_space' "$TMP/b"
"$BIN" healthcheck --url "$BASE" >"$TMP/hc" 2>&1
rc=$?
check "healthcheck: exit 1 when not ready ($rc)" [ "$rc" = 1 ]
check "...with the reason on one line" bash -c "[ \$(wc -l <'$TMP/hc') = 1 ] && grep -q 'HTTP 503: .*below min_free_space' '$TMP/hc'"
reg_stop
"$BIN" healthcheck --url "$BASE" >"$TMP/hc" 2>&1
rc=$?
check "healthcheck: exit 1 when nothing answers ($rc)" [ "$rc" = 1 ]
check "...saying so" grep -q 'not ready: .*onnect' "$TMP/hc"

# ---- healthcheck -c finds an HTTPS listener (a wildcard: asked on loopback) ----
"$BIN" cert 127.0.0.1 --out "$TMP/tls" >/dev/null
HC_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$TMP/tls.conf" <<EOF
listen = 0.0.0.0:$HC_PORT
tls_cert = $TMP/tls/server.crt
tls_key = $TMP/tls/server.key
min_free_space = 0
EOF
: >"$REG_LOG"
"$BIN" serve -c "$TMP/tls.conf" --data "$DATA" 2>>"$REG_LOG" &
REG_PID=$!
for _ in $(seq 1 100); do
	grep -q 'listening on' "$REG_LOG" && break
	sleep 0.1
done
"$BIN" healthcheck -c "$TMP/tls.conf" >"$TMP/hc" 2>&1
rc=$?
check "healthcheck -c over HTTPS: exit 0 ($rc)" [ "$rc" = 0 ]
check "...it asked https://127.0.0.1:$HC_PORT/readyz" grep -q "^ready: https://127.0.0.1:$HC_PORT/readyz$" "$TMP/hc"
reg_stop

# ---- the cache: per-upstream counters (the hub: another instance) ----
mkdir -p "$TMP/hub"
"$BIN" serve --listen 127.0.0.1:0 --data "$TMP/hub" 2>"$TMP/hub.log" &
HUB_PID=$!
for _ in $(seq 1 100); do
	HUB_PORT=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$TMP/hub.log" | tail -1)
	[ -n "$HUB_PORT" ] && curl -sf -o /dev/null "http://127.0.0.1:$HUB_PORT/healthz" && break
	sleep 0.1
done
SAVED=$BASE
BASE="http://127.0.0.1:$HUB_PORT"
head -c 5000 /dev/urandom >"$TMP/hubblob" # not in $DATA: fetched, not only confirmed
push_blob library/app "$TMP/hubblob"
expect "the hub has a blob" 201
BASE=$SAVED
cat >"$TMP/mirror.conf" <<EOF
upstream = hub http://127.0.0.1:$HUB_PORT namespaces=library
proxy_retries = 0
min_free_space = 0
EOF
serve "$TMP/mirror.conf"
D=$(sha256 "$TMP/hubblob")
req GET "/v2/library/app/blobs/$D"
expect "a pull through the cache (a miss)" 200
req GET "/v2/library/app/blobs/$D"
expect "the same pull again (a hit)" 200
req GET /metrics
check "cache misses: 1" [ "$(metric 'registry_cache_misses_total{upstream="hub"}')" = 1 ]
check "cache hits: 1" [ "$(metric 'registry_cache_hits_total{upstream="hub"}')" = 1 ]
check "upstream requests: at least the fetch" [ "$(metric 'registry_upstream_requests_total{upstream="hub"}')" -ge 1 ]
check "upstream bytes: the blob's 5000" [ "$(metric 'registry_upstream_received_bytes_total{upstream="hub"}')" -ge 5000 ]
check "upstream errors: none" [ "$(metric 'registry_upstream_errors_total{upstream="hub"}')" = 0 ]
check "upstream reachable: 1" [ "$(metric 'registry_upstream_reachable{upstream="hub"}')" = 1 ]
check "the page with upstreams passes promtool" bash -c "promtool check metrics <'$TMP/b'"
kill "$HUB_PID"
reg_wait "$HUB_PID" 40
req GET /v2/library/other/manifests/v1
check "a miss with the hub down fails ($CODE)" [ "$CODE" -ge 500 ]
req GET /metrics
check "upstream errors: counted" [ "$(metric 'registry_upstream_errors_total{upstream="hub"}')" -ge 1 ]
check "upstream reachable: 0" [ "$(metric 'registry_upstream_reachable{upstream="hub"}')" = 0 ]
reg_stop

# ---- metrics_listen: a listener of their own ----
cat >"$TMP/ops.conf" <<EOF
metrics_listen = 127.0.0.1:0
min_free_space = 0
EOF
serve "$TMP/ops.conf"
OPS="http://127.0.0.1:$OPS_PORT"
check "metrics_listen: a port is logged" [ -n "$OPS_PORT" ]
req GET /metrics
expect "metrics_listen: /metrics on the main port" 404 NOT_FOUND
CODE=$(curl -s -o "$TMP/b" -w '%{http_code}' "$OPS/metrics")
check "metrics_listen: /metrics there ($CODE)" [ "$CODE" = 200 ]
check "...passes promtool" bash -c "promtool check metrics <'$TMP/b'"
CODE=$(curl -s -o "$TMP/b" -w '%{http_code}' "$OPS/v2/")
check "metrics_listen: no registry API there ($CODE)" [ "$CODE" = 404 ]
CODE=$(curl -s -o /dev/null -w '%{http_code}' "$OPS/healthz")
check "metrics_listen: /healthz there ($CODE)" [ "$CODE" = 200 ]
req GET /readyz
expect "metrics_listen: /readyz on the main port too" 200
printf 'metrics_listen = 127.0.0.1:%s\n' "$OPS_PORT" >"$TMP/hc.conf"
check "healthcheck -c: asks metrics_listen, exit 0" bash -c "'$BIN' healthcheck -c '$TMP/hc.conf' >/dev/null"

# ---- a real Prometheus scrapes it ----
if prom_start $OPS_PORT; then
	up=
	for _ in $(seq 1 300); do
		up=$(prom_query 'up{job="registry"}')
		[ "$up" = 1 ] && break
		sleep 0.1
	done
	check "prometheus scrapes the registry (up = 1)" [ "$up" = 1 ]
	push_blob lib/app "$TMP/blob"
	expect "a push for prometheus to see" 201
	seen=
	for _ in $(seq 1 300); do
		seen=$(prom_query 'registry_http_requests_total{route="upload_start",method="POST",code="201"}')
		[ "$seen" = 1 ] && break
		sleep 0.1
	done
	check "prometheus answers a query for the push's counter ($seen)" [ "$seen" = 1 ]
	prom_stop
fi
reg_stop
summary
