#!/bin/bash
# The storage lifecycle's commands against a running registry: `registry du`
# (bytes referenced, unique and shared per repository and namespace, tags,
# manifests, pulls recorded in batches: GETs, not HEADs), `registry retain`
# (the dry run lists what the run then removes; keep=N, tags=,
# pushed_within, pulled_within; immutable tags stay; manifests stay for GC)
# and `registry scrub` (a corrupted blob found, reported with its manifests,
# quarantined with --repair and never served, healed by a push; the read
# rate bounded; scrub_interval in the server).
# timeout: 300
set -u
. "$(dirname "$0")/lib.sh"
BIN=$1
MT=application/vnd.oci.image.manifest.v1+json
CT=application/vnd.oci.image.config.v1+json

blob() {
	req POST "/v2/$1/blobs/uploads/?digest=$(sha256 "$2")" --data-binary @"$2"
}
bytes() {
	head -c "$2" /dev/urandom >"$1" # $3 names it: distinct bytes each time
}
size() { stat -c %s "$1"; }
# image REPO TAG LAYER CONFIG-TEXT: pushes an image; MAN is its manifest file.
image() {
	printf '%s' "$4" >"$TMP/cfg"
	blob "$1" "$3"
	blob "$1" "$TMP/cfg"
	MAN=$TMP/man.$(sha256 "$TMP/cfg" | cut -c8-20)
	printf '{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"%s","digest":"%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%s}]}' \
		"$MT" "$CT" "$(sha256 "$TMP/cfg")" "$(size "$TMP/cfg")" "$(sha256 "$3")" "$(size "$3")" >"$MAN"
	req PUT "/v2/$1/manifests/$2" -H "Content-Type: $MT" --data-binary @"$MAN"
	expect "push $1:$2" 201
}
reg() { "$BIN" "$@" -c "$TMP/reg.conf" -d "$TMP/data"; }

cat >"$TMP/reg.conf" <<'EOF'
retain = "ci/** keep=2"
retain = "ci/** keep=0 tags=release-* pushed_within=1d"
retain = "pl/** keep=1 pulled_within=1h"
immutable = "ci/** v*"
scrub_rate = 1M
EOF
reg_start "$BIN" -c "$TMP/reg.conf"

# ---- du ----
bytes "$TMP/shared" 30000 shared
bytes "$TMP/own1" 20000 own1
bytes "$TMP/own2" 10000 own2
image team/a v1 "$TMP/shared" '{"a":1}'
MA=$MAN
blob team/a "$TMP/own1"
expect "team/a: a blob of its own" 201
image team/b v1 "$TMP/shared" '{"b":1}'
MB=$MAN
blob other/c "$TMP/own2"
expect "other/c: a blob of its own" 201
req GET /v2/team/a/manifests/v1
req GET /v2/team/a/manifests/v1
req GET "/v2/team/a/manifests/$(sha256 "$MA")"
req HEAD /v2/team/a/manifests/v1
expect "a HEAD (not a pull)" 200
sleep $((2 + 1)) # CORE_PULLS_FLUSH_SEC, and a second

reg du --json >"$TMP/du.json"
check "du --json exits 0" [ $? = 0 ]
jr() { jq -r "$1" "$TMP/du.json"; }
A_REF=$((30000 + 7 + $(size "$MA") + 20000))
check "team/a: referenced = shared layer + config + manifest + own blob ($(jr '.repositories[] | select(.name=="team/a") | .referenced'))" \
	[ "$(jr '.repositories[] | select(.name=="team/a") | .referenced')" = "$A_REF" ]
check "team/a: unique = all but the shared layer" \
	[ "$(jr '.repositories[] | select(.name=="team/a") | .unique')" = $((A_REF - 30000)) ]
check "team/a: shared = the shared layer" \
	[ "$(jr '.repositories[] | select(.name=="team/a") | .shared')" = 30000 ]
