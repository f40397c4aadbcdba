#!/bin/bash
# The registry's logs: libmicrohttpd's own start-up messages stay out of
# them at every level.
set -u
. "$(dirname "$0")/lib.sh"
BIN=$1

# ---- libmicrohttpd's noise ----
printf 'log_level = debug\n' >"$TMP/debug.conf"
reg_start "$BIN" -c "$TMP/debug.conf"
req GET /v2/
reg_stop
check "no 'EXTERNAL_LOGGER is not the first option' line, even at debug" \
	bash -c "! grep -q 'not the first option' '$REG_LOG'"
check "no other libmicrohttpd start-up message either" bash -c "! grep -q ' mhd: ' '$REG_LOG'"

summary
