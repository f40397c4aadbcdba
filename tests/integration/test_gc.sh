#!/bin/bash
# Garbage collection and removing repositories, against the real binary:
#   - `registry gc --dry-run` while the server serves: lists, removes nothing;
#   - `registry gc`: what a deleted image alone used goes, and the blob files
#     left add up to exactly the bytes of what is still referenced (du);
#   - links younger than gc_delay stay; untagged manifests go after
#     gc_untagged, not before, and not one an index needs;
#   - orphan files (no row) past gc_delay go, younger ones stay;
#   - the server's own collection every gc_interval, with its log line;
#   - `registry repo rm` (and --dry-run), then the space comes back;
#   - DELETE /v2/_admin/repositories/NAME: who may (anonymous, pull-only,
#     push, delete), delete_enabled = false, a name that does not exist,
#     and a mirrored name by every spelling (read-only: 405);
#   - `registry gc` applies the retain lines first, then collects.
set -u
. "$(dirname "$0")/lib.sh"
BIN=$1
IT=application/vnd.oci.image.index.v1+json
DATA=$TMP/data
mkdir -p "$DATA"

# shellcheck source=images.sh
. "$(dirname "$0")/images.sh"
nfiles() { find "$DATA/blobs" -type f | wc -l; }
gc() { "$BIN" gc -c "$TMP/gc.conf" -d "$DATA" "$@" 2>"$TMP/gc.err"; }

# gc_delay 0: unreferenced is collectable at once; the server does not
# collect by itself here (gc_interval 0): the command line does, while it serves.
printf 'gc_interval = 0\ngc_delay = 0\ngc_untagged = 0\n' >"$TMP/gc.conf"
reg_start "$BIN" -c "$TMP/gc.conf"
image app v1 a
image app v2 b
image other v1 o
# an index in app naming b's manifest, untagged: it keeps b's manifest
DA=$(sha256 "$TMP/a.m")
DB=$(sha256 "$TMP/b.m")
DO=$(sha256 "$TMP/o.m")
printf '{"schemaVersion":2,"mediaType":"%s","manifests":[{"mediaType":"%s","digest":"%s","size":%s}]}' \
	"$IT" "$MT" "$DB" "$(stat -c %s "$TMP/b.m")" >"$TMP/ix.m"
DX=$(sha256 "$TMP/ix.m")
req PUT "/v2/app/manifests/$DX" -H "Content-Type: $IT" --data-binary @"$TMP/ix.m"
expect "an untagged index" 201

ALL=$(size "$TMP"/{a,b,o}.{c,l,m} "$TMP/shared.l" "$TMP/ix.m")
check "before: the files are exactly what was pushed ($ALL bytes)" [ "$(stored)" = "$ALL" ]
gc --dry-run >"$TMP/dry"
check "dry run, nothing unreferenced: lists nothing" [ ! -s "$TMP/dry" ]
check "dry run: says so" grep -q "would remove 0 manifest(s), 0 blob link(s), 0 blob(s), 0 orphan file(s): 0 B (0 bytes)" "$TMP/gc.err"

# Delete other:v1 by digest: its config, layer and manifest are its alone;
# the shared layer stays (app links it).
req DELETE "/v2/other/manifests/$DO"
expect "delete other's manifest" 202
gc --dry-run >"$TMP/dry"
check "dry run lists other's three links" [ "$(grep -c '^link other ' "$TMP/dry")" = 3 ]
check "dry run lists o's config, layer and manifest as blobs" \
	[ "$(grep '^blob ' "$TMP/dry" | cut -d' ' -f2 | sort | tr '\n' ' ')" = "$(for f in o.c o.l o.m; do sha256 "$TMP/$f"; done | sort | tr '\n' ' ')" ]
check "dry run: the bytes they would free" grep -q "($(size "$TMP"/o.{c,l,m}) bytes) would be freed" "$TMP/gc.err"
check "dry run removed nothing" [ "$(stored)" = "$ALL" ]
req GET /v2/_catalog
check "dry run: other still listed" grep -q '"other"' "$TMP/b"
gc >"$TMP/real"
check "gc lists what it removed, as the dry run did" diff "$TMP/dry" "$TMP/real"
check "gc: summary" grep -q "removed 0 manifest(s), 3 blob link(s), 3 blob(s), 0 orphan file(s)" "$TMP/gc.err"
LEFT=$(size "$TMP"/{a,b}.{c,l,m} "$TMP/shared.l" "$TMP/ix.m")
check "space comes back: du of the blob files is exactly $LEFT" [ "$(stored)" = "$LEFT" ]
req GET /v2/_catalog
check "other, emptied by the collection, left the catalog" [ "$(cat "$TMP/b")" = '{"repositories":["app"]}' ]
req GET "/v2/app/blobs/$(sha256 "$TMP/shared.l")"
expect "the shared layer is served" 200
check "...byte for byte" cmp -s "$TMP/b" "$TMP/shared.l"
req GET "/v2/app/manifests/$DB"
expect "b's manifest (an index names it)" 200

