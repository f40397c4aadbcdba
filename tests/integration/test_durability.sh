#!/bin/bash
# The order of the durability calls that publish a blob, read from an strace
# of the running server (SIGKILL tests cannot see it: the page cache
# survives a killed process, only a lost machine loses it). For a small
# monolithic push (direct writes), a large monolithic and a large chunked
# push (past 1 MiB: the staged path, O_DIRECT writes from helper threads)
# and a manifest PUT (blobstore_put's temporary file):
#   - the upload file's last write comes before its fsync/fdatasync,
#   - that fsync comes before the rename(2) into blobs/,
#   - the shard folder blobs/<alg>/<xx> is fsynced after the rename.
set -u
. "$(dirname "$0")/lib.sh"
BIN=$1
MT=application/vnd.oci.image.manifest.v1+json

# strace is a test dependency (deploy/install-deps.sh --test); a container
# that forbids ptrace is the one reason to skip.
check "strace is installed (deploy/install-deps.sh --test)" bash -c "command -v strace >/dev/null"
if ! command -v strace >/dev/null; then
	summary
	exit
fi
if ! strace -f -qq -o /dev/null true 2>/dev/null; then
	echo "SKIP: ptrace is not permitted here, the durability order cannot be traced" >&2
	summary
	exit
fi

# The server under strace: -f (worker and helper threads), -y (fds shown
# with their paths), every call that writes, syncs or renames.
# LeakSanitizer cannot run under ptrace: an ASan build is traced without
# it (the other tests check leaks).
cat >"$TMP/straced" <<EOF
#!/bin/sh
export ASAN_OPTIONS="\${ASAN_OPTIONS:+\$ASAN_OPTIONS:}detect_leaks=0"
exec strace -f -y -qq -s 200 -o "$TMP/trace.raw" \
	-e trace=openat,write,pwrite64,writev,pwritev,pwritev2,fsync,fdatasync,sync_file_range,rename,renameat,renameat2 \
	"$(readlink -f "$BIN")" "\$@"
EOF
chmod +x "$TMP/straced"
reg_start "$TMP/straced"
STRACE_PID=$REG_PID
SERVER_PID=$(cat "/proc/$STRACE_PID/task/$STRACE_PID/children")
check "the server runs under strace" [ -n "$SERVER_PID" ]

# ---- the pushes ----
head -c 1000 /dev/urandom >"$TMP/small"
head -c 3000000 /dev/urandom >"$TMP/mono"
head -c 3500000 /dev/urandom >"$TMP/chunked"
head -c 2000000 "$TMP/chunked" >"$TMP/c1"
tail -c +2000001 "$TMP/chunked" >"$TMP/c2"
DSMALL=$(sha256 "$TMP/small")
DMONO=$(sha256 "$TMP/mono")
DCHUNKED=$(sha256 "$TMP/chunked")
req POST "/v2/dur/app/blobs/uploads/?digest=$DSMALL" --data-binary @"$TMP/small"
expect "small monolithic push" 201
req POST "/v2/dur/app/blobs/uploads/?digest=$DMONO" --data-binary @"$TMP/mono"
expect "3 MB monolithic push (staged)" 201
req POST /v2/dur/app/blobs/uploads/
LOC=$(hdr Location)
req PATCH "$LOC" -H 'Transfer-Encoding: chunked' --data-binary @"$TMP/c1"
expect "chunked push: first PATCH, streamed (staged)" 202
req PATCH "$LOC" -H "Content-Range: 2000000-3499999" --data-binary @"$TMP/c2"
expect "chunked push: second PATCH" 202
req PUT "$LOC?digest=$DCHUNKED"
expect "chunked push: PUT" 201
printf '{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":1000},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":3000000}]}' \
	"$MT" "$DSMALL" "$DMONO" >"$TMP/manifest"
