#!/bin/bash
# Upgrade from the first release: a data folder made by it
# (tests/fixtures/first-release, see its README) served by this binary
# gives the answers the first release gave (catalog, tag lists, the digest
# of every tag, referrers, a deleted tag still gone), every blob and
# manifest byte-exact, the schema at this binary's version afterwards, and
# takes new pushes and deletes. A database newer than this binary knows is
# refused at start, untouched.
set -u
. "$(dirname "$0")/lib.sh"
BIN=$1
FX=$(cd "$(dirname "$0")/../fixtures/first-release" && pwd)
MT=application/vnd.oci.image.manifest.v1+json
command -v sqlite3 >/dev/null || {
	skip "sqlite3 is not installed (deploy/install-deps.sh --test installs it)"
	summary
	exit
}
cp -a "$FX/data" "$TMP/data"
mkdir -p "$TMP/data/uploads"
old=$(sqlite3 -readonly "$TMP/data/registry.db" 'PRAGMA user_version')
reg_start "$BIN"
while read -r kind a b c; do
	case $kind in
	GET)
		req GET "$a"
		check "first release's answer to GET $a" [ "$(cat "$TMP/b")" = "$b" ]
		;;
	DIGEST)
		req HEAD "/v2/$a/manifests/$b" -H "Accept: $MT"
		check "$a:$b is still $c" [ "$(hdr Docker-Content-Digest)" = "$c" ]
		;;
	STATUS)
		req GET "$a"
		check "GET $a: still $b (got $CODE)" [ "$CODE" = "$b" ]
		;;
	esac
done <"$FX/expect/answers.txt"
n=0
bad=0
for f in $(find "$FX/data/blobs" -type f); do
	want="sha256:$(basename "$f")"
	for repo in first/app first/tool; do
		got=$(curl -s "$BASE/v2/$repo/blobs/$want" | sha256sum | cut -d' ' -f1)
		[ "sha256:$got" = "$want" ] && n=$((n + 1)) && break
	done
	[ "sha256:$got" = "$want" ] || bad=$((bad + 1))
done
check "every stored blob and manifest is served byte-exact ($n, $bad bad)" [ "$bad" = 0 ] && [ "$n" -gt 0 ]
# New writes into the old folder.
echo "a layer after the upgrade" >"$TMP/l"
D=$(sha256 "$TMP/l")
req POST "/v2/first/app/blobs/uploads/?digest=$D" --data-binary @"$TMP/l"
expect "push a blob after the upgrade" 201
req DELETE /v2/first/app/manifests/v2
expect "delete a tag the first release made" 202
req GET /v2/first/app/tags/list
check "the tag list after the delete" [ "$(cat "$TMP/b")" = '{"name":"first/app","tags":["latest","v1"]}' ]
reg_stop
new=$(sqlite3 -readonly "$TMP/data/registry.db" 'PRAGMA user_version')
# this binary's version: what it gives a database it makes
mkdir -p "$TMP/fresh"
"$BIN" du -d "$TMP/fresh" >/dev/null 2>&1
cur=$(sqlite3 -readonly "$TMP/fresh/registry.db" 'PRAGMA user_version')
check "schema version $old -> $new (this binary's: $cur)" [ "$new" = "$cur" ]
check "the fixture itself is untouched" \
	[ "$(sqlite3 "file:$FX/data/registry.db?immutable=1" 'PRAGMA user_version')" = "$old" ]
# (immutable: a reader of a WAL database would leave -wal and -shm files there)

# A newer registry's database: refused, untouched.
sqlite3 "$TMP/data/registry.db" "PRAGMA user_version = $((cur + 1))"
sum=$(sha256sum <"$TMP/data/registry.db")
"$BIN" serve --listen 127.0.0.1:0 --data "$TMP/data" 2>"$TMP/newer.log" &
pid=$!
reg_wait "$pid" 10
rc=$?
check "a newer schema: start-up fails (exit $rc)" [ "$rc" = 1 ]
check "a newer schema: says why" grep -q "a newer registry made this database" "$TMP/newer.log"
check "a newer schema: the database is untouched" [ "$(sha256sum <"$TMP/data/registry.db")" = "$sum" ]
summary
