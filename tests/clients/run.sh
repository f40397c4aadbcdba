#!/bin/bash
# Real-client integration tests: skopeo, buildah, podman and docker push to
# and pull from the registry, on the loopback interface only (127.0.0.1; ::1
# for auth.sh's HTTPS port), with images built here.
#
#   tests/clients/run.sh PATH_TO_REGISTRY_BINARY     (make clients)
#
# The registry is started as `REGISTRY serve --listen 127.0.0.1:PORT --data DIR`
# and must answer GET /v2/ with 200 within 20 s.
# Environment:
#   REGISTRY_CMD=CMD  server command used instead of the argument (split on
#                     spaces), e.g. the stand-in tests/clients/distribution.sh
#                     that runs Debian's docker-registry with the same CLI
#   CLIENTS_ONLY=RE   run only cases whose name matches the grep -E regex RE
#                     (cases depend on earlier ones: skopeo < docker, buildah
#                     < podman)
#   CLIENTS_TRACE=F   put tests/clients/logproxy.py between clients and
#                     registry and append every request/response head to F
#   CLIENTS_KEEP=1    keep the temp dir (logs, stores) and print its path
#   CLIENTS_BUDGET=S  overall time limit in seconds (default 300): cases that
#                     would start later fail as not run, a running one is cut
# Prints one PASS/FAIL/SKIP line per case, then "N passed, N failed[, N skipped]".
# Each case's log is in the temp dir; a failing case prints its tail.
set -eu

# Run in a private mount namespace, where tmpfs over /run, /dev/shm and
# /var/lib/containers takes the state the clients and runtimes leave there
# (shim and runtime dirs, podman's lock, containers/image's blob-info cache)
# and hides the host's, and /etc/hosts names registry.test (see below);
# whatever is mounted in it ends with it.
if [ -z "${CLIENTS_NS:-}" ] && [ "$(id -u)" = 0 ] &&
	unshare --mount --propagation private true 2>/dev/null; then
	export CLIENTS_NS=1
	exec unshare --mount --propagation private -- bash "$0" "$@"
fi

CLIENTS_DIR=$(cd "$(dirname "$0")" && pwd)
export CLIENTS_DIR
# shellcheck source=lib.sh
. "$CLIENTS_DIR/lib.sh"

if [ -n "${REGISTRY_CMD:-}" ]; then
	read -r -a SERVER <<<"$REGISTRY_CMD"
