#!/bin/bash
# The pull-through cache against an upstream that misbehaves the way real
# ones do (tests/integration/upstream_standin.py, on 127.0.0.1):
#   - a blob transfer cut half-way is resumed with Range from exactly the
#     byte where it stopped, and the blob arrives whole;
#   - an upstream that ignores Range (a whole 200 again) is read past what
#     was already delivered, never twice;
#   - a redirect to blob storage on another origin gets no credentials
#     (Basic or Bearer);
# and the bounded cache's eviction:
#   - never removes a blob a local repository also holds;
#   - never removes a blob a fetch is working on.
set -u
. "$(dirname "$0")/lib.sh"
BIN=$1
HERE=$(cd "$(dirname "$0")" && pwd)

export CURL_HOME=$TMP
echo 'max-time = 60' >"$TMP/.curlrc"

if ! command -v python3 >/dev/null; then
	skip "the upstream stand-in needs python3 (deploy/install-deps.sh --test installs it)"
	summary
	exit
fi

SI_PID=""
upstream_cleanup() {
	[ -n "$SI_PID" ] && kill "$SI_PID" 2>/dev/null && reg_wait "$SI_PID" 10
	reg_cleanup
}
trap upstream_cleanup EXIT

mkdir -p "$TMP/si"
SI_LOG=$TMP/si.log
: >"$SI_LOG"
mkfifo "$TMP/si.port"
python3 "$HERE/upstream_standin.py" "$TMP/si" "$SI_LOG" >"$TMP/si.port" 2>"$TMP/si.err" &
SI_PID=$!
read -r SI_PORT SI_STORAGE <"$TMP/si.port"
check "the upstream stand-in listens (ports $SI_PORT, $SI_STORAGE)" [ -n "$SI_STORAGE" ]

blob() { # NAME SIZE: a random blob the stand-in serves; prints its digest
	local d
	head -c "$2" /dev/urandom >"$TMP/$1"
	d=$(sha256 "$TMP/$1")
	cp "$TMP/$1" "$TMP/si/${d#sha256:}"
	echo "$d"
}
si_lines() { # PATTERN: lines of the stand-in's log matching it
	grep -E "$1" "$SI_LOG"
}

printf 'corp:corp-secret\n' >"$TMP/cred"
chmod 600 "$TMP/cred"
cat >"$TMP/mirror.conf" <<EOF
log_level = debug
upstream = si http://127.0.0.1:$SI_PORT credentials=$TMP/cred
upstream = si-bearer http://127.0.0.1:$SI_PORT credentials=$TMP/cred
proxy_timeout = 10s
proxy_retries = 2
proxy_cache_max = 2M
proxy_cache_keep = 1s
EOF
reg_start "$BIN" -c "$TMP/mirror.conf"

# ---- a transfer cut half-way resumes at the byte where it stopped ----
DCUT=$(blob cut 1000000)
req GET "/v2/si/cut/x/blobs/$DCUT"
expect "a blob whose first transfer is cut half-way" 200
check "...arrives whole" cmp -s "$TMP/b" "$TMP/cut"
check "...the first GET asked for all of it" \
	[ "$(si_lines "^upstream GET /v2/cut/x/blobs/$DCUT range=- " | wc -l)" = 1 ]
check "...the second for the rest, from byte 500000 exactly" \
	[ "$(si_lines "^upstream GET /v2/cut/x/blobs/$DCUT range=" | sed -n 2p | grep -o 'range=[^ ]*')" = "range=bytes=500000-" ]
check "...and no more requests" [ "$(si_lines "^upstream GET /v2/cut/x/blobs/$DCUT " | wc -l)" = 2 ]
check "...cached verified" reg_store_has "$TMP/data" "$DCUT"

# ---- manifests whose bytes do not match their digest are refused ----
ACCEPT='Accept: application/vnd.oci.image.manifest.v1+json'
LIAR=sha256:2222222222222222222222222222222222222222222222222222222222222222
req GET "/v2/si/liar/x/manifests/$LIAR" -H "$ACCEPT"
expect "a manifest by digest whose bytes hash to another digest" 502
check "...says the content does not match" grep -q "does not match its digest" "$TMP/b"
req GET "/v2/si/liar/x/manifests/v1" -H "$ACCEPT"
expect "a manifest by tag whose Docker-Content-Digest names other bytes" 502
check "...says so" grep -q "does not match its digest" "$TMP/b"
check "...the log names both refusals" [ "$(grep -c 'refused' "$REG_LOG")" -ge 2 ]
req GET /v2/_catalog
check "...and nothing of it is stored" bash -c "! grep -q 'si/liar' '$TMP/b'"

# ---- an upstream that ignores Range: the bytes already had are skipped ----
DNR=$(blob norange 1000000)
req GET "/v2/si/norange/x/blobs/$DNR"
expect "a cut blob whose upstream ignores Range" 200
check "...arrives whole, no byte twice" cmp -s "$TMP/b" "$TMP/norange"
check "...after a Range request the upstream answered with everything" \
	[ "$(si_lines "^upstream GET /v2/norange/x/blobs/$DNR range=bytes=500000- " | wc -l)" = 1 ]