# A link nobody references but younger than gc_delay stays.
printf 'gc_interval = 0\ngc_delay = 1h\ngc_untagged = 0\n' >"$TMP/gc.conf"
printf 'just pushed' >"$TMP/young"
DY=$(blob app "$TMP/young")
gc >/dev/null
check "a young unreferenced blob stays (gc_delay 1h)" [ "$(stored)" = "$((LEFT + 11))" ]
printf 'gc_interval = 0\ngc_delay = 0\ngc_untagged = 0\n' >"$TMP/gc.conf"
gc >"$TMP/real"
check "...and goes with gc_delay 0" grep -q "^blob $DY 11$" "$TMP/real"

# Untagged manifests: a (tag v1 moved to b) and ix (untagged) go after
# gc_untagged; b's manifest, named by the tag now, stays.
req PUT "/v2/app/manifests/v1" -H "Content-Type: $MT" --data-binary @"$TMP/b.m"
expect "move tag v1 to b" 201
req DELETE "/v2/app/manifests/v2"
expect "delete tag v2" 202
gc >"$TMP/real"
check "gc_untagged 0 keeps untagged manifests" [ ! -s "$TMP/real" ]
printf 'gc_interval = 0\ngc_delay = 0\ngc_untagged = 1h\n' >"$TMP/gc.conf"
gc >"$TMP/real"
check "younger than gc_untagged: kept" [ ! -s "$TMP/real" ]
printf 'gc_interval = 0\ngc_delay = 0\ngc_untagged = 1s\n' >"$TMP/gc.conf"
sleep 2
gc >"$TMP/real"
check "untagged a and ix go" [ "$(grep '^manifest ' "$TMP/real" | sort | tr '\n' ' ')" = "$(printf 'manifest app@%s\n' "$DA" "$DX" | sort | tr '\n' ' ')" ]
check "...with a's own config and layer" [ "$(grep -c '^blob ' "$TMP/real")" = 4 ]
req GET "/v2/app/manifests/v1"
expect "the tagged one is served" 200
check "...byte for byte" cmp -s "$TMP/b" "$TMP/b.m"
req GET "/v2/app/manifests/$DA"
expect "the untagged one is gone" 404 MANIFEST_UNKNOWN
LEFT=$(size "$TMP"/b.{c,l,m} "$TMP/shared.l")
check "du of the blob files: $LEFT" [ "$(stored)" = "$LEFT" ]

