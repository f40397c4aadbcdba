# shellcheck shell=bash
# Helpers shared by run.sh and the per-client case scripts (sourced).
#
# A case script is run as `bash CLIENT.sh CASE` by run.sh, with:
#   REG    host:port the clients talk to (127.0.0.1:PORT)
#   WORK   the run's temp dir; each client keeps its state under WORK/CLIENT
#   CLIENTS_DIR  this directory
# Exit 0 = PASS, 77 = SKIP (last line of output is the reason), else FAIL.

# One client command, bounded in time: tmo SECONDS CMD...
# The command is echoed first, so a case's log reads as a transcript.
tmo() {
	local s=$1
	shift
	echo "+ $*" >&2
	timeout -k 5 "$s" "$@"
}

die() {
	echo "FAILED: $*" >&2
	exit 1
}

# need FILE CASE: FILE is what an earlier case leaves when it passes.
need() {
	[ -s "$1" ] || die "needs the $2 case to have passed"
}

# shellcheck source=../skip.sh
. "$CLIENTS_DIR/../skip.sh"

# skip REASON: this case cannot run here (exit 77); under CI=true a failure.
skip() {
	skip_record "$@" || exit 1
	exit 77
}

# skip_mode REASON: a case that does not apply to the server under test (a
# REGISTRY_CMD stand-in): never a failure, and not counted as a skip.
skip_mode() {
	echo "SKIP: $*"
	exit 77
}

# expect_eq WHAT EXPECTED ACTUAL
expect_eq() {
	if [ "$2" != "$3" ]; then
		die "$1: expected '$2', got '$3'"
	fi
	echo "ok: $1 = $3"
}

# expect_digest WHAT VALUE: VALUE looks like sha256:<64 hex>.
expect_digest() {
	case $2 in
	sha256:????????????????????????????????????????????????????????????????) ;;
	*) die "$1: not a sha256 digest: '$2'" ;;
	esac
	case ${2#sha256:} in
	*[!0-9a-f]*) die "$1: not a sha256 digest: '$2'" ;;
	esac
}

sha256_file() {
	echo "sha256:$(sha256sum "$1" | cut -d' ' -f1)"
}

sha256_stdin() {
	echo "sha256:$(sha256sum | cut -d' ' -f1)"
}

# The image payload: a static busybox (Debian's busybox-static).
payload() {
	local p
	for p in /bin/busybox /usr/bin/busybox; do
		if [ -x "$p" ] && file -L "$p" 2>/dev/null | grep -q 'statically linked'; then
			echo "$p"
			return 0
		fi
	done
	# file(1) may be missing: accept a busybox that is not dynamically linked.
	for p in /bin/busybox /usr/bin/busybox; do
		if [ -x "$p" ] && ! ldd "$p" >/dev/null 2>&1; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

goarch() {
	case $(uname -m) in
	x86_64) echo amd64 ;;
	aarch64) echo arm64 ;;
	armv7l) echo arm ;;
	i?86) echo 386 ;;
	*) uname -m ;;
	esac
}

# Digest of the manifest a registry serves for NAME:REF, computed from the raw
# bytes skopeo fetches (not from any header).
remote_manifest_digest() {
	tmo 60 skopeo --insecure-policy inspect --tls-verify=false --raw "docker://$REG/$1" | sha256_stdin
}

# Prints the whitespace-separated layer digests of a manifest file.
manifest_layers() {
	jq -r '[.layers[].digest] | join(" ")' "$1"
}

# Manifest file of the single image in an OCI layout directory.
oci_manifest_path() {
	local d
	d=$(jq -r '.manifests[0].digest' "$1/index.json")
	echo "$1/blobs/sha256/${d#sha256:}"
}

# Checks every blob of an OCI layout against its file name.
oci_verify_blobs() {
	local f n=0
	for f in "$1"/blobs/sha256/*; do
		[ "$(sha256_file "$f")" = "sha256:${f##*/}" ] || die "blob $f does not match its digest"
		n=$((n + 1))
	done
	echo "ok: $n blobs in $1 match their digests"
}

