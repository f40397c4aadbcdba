#!/bin/bash
# The web UI shows what docker and skopeo pushed; run by run.sh as
# `ui.sh CASE` after the docker cases (see lib.sh for the contract). The
# registry here is open (no auth): every repository is visible. Headless
# Chromium (tests/ui/lib.sh) loads the pages; the checks compare them with
# what the clients reported:
#   docker_pages  app:v1 (docker build + push, Docker schema 2): the tag row
#                 has the digest docker printed, the image page its layers,
#                 docker's history lines and CMD; docker/other and
#                 skopeo/test are listed on /ui/.
set -euo pipefail
# shellcheck source=lib.sh
. "$CLIENTS_DIR/lib.sh"

TMP=$WORK/ui
mkdir -p "$TMP"
# reg_wait PID GRACE: what tests/ui/lib.sh stops the browser with (the
# integration tests' bounded wait, here without the rest of their library).
reg_wait() {
	local i
	for ((i = 0; i < ${2:-10} * 10; i++)); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}
# shellcheck source=../ui/lib.sh
. "$CLIENTS_DIR/../ui/lib.sh"
trap ui_browser_stop EXIT

docker_pages() {
	local D=$WORK/docker digest base=http://$REG cfg
	[ -n "${REGISTRY_CMD:-}" ] && skip_mode "REGISTRY_CMD is set: the web UI is our registry's"
	command -v chromium >/dev/null || skip "chromium not installed (deploy/install-deps.sh --test)"
	need "$D/digest" docker-push
	digest=$(cat "$D/digest")
	tmo 60 skopeo --insecure-policy inspect --tls-verify=false --raw "docker://$REG/app:v1" >"$TMP/app.json"
	tmo 60 skopeo --insecure-policy inspect --tls-verify=false --config "docker://$REG/app:v1" >"$TMP/config.json"
	ui_browser_start || die "chromium did not start"
	ui_run docker <<EOF || die "the browser's steps failed (above)"
context
goto repos $base/ui/
eval list "[...document.querySelectorAll('#repos tr[data-repo]')].map(e => e.dataset.repo).sort()"
goto repo $base/ui/repo?name=app
eval tags "[...document.querySelectorAll('#tags tr[data-tag]')].map(e => e.dataset.tag + '=' + e.dataset.digest)"
eval cmd "[...document.querySelectorAll('code.pull-cmd[data-client=docker]')].map(c => c.textContent.trim())"
shot $TMP/docker-repo.png
goto image $base/ui/image?name=app&ref=v1
eval layers "[...document.querySelectorAll('section#layers tr[data-digest]')].map(r => r.dataset.digest)"
eval history "[...document.querySelectorAll('#history tr')].map(r => r.textContent).join('\n')"
eval config "(document.querySelector('section#config') || {}).textContent || ''"
eval raw "(document.querySelector('section#raw pre') || {}).textContent || ''"
EOF
	expect_eq "repositories docker and skopeo pushed, on /ui/" true \
		"$(ui_get docker '.list | index("app") != null and index("docker/other") != null and index("skopeo/test") != null')"
	expect_eq "app's tag row: the digest docker printed" "[\"v1=$digest\"]" "$(ui_get docker .tags)"
	expect_eq "docker pull command" "[\"docker pull $REG/app:v1\"]" "$(ui_get docker .cmd)"
	expect_eq "layers of docker's manifest" "$(jq -c '[.layers[].digest]' "$TMP/app.json")" "$(ui_get docker .layers)"
	cfg=$(jq -r '[.history[] | .created_by] | .[-1]' "$TMP/config.json")
	expect_eq "docker's last history line ($cfg) on the page" true \
		"$(jq -c --arg c "$cfg" '.history | contains($c)' "$UI_DIR/docker.json")"
	expect_eq "docker's CMD on the page" true "$(jq -c '.config | contains("/busybox") and contains("hello")' "$UI_DIR/docker.json")"
	expect_eq "raw manifest is docker's, byte for byte as JSON" "$(jq -cS . "$TMP/app.json")" \
		"$(jq -r .raw "$UI_DIR/docker.json" | jq -cS .)"
	ui_browser_stop
}

"$@"
