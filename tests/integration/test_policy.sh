#!/bin/bash
# Quotas and immutable tags (registry.conf's quota and immutable lines):
# what is refused, with which status and message, and what is not; a
# shared digest counted once; the check and the link as one transaction
# under parallel pushes; the push records naming the signed-in pusher.
set -u
. "$(dirname "$0")/lib.sh"
BIN=$1
MT=application/vnd.oci.image.manifest.v1+json
CT=application/vnd.oci.image.config.v1+json

# blob REPO FILE: pushes FILE as a blob of REPO (monolithic POST); CODE.
blob() {
	req POST "/v2/$1/blobs/uploads/?digest=$(sha256 "$2")" --data-binary @"$2"
}

# bytes FILE N NAME: N random bytes (distinct from any other file's).
bytes() {
	head -c "$2" /dev/urandom >"$1" # $3 names it: distinct bytes each time
}

# manifest OUT CONFIG LAYER: an image manifest of those two blobs.
manifest() {
	printf '{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"%s","digest":"%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%s}]}' \
		"$MT" "$CT" "$(sha256 "$2")" "$(stat -c %s "$2")" "$(sha256 "$3")" "$(stat -c %s "$3")" >"$1"
}

# message: the error message of the last answer (what docker prints).
message() {
	jq -r '.errors[0].message' "$TMP/b"
}

# a bad line stops start-up with FILE:LINE
printf 'log_level = info\nquota = "q/** lots"\n' >"$TMP/bad.conf"
"$BIN" serve -c "$TMP/bad.conf" --listen 127.0.0.1:0 --data "$TMP/data" 2>"$TMP/bad.err"
check "a bad quota line: exit status 2" [ $? = 2 ]
check "...naming the file and line" grep -q "bad.conf:2: quota 'q/\*\* lots': invalid size 'lots'" "$TMP/bad.err"

cat >"$TMP/reg.conf" <<'EOF'
quota = "q/** 100K"
quota = "m/** 1000"
quota = "race/** 150K"
immutable = "prod/** v*"
EOF
reg_start "$BIN" -c "$TMP/reg.conf"

# ---- quotas ----
bytes "$TMP/l1" 40000 one
bytes "$TMP/l2" 40000 two
bytes "$TMP/l3" 40000 three
blob q/a "$TMP/l1"
expect "q/a: a 40 KB layer under the 100K quota" 201
blob q/b "$TMP/l2"
expect "q/b: another 40 KB (80 KB of 100K)" 201
blob q/b "$TMP/l3"
expect "q/b: a third 40 KB would pass 100K" 403 DENIED
check "...the message names the quota, its size and its use" \
	[ "$(message)" = 'quota "q/** 100K" exceeded: 78.1 KiB used of 100.0 KiB, this push adds 39.1 KiB' ]
req HEAD "/v2/q/b/blobs/$(sha256 "$TMP/l3")"
expect "...and the refused blob is not in q/b" 404
blob q/c "$TMP/l1"
expect "q/c: the same bytes q/a holds add nothing: accepted" 201
req POST "/v2/q/d/blobs/uploads/?mount=$(sha256 "$TMP/l2")&from=q/b"
expect "q/d: a mount of a blob q/b holds: accepted" 201
req POST "/v2/q/d/blobs/uploads/?mount=$(sha256 "$TMP/l3")&from=other"
expect "q/d: a mount of a blob no q/ repository holds (yet)" 202
blob other/x "$TMP/l3"
expect "other/x: no quota there" 201
req POST "/v2/q/e/blobs/uploads/?mount=$(sha256 "$TMP/l3")&from=other/x"
expect "q/e: a mount that would pass 100K" 403 DENIED
check "...with the quota's message" grep -q 'quota \\"q/\*\* 100K\\" exceeded' "$TMP/b"
# a chunked upload (POST, PATCH, PUT) is refused at its commit too
req POST /v2/q/f/blobs/uploads/
loc=$(hdr Location)
req PATCH "${loc#"$BASE"}" -H 'Content-Type: application/octet-stream' --data-binary @"$TMP/l3"
expect "q/f: a PATCH is not checked (the size is not known until the end)" 202
req PUT "${loc#"$BASE"}$(case $loc in *\?*) echo '&' ;; *) echo '?' ;; esac)digest=$(sha256 "$TMP/l3")"
expect "q/f: its commit is" 403 DENIED