# Orphan files (a crash between a row's removal and its file's): past
# gc_delay they go, younger ones stay.
printf 'orphan' >"$TMP/orphan"
DOR=$(sha256 "$TMP/orphan")
HEX=${DOR#sha256:}
mkdir -p "$DATA/blobs/sha256/${HEX:0:2}"
cp "$TMP/orphan" "$DATA/blobs/sha256/${HEX:0:2}/$HEX"
printf 'gc_interval = 0\ngc_delay = 1h\ngc_untagged = 0\n' >"$TMP/gc.conf"
gc >"$TMP/real"
check "a young orphan stays" [ -f "$DATA/blobs/sha256/${HEX:0:2}/$HEX" ]
touch -d '2 hours ago' "$DATA/blobs/sha256/${HEX:0:2}/$HEX"
gc >"$TMP/real"
check "an orphan past gc_delay goes" [ "$(cat "$TMP/real")" = "orphan $DOR 6" ]
check "...gone from disk" [ ! -e "$DATA/blobs/sha256/${HEX:0:2}/$HEX" ]
check "...and not left in the trash (retired under the lock, unlinked after)" \
	[ -z "$(ls -A "$DATA/trash" 2>/dev/null)" ]
# a crash between retiring a file and unlinking it leaves it in trash/:
# the next run empties it
cp "$TMP/orphan" "$DATA/trash/sha256-$HEX"
gc >"$TMP/real"
check "a file a crash left in trash/ goes at the next run" [ ! -e "$DATA/trash/sha256-$HEX" ]
check "du unchanged by it: $LEFT" [ "$(stored)" = "$LEFT" ]

# repo rm: dry run counts, then removes; its blobs go at the next gc.
"$BIN" repo rm app --dry-run -d "$DATA" >"$TMP/rm" 2>&1
check "repo rm --dry-run counts" grep -q "would delete app: 1 tag(s), 1 manifest(s), 3 blob link(s)" "$TMP/rm"
req GET /v2/app/tags/list
expect "...and removes nothing" 200
"$BIN" repo rm app -d "$DATA" >"$TMP/rm" 2>&1
check "repo rm" grep -q "deleted app: 1 tag(s), 1 manifest(s), 3 blob link(s)" "$TMP/rm"
req GET /v2/app/tags/list
expect "its tag list" 404 NAME_UNKNOWN
req GET /v2/_catalog
check "the catalog is empty" [ "$(cat "$TMP/b")" = '{"repositories":[]}' ]
"$BIN" repo rm app -d "$DATA" >"$TMP/rm" 2>&1
check "repo rm of a repository that is not there: exit 1" [ $? = 1 ]
check "...saying so" grep -q "no such repository" "$TMP/rm"
"$BIN" repo rm 'Bad/Name' -d "$DATA" >/dev/null 2>&1
check "repo rm of a bad name: exit 2" [ $? = 2 ]
printf 'gc_interval = 0\ngc_delay = 0\ngc_untagged = 0\n' >"$TMP/gc.conf"
gc >/dev/null
check "space comes back: no blob file left" [ "$(nfiles)" = 0 ]
reg_stop

# The server's own collection, every gc_interval, while it serves.
# (pushed with the collector off: with gc_delay 0 a collection between the
# blobs and the manifest would take the blobs, and the push would fail)
printf 'gc_interval = 0\ngc_delay = 0\n' >"$TMP/push.conf"
reg_start "$BIN" -c "$TMP/push.conf"
image srv v1 s
reg_stop
printf 'gc_interval = 1s\ngc_delay = 0\n' >"$TMP/srv.conf"
reg_start "$BIN" -c "$TMP/srv.conf"
req DELETE "/v2/srv/manifests/$(sha256 "$TMP/s.m")"
expect "delete srv's manifest" 202
for _ in $(seq 1 50); do [ "$(nfiles)" = 0 ] && break; sleep 0.1; done
check "the server collected it by itself" [ "$(nfiles)" = 0 ]
check "...and said so in its log" grep -q "gc: removed 0 manifest(s), 3 link(s), 4 blob(s) and 0 orphan file(s), $(size "$TMP"/s.{c,l,m} "$TMP/shared.l") bytes" "$REG_LOG"
reg_stop

# A HEAD keeps a blob for a push that follows (HEAD, then the manifest PUT
# later): with gc_delay 4s, a link HEADed 3 s after its upload is still
# there 2 s later, when one not HEADed is gone.
printf 'gc_interval = 0\ngc_delay = 4s\ngc_untagged = 0\n' >"$TMP/gc.conf"
reg_start "$BIN" -c "$TMP/gc.conf"
printf 'headed' >"$TMP/h1"
printf 'not headed' >"$TMP/h2"
D1=$(blob hd "$TMP/h1")
D2=$(blob hd "$TMP/h2")
sleep 3
req HEAD "/v2/hd/blobs/$D1"
expect "HEAD of the first" 200
sleep 2
gc >"$TMP/real"
check "the HEADed link stays" bash -c "! grep -q '^link hd $D1' '$TMP/real'"
check "the other goes" grep -q "^link hd $D2" "$TMP/real"
req HEAD "/v2/hd/blobs/$D1"
expect "...and is served" 200
reg_stop

# ---- DELETE /v2/_admin/repositories/NAME: access ----
for u in puller pusher deleter; do
	echo "pw-$u" | "$BIN" user add "$u" --password-stdin --cost 4 --data "$DATA" >/dev/null
done
cat >"$TMP/auth.conf" <<EOF
auth = basic
auth_fail_limit = 0
gc_interval = 0
auth_rule = "** anonymous pull"
auth_rule = "** puller pull"
auth_rule = "** pusher pull,push"
auth_rule = "** deleter pull,delete"
upstream = docker.io offline namespaces=library
EOF
: >"$REG_LOG"
"$BIN" serve -c "$TMP/auth.conf" --listen 127.0.0.1:0 --data "$DATA" 2>>"$REG_LOG" &
REG_PID=$!
for _ in $(seq 1 100); do
	PORT=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$REG_LOG" | tail -1)
	[ -n "$PORT" ] && break
	sleep 0.1
done
BASE="http://127.0.0.1:$PORT"
printf 'adm layer' >"$TMP/adm.l"
DL=$(sha256 "$TMP/adm.l")
req POST "/v2/adm/x/blobs/uploads/?digest=$DL" -u pusher:pw-pusher --data-binary @"$TMP/adm.l"
expect "pusher pushes adm/x" 201
for who in "" "-u puller:pw-puller" "-u pusher:pw-pusher" "-u deleter:wrong"; do
	# shellcheck disable=SC2086
	req DELETE /v2/_admin/repositories/adm/x $who
	case "$who" in
	"" | *wrong) expect "admin delete by ${who:-anonymous}: challenged" 401 UNAUTHORIZED ;;
	*) expect "admin delete by $who: denied" 403 DENIED ;;
	esac
