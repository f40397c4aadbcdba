#!/bin/bash
# The deploy files, checked with the real tools where they run here:
# `make install` (DESTDIR, PREFIX; an edited configuration kept), the man
# pages (man --warnings), the systemd unit (systemd-analyze verify, and
# security rated OK or better, offline: systemd is not PID 1 here), the
# README's order of steps (the service user owns the data folder; `user
# add` and `cert` run as that user write files the service reads, as root
# they do not), and the container files: .containerignore tried by a real
# podman build of the context, the Containerfile's runtime stage, and its
# ENTRYPOINT and HEALTHCHECK commands run outside a container.
# (tests/integration/test_container.sh builds deploy/Containerfile itself.)
# timeout: 300
set -u
. "$(dirname "$0")/lib.sh"
BIN=$(readlink -f "$1")
TOP=$(cd "$(dirname "$0")/../.." && pwd)
cd "$TOP" || exit 1
ROOT=$TMP/root
SVC=nobody # stands in for the `registry` user the README creates

# ---- make install ----
make -s -o build/registry install DESTDIR="$ROOT" >"$TMP/install.out" 2>&1
check "make install: exit 0" [ "$?" = 0 ]
install -m 755 "$BIN" "$ROOT/usr/local/bin/registry" # the binary under test
for f in usr/local/bin/registry usr/local/share/man/man8/registry.8 \
	usr/local/share/man/man5/registry.conf.5 etc/systemd/system/registry.service \
	etc/registry/registry.conf; do
	check "make install: $f" [ -f "$ROOT/$f" ]
done
check "make install: the binary is executable" [ -x "$ROOT/usr/local/bin/registry" ]
check "make install: registry.conf is readable by all (the service user)" \
	[ "$(stat -c %a "$ROOT/etc/registry/registry.conf")" = 644 ]
check "make install: data = /var/lib/registry (the unit's StateDirectory)" \
	grep -qx 'data = /var/lib/registry' "$ROOT/etc/registry/registry.conf"
check "make install: the configuration is otherwise registry.conf" bash -c \
	"diff <(grep -v '^data = ' registry.conf) <(grep -v '^data = ' '$ROOT/etc/registry/registry.conf')"
echo "log_level = debug" >>"$ROOT/etc/registry/registry.conf"
make -s -o build/registry install DESTDIR="$ROOT" >"$TMP/install2.out" 2>&1
check "make install again: an edited configuration is kept" \
	grep -qx 'log_level = debug' "$ROOT/etc/registry/registry.conf"
check "make install again: says so" grep -q "^kept " "$TMP/install2.out"
sed -i '$d' "$ROOT/etc/registry/registry.conf"
make -s -o build/registry install DESTDIR="$TMP/opt" PREFIX=/opt/reg >/dev/null 2>&1
check "PREFIX=/opt/reg: the binary there" [ -x "$TMP/opt/opt/reg/bin/registry" ]
check "PREFIX=/opt/reg: the unit runs it" \
	grep -qx 'ExecStart=/opt/reg/bin/registry serve -c /etc/registry/registry.conf' \
	"$TMP/opt/etc/systemd/system/registry.service"

# ---- man pages ----
for page in usr/local/share/man/man8/registry.8 usr/local/share/man/man5/registry.conf.5; do
	out=$(man --warnings -l "$ROOT/$page" 2>&1 >/dev/null)
	check "man --warnings $page: no warning${out:+ (got: $out)}" [ -z "$out" ]
	check "man renders $page" bash -c "man -l '$ROOT/$page' 2>/dev/null | grep -q registry"
done
for cmd in serve "user add" "user del" "user list" "user unlock" cert "mirror sync" export import backup version; do
	check "registry(8) has the command '$cmd'" grep -q "^\.B.* $cmd\b\|^\.B $cmd\b\|^\.BI \"$cmd\|^\.BI $cmd\|^\.B $cmd$" \
		"$ROOT/usr/local/share/man/man8/registry.8"
