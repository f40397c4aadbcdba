#!/bin/bash
# registry-lb.sh - several replicas of the registry (REGISTRY_LB_REAL, the
# binary or a wrapper such as registry-pg.sh) behind a test-started nginx
# (tests/nginx.sh: round robin, the README's settings), posing as one
# registry binary. run_s3.sh hands it to the integration scripts and the
# real-client suite on PostgreSQL + S3, so each of their requests lands on
# the next replica: a chunked upload's POST, PATCHes and PUT on different
# ones, a pull's manifest and blobs too.
#
#   registry-lb.sh serve [--listen ADDR] [other serve args]
#     starts REGISTRY_LB_REPLICAS (3) replicas with the other args (so one
#     data folder, configuration and database for all) each on a free
#     loopback port, then nginx over them on ADDR (--listen's, else the
#     -c file's `listen`; a free port for port 0), and writes the server's
#     own "listening on ... (port N)" line with nginx's port to stderr,
#     where the scripts read it. The replicas' stderr goes to this stderr
#     too (sanitizer reports included), their own "(port N)" written as
#     "(replica port N)". At the end it writes how many requests each
#     replica got.
#     With tls_cert and tls_key in the -c file, nginx ends TLS with them
#     (as the README's layout does) and the replicas serve plain HTTP with
#     auth_trusted_proxies = 127.0.0.1 (nginx's X-Forwarded-Proto counts);
#     the file's listen_plain is nginx's too.
#     SIGTERM/SIGINT: stops the replicas (SIGTERM, their drain), then
#     nginx; exits with the first non-zero replica status, else 0. SIGHUP
#     goes to every replica (reload). A replica that ends by itself is
#     reported and makes the exit status non-zero.
#   registry-lb.sh OTHER-COMMAND ...: the binary itself (gc, du, ...), once.
#
# The first replica is started alone and answers before the others start,
# so a fresh database is migrated (and registry-pg.sh's fresh-folder reset
# done) once.
set -u
real=${REGISTRY_LB_REAL:?}
here=$(cd "$(dirname "$0")" && pwd)
[ "${1:-}" = serve ] || exec "$real" "$@"
shift
n=${REGISTRY_LB_REPLICAS:-3}
. "$here/wrap.sh"
wrap_parse "$@"
conf=$WRAP_CONF
listen=
args=()
set -- "${WRAP_ARGS[@]}"
while [ $# -gt 0 ]; do
	case $1 in
	-l | --listen) listen=$2; shift 2; continue ;;
	--listen=*) listen=${1#--listen=}; shift; continue ;;
	esac
	args+=("$1")
	shift
done
dir=$(mktemp -d "${TMPDIR:-/tmp}/reglb.XXXXXX")
[ -n "$listen" ] || listen=$(wrap_key listen)
listen=${listen:-127.0.0.1:0}
plain=$(wrap_key listen_plain)
cert=$(wrap_key tls_cert)
tkey=$(wrap_key tls_key)
if [ -n "$conf" ]; then
	# the replicas' file: nginx has the listeners (and TLS)
	grep -vE '^[[:space:]]*(listen|listen_plain|tls_cert|tls_key)[[:space:]]*=' "$conf" >"$dir/replica.conf"
	if [ -n "$cert" ] && ! grep -qE '^[[:space:]]*auth_trusted_proxies[[:space:]]*=' "$conf"; then
		echo "auth_trusted_proxies = 127.0.0.1" >>"$dir/replica.conf"
	fi
	args=(-c "$dir/replica.conf" "${args[@]}")
fi
pids=()
ports=()
rc=0
stopping=

stop_all() {
	local p i
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for i in "${!pids[@]}"; do
		for _ in $(seq 1 400); do kill -0 "${pids[i]}" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "${pids[i]}" 2>/dev/null && echo "registry-lb: replica $((i + 1)) killed after 40 s" >&2
		wait "${pids[i]}" 2>/dev/null
		p=$?
		[ "$rc" = 0 ] && [ "$p" != 0 ] && rc=$p
	done
	"$here/../nginx.sh" stop "$dir/nginx"
	if [ -s "$dir/nginx/access.log" ]; then
		echo "registry-lb: requests per replica: $(awk '{ n[$4]++ } END { for (a in n) printf "%s %d, ", a, n[a] }' \
			"$dir/nginx/access.log")" >&2
	fi
	rm -rf "$dir"
}
on_term() { stopping=1; }
trap on_term TERM INT
trap 'for p in "${pids[@]}"; do kill -HUP "$p" 2>/dev/null; done' HUP

# start I: replica I on a free port, its stderr to ours and to its log
start() {
	local i=$1 port
	: >"$dir/r$i.log"
	# (their "(port N)" is renamed on the way: the caller waits for nginx's)
	"$real" serve --listen 127.0.0.1:0 "${args[@]}" \
		2> >(tee -a "$dir/r$i.log" | sed -u 's/(port \([0-9]*\))/(replica port \1)/' >&2) &
	pids[i]=$!
	for _ in $(seq 1 200); do
		port=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$dir/r$i.log" | tail -1)
		if [ -n "$port" ] && case $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/v2/") in 200 | 401) true ;; *) false ;; esac; then
			ports[i]=$port
			return 0
		fi
		if ! kill -0 "${pids[i]}" 2>/dev/null; then
			# its exit status is the wrapper's (a bad configuration's 2)
			wait "${pids[i]}"
			port=$?
			unset "pids[i]"
			return $((port ? port : 1))
		fi
		sleep 0.1
	done
	echo "registry-lb: replica $((i + 1)) did not start" >&2
	return 1
}
for ((i = 0; i < n; i++)); do
	start "$i" || {
		rc=$?
		stop_all
		exit "$rc"
	}
done
mkdir -p "$dir/nginx"
[ "${listen##*:}" != 0 ] || listen=127.0.0.1:$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
[ "${listen%:*}" != "" ] || listen=127.0.0.1$listen
if ! lbport=$(NGINX_LISTEN=$listen NGINX_PLAIN=$plain NGINX_TLS_CERT=$cert NGINX_TLS_KEY=$tkey \
	"$here/../nginx.sh" start "$dir/nginx" "${ports[@]}"); then
	echo "registry-lb: nginx did not start" >&2
	stop_all
	exit 1
fi
echo "registry-lb: listening on $listen (port $lbport)${cert:+ with TLS}${plain:+, plain HTTP on $plain}, nginx over $n replicas on ports ${ports[*]}" >&2

while [ -z "$stopping" ]; do
	for i in "${!pids[@]}"; do
		kill -0 "${pids[i]}" 2>/dev/null && continue
		wait "${pids[i]}" 2>/dev/null
		echo "registry-lb: replica $((i + 1)) (port ${ports[i]}) ended by itself with status $?" >&2
		rc=1
		unset "pids[i]"
	done
	sleep 0.2 &
	wait $! 2>/dev/null
done
stop_all
exit "$rc"