# make_oci_layout DIR TAG: a two-layer image (busybox; a small text file)
# built by hand into an OCI image layout, reproducibly. Prints nothing.
make_oci_layout() {
	local dir=$1 tag=$2 tmp bb l l1 l2 d1 d2 g1 g2 cfg cfgd man mand
	bb=$(payload) || die "no static busybox (apt-get install busybox-static)"
	tmp=$dir.build
	mkdir -p "$tmp/r1/bin" "$tmp/r2/etc" "$dir/blobs/sha256"
	cp "$bb" "$tmp/r1/bin/busybox"
	ln -s busybox "$tmp/r1/bin/sh"
	echo "registry client test layer" >"$tmp/r2/etc/regclients.txt"
	for l in r1 r2; do
		tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
			-C "$tmp/$l" -cf "$tmp/$l.tar" .
		gzip -n -9 -c "$tmp/$l.tar" >"$tmp/$l.tar.gz"
	done
	d1=$(sha256_file "$tmp/r1.tar")
	d2=$(sha256_file "$tmp/r2.tar")
	g1=$(sha256_file "$tmp/r1.tar.gz")
	g2=$(sha256_file "$tmp/r2.tar.gz")
	l1=$(stat -c %s "$tmp/r1.tar.gz")
	l2=$(stat -c %s "$tmp/r2.tar.gz")
	cp "$tmp/r1.tar.gz" "$dir/blobs/sha256/${g1#sha256:}"
	cp "$tmp/r2.tar.gz" "$dir/blobs/sha256/${g2#sha256:}"
	cfg=$tmp/config.json
	jq -cn --arg arch "$(goarch)" --arg d1 "$d1" --arg d2 "$d2" '{
		created: "1970-01-01T00:00:00Z", architecture: $arch, os: "linux",
		config: {Env: ["PATH=/bin"], Cmd: ["/bin/busybox", "echo", "hello"]},
		rootfs: {type: "layers", diff_ids: [$d1, $d2]},
		history: [{created: "1970-01-01T00:00:00Z", created_by: "regclients: busybox"},
		          {created: "1970-01-01T00:00:00Z", created_by: "regclients: text file"}]
	}' | tr -d '\n' >"$cfg"
	cfgd=$(sha256_file "$cfg")
	cp "$cfg" "$dir/blobs/sha256/${cfgd#sha256:}"
	man=$tmp/manifest.json
	jq -cn --arg c "$cfgd" --argjson cs "$(stat -c %s "$cfg")" \
		--arg g1 "$g1" --argjson l1 "$l1" --arg g2 "$g2" --argjson l2 "$l2" '{
		schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
		config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $c, size: $cs},
		layers: [
			{mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: $g1, size: $l1},
			{mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: $g2, size: $l2}],
		annotations: {"org.opencontainers.image.title": "registry client test"}
	}' | tr -d '\n' >"$man"
	mand=$(sha256_file "$man")
	cp "$man" "$dir/blobs/sha256/${mand#sha256:}"
	jq -cn --arg d "$mand" --argjson s "$(stat -c %s "$man")" --arg t "$tag" '{
		schemaVersion: 2,
		manifests: [{mediaType: "application/vnd.oci.image.manifest.v1+json",
			digest: $d, size: $s, annotations: {"org.opencontainers.image.ref.name": $t}}]
	}' >"$dir/index.json"
	echo '{"imageLayoutVersion":"1.0.0"}' >"$dir/oci-layout"
	rm -rf "$tmp"
}

# Free TCP port on 127.0.0.1 (small race until the server binds it).
free_port() {
	free_port_on 127.0.0.1
}

# Free TCP port on HOST, an IPv4 or IPv6 address (free_port_on ::1).
free_port_on() {
	local h=$1 p i
	if command -v python3 >/dev/null 2>&1; then
		python3 -c 'import socket, sys
h = sys.argv[1]
s = socket.socket(socket.AF_INET6 if ":" in h else socket.AF_INET)
s.bind((h, 0))
print(s.getsockname()[1])' "$h" && return 0
	fi
	for i in $(seq 1 50); do
		p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
		if ! (exec 3<>"/dev/tcp/$h/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
		: "$i"
	done
	return 1
}

# Unmounts whatever is mounted below DIR (deepest first), lazily if busy.
umount_below() {
	local m
	awk -v p="$1/" 'index($2, p) == 1 || $2 == substr(p, 1, length(p) - 1) { print $2 }' /proc/self/mounts |
		sort -r | while read -r m; do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
	done
}

# Kills (by pid) processes whose command line mentions DIR, e.g. shims left
# by a daemon that ran on files below DIR.
kill_users_of() {
	local d pid
	for d in /proc/[0-9]*; do
		pid=${d#/proc/}
		[ "$pid" = "$$" ] && continue
		if tr '\0' ' ' <"$d/cmdline" 2>/dev/null | grep -qF -- "$1/"; then
			kill -KILL "$pid" 2>/dev/null || true
		fi
	done
}