done
for sec in SIGNALS FILES "EXIT STATUS"; do
	check "registry(8) has $sec" grep -qx "\.SH \"\?$sec\"\?" "$ROOT/usr/local/share/man/man8/registry.8"
done

# ---- the systemd unit ----
if ! command -v systemd-analyze >/dev/null; then
	skip "systemd-analyze is not installed (package systemd; deploy/install-deps.sh --test)"
else
	mkdir -p "$TMP/unit"
	UNIT=$TMP/unit/registry.service
	# the installed unit, its ExecStart pointing into DESTDIR
	sed "s@^ExecStart=/usr/local/bin/registry@ExecStart=$ROOT/usr/local/bin/registry@" \
		"$ROOT/etc/systemd/system/registry.service" >"$UNIT"
	out=$(MANPATH=$ROOT/usr/local/share/man systemd-analyze verify "$UNIT" 2>&1)
	rc=$?
	check "systemd-analyze verify: exit 0, nothing said (got $rc: $out)" [ "$rc" = 0 ] && [ -z "$out" ]
	systemd-analyze security --offline=yes --threshold=49 "$UNIT" >"$TMP/security.out" 2>&1
	rc=$?
	level=$(grep 'Overall exposure level' "$TMP/security.out" | sed 's/.*: //')
	echo "systemd-analyze security: $level"
	check "systemd-analyze security: OK or better (got $level, exit $rc)" \
		bash -c "[ $rc = 0 ] && echo '$level' | grep -qE ' (OK|SAFE|PERFECT)'"
	grace=$(sed -n 's/^#define HTTP_STOP_GRACE_SEC \([0-9]*\).*/\1/p' server/http.c)
	stop=$(sed -n 's/^TimeoutStopSec=\([0-9]*\)s\?$/\1/p' deploy/registry.service)
	check "TimeoutStopSec ($stop s) is longer than the drain ($grace s)" [ "$stop" -gt "$grace" ]
	check "Type=notify" grep -qx 'Type=notify' deploy/registry.service
	check "NotifyAccess=main" grep -qx 'NotifyAccess=main' deploy/registry.service
	check "a watchdog" grep -qE '^WatchdogSec=[0-9]+s?$' deploy/registry.service
	check "User=registry" grep -qx 'User=registry' deploy/registry.service
fi

# ---- the README's steps in order, as the service's user ----
# The user first (here: nobody), then the data folder it owns, then `user
# add` and `cert` run as that user (sudo -u registry in the README): the
# service, running as it, reads what they wrote.
DATA=$TMP/var/lib/registry
install -d -o "$SVC" -m 750 "$DATA"
chmod 755 "$TMP" "$TMP/var" "$TMP/var/lib"
as_svc() { setpriv --reuid="$SVC" --regid=nogroup --clear-groups "$@"; }
CONF=$TMP/svc.conf
sed "s@^data = .*@data = $DATA@" "$ROOT/etc/registry/registry.conf" >"$CONF"
echo 'pw-alice' | as_svc "$ROOT/usr/local/bin/registry" user add alice --password-stdin -c "$CONF" >/dev/null 2>&1
check "user add as the service user: exit 0" [ "$?" = 0 ]
as_svc "$ROOT/usr/local/bin/registry" cert localhost 127.0.0.1 -c "$CONF" >/dev/null 2>&1
check "cert as the service user: exit 0" [ "$?" = 0 ]
check "the users file belongs to the service user" [ "$(stat -c %U "$DATA/htpasswd")" = "$SVC" ]
check "the TLS key belongs to the service user" [ "$(stat -c %U "$DATA/tls/server.key")" = "$SVC" ]
sed -i -e "s@^auth = none@auth = basic@" "$CONF"
printf 'tls_cert = %s\ntls_key = %s\n' "$DATA/tls/server.crt" "$DATA/tls/server.key" >>"$CONF"
: >"$REG_LOG"
# (setpriv itself in the background, not as_svc: $! must be the server's pid)
setpriv --reuid="$SVC" --regid=nogroup --clear-groups \
	"$ROOT/usr/local/bin/registry" serve -c "$CONF" --listen 127.0.0.1:0 2>>"$REG_LOG" &