# a manifest PUT: blobs under the quota, the manifest past it
bytes "$TMP/ml" 700 mlayer
printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}' >"$TMP/mc"
blob m/app "$TMP/ml"
expect "m/app: a 700-byte layer under 1000 bytes" 201
blob m/app "$TMP/mc"
expect "m/app: the config" 201
manifest "$TMP/mm" "$TMP/mc" "$TMP/ml"
req PUT /v2/m/app/manifests/v1 -H "Content-Type: $MT" --data-binary @"$TMP/mm"
expect "m/app: the manifest would pass 1000 bytes" 403 DENIED
check "...the message says so" grep -q '"message":"quota \\"m/\*\* 1000\\" exceeded' "$TMP/b"
req GET /v2/m/app/manifests/v1
expect "...and no tag was set" 404

# parallel pushes near a limit: only what fits gets in
for i in $(seq 1 8); do bytes "$TMP/r$i" 40000 "race$i"; done
pids=()
for i in $(seq 1 8); do
	curl -s -o /dev/null -w '%{http_code}\n' -X POST --data-binary @"$TMP/r$i" \
		"$BASE/v2/race/r$i/blobs/uploads/?digest=$(sha256 "$TMP/r$i")" >"$TMP/code.$i" &
	pids+=($!)
done
reg_wait_all "${pids[@]}"
ok=$(cat "$TMP"/code.* | grep -c 201)
denied=$(cat "$TMP"/code.* | grep -c 403)
check "8 parallel 40 KB pushes under 150K: 3 accepted ($ok), 5 refused ($denied)" \
	[ "$ok" = 3 ] && [ "$denied" = 5 ]
used=$(reg_sql "$TMP/data/registry.db" \
	"SELECT sum(size) FROM (SELECT DISTINCT digest, size FROM repo_blobs b JOIN repos r ON r.id = b.repo_id WHERE r.name LIKE 'race/%') x")
check "...and race/ holds at most 150K ($used bytes)" [ "$used" -le 153600 ]

# ---- immutable tags ----
bytes "$TMP/pl" 300 prodlayer
printf '{"architecture":"amd64","os":"linux","n":1}' >"$TMP/pc1"
printf '{"architecture":"amd64","os":"linux","n":2}' >"$TMP/pc2"
for f in pl pc1 pc2; do
	blob prod/app "$TMP/$f"
	blob dev/app "$TMP/$f"
done
manifest "$TMP/pm1" "$TMP/pc1" "$TMP/pl"
manifest "$TMP/pm2" "$TMP/pc2" "$TMP/pl"
D1=$(sha256 "$TMP/pm1")
D2=$(sha256 "$TMP/pm2")
req PUT /v2/prod/app/manifests/v1 -H "Content-Type: $MT" --data-binary @"$TMP/pm1"
expect "prod/app:v1 set" 201
req PUT /v2/prod/app/manifests/v1 -H "Content-Type: $MT" --data-binary @"$TMP/pm1"
expect "prod/app:v1 pushed again with the same digest (a CI retry)" 201
req PUT /v2/prod/app/manifests/v1 -H "Content-Type: $MT" --data-binary @"$TMP/pm2"
expect "prod/app:v1 moved to another digest" 403 DENIED
check "...the message names the rule" \
	[ "$(message)" = "tag prod/app:v1 is immutable (rule \"prod/** v*\"): it stays at $D1" ]
req GET /v2/prod/app/manifests/v1
check "...and v1 still serves the first manifest" [ "$(hdr Docker-Content-Digest)" = "$D1" ]
req PUT "/v2/prod/app/manifests/$D2?tag=latest&tag=v1" -H "Content-Type: $MT" --data-binary @"$TMP/pm2"
expect "a PUT by digest with ?tag=v1 that would move it" 403 DENIED
req GET /v2/prod/app/manifests/latest
expect "...sets none of its tags (one transaction)" 404
req PUT /v2/prod/app/manifests/latest -H "Content-Type: $MT" --data-binary @"$TMP/pm2"
expect "prod/app:latest (not v*) set" 201
req PUT /v2/prod/app/manifests/latest -H "Content-Type: $MT" --data-binary @"$TMP/pm1"
expect "prod/app:latest moved" 201
req DELETE /v2/prod/app/manifests/v1
expect "DELETE of the immutable tag" 403 DENIED
check "...names the rule" grep -q 'immutable (rule' "$TMP/b"
req DELETE "/v2/prod/app/manifests/$D1"
expect "DELETE of the manifest an immutable tag holds" 403 DENIED
req GET /v2/prod/app/manifests/v1
expect "...v1 is still there" 200
req DELETE /v2/prod/app/manifests/latest
expect "DELETE of a mutable tag" 202
req DELETE "/v2/prod/app/manifests/$D2"
expect "DELETE of a manifest no immutable tag holds" 202
req PUT /v2/prod/app/manifests/v2 -H "Content-Type: $MT" --data-binary @"$TMP/pm1"
expect "a new immutable tag is set once" 201
req PUT /v2/dev/app/manifests/v1 -H "Content-Type: $MT" --data-binary @"$TMP/pm1"
expect "dev/app:v1 (no rule)" 201
req PUT /v2/dev/app/manifests/v1 -H "Content-Type: $MT" --data-binary @"$TMP/pm2"
expect "dev/app:v1 moves" 201
reg_stop

