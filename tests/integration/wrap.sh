# wrap.sh - what the stand-ins for the registry binary (registry-s3.sh,
# registry-pg.sh, registry-lb.sh) share: the command line they are given,
# read as the registry reads it. Sourced.
# shellcheck shell=bash

# wrap_parse ARGS...: WRAP_CONF, the -c/--config file (taken out of the
# arguments: each wrapper hands on a file of its own); WRAP_DATA, the data
# folder as the registry resolves it (--data, else the file's `data =`,
# else ./data); WRAP_ARGS, the rest in order (--data kept).
wrap_parse() {
	WRAP_CONF=
	WRAP_DATA=
	WRAP_ARGS=()
	while [ $# -gt 0 ]; do
		case $1 in
		-c | --config) WRAP_CONF=$2; shift 2; continue ;;
		--config=*) WRAP_CONF=${1#--config=}; shift; continue ;;
		-d | --data) WRAP_DATA=$2 ;;
		--data=*) WRAP_DATA=${1#--data=} ;;
		esac
		WRAP_ARGS+=("$1")
		shift
	done
	if [ -z "$WRAP_DATA" ] && [ -n "$WRAP_CONF" ]; then
		WRAP_DATA=$(wrap_key data)
	fi
	WRAP_DATA=${WRAP_DATA:-./data}
}

# wrap_key NAME: NAME's value in WRAP_CONF (the last, without quotes or a
# trailing comment); nothing without a file.
wrap_key() {
	[ -n "$WRAP_CONF" ] || return 0
	sed -n "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*//p" "$WRAP_CONF" | tail -n 1 |
		sed 's/[[:space:]]*#.*//; s/[[:space:]]*$//; s/^"\(.*\)"$/\1/'
}
