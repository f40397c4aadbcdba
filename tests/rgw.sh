#!/bin/bash
# rgw.sh - a one-machine Ceph RADOS Gateway for the S3 tests and bench.
#
#   tests/rgw.sh start DIR   starts mon, osd and radosgw under DIR (a fresh
#                            folder), waits until S3 answers, creates a user
#                            and writes DIR/env (RGW_ENDPOINT, RGW_ACCESS,
#                            RGW_SECRET, RGW_PIDS) for scripts to source.
#   tests/rgw.sh stop DIR    stops the daemons by their pids and removes DIR.
#
# Started once, it is shared by several scripts (each uses its own bucket).
# Settings that mattered (see /work/shared/FACTS.md): one mon on
# v2:127.0.0.1:3300-like free port, auth none, `ms mon client mode = crc`,
# pool size 1, a bluestore OSD on a sparse file, ceph-osd --mkfs --osd-uuid.
set -u

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

start() {
	local dir=$1 monport rgwport fsid uuid i
	mkdir -p "$dir"/{mon,osd,run,log}
	dir=$(cd "$dir" && pwd)
	for b in ceph-mon ceph-osd radosgw radosgw-admin ceph; do
		command -v "$b" >/dev/null || {
			echo "rgw.sh: $b missing (deploy/install-deps.sh --test installs ceph-mon ceph-osd radosgw ceph-common)" >&2
			return 2
		}
	done
	monport=$(free_port)
	rgwport=$(free_port)
	fsid=$(cat /proc/sys/kernel/random/uuid)
	cat >"$dir/ceph.conf" <<CONF
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$monport
mon initial members = a
public addr = 127.0.0.1
cluster addr = 127.0.0.1
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc
ms mon cluster mode = crc
ms mon service mode = crc
ms client mode = crc
ms cluster mode = crc
ms service mode = crc
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
mon allow pool delete = true
osd pool default pg autoscale mode = off
osd pool default pg num = 8
osd pool default pgp num = 8
mon max pg per osd = 1000
mon warn on pool no redundancy = false
osd objectstore = bluestore
osd crush chooseleaf type = 0
run dir = $dir/run
admin socket = $dir/run/\$name.asok
log file = $dir/log/\$name.log
pid file = $dir/run/\$name.pid
keyring = /dev/null
[mon.a]
mon data = $dir/mon
[osd.0]
osd data = $dir/osd
bluestore block path = $dir/osd.block
bluestore block create = true
bluestore block size = 10737418240
bluestore fsck on mkfs = false
osd memory target = 536870912
bluestore cache autotune = false
bluestore cache size = 67108864
[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:$rgwport
rgw data = $dir/rgw
rgw dns name = 127.0.0.1
rgw thread pool size = 64
rgw enable usage log = false
CONF
	local C=(-c "$dir/ceph.conf")
	monmaptool --create --clobber --fsid "$fsid" --addv a "[v2:127.0.0.1:$monport]" "$dir/monmap" >/dev/null || return 1
	ceph-mon "${C[@]}" -i a --mkfs --monmap "$dir/monmap" || return 1
	ceph-mon "${C[@]}" -i a || return 1
	uuid=$(cat /proc/sys/kernel/random/uuid)
	for i in $(seq 1 100); do ceph "${C[@]}" --connect-timeout 2 osd create "$uuid" >/dev/null 2>&1 && break; sleep 0.2; done
	ceph-osd "${C[@]}" -i 0 --mkfs --osd-uuid "$uuid" >"$dir/log/mkfs.log" 2>&1 || { cat "$dir/log/mkfs.log" >&2; return 1; }
	ceph "${C[@]}" osd crush add osd.0 1.0 host=localhost root=default >/dev/null 2>&1
	ceph-osd "${C[@]}" -i 0 || return 1
	mkdir -p "$dir/rgw"
	radosgw "${C[@]}" -n client.rgw || return 1
	for i in $(seq 1 300); do
		curl -s -o /dev/null "http://127.0.0.1:$rgwport/" && break
		sleep 0.2
	done
	curl -s -o /dev/null "http://127.0.0.1:$rgwport/" || { echo "rgw.sh: radosgw did not answer" >&2; return 1; }
	local out
	for i in $(seq 1 50); do
		out=$(radosgw-admin "${C[@]}" -n client.rgw user create --uid=test --display-name=test \
			--access-key=RGWTESTACCESS --secret=RGWTESTSECRETKEY0123456789 2>/dev/null) && break
		sleep 0.3
	done
	[ -n "$out" ] || { echo "rgw.sh: user create failed" >&2; return 1; }
	cat >"$dir/env" <<ENV
RGW_DIR=$dir
RGW_ENDPOINT=http://127.0.0.1:$rgwport
RGW_ACCESS=RGWTESTACCESS
RGW_SECRET=RGWTESTSECRETKEY0123456789
RGW_PIDS="$(cat "$dir"/run/*.pid | tr '\n' ' ')"
ENV
	cat "$dir/env"
}

stop() {
	local dir=$1 p i
	for p in radosgw ceph-osd ceph-mon; do :; done
	for f in "$dir"/run/client.rgw.pid "$dir"/run/osd.0.pid "$dir"/run/mon.a.pid; do
		[ -f "$f" ] || continue
		p=$(cat "$f")
		kill "$p" 2>/dev/null
		for i in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null
	done
	rm -rf "$dir"
}

case "${1:-}" in
start) start "$2" ;;
stop) stop "$2" ;;
*) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