elif [ $# -ge 1 ]; then
	SERVER=("$1")
else
	echo "usage: $0 PATH_TO_REGISTRY_BINARY (or REGISTRY_CMD=... $0)" >&2
	exit 2
fi
if ! command -v "${SERVER[0]}" >/dev/null; then
	echo "$0: ${SERVER[0]}: no such executable (make builds build/registry)" >&2
	exit 2
fi

# The auth cases start a second registry of their own (tests/clients/auth.sh).
REGISTRY_BIN=$(command -v "${SERVER[0]}")
export REGISTRY_BIN

if [ "$(id -u)" != 0 ]; then
	echo "$0: needs root (dockerd, and buildah/podman with private stores)" >&2
	exit 2
fi
missing=""
for c in curl jq skopeo buildah podman docker dockerd unshare timeout sha256sum gzip tar; do
	command -v "$c" >/dev/null 2>&1 || missing="$missing $c"
done
payload >/dev/null || missing="$missing busybox-static"
if [ -n "$missing" ]; then
	echo "$0: missing:$missing (deploy/install-deps.sh --test installs them)" >&2
	exit 2
fi

MADE_VLC=""
if [ "${CLIENTS_NS:-}" = 1 ]; then
	mount -t tmpfs -o mode=755 regclients-run /run
	mount -t tmpfs -o mode=1777 regclients-shm /dev/shm
	if [ ! -d /var/lib/containers ]; then
		mkdir -p /var/lib/containers
		MADE_VLC=1
	fi
	mount -t tmpfs -o mode=700 regclients-containers /var/lib/containers
fi

START=$(date +%s)
BUDGET=${CLIENTS_BUDGET:-300}
WORK=$(mktemp -d /tmp/regclients.XXXXXX)
export WORK
LOGS=$WORK/logs
mkdir -p "$LOGS" "$WORK/data" "$WORK/tmp" "$WORK/home"
SERVER_PID="" PROXY_PID=""

# In the namespace, registry.test names ::1 (the host's /etc/hosts plus that
# line, bound over /etc/hosts) for the clients and for the dockerd docker.sh
# starts in here. auth.sh serves HTTPS there: dockerd treats 127.0.0.0/8 as
# insecure (no CA check, HTTP fallback) but not ::1, so a registry named
# registry.test:PORT is one whose certificate docker must verify.
if [ "${CLIENTS_NS:-}" = 1 ] && grep -q '^0\{31\}1 .* lo$' /proc/net/if_inet6 2>/dev/null; then
	{
		cat /etc/hosts
		echo '::1 registry.test'
	} >"$WORK/hosts"
	mount --bind "$WORK/hosts" /etc/hosts
fi

cleanup() {
	local rc=$?
	set +e
	if [ -d "$WORK/docker" ]; then
		bash "$CLIENTS_DIR/docker.sh" stop >>"$LOGS/docker-stop.log" 2>&1
	fi
	if [ -s "$WORK/auth/pid" ]; then
		bash "$CLIENTS_DIR/auth.sh" stop >>"$LOGS/auth-stop.log" 2>&1
	fi
	if [ -s "$WORK/policy/pid" ]; then
		bash "$CLIENTS_DIR/policy.sh" stop >>"$LOGS/policy-stop.log" 2>&1
	fi
	if [ -d "$WORK/mirror" ]; then
		bash "$CLIENTS_DIR/mirror.sh" stop >>"$LOGS/mirror-stop.log" 2>&1
	fi
	for pid in $PROXY_PID $SERVER_PID; do
		kill -TERM "$pid" 2>/dev/null
	done
	for pid in $PROXY_PID $SERVER_PID; do
		for _ in $(seq 1 20); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.25
		done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	umount_below "$WORK"
	if [ "${CLIENTS_NS:-}" = 1 ]; then
		umount /var/lib/containers 2>/dev/null || umount -l /var/lib/containers
		[ -n "$MADE_VLC" ] && rmdir /var/lib/containers
	fi
	if [ "${CLIENTS_KEEP:-}" = 1 ]; then
		echo "kept $WORK"
	else
		rm -rf "$WORK"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

PASSED=0 FAILED=0 SKIPPED=0

result() { # STATUS NAME [REASON]
	case $1 in
	PASS) PASSED=$((PASSED + 1)) ;;
	FAIL) FAILED=$((FAILED + 1)) ;;
	SKIP) SKIPPED=$((SKIPPED + 1)) ;;
	esac
	printf '%s: %s%s\n' "$1" "$2" "${3:+ ($3)}"
}

summary() {
	local s=""
	[ "$SKIPPED" -gt 0 ] && s=", $SKIPPED skipped"
	if [ "${CLIENTS_KEEP:-}" = 1 ]; then
		echo "clients: $(($(date +%s) - START)) s; logs in $LOGS"
	else
		echo "clients: $(($(date +%s) - START)) s (CLIENTS_KEEP=1 keeps the logs)"
	fi
	echo "$PASSED passed, $FAILED failed$s"
}

# --- the registry ----------------------------------------------------------
PORT=$(free_port) || { echo "$0: no free port" >&2; exit 1; }
"${SERVER[@]}" serve --listen "127.0.0.1:$PORT" --data "$WORK/data" \
	</dev/null >"$LOGS/registry.log" 2>&1 &
SERVER_PID=$!
ready=""
for _ in $(seq 1 80); do
	if ! kill -0 "$SERVER_PID" 2>/dev/null; then
		break
	fi
	if curl -sf -m 2 -o /dev/null "http://127.0.0.1:$PORT/v2/"; then
		ready=1
		break
	fi
	sleep 0.25
done
if [ -z "$ready" ]; then
	if kill -0 "$SERVER_PID" 2>/dev/null; then
		why="no 200 from GET http://127.0.0.1:$PORT/v2/ within 20 s"
	else
		rc=0
		wait "$SERVER_PID" || rc=$?
		why="it exited with status $rc"
	fi
	result FAIL "registry start" "${SERVER[*]} serve --listen 127.0.0.1:$PORT: $why"
	tail -n 20 "$LOGS/registry.log" | sed 's/^/    | /'
	summary
	exit 1
fi
REG=127.0.0.1:$PORT

if [ -n "${CLIENTS_TRACE:-}" ]; then
	PPORT=$(free_port)
	: >"$CLIENTS_TRACE"
	python3 "$CLIENTS_DIR/logproxy.py" "$PPORT" "$PORT" "$CLIENTS_TRACE" 2>>"$LOGS/proxy.log" &
	PROXY_PID=$!
	for _ in $(seq 1 40); do
		curl -sf -m 2 -o /dev/null "http://127.0.0.1:$PPORT/v2/" && break
		sleep 0.25
	done
	REG=127.0.0.1:$PPORT
	echo "tracing requests to $CLIENTS_TRACE (proxy $REG -> 127.0.0.1:$PORT)"
