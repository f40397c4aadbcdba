#!/bin/bash
# registry backup DIR, while the registry serves and pushes go on: the
# backup is a data folder that, restored as the README says and served,
# gives every manifest and blob its database names byte for byte, every
# tag at its digest, and every image pushed before the backup began.
# Blobs are hard links on the same filesystem, copies on another (tmpfs).
# Refusals: a folder that is not empty, a data folder that does not exist,
# one the caller may not read; a backup changes nothing in the source.
# timeout: 300
set -u
. "$(dirname "$0")/lib.sh"
BIN=$1
MT=application/vnd.oci.image.manifest.v1+json
command -v sqlite3 >/dev/null || {
	skip "sqlite3 is not installed (deploy/install-deps.sh --test installs it)"
	summary
	exit
}

# push_image REPO TAG SIZE: a config, one random layer of SIZE bytes, the
# manifest; prints the manifest's status.
push_image() {
	local repo=$1 tag=$2 size=$3 d=$TMP/img.$$.$RANDOM dl dc
	mkdir -p "$d"
	head -c "$size" /dev/urandom >"$d/layer"
	printf '{"architecture":"amd64","os":"linux","n":"%s"}' "$repo:$tag" >"$d/config"
	dl=$(sha256 "$d/layer")
	dc=$(sha256 "$d/config")
	curl -s -o /dev/null -X POST --data-binary @"$d/layer" "$BASE/v2/$repo/blobs/uploads/?digest=$dl"
	curl -s -o /dev/null -X POST --data-binary @"$d/config" "$BASE/v2/$repo/blobs/uploads/?digest=$dc"
	printf '{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%s}]}' \
		"$MT" "$dc" "$(stat -c %s "$d/config")" "$dl" "$size" >"$d/manifest"
	curl -s -o /dev/null -w '%{http_code}' -X PUT -H "Content-Type: $MT" \
		--data-binary @"$d/manifest" "$BASE/v2/$repo/manifests/$tag"
	rm -rf "$d"
}

# verify_served DB: every manifest and blob DB references, read back from
# the running server, is byte-exact; every tag names its digest. Sets BAD.
verify_served() {
	local db=$1 repo dig tag got n=0
	BAD=0
	while IFS='|' read -r repo dig; do
		got=$(curl -s "$BASE/v2/$repo/blobs/$dig" | sha256sum | cut -d' ' -f1)
		[ "sha256:$got" = "$dig" ] || { BAD=$((BAD + 1)); echo "blob $repo $dig: got $got" >&2; }
		n=$((n + 1))
	done < <(sqlite3 -readonly "$db" "SELECT r.name, b.digest FROM repo_blobs b JOIN repos r ON r.id = b.repo_id")
	while IFS='|' read -r repo dig; do
		got=$(curl -s -H "Accept: $MT" "$BASE/v2/$repo/manifests/$dig" | sha256sum | cut -d' ' -f1)
		[ "sha256:$got" = "$dig" ] || { BAD=$((BAD + 1)); echo "manifest $repo $dig: got $got" >&2; }
		n=$((n + 1))
	done < <(sqlite3 -readonly "$db" "SELECT r.name, m.digest FROM manifests m JOIN repos r ON r.id = m.repo_id")
	while IFS='|' read -r repo tag dig; do
		got=$(curl -s -I -H "Accept: $MT" "$BASE/v2/$repo/manifests/$tag" |
			grep -i '^docker-content-digest:' | cut -d' ' -f2 | tr -d '\r')
		[ "$got" = "$dig" ] || { BAD=$((BAD + 1)); echo "tag $repo:$tag: got $got" >&2; }
		n=$((n + 1))
	done < <(sqlite3 -readonly "$db" "SELECT r.name, t.name, t.digest FROM tags t JOIN repos r ON r.id = t.repo_id")
	CHECKED=$n
}

reg_start "$BIN"
for i in $(seq 1 12); do
	push_image "seed/app$((i % 3))" "v$i" $((i * 70000)) >>"$TMP/seed.codes"
done
check "12 seed images pushed" [ "$(grep -o 201 "$TMP/seed.codes" | wc -l)" = 12 ]

# An upload session in progress: not content, so not in the backup.
req POST /v2/seed/app0/blobs/uploads/
req PATCH "$(hdr Location)" --data-binary "half a blob"
expect "an upload left open" 202
check "the source has an upload session" \
	[ "$(sqlite3 -readonly "$TMP/data/registry.db" 'SELECT count(*) FROM uploads')" = 1 ]