REG_PID=$!
for _ in $(seq 1 50); do
	PORT=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$REG_LOG" | tail -1)
	[ -n "$PORT" ] && break
	sleep 0.1
done
CODE=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$DATA/tls/ca.crt" -u alice:pw-alice \
	"https://localhost:$PORT/v2/")
check "served as the service user, HTTPS and its users file: alice gets 200 (got $CODE)" [ "$CODE" = 200 ]
CODE=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$DATA/tls/ca.crt" "https://localhost:$PORT/v2/")
check "anonymous gets 401 (got $CODE)" [ "$CODE" = 401 ]
reg_stop
# As root instead (without sudo -u): files the service cannot read.
rm -rf "$DATA"/htpasswd* "$DATA/tls"
echo 'pw-alice' | "$ROOT/usr/local/bin/registry" user add alice --password-stdin -c "$CONF" >/dev/null 2>&1
check "user add as root: the file is root's, mode 600 (why the README says sudo -u)" \
	[ "$(stat -c '%U %a' "$DATA/htpasswd")" = "root 600" ]
check "user add as root: the service user cannot read it" bash -c "! setpriv --reuid=$SVC --regid=nogroup --clear-groups cat '$DATA/htpasswd' >/dev/null 2>&1"

# ---- the container files ----
CF=deploy/Containerfile
runtime=$(awk '/^FROM /{n++} n==2' "$CF")
check "Containerfile: two stages" [ "$(grep -c '^FROM ' "$CF")" = 2 ]
echo "$runtime" >"$TMP/runtime"
check "Containerfile: ca-certificates in the runtime stage" grep -q ca-certificates "$TMP/runtime"
user=$(echo "$runtime" | sed -n 's/^USER //p' | tail -1)
check "Containerfile: runs as a user that is not root (USER $user)" \
	bash -c "[ -n '$user' ] && [ '$user' != root ] && [ '$user' != 0 ]"
check "Containerfile: a HEALTHCHECK" grep -q '^HEALTHCHECK ' "$CF"
check "Containerfile: the configuration path in the entrypoint" \
	grep -q '^ENTRYPOINT \[.*"-c", "/etc/registry/registry.conf"' "$CF"
pkgs=$(echo "$runtime" | sed -n '/apt-get install/,/rm -rf/p' | tr ' \\&' '\n' |
	grep -E '^[a-z0-9][a-z0-9.+-]+$' | grep -vE '^(apt-get|install|rm|update|no|y)$')
for p in $pkgs; do
	check "Containerfile: runtime package $p exists in Debian 12" \
		bash -c "apt-cache show '$p' >/dev/null 2>&1"
done
check "compose.yaml: stop_grace_period longer than the drain" python3 -c "
import re, yaml, sys
c = yaml.safe_load(open('deploy/compose.yaml'))['services']['registry']
s = int(re.match(r'(\d+)s$', c['stop_grace_period']).group(1))
sys.exit(0 if s > $grace and c['build']['dockerfile'] == 'deploy/Containerfile' else 1)"

# The ENTRYPOINT and HEALTHCHECK, as written, outside a container: the
# image's paths mapped to the installed tree, flags appended as `podman
# run IMAGE FLAGS` would.
mapfile -t ep < <(sed -n 's/^ENTRYPOINT //p' "$CF" | python3 -c 'import json,sys; print("\n".join(json.load(sys.stdin)))')
ep=("${ep[@]/#\/usr\/local\/bin\/registry/$ROOT/usr/local/bin/registry}")
ep=("${ep[@]/#\/etc\/registry\/registry.conf/$ROOT/etc/registry/registry.conf}")
mkdir -p "$TMP/cdata"
: >"$REG_LOG"
"${ep[@]}" --listen 127.0.0.1:0 --data "$TMP/cdata" 2>>"$REG_LOG" &
REG_PID=$!
for _ in $(seq 1 50); do
	PORT=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$REG_LOG" | tail -1)
	[ -n "$PORT" ] && break
	sleep 0.1