fi
export REG

# --- the clients' environment: nothing read from or written to the host's
# configuration.
export HOME=$WORK/home TMPDIR=$WORK/tmp XDG_CONFIG_HOME=$WORK/home/.config \
	XDG_DATA_HOME=$WORK/home/.local/share XDG_RUNTIME_DIR=$WORK/home/run
mkdir -p "$XDG_RUNTIME_DIR"
chmod 700 "$XDG_RUNTIME_DIR"
export REGISTRY_AUTH_FILE=$WORK/home/auth.json
echo '{"auths":{}}' >"$REGISTRY_AUTH_FILE"
export CONTAINERS_REGISTRIES_CONF=$WORK/home/registries.conf
cat >"$CONTAINERS_REGISTRIES_CONF" <<EOF
unqualified-search-registries = []
short-name-mode = "enforcing"
EOF
export CONTAINERS_CONF=$WORK/home/containers.conf
cat >"$CONTAINERS_CONF" <<EOF
[engine]
cgroup_manager = "cgroupfs"
events_logger = "none"
[containers]
netns = "none"
EOF
export CONTAINERS_STORAGE_CONF=$WORK/home/storage.conf
cat >"$CONTAINERS_STORAGE_CONF" <<EOF
[storage]
driver = "vfs"
runroot = "$WORK/storage/run"
graphroot = "$WORK/storage/root"
EOF

# --- the cases ---------------------------------------------------------------
wanted() {
	[ -z "${CLIENTS_ONLY:-}" ] || echo "$1" | grep -qE -- "$CLIENTS_ONLY"
}

# case_ NAME SECONDS SCRIPT FUNCTION: runs `bash SCRIPT FUNCTION`, bounded;
# prints its result; LAST is its exit code (0 pass, 77 skip, else fail).
case_() {
	local name=$1 secs=$2 script=$3 fn=$4 log rc reason left
	wanted "$name" || return 0
	log=$LOGS/$name.log
	left=$((START + BUDGET - $(date +%s)))
	if [ "$left" -lt 5 ]; then
		LAST=1
		result FAIL "$name" "not run: over the ${BUDGET} s budget"
		return 0
	fi
	[ "$secs" -le "$left" ] || secs=$left
	if [ -n "${CLIENTS_TRACE:-}" ]; then
		printf '\n===== case %s =====\n' "$name" >>"$CLIENTS_TRACE"
	fi
	rc=0
	timeout -k 10 "$secs" bash "$CLIENTS_DIR/$script" "$fn" </dev/null >"$log" 2>&1 || rc=$?
	LAST=$rc
	case $rc in
	0)
		# a passing case may say what it could not show ("NOTE: ...")
		reason=$(grep '^NOTE: ' "$log" | tail -n 1)
		result PASS "$name" "${reason#NOTE: }"
		;;
	77)
		reason=$(grep '^SKIP: ' "$log" | tail -n 1)
		result SKIP "$name" "${reason#SKIP: }"
		;;
	*)
		reason=$(grep '^FAILED: ' "$log" | tail -n 1)
		reason=${reason#FAILED: }
		# else the last thing the client said (its error, as a rule)
		[ -n "$reason" ] || reason=$(grep -v '^+ ' "$log" | grep . | tail -n 1 | cut -c1-200)
		[ "$rc" = 124 ] || [ "$rc" = 137 ] && reason="timed out after $secs s"
		result FAIL "$name" "${reason:-exit $rc}"
		tail -n 25 "$log" | cut -c1-300 | sed 's/^/    | /'
		;;
	esac
}
LAST=0
case_ skopeo-push-oci 60 skopeo.sh push_oci
case_ skopeo-pull-oci 60 skopeo.sh pull_oci
case_ skopeo-push-v2s2 60 skopeo.sh push_v2s2
case_ skopeo-copy-repo 60 skopeo.sh copy_repo
case_ skopeo-list-tags 60 skopeo.sh list_tags

case_ buildah-push 90 buildah.sh push
case_ buildah-pull 60 buildah.sh pull

case_ podman-pull 60 podman.sh pull
case_ podman-push-pull 90 podman.sh push
case_ podman-run 60 podman.sh run

# Access control and TLS: a second registry in token mode (auth.sh).
case_ auth-start 30 auth.sh start
case_ auth-skopeo 120 auth.sh skopeo_creds
case_ auth-podman 90 auth.sh podman_login
case_ auth-tls 90 auth.sh tls_pull