# ---- redirects to blob storage: credentials stay with the upstream ----
DRB=$(blob redir-basic 300000)
req GET "/v2/si/redirect-basic/x/blobs/$DRB"
expect "a blob behind a Basic-auth upstream that redirects to storage" 200
check "...its bytes" cmp -s "$TMP/b" "$TMP/redir-basic"
check "...the upstream got the credentials" \
	[ "$(si_lines "^upstream GET /v2/redirect-basic/x/blobs/$DRB .* auth=Basic" | wc -l)" -ge 1 ]
check "...the storage on another origin was asked" \
	[ "$(si_lines "^storage GET /blob/${DRB#sha256:} " | wc -l)" -ge 1 ]
check "...without them" [ "$(si_lines "^storage GET /blob/${DRB#sha256:} .* auth=-$" | wc -l)" = \
	"$(si_lines "^storage GET /blob/${DRB#sha256:} " | wc -l)" ]
DRT=$(blob redir-bearer 300000)
req GET "/v2/si-bearer/redirect-bearer/x/blobs/$DRT"
expect "a blob behind a Bearer-token upstream that redirects to storage" 200
check "...its bytes" cmp -s "$TMP/b" "$TMP/redir-bearer"
check "...the upstream got the token" \
	[ "$(si_lines "^upstream GET /v2/redirect-bearer/x/blobs/$DRT .* auth=Bearer" | wc -l)" -ge 1 ]
check "...the storage was asked" [ "$(si_lines "^storage GET /blob/${DRT#sha256:} " | wc -l)" -ge 1 ]
check "...without the token" [ "$(si_lines "^storage GET /blob/${DRT#sha256:} .* auth=-$" | wc -l)" = \
	"$(si_lines "^storage GET /blob/${DRT#sha256:} " | wc -l)" ]

# ---- eviction (proxy_cache_max = 2M): the blobs above are gone by now ----
# every eviction round over the bound says what it freed, or that it could
# free nothing more, or both
evictions() { grep -cE "cache: (evicted [0-9]* blob|.* over proxy_cache_max)" "$REG_LOG"; }
wait_evictions() { # N: up to 10 s for more than N eviction rounds
	for _ in $(seq 1 100); do
		[ "$(evictions)" -gt "$1" ] && return 0
		sleep 0.1
	done
	return 1
}
in_store() { reg_store_has "$TMP/data" "$1"; }
sleep 1.1

# a blob a local repository also holds is not the cache's to remove
DL=$(blob local 1500000)
req GET "/v2/si/plain/a/blobs/$DL"
expect "1.5 MB blob cached" 200
loc=$(curl -s -o /dev/null -D - -X POST "$BASE/v2/mine/app/blobs/uploads/" | sed -n 's/^[Ll]ocation: *//p' | tr -d '\r')
case $loc in *\?*) sep='&' ;; *) sep='?' ;; esac
req PUT "$loc${sep}digest=$DL" --data-binary @"$TMP/local" -H 'Content-Type: application/octet-stream'
expect "...and pushed to the local mine/app too" 201
sleep 2.1 # the cached copy is now the least recently pulled, past proxy_cache_keep
n=$(evictions)
DW=$(blob other 1200000)
req GET "/v2/si/plain/b/blobs/$DW"
expect "1.2 MB more: 2.7 MB cached, over 2 MB" 200
check "an eviction round ran" wait_evictions "$n"
req GET "/v2/mine/app/blobs/$DL"
expect "the local repository still serves the blob" 200
check "...its bytes" cmp -s "$TMP/b" "$TMP/local"
check "...its file is in the store" in_store "$DL"
check "...the eviction round passed it over" bash -c "! grep -q 'cache: evicted $DL' '$REG_LOG'"

# a blob a fetch is working on is not removed under it: repository c asks
# for a blob the store has from repository a; the upstream takes 4 s to
# confirm (HEAD) that c has it, and meanwhile a fetch pushes the cache over
# its bound with that blob the least recently pulled
sleep 1.1
DV=$(blob busy 1500000)
req GET "/v2/si/slowhead/a/blobs/$DV"
expect "1.5 MB blob cached for slowhead/a" 200
sleep 1.6 # past proxy_cache_keep when the round below runs
curl -s -o "$TMP/busy.out" -w '%{http_code}' "$BASE/v2/si/slowhead/c/blobs/$DV" >"$TMP/busy.code" &
busy=$!
sleep 0.5
n=$(evictions)
DW2=$(blob other2 1200000)
req GET "/v2/si/plain/d/blobs/$DW2"
expect "1.2 MB more while slowhead/c waits for the upstream" 200
check "an eviction round ran meanwhile" wait_evictions "$n"
reg_wait "$busy"
check "slowhead/c gets the blob once the upstream confirms ($(cat "$TMP/busy.code"))" \
	[ "$(cat "$TMP/busy.code")" = 200 ]
check "...its bytes" cmp -s "$TMP/busy.out" "$TMP/busy"
check "...its file is in the store" in_store "$DV"
check "...the eviction round passed it over" bash -c "! grep -q 'cache: evicted $DV' '$REG_LOG'"
check "...confirmed with a HEAD, not fetched again" \
	[ "$(si_lines "^upstream GET /v2/slowhead/c/blobs/$DV " | wc -l)" = 0 ]

reg_stop
summary