check "team/a: 1 tag, 1 manifest" \
	[ "$(jr '.repositories[] | select(.name=="team/a") | "\(.tags) \(.manifests)"')" = "1 1" ]
check "team/a: 3 pulls (GETs by tag and digest; the HEAD not counted)" \
	[ "$(jr '.repositories[] | select(.name=="team/a") | .pulls')" = 3 ]
check "team/a: a last pull and a last push" \
	[ "$(jr '.repositories[] | select(.name=="team/a") | (.last_pull != null and .last_push != null)')" = true ]
check "team/b: never pulled" [ "$(jr '.repositories[] | select(.name=="team/b") | .last_pull')" = null ]
T_REF=$((A_REF + 7 + $(size "$MB")))
check "namespace team: the shared layer once ($(jr '.namespaces[] | select(.name=="team") | .referenced'))" \
	[ "$(jr '.namespaces[] | select(.name=="team") | .referenced')" = "$T_REF" ]
check "namespace team: all of it unique to the namespace" \
	[ "$(jr '.namespaces[] | select(.name=="team") | .unique')" = "$T_REF" ]
check "largest first" [ "$(jr '.repositories[0].name')" = team/a ]
reg du 'team/*' >"$TMP/du.txt"
check "du PATTERN: only team/ (and its namespace)" \
	[ "$(awk 'NR>1 && NF {print $1}' "$TMP/du.txt" | grep -v NAMESPACE | tr '\n' ' ')" = "team/a team/b team " ]
A_KIB=$(awk -v n="$A_REF" 'BEGIN { printf "%.1f KiB", n / 1024 }')
check "du: human-readable sizes ($A_KIB)" grep -q "^team/a  *$A_KIB " "$TMP/du.txt"
check "the tag's pulls: 2 (by tag only)" \
	[ "$(reg_sql "$TMP/data/registry.db" "SELECT pulls FROM tags t JOIN repos r ON r.id = t.repo_id WHERE r.name = 'team/a'")" = 2 ]

# ---- retain ----
bytes "$TMP/cil" 1000 cilayer
for t in v1 old1 release-1 old2 new1 new2; do
	image ci/app "$t" "$TMP/cil" "{\"t\":\"$t\"}"
	sleep 1 # distinct push times
done
OLD1=$(sha256 "$TMP/man.$(printf '{"t":"old1"}' | sha256sum | cut -c1-13)")
for t in a b c; do
	image pl/app "$t" "$TMP/cil" "{\"pl\":\"$t\"}"
	sleep 1
done
req GET /v2/pl/app/manifests/a
expect "pull pl/app:a" 200
sleep 3

reg retain --dry-run >"$TMP/dry.txt" 2>"$TMP/dry.err"
check "retain --dry-run exits 0" [ $? = 0 ]
grep '^would remove' "$TMP/dry.txt" | awk '{print $3}' | sort >"$TMP/dry.list"
check "dry run: old1, old2 and pl/app:b ($(tr '\n' ' ' <"$TMP/dry.list"))" \
	[ "$(tr '\n' ' ' <"$TMP/dry.list")" = "ci/app:old1 ci/app:old2 pl/app:b " ]
check "dry run: v1 kept as immutable" grep -q '^keep ci/app:v1 .*: immutable' "$TMP/dry.txt"
req GET /v2/ci/app/tags/list
check "dry run removed nothing" [ "$(jq -c .tags "$TMP/b")" = '["new1","new2","old1","old2","release-1","v1"]' ]

reg retain >"$TMP/run.txt" 2>"$TMP/run.err"
check "retain exits 0" [ $? = 0 ]
grep '^removed' "$TMP/run.txt" | awk '{print $2}' | sort >"$TMP/run.list"
check "the run removes exactly what the dry run listed" cmp -s "$TMP/dry.list" "$TMP/run.list"
check "each removal logged with the rules that allowed it" \
	grep -q 'retain: removed tag ci/app:old1 (sha256:.*): no rule keeps it, by "ci/\*\* keep=2", "ci/\*\* keep=0 tags=release-\* pushed_within=1d"' "$TMP/run.err"