# ---- the push records name who pushed (the gate's principal) ----
printf 'alice:%s\n' "$(htpasswd -nbB -C 4 x pw | cut -d: -f2)" >"$TMP/htpasswd"
cat >"$TMP/auth.conf" <<EOF
auth = basic
auth_users = $TMP/htpasswd
auth_rule = "team/** anonymous pull"
auth_rule = "** alice pull,push"
retain = "team/** keep=0"
EOF
rm -rf "$TMP/data"
mkdir -p "$TMP/data"
: >"$REG_LOG"
"$BIN" serve -c "$TMP/auth.conf" --listen 127.0.0.1:0 --data "$TMP/data" 2>>"$REG_LOG" &
REG_PID=$!
for _ in $(seq 1 100); do
	PORT=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$REG_LOG" | tail -1)
	[ -n "$PORT" ] && [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/v2/")" = 401 ] && break
	sleep 0.1
done
BASE="http://127.0.0.1:$PORT"
for f in pl pc1; do
	req POST "/v2/team/app/blobs/uploads/?digest=$(sha256 "$TMP/$f")" -u alice:pw --data-binary @"$TMP/$f"
done
req PUT /v2/team/app/manifests/v1 -u alice:pw -H "Content-Type: $MT" --data-binary @"$TMP/pm1"
expect "alice pushes team/app:v1" 201
req PUT /v2/team/app/manifests/v1 -H "Content-Type: $MT" --data-binary @"$TMP/pm1"
expect "anonymous may not push" 401
req GET /v2/team/app/manifests/v1
expect "anonymous may pull" 200
check "the tag's push is recorded as alice's" \
	[ "$(reg_sql "$TMP/data/registry.db" "SELECT pushed_by FROM tags WHERE name = 'v1'")" = alice ]
check "...and the manifest's" \
	[ "$(reg_sql "$TMP/data/registry.db" "SELECT pushed_by FROM manifests WHERE digest = '$D1'")" = alice ]
# pulls are recorded only when the gate let them through
for f in pl pc1; do
	req POST "/v2/secret/app/blobs/uploads/?digest=$(sha256 "$TMP/$f")" -u alice:pw --data-binary @"$TMP/$f"
done
req PUT /v2/secret/app/manifests/v1 -u alice:pw -H "Content-Type: $MT" --data-binary @"$TMP/pm1"
expect "alice pushes secret/app:v1" 201
req GET /v2/secret/app/manifests/v1
expect "anonymous may not pull secret/app" 401
req GET /v2/secret/app/manifests/v1 -u alice:nope
expect "nor with a wrong password" 401
req GET /v2/secret/app/manifests/v1 -u alice:pw
expect "alice may" 200
sleep 3 # CORE_PULLS_FLUSH_SEC, and a second
pulls_of() {
	reg_sql "$TMP/data/registry.db" "SELECT t.pulls FROM tags t JOIN repos r ON r.id = t.repo_id WHERE r.name = '$1' AND t.name = 'v1'"
}
check "the refused pulls are not counted, alice's is" [ "$(pulls_of secret/app)" = 1 ]
check "anonymous's allowed pull of team/app is" [ "$(pulls_of team/app)" = 1 ]
check "registry retain --dry-run says who pushed the tag" \
	bash -c "'$BIN' retain --dry-run -c '$TMP/auth.conf' -d '$TMP/data' | grep -q '^would remove team/app:v1 $D1 (pushed .* by alice, last pulled '"
reg_stop

summary
