# shellcheck shell=bash
# tests/ui/lib.sh - one headless Chromium for a browser test, driven through
# the DevTools protocol by tests/ui/cdp.py (sourced after
# tests/integration/lib.sh, which gives TMP, check and skip).
#
# Why the DevTools protocol rather than `chromium --dump-dom`: a logged-in
# page needs the session cookie, and the login form has to be posted by the
# browser itself to test it; the protocol also reads `window.__xss` after a
# page ran, which is the cleanest "no script ran" check. One browser serves
# the whole test (about a second to start); each identity gets a browser
# context of its own, so cookies never leak between them.
#
#   ui_browser_start       starts Chromium; sets UI_WS (its websocket URL);
#                          UI_CHROMIUM_ARGS adds flags (word-split)
#   ui_run NAME < STEPS    runs cdp.py's steps; results in $TMP/ui/NAME.json;
#                          returns cdp.py's status (the failing step on stderr)
#   ui_get NAME JQ         a value from those results (jq -c)
#   ui_browser_stop        stops it by its pid (also at exit)

UI_PID=
UI_WS=
UI_DIR=$TMP/ui
UI_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

ui_browser_start() {
	local i profile
	# A fresh profile and log per start: a restarted browser must not read
	# the last one's address.
	UI_STARTS=$((${UI_STARTS:-0} + 1))
	profile=$UI_DIR/profile.$UI_STARTS
	mkdir -p "$profile"
	: >"$UI_DIR/chromium.log"
	# --remote-debugging-port=0: Chromium picks a free port and prints the
	# browser's websocket URL ("DevTools listening on ws://...").
	chromium --headless --no-sandbox --disable-gpu --no-first-run \
		--disable-extensions --disable-background-networking --disable-sync \
		--disable-component-update --disable-default-apps --mute-audio \
		--user-data-dir="$profile" --remote-debugging-address=127.0.0.1 \
		--remote-debugging-port=0 --hide-scrollbars ${UI_CHROMIUM_ARGS:-} about:blank \
		>"$UI_DIR/chromium.log" 2>&1 &
	UI_PID=$!
	for ((i = 0; i < 150; i++)); do
		UI_WS=$(sed -n 's/^DevTools listening on \(ws:.*\)$/\1/p' "$UI_DIR/chromium.log" | head -1)
		[ -n "$UI_WS" ] && return 0
		kill -0 "$UI_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "chromium did not start:" >&2
	tail -20 "$UI_DIR/chromium.log" >&2
	return 1
}

ui_browser_stop() {
	if [ -n "$UI_PID" ]; then
		kill -TERM "$UI_PID" 2>/dev/null
		reg_wait "$UI_PID" 10
		UI_PID=
	fi
}

ui_run() {
	local name=$1
	python3 "$UI_HERE/cdp.py" "$UI_WS" "$UI_DIR/$name.json"
}

ui_get() {
	jq -c "$2" "$UI_DIR/$1.json" 2>/dev/null
}
