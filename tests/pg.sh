#!/bin/sh
# tests/pg.sh - a throwaway PostgreSQL 15 for the tests (metadata = postgres).
#
#   tests/pg.sh start DIR   initdb into DIR (trust, locale C) and start it on a
#                           free loopback port, its socket in DIR; prints the
#                           conninfo ("host=DIR port=N user=postgres") on stdout.
#   tests/pg.sh stop DIR    stops it by the pid in DIR/data/postmaster.pid.
#   tests/pg.sh restart DIR stops it if it runs, then starts it again on the
#                           same port and socket folder (DIR/port keeps the
#                           port), so clients' conninfo still names it.
#   tests/pg.sh createdb DIR NAME   a fresh database NAME (dropped first).
#
# Runs as user postgres when started as root (initdb refuses root); DIR is
# made owned by it (give it a folder of its own: user postgres must reach
# it). About a second to start.
set -eu

PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$PGBIN/initdb" ] || { echo "pg.sh: PostgreSQL is not installed (apt-get install postgresql)" >&2; exit 1; }

as_pg() {
	if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# launch DIR PORT: pg_ctl start of DIR/data on PORT, its socket in DIR.
launch() {
	as_pg "$PGBIN/pg_ctl" -D "$1/data" -l "$1/log" -w -t 30 \
		-o "-p $2 -k $1 -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300" \
		start >/dev/null || { cat "$1/log" >&2; exit 1; }
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

cmd=${1:-}; dir=${2:-}
[ -n "$dir" ] || { echo "usage: $0 start|stop|restart|createdb DIR [NAME]" >&2; exit 2; }
case $cmd in
start)
	mkdir -p "$dir"
	[ "$(id -u)" = 0 ] && chown postgres "$dir"
	as_pg "$PGBIN/initdb" -A trust -U postgres --locale=C -E UTF8 -D "$dir/data" >"$dir/initdb.log" 2>&1 ||
		{ cat "$dir/initdb.log" >&2; exit 1; }
	port=$(free_port)
	echo "$port" >"$dir/port"
	launch "$dir" "$port"
	echo "host=$dir port=$port user=postgres"
	;;
restart)
	port=$(cat "$dir/port") || exit 1
	"$0" stop "$dir"
	launch "$dir" "$port"
	;;
stop)
	pid=$(head -1 "$dir/data/postmaster.pid" 2>/dev/null || true)
	if [ -n "$pid" ]; then
		kill -INT "$pid" 2>/dev/null || true
		i=0; while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
		kill -9 "$pid" 2>/dev/null || true
	fi
	;;
createdb)
	name=${3:?name}
	port=$(sed -n 4p "$dir/data/postmaster.pid")
	PGOPTIONS="-c client_min_messages=warning" psql -q -h "$dir" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 \
		-c "DROP DATABASE IF EXISTS \"$name\"" -c "CREATE DATABASE \"$name\"" >/dev/null
	;;
*) echo "usage: $0 start|stop|restart|createdb DIR [NAME]" >&2; exit 2 ;;
esac