# Pushes go on while the backup runs (two writers, ~1 MB each).
load() {
	local w=$1 i=0
	while [ ! -e "$TMP/stop" ]; do
		i=$((i + 1))
		push_image "load/w$w" "t$i" 1000000 >>"$TMP/load.$w.codes"
	done
}
load 1 &
L1=$!
load 2 &
L2=$!
sleep 1
"$BIN" backup "$TMP/bk" -d "$TMP/data" 2>"$TMP/backup.out"
RC=$?
sleep 0.5
touch "$TMP/stop"
reg_wait_all "$L1" "$L2"
cat "$TMP/backup.out"
check "backup while pushing: exit 0 (got $RC)" [ "$RC" = 0 ]
check "backup says complete" grep -q "complete in $TMP/bk" "$TMP/backup.out"
NLOAD=$(cat "$TMP"/load.*.codes | grep -o 201 | wc -l)
check "pushes went on during the backup ($NLOAD)" [ "$NLOAD" -ge 2 ]
# (before sqlite3 opens it: a read-only reader of a WAL database leaves -wal)
check "the backup's database is one file (no -wal beside it)" [ ! -e "$TMP/bk/registry.db-wal" ]
check "no upload session is in the backup" \
	[ "$(sqlite3 -readonly "$TMP/bk/registry.db" 'SELECT count(*) FROM uploads')" = 0 ]
some=$(find "$TMP/bk/blobs" -type f | head -1)
check "same filesystem: blobs are hard links ($(stat -c %h "$some") links)" [ "$(stat -c %h "$some")" -ge 2 ]
check "no upload files in the backup" [ -z "$(ls -A "$TMP/bk/uploads" 2>/dev/null)" ]
reg_stop

# Restore as the README says: the backup becomes the data folder.
mv "$TMP/data" "$TMP/orig"
cp -a "$TMP/bk" "$TMP/data"
reg_start "$BIN"
verify_served "$TMP/data/registry.db"
check "restored: $CHECKED blobs, manifests and tags served byte-exact ($BAD bad)" [ "$BAD" = 0 ]
for i in $(seq 1 12); do
	req HEAD "/v2/seed/app$((i % 3))/manifests/v$i" -H "Accept: $MT"
	[ "$CODE" = 200 ] || echo "seed v$i: $CODE" >&2
	check "restored: seed image v$i is there" [ "$CODE" = 200 ]
done
req GET /v2/_catalog
check "restored: catalog lists the load repositories too" grep -q '"load/w1"' "$TMP/b"
reg_stop

# Another filesystem (tmpfs): copies, and the same content. The source is
# idle now: a backup changes nothing in it.
SHM=$(mktemp -d /dev/shm/regbk.XXXXXX)
before=$(sqlite3 -readonly "$TMP/orig/registry.db" .dump | sha256sum)
"$BIN" backup "$SHM/bk" -d "$TMP/orig" 2>"$TMP/backup2.out"
RC=$?
after=$(sqlite3 -readonly "$TMP/orig/registry.db" .dump | sha256sum)
check "backup to tmpfs: exit 0 (got $RC)" [ "$RC" = 0 ]
check "a backup changes nothing in the source database" [ "$before" = "$after" ]
some=$(find "$SHM/bk/blobs" -type f | head -1)
check "other filesystem: blobs are copies (1 link)" [ "$(stat -c %h "$some")" = 1 ]
check "other filesystem: the report says bytes were copied" grep -q "0 hard links" "$TMP/backup2.out"
rm -rf "$TMP/data"
cp -a "$SHM/bk" "$TMP/data"
rm -rf "$SHM"
reg_start "$BIN"
verify_served "$TMP/data/registry.db"
check "restored from tmpfs: $CHECKED served byte-exact ($BAD bad)" [ "$BAD" = 0 ]
reg_stop

# Refusals.
mkdir -p "$TMP/full" && echo x >"$TMP/full/something"
"$BIN" backup "$TMP/full" -d "$TMP/orig" 2>"$TMP/err"
RC=$?
check "a folder that is not empty: exit 1 (got $RC)" [ "$RC" = 1 ]
check "a folder that is not empty: said" grep -q "not empty" "$TMP/err"
check "a folder that is not empty: nothing written" [ "$(ls -A "$TMP/full")" = something ]
"$BIN" backup "$TMP/new" -d "$TMP/no-such-data" 2>"$TMP/err"
RC=$?
check "no data folder: exit 1 (got $RC)" [ "$RC" = 1 ]
check "no data folder: not made" [ ! -e "$TMP/no-such-data" ]
"$BIN" backup 2>/dev/null
check "no DIR: usage, exit 2" [ "$?" = 2 ]
"$BIN" backup a b 2>/dev/null
check "two DIRs: usage, exit 2" [ "$?" = 2 ]
# Who may: whoever can read the data folder. The unit keeps it 0750
# registry:registry; another user gets nothing.
chmod 700 "$TMP/orig"
chmod 777 "$TMP"
setpriv --reuid=65534 --regid=65534 --clear-groups "$BIN" backup "$TMP/byother" -d "$TMP/orig" \
	2>"$TMP/err"
RC=$?
check "a user who may not read the data folder: exit 1 (got $RC)" [ "$RC" = 1 ]
check "a user who may not read the data folder: no backup database" [ ! -e "$TMP/byother/registry.db" ]
chmod 700 "$TMP"
summary