req GET /v2/ci/app/tags/list
check "ci/app keeps new1 new2 release-1 v1" [ "$(jq -c .tags "$TMP/b")" = '["new1","new2","release-1","v1"]' ]
req GET /v2/pl/app/tags/list
check "pl/app keeps a (pulled) and c (newest)" [ "$(jq -c .tags "$TMP/b")" = '["a","c"]' ]
req GET "/v2/ci/app/manifests/$OLD1"
expect "old1's manifest stays, for GC to remove" 200
reg retain --dry-run >"$TMP/dry2.txt"
check "a second dry run finds nothing more" [ "$(grep -c '^would remove' "$TMP/dry2.txt")" = 0 ]

# ---- scrub ----
bytes "$TMP/big" 3145728 big
image sc/app v1 "$TMP/big" '{"sc":1}'
MSC=$(sha256 "$MAN")
DB=$(sha256 "$TMP/big")
start=$(date +%s%N)
reg scrub >"$TMP/scrub.txt"
rc=$?
elapsed=$(awk -v a="$start" -v b="$(date +%s%N)" 'BEGIN { printf "%.2f", (b - a) / 1e9 }')
check "a clean scrub exits 0 ($rc)" [ "$rc" = 0 ]
check "...and reads at scrub_rate = 1M: 3 MiB and more take over 2 s ($elapsed s)" \
	awk -v e="$elapsed" 'BEGIN { exit !(e > 2) }'
F=$TMP/data/blobs/sha256/${DB:7:2}/${DB#sha256:}
printf 'rot' | dd of="$F" bs=1 seek=1000 conv=notrunc status=none
reg scrub >"$TMP/scrub.txt"
check "a scrub finding rot exits 1" [ $? = 1 ]
check "...names the digest" grep -q "^bad $DB: content does not match" "$TMP/scrub.txt"
check "...and the manifest that uses it" grep -q "used by sc/app@$MSC" "$TMP/scrub.txt"
req GET "/v2/sc/app/blobs/$DB"
expect "without --repair it is still served" 200
reg scrub --repair >"$TMP/scrub.txt"
check "scrub --repair quarantines it" grep -q "^quarantined $DB" "$TMP/scrub.txt"
check "...out of blobs/" [ ! -e "$F" ]
check "...into quarantine/" [ -f "$TMP/data/quarantine/sha256-${DB#sha256:}" ]
req GET "/v2/sc/app/blobs/$DB"
expect "a quarantined blob is never served" 404 BLOB_UNKNOWN
req HEAD "/v2/sc/app/blobs/$DB"
expect "...nor HEAD" 404
reg scrub >"$TMP/scrub.txt"
check "a later scrub skips it and exits 0" [ $? = 0 ]
blob sc/app "$TMP/big"
expect "pushing the same digest again" 201
req GET "/v2/sc/app/blobs/$DB"
expect "...heals it" 200
check "...byte for byte" cmp -s "$TMP/b" "$TMP/big"
check "...and clears the mark" \
	[ "$(reg_sql "$TMP/data/registry.db" "SELECT count(*) FROM quarantine")" = 0 ]
reg_stop

# scrub_interval: the server scrubs (with repair) on its own
printf 'scrub_interval = 1s\nscrub_rate = 100M\n' >"$TMP/interval.conf"
reg_start "$BIN" -c "$TMP/interval.conf"
printf 'rot' | dd of="$F" bs=1 seek=5 conv=notrunc status=none
for _ in $(seq 1 50); do
	grep -q "scrub: $DB: content does not match, quarantined" "$REG_LOG" && break
	sleep 0.2
done
check "the server's scrub quarantines it and logs the manifest that uses it" \
	grep -q "scrub: $DB: content does not match, quarantined .*; used by sc/app@$MSC" "$REG_LOG"
req GET "/v2/sc/app/blobs/$DB"
expect "...never served" 404 BLOB_UNKNOWN
reg_stop

summary
