#!/bin/sh
# skips.sh FILE - the last line of `make test`: how many checks were skipped,
# and why (FILE is $REGISTRY_SKIP_FILE; tests/skip.sh and tests/unit/skip.h
# write it).
f=${1:?usage: skips.sh FILE}
if [ ! -s "$f" ]; then
	echo "SKIP summary: nothing skipped"
	exit 0
fi
echo "SKIP summary: $(wc -l <"$f") skipped:"
sort "$f" | uniq -c | sed 's/^ */  /'