DMAN=$(sha256 "$TMP/manifest")
req PUT /v2/dur/app/manifests/v1 -H "Content-Type: $MT" --data-binary @"$TMP/manifest"
expect "manifest PUT" 201

# Stop the server (strace follows it out) so the trace is complete.
kill -TERM "$SERVER_PID"
rc=0
reg_wait "$STRACE_PID" || rc=$?
REG_PID=
check "server exits 0 on SIGTERM (under strace)" [ "$rc" = 0 ]
check "no sanitizer report" bash -c "! grep -qE 'Sanitizer|runtime error' '$REG_LOG'"
[ "$rc" = 0 ] || tail -5 "$REG_LOG" >&2

# One line per call, in order of completion: a call another thread
# interrupted ("<unfinished ...>", later "<... NAME resumed>") is joined
# and placed where it returned.
awk '
/^[0-9]+ +(\+\+\+|---) / { next }
/ <unfinished \.\.\.>$/ { p = $1; l = $0; sub(/ <unfinished \.\.\.>$/, "", l); pend[p] = l; next }
/^[0-9]+ +<\.\.\. [a-z0-9_]+ resumed>/ {
	p = $1; l = $0; sub(/^[0-9]+ +<\.\.\. [a-z0-9_]+ resumed>/, "", l)
	print pend[p] l; delete pend[p]; next
}
{ print }' "$TMP/trace.raw" >"$TMP/trace"
D=$TMP/data

# published WHAT DIGEST [staged]: checks the order of calls that put
# DIGEST's file in place (and, with staged, that its upload file was also
# opened with O_DIRECT: the staged writer's path).
published() {
	local what=$1 hex=${2#sha256:} staged=${3:-} r name= f w s
	local target="sha256/${hex:0:2}/$hex"
	r=$(grep -n "rename.*<$D/uploads>, \"[^\"]*\", [0-9]*<$D/blobs>, \"$target\".* = 0\$" "$TMP/trace" |
		head -1 | cut -d: -f1)
	check "$what: renamed from uploads/ into blobs/$target" [ -n "$r" ]
	[ -n "$r" ] || return
	[[ $(sed -n "${r}p" "$TMP/trace") =~ uploads\>,\ \"([^\"]+)\" ]] && name=${BASH_REMATCH[1]}
	f=$(grep -nE "(fsync|fdatasync)\([0-9]+<$D/uploads/$name>\) += 0\$" "$TMP/trace" |
		cut -d: -f1 | awk -v r="$r" '$1 < r' | tail -1)
	check "$what: uploads/$name fsynced before its rename" [ -n "$f" ]
	w=$(grep -nE "write[a-z0-9]*\([0-9]+<$D/uploads/$name>" "$TMP/trace" | cut -d: -f1 | tail -1)
	check "$what: written before (and not after) that fsync" [ -n "$w" ] && [ -n "$f" ] && [ "$w" -lt "$f" ]
	s=$(grep -nE "(fsync|fdatasync)\([0-9]+<$D/blobs/sha256/${hex:0:2}>\) += 0\$" "$TMP/trace" |
		cut -d: -f1 | awk -v r="$r" '$1 > r' | head -1)
	check "$what: folder blobs/sha256/${hex:0:2} fsynced after the rename" [ -n "$s" ]
	if [ -n "$staged" ]; then
		check "$what: went through the staged writer (O_DIRECT)" \
			grep -qE "openat\([0-9]+<$D/uploads>, \"$name\", [^)]*O_DIRECT" "$TMP/trace"
	fi
}
published "small monolithic push" "$DSMALL"
published "3 MB monolithic push" "$DMONO" staged
published "3.5 MB chunked push" "$DCHUNKED" staged
published "manifest PUT" "$DMAN"
if [ "$FAILED" != 0 ]; then
	echo "--- trace (calls on the data folder) ---" >&2
	grep "$D" "$TMP/trace" | grep -v 'write' | tail -40 >&2
fi
summary