done
req GET /v2/adm/x/tags/list -u puller:pw-puller
expect "refused deletes removed nothing" 200
for m in GET PUT POST; do
	req "$m" /v2/_admin/repositories/adm/x -u deleter:pw-deleter
	expect "admin $m: not a method of the route" 405 UNSUPPORTED
done
req DELETE /v2/_admin/repositories/Bad/Name -u deleter:pw-deleter
expect "admin delete of a bad name" 400 NAME_INVALID
req DELETE /v2/_admin/repositories/adm/none -u deleter:pw-deleter
expect "admin delete of a repository that does not exist" 404 NAME_UNKNOWN
req DELETE /v2/_admin/repositories/adm/x -u deleter:pw-deleter
expect "admin delete by deleter" 202
check "...says what went" [ "$(cat "$TMP/b")" = '{"name":"adm/x","tags":0,"manifests":0,"links":1}' ]
req GET /v2/adm/x/tags/list -u puller:pw-puller
expect "the repository is gone" 404 NAME_UNKNOWN
# A mirrored name is read-only, however spelt: prefix, ?ns=, bare.
for path in docker.io/library/x "library/x?ns=docker.io" library/x; do
	req DELETE "/v2/_admin/repositories/$path" -u deleter:pw-deleter
	expect "admin delete of mirrored $path: read-only" 405 UNSUPPORTED
	req DELETE "/v2/_admin/repositories/$path"
	expect "admin delete of mirrored $path, anonymous" 401 UNAUTHORIZED
done
reg_stop
# delete_enabled = false refuses it too.
printf 'delete_enabled = false\n' >"$TMP/nodel.conf"
reg_start "$BIN" -c "$TMP/nodel.conf"
req POST "/v2/adm/y/blobs/uploads/?digest=$DL" --data-binary @"$TMP/adm.l"
expect "push adm/y" 201
req DELETE /v2/_admin/repositories/adm/y
expect "admin delete with delete_enabled = false" 405 UNSUPPORTED
req GET /v2/adm/y/tags/list
expect "...removed nothing" 200
reg_stop
# `registry gc` applies the retain lines first (core_retain), then collects
# what the tags it removed held: keep=1 leaves the newest tag only.
rm -rf "$DATA"
mkdir -p "$DATA"
printf 'gc_interval = 0\ngc_delay = 0\ngc_untagged = 1s\nretain = "ret/** keep=1"\n' >"$TMP/gc.conf"
reg_start "$BIN" -c "$TMP/gc.conf"
image ret/app r1 r1
sleep 1.1 # pushed times are seconds: r2 is the newer
image ret/app r2 r2
reg_stop
sleep 1.1 # past gc_untagged: r1's manifest, once untagged, goes in the same run
gc
check "gc with retain lines exits 0" [ $? = 0 ]
check "...says what retention removed" grep -q "retention: 1 tag(s) removed" "$TMP/gc.err"
reg_start "$BIN" -c "$TMP/gc.conf"
req GET /v2/ret/app/tags/list
tl=$(grep -o '"r[12]"' "$TMP/b" | tr -d '\n')
check "...the older tag is gone, the newer stays" [ "$tl" = '"r2"' ]
req GET "/v2/ret/app/manifests/$(sha256 "$TMP/r1.m")" -H "Accept: $MT"
expect "...and its manifest was collected in the same run" 404 MANIFEST_UNKNOWN
reg_stop
summary