done
# The HEALTHCHECK (exec form) reads the configuration the image has: here
# the installed one with the listen address the entrypoint was given.
mapfile -t hc < <(sed -n '/^HEALTHCHECK /,/^[^\t]/p' "$CF" | sed -n 's/^\tCMD //p' |
	python3 -c 'import json,sys; print("\n".join(json.load(sys.stdin)))')
sed "s/^listen = .*/listen = 127.0.0.1:$PORT/" "$ROOT/etc/registry/registry.conf" >"$TMP/hc.conf"
hc=("${hc[@]/#\/usr\/local\/bin\/registry/$ROOT/usr/local/bin/registry}")
hc=("${hc[@]/#\/etc\/registry\/registry.conf/$TMP/hc.conf}")
check "the HEALTHCHECK command is found (${hc[*]})" [ "${#hc[@]}" -gt 1 ]
check "HEALTHCHECK: no curl (the image has none)" bash -c "! grep -A1 '^HEALTHCHECK ' '$CF' | grep -qw curl"
"${hc[@]}" >"$TMP/hc.out" 2>&1
rc=$?
check "HEALTHCHECK: healthy while the entrypoint serves ($(head -1 "$TMP/hc.out"))" [ "$rc" = 0 ]
reg_stop
"${hc[@]}" >"$TMP/hc.out" 2>&1
rc=$?
check "HEALTHCHECK: unhealthy once it stopped ($(head -1 "$TMP/hc.out"))" [ "$rc" != 0 ]

# .containerignore: what a real build context gets, from a copy of the
# tree with a data folder, build outputs, a key and credentials in it.
if ! command -v podman >/dev/null; then
	skip "podman is not installed (deploy/install-deps.sh --test)"
else
	ctx=$TMP/ctx
	mkdir -p "$ctx"
	# the tree as it is now (committed or not), as tests/mutants/run.sh copies it
	git ls-files -co --exclude-standard -z | tar --null -cf - -T - | tar -xf - -C "$ctx"
	mkdir -p "$ctx/data/blobs" "$ctx/build/obj" "$ctx/.git" "$ctx/deploy/data"
	echo secret >"$ctx/data/registry.db"
	echo obj >"$ctx/build/obj/x.o"
	echo key >"$ctx/server.key"
	echo key >"$ctx/deploy/token.key"
	echo u:p >"$ctx/hub.cred"
	echo head >"$ctx/.git/HEAD"
	printf 'FROM scratch\nCOPY . /ctx/\n' >"$TMP/Containerfile.ctx"
	P=(podman --root "$TMP/podman" --runroot "$TMP/podman-run" --storage-driver vfs)
	if "${P[@]}" build -q -t ctx-test -f "$TMP/Containerfile.ctx" "$ctx" >"$TMP/pbuild.out" 2>&1 &&
		"${P[@]}" image save ctx-test -o "$TMP/ctx.tar" >/dev/null 2>&1; then
		mkdir -p "$TMP/ctxout"
		tar -xf "$TMP/ctx.tar" -C "$TMP/ctxout"
		find "$TMP/ctxout" -name '*.tar' ! -path "$TMP/ctxout/ctx.tar" -exec tar -tf {} \; |
			sed 's@^ctx/@@' | sort -u >"$TMP/ctx.list"
		for bad in data/registry.db build/obj/x.o server.key deploy/token.key hub.cred .git/HEAD \
			tests/unit/runner.c; do
			check ".containerignore keeps $bad out" bash -c "! grep -qx '$bad' '$TMP/ctx.list'"
		done
		missing=$(git ls-files -co --exclude-standard | grep -vE '^tests/' | grep -vE '\.(key|pem|crt|tar|db)$' |
			grep -vxFf "$TMP/ctx.list" | head -5)
		check "the context has every source file the build needs${missing:+ (missing: $missing)}" [ -z "$missing" ]
		check "the context has the Makefile" grep -qx Makefile "$TMP/ctx.list"
	else
		skip "podman cannot build here: $(tail -1 "$TMP/pbuild.out")"
	fi
	"${P[@]}" rmi -af >/dev/null 2>&1
fi
summary
