#!/bin/sh
# tests/nginx.sh - a throwaway nginx load balancer in front of registry
# replicas, configured as the README's "Running several replicas" says.
#
#   tests/nginx.sh start DIR PORT...  writes DIR/nginx.conf with the
#                                     replicas on 127.0.0.1:PORT... in one
#                                     round-robin upstream, starts nginx on a
#                                     free loopback port (NGINX_PORT, when
#                                     set and not 0), prints that port.
#     NGINX_LISTEN=HOST:PORT          listen there instead ([::1]:N too)
#     NGINX_TLS_CERT=F NGINX_TLS_KEY=K  ...with TLS, ended here (the replicas
#                                     get plain HTTP and X-Forwarded-Proto)
#     NGINX_PLAIN=HOST:PORT           and plain HTTP there as well
#   tests/nginx.sh stop DIR           stops it by the pid in DIR/nginx.pid.
#
# DIR/access.log has one line per request: METHOD PATH STATUS REPLICA (the
# replica's address, or several, comma-separated, when nginx tried more).
# NGINX_UNTUNED=1 leaves out the lines the README gives for throughput
# (upstream keepalive, 64 KiB buffers), for bench/replicas.sh's comparison.
#
# Each request goes to the next replica (round robin picks the replica, then
# one of its kept connections, so a chunked upload's requests spread over
# them; max_fails=0: a killed replica
# is tried again, as a balancer without health checks does). Requests that
# are not idempotent are never retried on another replica by nginx (its
# default): the client retries, as it would through any balancer.
set -eu

command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] ||
	{ echo "nginx.sh: nginx is not installed (apt-get install nginx-light)" >&2; exit 1; }
PATH=$PATH:/usr/sbin

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

cmd=${1:-}; dir=${2:-}
[ -n "$dir" ] || { echo "usage: $0 start DIR PORT... | stop DIR" >&2; exit 2; }
case $cmd in
start)
	shift 2
	[ $# -gt 0 ] || { echo "usage: $0 start DIR PORT..." >&2; exit 2; }
	mkdir -p "$dir/tmp"
	if [ -n "${NGINX_LISTEN:-}" ]; then
		addr=$NGINX_LISTEN
		port=${addr##*:}
	else
		port=${NGINX_PORT:-0}
		[ "$port" != 0 ] || port=$(free_port)
		addr=127.0.0.1:$port
	fi
	listen="listen $addr;"
	scheme=http
	if [ -n "${NGINX_TLS_CERT:-}" ]; then
		listen="listen $addr ssl;
		    ssl_certificate ${NGINX_TLS_CERT};
		    ssl_certificate_key ${NGINX_TLS_KEY:?NGINX_TLS_KEY too};"
		scheme=https
	fi
	[ -z "${NGINX_PLAIN:-}" ] || listen="$listen
		    listen ${NGINX_PLAIN};"
	servers=""
	for p in "$@"; do servers="$servers    server 127.0.0.1:$p max_fails=0;
"; done
	user=""
	keep="    keepalive 32;
		    keepalive_timeout 50s;"
	bufs="proxy_buffer_size 64k;
		    proxy_buffers 4 64k;
		    proxy_busy_buffers_size 128k;"
	conn='proxy_set_header Connection "";'
	if [ "${NGINX_UNTUNED:-0}" = 1 ]; then keep="" bufs="" conn=""; fi
	# workers write the temp folder, which is root's here
	[ "$(id -u)" = 0 ] && user="user root root;"
	cat >"$dir/nginx.conf" <<-CONF
		worker_processes 1;
		$user
		pid $dir/nginx.pid;
		error_log $dir/error.log warn;
		events { worker_connections 1024; }
		http {
		  log_format lb '\$request_method \$uri \$status \$upstream_addr';
		  access_log $dir/access.log lb;
		  client_body_temp_path $dir/tmp;
		  proxy_temp_path $dir/tmp;
		  fastcgi_temp_path $dir/tmp;
		  uwsgi_temp_path $dir/tmp;
		  scgi_temp_path $dir/tmp;
		  upstream registry {
		$servers$keep
		  }
		  server {
		    $listen
		    client_max_body_size 0;
		    proxy_request_buffering off;
		    proxy_buffering off;
		    $bufs
		    proxy_http_version 1.1;
		    proxy_read_timeout 900s;
		    proxy_send_timeout 900s;
		    location / {
		      proxy_pass http://registry;
		      $conn
		      proxy_set_header Host \$http_host;
		      proxy_set_header X-Forwarded-Proto \$scheme;
		      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
		    }
		  }
		}
	CONF
	nginx -c "$dir/nginx.conf" -e "$dir/error.log" >"$dir/start.log" 2>&1 ||
		{ cat "$dir/start.log" "$dir/error.log" >&2 2>/dev/null; exit 1; }
	i=0
	until curl -sk -o /dev/null "$scheme://$addr/" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 100 ] || { echo "nginx.sh: nginx did not answer on $port" >&2; exit 1; }
		sleep 0.1
	done
	echo "$port"
	;;
stop)
	pid=$(cat "$dir/nginx.pid" 2>/dev/null || true)
	if [ -n "$pid" ]; then
		kill -QUIT "$pid" 2>/dev/null || true
		i=0; while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
		kill -9 "$pid" 2>/dev/null || true
	fi
	;;
*) echo "usage: $0 start DIR PORT... | stop DIR" >&2; exit 2 ;;
esac