# Quotas and immutable tags: a registry of their own (policy.sh); docker's
# case after the docker cases.
case_ policy-start 30 policy.sh start
case_ policy-skopeo 90 policy.sh skopeo_policy
case_ policy-podman 90 policy.sh podman_policy

# The pull-through cache: a hub and a mirror (mirror.sh); docker and
# containerd pull through it after the docker cases.
case_ mirror-start 90 mirror.sh start
case_ mirror-skopeo 90 mirror.sh pull_skopeo
case_ mirror-podman 90 mirror.sh pull_podman

# The daemon runs whenever a docker case is selected.
docker_cases="docker-build docker-push docker-push-localhost docker-push-repo docker-pull docker-run docker-pull-skopeo ui-docker auth-docker auth-docker-tls policy-docker mirror-docker mirror-containerd"
need_docker=""
for c in docker-daemon $docker_cases; do
	wanted "$c" && need_docker=1
done
if [ -n "$need_docker" ]; then
	CLIENTS_ONLY="" case_ docker-daemon 60 docker.sh start
	if [ "$LAST" = 0 ]; then
		case_ docker-build 60 docker.sh build
		case_ docker-push 60 docker.sh push
		case_ docker-push-localhost 60 docker.sh push_localhost
		case_ docker-push-repo 60 docker.sh push_repo
		case_ docker-pull 60 docker.sh pull
		case_ docker-run 60 docker.sh run
		case_ docker-pull-skopeo 60 docker.sh pull_skopeo
		# the web UI shows what docker and skopeo pushed (tests/clients/ui.sh)
		case_ ui-docker 90 ui.sh docker_pages
		case_ auth-docker 120 auth.sh docker_login
		case_ auth-docker-tls 60 auth.sh docker_tls
		case_ policy-docker 90 policy.sh docker_policy
		case_ mirror-docker 120 mirror.sh pull_docker
		case_ mirror-containerd 90 mirror.sh pull_containerd
	else
		# dockerd cannot run here (SKIP), or broke unexpectedly (FAIL)
		st=FAIL
		[ "$LAST" = 77 ] && st=SKIP
		for c in $docker_cases; do
			wanted "$c" || continue
			result "$st" "$c" "no docker daemon"
			if [ "$st" = SKIP ] && [ -n "${REGISTRY_SKIP_FILE:-}" ]; then
				echo "clients: $c: no docker daemon" >>"$REGISTRY_SKIP_FILE"
			fi
		done
	fi
fi

if [ -s "$WORK/auth/pid" ]; then
	CLIENTS_ONLY="" case_ auth-stop 30 auth.sh stop
fi
if [ -s "$WORK/policy/pid" ]; then
	CLIENTS_ONLY="" case_ policy-stop 30 policy.sh stop
fi
if [ -d "$WORK/mirror" ]; then
	case_ mirror-counts 30 mirror.sh counts
	CLIENTS_ONLY="" case_ mirror-stop 60 mirror.sh stop
fi

# The registry must have lived through all of it, stop on SIGTERM within
# 40 s (it may give requests in flight 30 s), and have no sanitizer report in
# its log (for -asan builds).
if kill -0 "$SERVER_PID" 2>/dev/null; then
	result PASS registry-alive
	kill -TERM "$SERVER_PID"
	for _ in $(seq 1 160); do
		kill -0 "$SERVER_PID" 2>/dev/null || break
		sleep 0.25
	done
	if kill -0 "$SERVER_PID" 2>/dev/null; then
		result FAIL registry-stop "still running 40 s after SIGTERM"
	else
		rc=0
		wait "$SERVER_PID" || rc=$?
		SERVER_PID=""
		if grep -qE 'ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error:' "$LOGS/registry.log"; then
			result FAIL registry-stop "sanitizer report in its log (exit status $rc)"
			grep -m 1 -A 12 -E 'ERROR: [A-Za-z]+Sanitizer|runtime error:' "$LOGS/registry.log" | sed 's/^/    | /'
		elif [ "$rc" != 0 ]; then
			result FAIL registry-stop "exit status $rc after SIGTERM, not 0"
		else
			result PASS registry-stop
		fi
	fi
else
	rc=0
	wait "$SERVER_PID" || rc=$?
	SERVER_PID=""
	result FAIL registry-alive "the registry exited during the run with status $rc"
fi
if [ "$FAILED" != 0 ]; then
	echo "registry log, last lines:"
	tail -n 15 "$LOGS/registry.log" | cut -c1-300 | sed 's/^/    | /'
fi
summary
[ "$FAILED" = 0 ]
