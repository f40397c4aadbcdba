#!/bin/bash
# check-layers.sh - `make check-layers`: fails when an #include crosses the
# layers the wrong way. Data goes one way: server (HTTP, CLI) -> core (the
# registry's operations) -> proxy (upstreams) and storage (blob store,
# metadata); auth is a gate the server calls; oci (the protocol's
# vocabulary) and common are leaves everyone may use. Nothing below calls up.
#
# The allowed directions, folder by folder (each may include its own
# headers, and system headers):
allowed() {
	case $1 in
	common) echo "common" ;;
	oci) echo "oci common" ;;
	storage) echo "storage oci common" ;;
	auth) echo "auth oci common" ;;
	proxy) echo "proxy storage oci common" ;;
	core) echo "core proxy storage oci common" ;;
	server) echo "server core auth oci common" ;;
	tests | bench) echo "*" ;;
	*) echo "" ;;
	esac
}
# and two rules finer than a folder: a handler (server/h_*.c) translates
# HTTP to core calls, so it includes no storage/ or proxy/ header even
# through another header (checked on the folder rule above); no two files
# include each other in a circle (checked below, on headers).
cd "$(dirname "$0")/.." || exit 2
bad=0
for f in $(git ls-files '*.c' '*.h'); do
	dir=${f%%/*}
	ok=$(allowed "$dir")
	[ "$ok" = "*" ] && continue
	grep -o '^#include "[^"]*"' "$f" | sed 's/#include "//; s/"$//' | while read -r inc; do
		target=$(realpath -m --relative-to=. "$(dirname "$f")/$inc")
		tdir=${target%%/*}
		case " $ok " in
		*" $tdir "*) ;;
		*)
			echo "check-layers: $f includes $inc ($tdir/ may not be used from $dir/)"
			echo x >>"${TMPDIR:-/tmp}/check-layers.$$"
			;;
		esac
	done
done
if [ -s "${TMPDIR:-/tmp}/check-layers.$$" ]; then
	bad=1
fi
rm -f "${TMPDIR:-/tmp}/check-layers.$$"

# Circles: header A includes B and B (directly or not) includes A.
cycles=$(for f in $(git ls-files '*.h'); do
	grep -o '^#include "[^"]*"' "$f" | sed 's/#include "//; s/"$//' | while read -r inc; do
		echo "$f $(realpath -m --relative-to=. "$(dirname "$f")/$inc")"
	done
done | tsort 2>&1 >/dev/null | grep -i 'loop' -A3)
if [ -n "$cycles" ]; then
	echo "check-layers: headers include each other in a circle:"
	echo "$cycles"
	bad=1
fi
# Circles of calls: object A uses a function B defines and B (directly or
# through others) uses one of A's. Read from the symbols of the objects
# `make` built (skipped, and said, before a build).
objs=$(find build/obj -name '*.o' ! -path '*/tests/*' ! -name main.o 2>/dev/null | sort)
if [ -z "$objs" ]; then
	echo "check-layers: no build/obj yet: circles of calls not checked"
else
	defs=$(for o in $objs; do nm -g --defined-only "$o" | awk -v o="$o" 'NF == 3 { print $3, o }'; done | sort)
	edges=$(for o in $objs; do nm -u "$o" | awk -v o="$o" '{ print $2, o }'; done | sort |
		join - <(echo "$defs") | awk '$2 != $3 { print $2, $3 }' | sort -u)
	loops=$(echo "$edges" | tsort 2>&1 >/dev/null | grep -v '^tsort: -: input contains a loop:$')
	if [ -n "$loops" ]; then
		echo "check-layers: these objects call each other in circles:" \
			$(echo "$loops" | sed 's/^tsort: //; s@build/obj/@@' | sort -u)
		bad=1
	fi
fi
[ "$bad" = 0 ] && echo "check-layers: ok"
exit "$bad"
