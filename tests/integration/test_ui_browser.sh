#!/bin/bash
# timeout: 500
# The web UI in a real browser (headless Chromium, tests/ui/lib.sh), against
# a registry filled with real pushes (skopeo, curl; tests/ui/fixtures.sh) and
# a pull-through cache of a second instance. The pages are the ones
# tests/ui/CONTRACT.md names; what must hold:
#   1. every page loads at 1280x800 and 390x844 (screenshots in
#      build/test-output/ui/) and shows the expected rows;
#   2. the XSS battery (every text field of an image holding markup) shows
#      as text, and no script runs: window.__xss stays unset with the CSP
#      bypassed, so escaping alone must hold, after hovering every element;
#   3. anonymous, alice (pull on team-a) and admin see exactly their sets,
#      a name they may not pull is the same 404 as an unknown one, by every
#      spelling of a mirrored name (prefix, ?ns=, bare), and the admin sees
#      the cache by all three;
#   4. browsing changes nothing: the data folder's databases (logical dump)
#      and blobs are identical before and after, pull counts included;
#   5. CSRF: delete and logout posts without or with a wrong token are 403
#      and change nothing; the form the page renders deletes;
#   6. login: a wrong password shows an error and counts toward the API's
#      lockout; the cookie is HttpOnly, SameSite=Strict, Path=/ui, and
#      Secure over HTTPS (a second start with `registry cert`'s files).
# Docker's pushes shown by the UI: tests/clients/ui.sh (it needs dockerd).
# UI_KEEP=DIR keeps the browser's results; phone-layout problems are NOTEs.
set -u
. "$(dirname "$0")/lib.sh"
BIN=$1
UI_REPO_DIR=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=../ui/lib.sh
. "$UI_REPO_DIR/tests/ui/lib.sh"
# shellcheck source=../ui/fixtures.sh
. "$UI_REPO_DIR/tests/ui/fixtures.sh"
OUT=$UI_REPO_DIR/build/test-output/ui
mkdir -p "$OUT"
DATA=$TMP/data
mkdir -p "$DATA"
export CURL_HOME=$TMP
echo 'max-time = 60' >"$TMP/.curlrc"

for c in chromium skopeo jq sqlite3 python3; do
	if ! command -v "$c" >/dev/null; then
		skip "$c is not installed (deploy/install-deps.sh --test installs it)"
		summary
		exit
	fi
done

HUB_PID=""
# UI_KEEP=DIR: keep the browser's results (JSON per run) and log there.
ui_cleanup() {
	ui_browser_stop
	if [ -n "${UI_KEEP:-}" ]; then
		rm -rf "$UI_KEEP"
		mkdir -p "$UI_KEEP"
		cp "$UI_DIR"/*.json "$UI_DIR"/*.log "$TMP"/*.steps "$UI_KEEP/" 2>/dev/null
	fi
	[ -n "$HUB_PID" ] && kill "$HUB_PID" 2>/dev/null && reg_wait "$HUB_PID" 10
	reg_cleanup
}
trap ui_cleanup EXIT

# ---- HUB: an open instance of this registry, the upstream of docker.io ----
HUB_LOG=$TMP/hub.log
"$BIN" serve --listen 127.0.0.1:0 --data "$TMP/hub" 2>>"$HUB_LOG" &
HUB_PID=$!
for _ in $(seq 1 100); do
	HUB_PORT=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$HUB_LOG" | tail -1)
	[ -n "$HUB_PORT" ] && curl -s -o /dev/null "http://127.0.0.1:$HUB_PORT/v2/" && break
	sleep 0.1
done
BASE=http://127.0.0.1:$HUB_PORT
mkdir -p "$TMP/fx"
D_HUB=$(ui_image library/alpine "$TMP/fx/alpine" amd64 "" --) &&
	ui_manifest library/alpine 3.20 "$TMP/fx/alpine" "$UI_MT_MAN" >/dev/null
check "hub holds library/alpine:3.20" [ -n "${D_HUB:-}" ]
DEAD=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

# ---- users and rules ----
for u in admin alice bob carol; do
	echo "pw-$u" | "$BIN" user add "$u" --password-stdin --cost 4 --data "$DATA" >/dev/null
done
cat >"$TMP/ui.conf" <<EOF
auth = basic
auth_rule = "** admin pull,push,delete"
auth_rule = "team-a/** alice pull"
auth_rule = "library/** alice pull"
auth_rule = "team-b/** bob pull,push"
auth_rule = "team-a/** carol pull"
auth_rule = "public/** anonymous pull"
auth_fail_limit = 3
immutable = "team-b/** release-*"
quota = "team-a/** 1G"
upstream = docker.io http://127.0.0.1:$HUB_PORT namespaces=library
upstream = ghcr.io http://127.0.0.1:$DEAD
proxy_retries = 0
gc_interval = 0
EOF
auth_start "$TMP/ui.conf"
HOSTPORT=127.0.0.1:$PORT

# ---- fixtures ----
if ! ui_push_all admin:pw-admin bob:pw-bob 2>"$TMP/push.err"; then
	cat "$TMP/push.err" >&2
fi
check "every fixture pushed ($(tail -1 "$TMP/push.err"))" [ -n "${D_XSSREF:-}" ]
# Pulled through the cache by the admin (the cache's own bookkeeping happens
# now, before the state is measured), and one try at the dead upstream.
req GET /v2/docker.io/library/alpine/manifests/3.20 -u admin:pw-admin -H "Accept: $UI_MT_MAN"
expect "pull through the cache" 200
for d in $(jq -r '.config.digest, .layers[].digest' "$TMP/b"); do
	req GET "/v2/docker.io/library/alpine/blobs/$d" -u admin:pw-admin
	expect "cached blob $d" 200
done
req GET /v2/ghcr.io/x/y/manifests/1 -u admin:pw-admin
check "the dead upstream answers 503 ($CODE)" [ "$CODE" = 503 ]

# state_sum: a checksum of what the data folder holds: each database's
# logical dump (the UI's sessions excluded, if it keeps them there) and every
# blob file.
state_sum() {
	local db t
	for db in "$DATA"/*.db; do
		echo "== $db"
		for t in $(sqlite3 -readonly "$db" "SELECT name FROM sqlite_master WHERE type='table' ORDER BY name"); do
			case $t in *session* | *csrf* | *ui_*) continue ;; esac
			sqlite3 -readonly "$db" ".dump $t"
		done
	done
	find "$DATA/blobs" -type f -printf '%P %s\n' | sort
	find "$DATA/blobs" -type f -print0 | sort -z | xargs -0 cat | sha256sum
}
# Pulls are counted in memory and written every CORE_PULLS_FLUSH_SEC (2 s):
# wait past that before each measure, so a pull the pages caused would show.
sleep 3
state_sum >"$TMP/state.before"

ui_browser_start
check "chromium started" [ -n "$UI_WS" ]

# ---- what the pages are asked (JavaScript, evaluated after load) ----
J_REPOS='[...document.querySelectorAll("#repos tr[data-repo]")].map(e => e.dataset.repo).sort()'
J_TAGS='[...document.querySelectorAll("#tags tr[data-tag]")].map(e => e.dataset.tag + "=" + e.dataset.digest).sort()'
J_USER='(document.querySelector("#user") || {}).textContent || null'
J_NAV='[...document.querySelectorAll("nav a")].map(a => a.getAttribute("href")).sort()'
J_USAGE='[...document.querySelectorAll("#usage tr[data-repo], #usage tr[data-namespace]")].map(e => e.dataset.repo || e.dataset.namespace).sort()'
J_TEXT='document.body.innerText'
J_CSRF='(document.querySelector("input[name=csrf]") || {}).value || null'
# What an injection would leave: a flag, an on* attribute, a foreign script,
# the injected elements, a javascript: URL.
J_XSS='({flag: window.__xss === undefined ? null : window.__xss,
	on: [...document.querySelectorAll("*")].flatMap(e => [...e.attributes].filter(a => /^on/i.test(a.name)).map(a => e.tagName + " " + a.name)),
	scripts: [...document.scripts].map(s => s.getAttribute("src")).filter(s => s !== "/ui/static/ui.js"),
	injected: document.querySelectorAll("img[src=x], svg[onload], #xssbold").length,
	jsurl: [...document.querySelectorAll("[href],[src],[action],[formaction]")].map(e => e.getAttribute("href") || e.getAttribute("src") || e.getAttribute("action") || e.getAttribute("formaction")).filter(u => /^\s*javascript:/i.test(u))})'
# On a phone (390 px): what a person could not read. Header cells whose
# text is squeezed to more than four lines, and a page wider than the screen. Reported as
# NOTEs (the contract does not fix a layout), the screenshots show them.
J_PHONE='[...document.querySelectorAll("th")].filter(t => { const g = document.createRange(); g.selectNodeContents(t); return g.getClientRects().length > 4; }).map(t => t.textContent.trim()).concat(document.documentElement.scrollWidth > 390 ? ["page " + document.documentElement.scrollWidth + " px wide"] : [])'
# ids a page uses twice (selectors such as form#login rely on them being unique)
J_IDS='[...document.querySelectorAll("[id]")].map(e => e.id).filter((v, i, a) => a.indexOf(v) !== i)'
XSS_CLEAN='{"flag":null,"on":[],"scripts":[],"injected":0,"jsurl":[]}'

# login USER: the steps that post the login form as a person would.
login() {
	printf 'goto login_get_%s %s/ui/login\n' "$1" "$BASE"
	printf 'fill "form#login [name=user]" %s\nfill "form#login [name=password]" pw-%s\n' "$1" "$1"
	printf 'submit login_%s "form#login"\n' "$1"
}
# page NAME URL SHOT: load URL at both sizes, screenshots OUT/SHOT-*.png
# (SHOT "-": none), then the XSS probe after hovering everything.
page() {
	printf 'size 1280 800\ngoto %s "%s"\n' "$1" "$2"
	if [ "$3" != - ]; then
		printf 'shot %s/%s-desktop.png\nsize 390 844\nshot %s/%s-phone.png\n' "$OUT" "$3" "$OUT" "$3"
		ev "$1_phone" "$J_PHONE"
		printf 'size 1280 800\n'
	fi
	printf 'hover\n'
	ev "$1_xss" "$J_XSS"
	ev "$1_ids" "$J_IDS"
}
# ev NAME EXPR: the step that evaluates EXPR into NAME (one line, quoted).
ev() { printf 'eval %s %q\n' "$1" "$(printf %s "$2" | tr '\n\t' '  ')"; }
q() { jq -rn --arg s "$1" '$s | @uri'; }

# ---- 1+2: admin browses every page ----
{
	echo context
	echo "bypass_csp on"
	page anon_login "$BASE/ui/login" login
	login admin
	ev login_admin_url 'location.pathname'
	page repos "$BASE/ui/" repos
	ev repos_list "$J_REPOS"
	ev repos_user "$J_USER"
	ev repos_nav "$J_NAV"
	ev repos_cells '[...document.querySelectorAll("#repos tr[data-repo=\"team-a/app\"] td")].map(t => t.className + "=" + (t.dataset.bytes || t.textContent.trim()))'
	ev repos_search '!!document.querySelector("form#search[method=get] input[name=q]")'
	page search "$BASE/ui/?q=team-b" -
	ev search_list "$J_REPOS"
	page repo "$BASE/ui/repo?name=$(q team-a/app)" repo
	ev repo_tags "$J_TAGS"
	ev repo_pushed '(document.querySelector("#tags tr[data-tag=v1] td.pushed") || {}).textContent'
	ev repo_bytes '(document.querySelector("#tags tr[data-tag=v1] td.size") || {dataset: {}}).dataset.bytes'
	ev repo_pulls '[...document.querySelectorAll("#tags tr[data-tag] td.pulls")].map(t => t.textContent.trim())'
	ev repo_cmds '[...document.querySelectorAll("code.pull-cmd")].map(c => c.dataset.client + ": " + c.textContent.trim())'
	ev repo_delete '[...document.querySelectorAll("#tags form.delete[method=post][action=\"/ui/delete\"]")].map(f => f.querySelector("[name=name]").value + ":" + f.querySelector("[name=ref]").value + ":" + !!f.querySelector("[name=csrf]").value).sort()'
	page repob "$BASE/ui/repo?name=$(q team-b/app)" -
	ev repob_tags "$J_TAGS"
	ev repob_pushed '(document.querySelector("#tags tr[data-tag=dev] td.pushed") || {}).textContent'
	ev repob_immutable '[...document.querySelectorAll("#tags tr[data-tag]")].map(r => r.dataset.tag + ":" + (r.querySelector("span.immutable[title]") ? "immutable" : "") + (r.querySelector("form.delete") ? "delete" : "")).sort()'
	page image "$BASE/ui/image?name=$(q team-a/app)&ref=v1" image
	ev image_history '[...document.querySelectorAll("#config #history tr")].map(r => r.textContent).join("\n")'
	ev image_config '(document.querySelector("section#config dl") || {}).textContent || null'
	ev image_layers '[...document.querySelectorAll("section#layers tr[data-digest]")].map(r => r.dataset.digest).sort()'
	ev image_raw '(document.querySelector("section#raw pre") || {}).textContent || null'
	page index "$BASE/ui/image?name=$(q team-a/multi)&ref=v1" index
	ev index_platforms '[...document.querySelectorAll("section#platforms tr[data-platform]")].map(r => r.dataset.platform + " " + decodeURIComponent(((r.querySelector("a[href]") || {}).getAttribute ? r.querySelector("a[href]").getAttribute("href") : "").replace(/^.*[?&]ref=/, "")))'
	ev index_referrers '[...document.querySelectorAll("section#referrers li[data-digest]")].map(l => { let d = 0, p = l.parentElement; while (p) { if (p.tagName === "LI") d++; p = p.parentElement; } return d + " " + l.dataset.artifactType + " " + l.dataset.digest; }).sort()'
	page storage "$BASE/ui/storage" storage
	ev storage_usage "$J_USAGE"
	ev storage_quotas '[...document.querySelectorAll("#quotas tr[data-pattern]")].map(r => r.dataset.pattern)'
	ev storage_gc '(document.querySelector("section#gc") || {}).textContent || null'
	page mirror "$BASE/ui/mirror" mirror
	ev mirror_rows '[...document.querySelectorAll("#upstreams tr[data-upstream]")].map(r => r.dataset.upstream + " " + [...r.querySelectorAll("td.reachable, td.cached, td.hits, td.misses")].map(t => t.className + "=" + t.textContent.trim()).join(" ")).sort()'
	page cache "$BASE/ui/repo?name=$(q docker.io/library/alpine)" -
	ev cache_tags "$J_TAGS"
	page cache_ns "$BASE/ui/repo?name=$(q library/alpine)&ns=docker.io" -
	ev cache_ns_tags "$J_TAGS"
	page cache_bare "$BASE/ui/repo?name=$(q library/alpine)" -
	ev cache_bare_tags "$J_TAGS"
	page cache_img "$BASE/ui/image?name=$(q docker.io/library/alpine)&ref=3.20" -
	ev cache_img_layers '[...document.querySelectorAll("section#layers tr[data-digest]")].map(r => r.dataset.digest)'
	page cache_img_ns "$BASE/ui/image?name=$(q library/alpine)&ref=3.20&ns=docker.io" -
	ev cache_img_ns_layers '[...document.querySelectorAll("section#layers tr[data-digest]")].map(r => r.dataset.digest)'
	page cache_img_bare "$BASE/ui/image?name=$(q library/alpine)&ref=3.20" -
	ev cache_img_bare_layers '[...document.querySelectorAll("section#layers tr[data-digest]")].map(r => r.dataset.digest)'
	# The XSS battery: the index, its image, and the repository page.
	page xss_repo "$BASE/ui/repo?name=$(q team-b/xss)" -
	page xss_index "$BASE/ui/image?name=$(q team-b/xss)&ref=xss" xss
	ev xss_index_raw '(document.querySelector("section#raw pre") || {}).textContent || null'
	ev xss_index_plat '[...document.querySelectorAll("section#platforms tr[data-platform]")].map(r => r.dataset.platform)'
	ev xss_index_refs '[...document.querySelectorAll("section#referrers li[data-artifact-type]")].map(l => l.dataset.artifactType)'
	page xss_image "$BASE/ui/image?name=$(q team-b/xss)&ref=$D_XSSIMG" xss-image
	ev xss_image_text "$J_TEXT"
	ev xss_image_raw '(document.querySelector("section#raw pre") || {}).textContent || null'
	page xss_ref "$BASE/ui/image?name=$(q team-b/xss)&ref=$D_XSSREF" -
	ev xss_ref_text "$J_TEXT"
	page xss_storage "$BASE/ui/storage" -
	ev anything 'document.documentElement.outerHTML.length'
	echo "cookies admin_cookies"
} >"$TMP/admin.steps"
ui_run admin <"$TMP/admin.steps"
check "the admin's browse ran every step (see above)" [ $? = 0 ]
r() { ui_get admin "$1"; }
# ok NAME FILTER [jq args]: FILTER holds on the results of run NAME.
ok() {
	local n=$1 f=$2
	shift 2
	jq -e "$@" "$f" "$UI_DIR/$n.json" >/dev/null 2>&1
}

check "login page loads (200)" ok admin '.anon_login == 200'
check "login posts and lands on /ui/ ($(r .login_admin) $(r .login_admin_url))" \
	ok admin '.login_admin == 200 and .login_admin_url == "/ui/"'
check "admin's name shown ($(r .repos_user))" ok admin '.repos_user == "admin"'
check "nav links /ui/, /ui/storage, /ui/mirror ($(r .repos_nav))" \
	ok admin '.repos_nav | index("/ui/") and index("/ui/storage") and index("/ui/mirror")'
ALL='["docker.io/library/alpine","public/hello","team-a/app","team-a/multi","team-b/app","team-b/xss"]'
check "admin sees every repository on /ui/ ($(r .repos_list))" ok admin '.repos_list == $a' --argjson a "$ALL"
check "team-a/app: 2 tags, a size in bytes ($(r .repos_cells))" \
	ok admin '.repos_cells | index("tags=2") and (map(select(startswith("size="))) | .[0] | ltrimstr("size=") | tonumber > 1000)'
check "search form" ok admin '.repos_search == true'
check "search q=team-b lists team-b ($(r .search_list))" ok admin '.search_list == ["team-b/app","team-b/xss"]'
check "team-a/app tags and digests ($(r .repo_tags))" \
	ok admin '.repo_tags == ["latest=" + $d, "v1=" + $d]' --arg d "$D_APP"
check "pushed shows the pusher, admin ($(r .repo_pushed))" ok admin '.repo_pushed | contains("admin")'
# A tag's size is the image's: its config and layers, what a pull downloads.
IMG_BYTES=$(jq '[.config.size, .layers[].size] | add' "$TMP/fx/app.json")
check "size in bytes: the image's $IMG_BYTES ($(r .repo_bytes))" \
	ok admin '.repo_bytes | tonumber | . == $i' --argjson i "$IMG_BYTES"
check "pull commands ($(r .repo_cmds))" \
	ok admin '.repo_cmds | index("docker: docker pull " + $h + "/team-a/app:v1") and (map(select(startswith("podman: podman pull ") and endswith("/team-a/app:v1"))) | length > 0)' --arg h "$HOSTPORT"
check "admin has a delete form per tag, with a token ($(r .repo_delete))" \
	ok admin '.repo_delete == ["team-a/app:latest:true","team-a/app:v1:true"]'
check "team-b/app tags ($(r .repob_tags))" \
	ok admin '.repob_tags == ["dev=" + $d, "release-1=" + $r]' --arg d "$D_DEV" --arg r "$D_REL"
check "team-b's pusher is bob ($(r .repob_pushed))" ok admin '.repob_pushed | contains("bob")'
check "an immutable tag shows the rule, not a delete form ($(r .repob_immutable))" \
	ok admin '.repob_immutable == ["dev:delete","release-1:immutable"]'
check "history rows hold created_by" ok admin '.image_history | contains("regclients: busybox") and contains("regclients: text file")'
check "config shows Cmd and Env" ok admin '.image_config | contains("/bin/busybox") and contains("PATH=/bin")'
check "layers ($(r .image_layers))" ok admin '.image_layers == ($m[0].layers | map(.digest) | sort)' --slurpfile m "$TMP/fx/app.json"
check "raw JSON is the manifest" ok admin '(.image_raw | fromjson) == $m[0]' --slurpfile m "$TMP/fx/app.json"
check "platform rows link to each manifest ($(r .index_platforms))" \
	ok admin '.index_platforms == ["linux/amd64 " + $a, "linux/arm64 " + $b, "linux/arm/v7 " + $c]' \
	--arg a "$D_AMD64" --arg b "$D_ARM64" --arg c "$D_ARMV7"
check "referrers tree: signature and SBOM, the SBOM's signature under it ($(r .index_referrers))" \
	ok admin '.index_referrers == (["0 application/spdx+json " + $b, "0 application/vnd.dev.cosign.artifact.sig.v1+json " + $s,
		"1 application/vnd.dev.cosign.artifact.sig.v1+json " + $bs] | sort)' --arg s "$D_SIG" --arg b "$D_SBOM" --arg bs "$D_SBOMSIG"
check "storage usage rows cover every namespace or repository ($(r .storage_usage))" \
	ok admin '.storage_usage | map(split("/")[0]) | index("team-a") and index("team-b") and index("public") and index("docker.io")'
check "quota rows ($(r .storage_quotas))" ok admin '.storage_quotas == ["team-a/**"]'
check "gc section says never ($(r .storage_gc))" ok admin '.storage_gc | test("never"; "i")'
check "upstream rows: docker.io reachable and cached, ghcr.io not reachable ($(r .mirror_rows))" \
	ok admin '(.mirror_rows[0] | test("^docker.io reachable=yes cached=[1-9]")) and (.mirror_rows[1] | test("^ghcr.io reachable=no "))'
check "the cache name's page by prefix ($(r .cache_tags))" ok admin '.cache_tags == ["3.20=" + $d]' --arg d "$D_HUB"
# A mirrored name is the cache's by every spelling (CONTRACT.md's notes).
check "the cache name by ?ns= ($(r .cache_ns_tags))" ok admin '.cache_ns_tags == ["3.20=" + $d]' --arg d "$D_HUB"
check "the cache name bare, as dockerd sends it ($(r .cache_bare_tags))" ok admin '.cache_bare_tags == ["3.20=" + $d]' --arg d "$D_HUB"
for sp in cache_img cache_img_ns cache_img_bare; do
	check "the cached image's layers, $sp ($(r ".${sp}_layers"))" ok admin ".${sp} == 200 and .${sp}_layers == \$l" \
		--argjson l "$(jq -c '[.layers[].digest]' "$TMP/fx/alpine")"
done
for p in anon_login repos search repo repob image index storage mirror cache cache_ns cache_bare cache_img cache_img_ns cache_img_bare xss_repo xss_index xss_image xss_ref xss_storage; do
	check "$p: no script ran, nothing injected ($(r ".${p}_xss"))" ok admin ".${p}_xss == \$c" --argjson c "$XSS_CLEAN"
	check "$p: each id once ($(r ".${p}_ids")$([ "$(r ".${p}_ids")" = '["login"]' ] && echo ': the nav link and the form both have id="login", so #login is not the form the contract names'))" \
		ok admin ".${p}_ids == []"
done
for p in anon_login repos repo image index storage mirror xss_index xss_image; do
	if ! ok admin ".${p}_phone == []"; then
		echo "NOTE: $p at 390x844 is hard to read: $(r ".${p}_phone") (see build/test-output/ui/)" >&2
	fi
done
check "XSS index: the raw JSON shows the manifest as text" ok admin '(.xss_index_raw | fromjson) == $m[0]' --slurpfile m "$TMP/fx/xss"
check "XSS index: the platform's variant is an attribute, intact ($(r .xss_index_plat))" \
	ok admin '.xss_index_plat == ["linux/amd64/" + $p[0][1]]' --slurpfile p "$TMP/payloads.json"
check "XSS index: the referrer's artifactType is an attribute, intact ($(r .xss_index_refs))" \
	ok admin '.xss_index_refs == ["application/vnd.x+json;" + $p[0][0]]' --slurpfile p "$TMP/payloads.json"
r .xss_image_text | jq -r . >"$TMP/xss_text"
while IFS= read -r p; do
	check "XSS image: shows as text: $p" grep -qF -- "$p" "$TMP/xss_text"
done <"$TMP/payloads.txt"
check "XSS image: raw JSON intact" ok admin '(.xss_image_raw | fromjson) == $m[0]' --slurpfile m "$TMP/fx/xssimg"
check "XSS referrer: its annotations show as text" ok admin '.xss_ref_text | contains($p[0][0])' --slurpfile p "$TMP/payloads.json"
check "session cookie regui: HttpOnly, SameSite=Strict, Path=/ui, not Secure over HTTP ($(r '.admin_cookies[] | select(.name == "regui")'))" \
	ok admin '.admin_cookies[] | select(.name == "regui") | .httpOnly and .sameSite == "Strict" and .path == "/ui" and (.secure | not)'

# ---- 3: who sees what: anonymous and alice (pull on team-a/**) ----
# same404 PREFIX NAME...: steps loading each URL, for the 404 checks; each
# result PREFIX_i is the status, PREFIX_i_text the page's text with the
# name asked for replaced, so an invisible and an unknown name compare equal.
same404() {
	local pre=$1 i=0 u n
	shift
	for u in "$@"; do
		n=${u#*name=}
		n=${n%%&*}
		printf 'goto %s_%d "%s"\n' "$pre" "$i" "$BASE$u"
		ev "${pre}_${i}_text" "document.body.innerText.split(decodeURIComponent(\"$n\")).join(\"NAME\").split(\"$n\").join(\"NAME\")"
		i=$((i + 1))
	done
}
HIDDEN=(
	"/ui/repo?name=$(q team-b/app)" "/ui/repo?name=$(q team-b/nothing)"
	"/ui/image?name=$(q team-b/app)&ref=dev" "/ui/image?name=$(q team-b/nothing)&ref=dev"
	"/ui/image?name=$(q team-b/app)&ref=$D_DEV" "/ui/image?name=$(q team-a/nothing)&ref=$D_DEV"
	"/ui/image?name=$(q team-a/app)&ref=$D_DEV"
	"/ui/repo?name=$(q docker.io/library/alpine)" "/ui/repo?name=$(q docker.io/library/nothing)"
	"/ui/repo?name=$(q library/alpine)&ns=docker.io" "/ui/repo?name=$(q library/nothing)&ns=docker.io"
	"/ui/repo?name=$(q library/alpine)" "/ui/repo?name=$(q library/nothing)"
	"/ui/image?name=$(q docker.io/library/alpine)&ref=3.20" "/ui/image?name=$(q library/alpine)&ref=3.20&ns=docker.io"
	"/ui/image?name=$(q library/alpine)&ref=3.20"
)
J_LEAK='["team-b", "docker.io/library", "alpine", "xss"].filter(w => document.documentElement.outerHTML.includes(w))'
# The posts below are fetch() calls of the test's own: the page's CSP
# (connect-src 'none' by default-src) would stop them, so it is bypassed.
{
	echo context
	echo "bypass_csp on"
	page anon_root "$BASE/" -
	ev anon_root_path 'location.pathname'
	page anon_repos "$BASE/ui/" -
	ev anon_list "$J_REPOS"
	ev anon_user "$J_USER"
	ev anon_login_link '!!document.querySelector("nav a[href=\"/ui/login\"]")'
	page anon_storage "$BASE/ui/storage" -
	ev anon_usage "$J_USAGE"
	ev anon_storage_text '[...document.querySelectorAll("#usage, #gc")].map(e => e.textContent).join(" ")'
	ev anon_quota '(document.querySelector("#quotas tr[data-pattern=\"team-a/**\"] td.used") || {dataset: {}}).dataset.bytes'
	page anon_public "$BASE/ui/repo?name=$(q public/hello)" -
	ev anon_public_tags "$J_TAGS"
	ev anon_public_delete 'document.querySelectorAll("form.delete").length'
	same404 anon_h "${HIDDEN[@]}" "/ui/repo?name=$(q team-a/app)" "/ui/image?name=$(q public/hello)&ref=$D_APP"
	ev anon_delete_post 'fetch("/ui/delete", {method: "POST", redirect: "manual", body: new URLSearchParams({name: "public/hello", ref: "1.0", csrf: "x"})}).then(r => r.status)'
	ev anon_delete_get 'fetch("/ui/delete?name=public/hello&ref=1.0").then(r => r.status)'
	ev anon_basic 'fetch("/ui/", {headers: {Authorization: "Basic " + btoa("admin:pw-admin")}}).then(r => r.text()).then(t => ["team-a/app", "team-b/app"].filter(n => t.includes("data-repo=\"" + n + "\"")))'
} >"$TMP/anon.steps"
ui_run anon <"$TMP/anon.steps"
check "the anonymous browse ran every step" [ $? = 0 ]
{
	echo context
	echo "bypass_csp on"
	login alice
	page alice_repos "$BASE/ui/" -
	ev alice_list "$J_REPOS"
	ev alice_user "$J_USER"
	ev alice_leak "$J_LEAK"
	page alice_storage "$BASE/ui/storage" -
	ev alice_usage "$J_USAGE"
	ev alice_storage_leak "$J_LEAK"
	page alice_repo "$BASE/ui/repo?name=$(q team-a/app)" -
	ev alice_tags "$J_TAGS"
	ev alice_delete 'document.querySelectorAll("form.delete").length'
	ev alice_csrf "$J_CSRF"
	page alice_index "$BASE/ui/image?name=$(q team-a/multi)&ref=v1" -
	ev alice_referrers '[...document.querySelectorAll("section#referrers li[data-digest]")].length'
	page alice_mirror "$BASE/ui/mirror" -
	same404 alice_h "${HIDDEN[@]}"
	ev alice_delete_post "fetch(\"/ui/delete\", {method: \"POST\", redirect: \"manual\", body: new URLSearchParams({name: \"team-a/app\", ref: \"v1\", csrf: document.querySelector(\"input[name=csrf]\").value})}).then(r => r.status)"
	echo "cookies alice_cookies"
} >"$TMP/alice.steps"
ui_run alice <"$TMP/alice.steps"
check "alice's browse ran every step" [ $? = 0 ]

check "/ answers with /ui/ ($(ui_get anon .anon_root_path))" ok anon '.anon_root_path == "/ui/"'
check "anonymous sees exactly public/hello ($(ui_get anon .anon_list))" ok anon '.anon_list == ["public/hello"]'
check "anonymous: a login link, no user" ok anon '.anon_user == null and .anon_login_link == true'
check "anonymous storage: only public ($(ui_get anon .anon_usage))" ok anon '.anon_usage | length > 0 and all(startswith("public"))'
check "anonymous storage: usage and GC name nothing else" ok anon '.anon_storage_text | (contains("team-") or contains("docker.io/library")) | not'
check "anonymous storage: team-a's quota counts none of team-a's bytes ($(ui_get anon .anon_quota))" ok anon '.anon_quota == "0"'
check "anonymous: public/hello's tag" ok anon '.anon_public_tags == ["1.0=" + $d]' --arg d "$D_PUB"
check "anonymous: no delete forms" ok anon '.anon_public_delete == 0'
check "anonymous delete post refused ($(ui_get anon .anon_delete_post))" ok anon '.anon_delete_post == 403 or .anon_delete_post == 401'
check "GET /ui/delete: 405 ($(ui_get anon .anon_delete_get))" ok anon '.anon_delete_get == 405'
check "HTTP Basic is not a login on /ui/ ($(ui_get anon .anon_basic))" ok anon '.anon_basic == []'
check "alice logged in" ok alice '.login_alice == 200 and .alice_user == "alice"'
check "alice sees exactly public and team-a ($(ui_get alice .alice_list))" \
	ok alice '.alice_list == ["public/hello","team-a/app","team-a/multi"]'
check "alice's pages name nothing hidden ($(ui_get alice .alice_leak) $(ui_get alice .alice_storage_leak))" \
	ok alice '.alice_leak == [] and .alice_storage_leak == []'
check "alice's storage: public and team-a only ($(ui_get alice .alice_usage))" \
	ok alice '.alice_usage | length > 0 and all(startswith("public") or startswith("team-a"))'
check "alice sees team-a/app's tags" ok alice '.alice_tags | length == 2'
check "alice may not delete: no forms" ok alice '.alice_delete == 0'
check "alice sees the referrers of team-a/multi" ok alice '.alice_referrers == 3'
check "alice's delete post with her own token: 403 ($(ui_get alice .alice_delete_post))" ok alice '.alice_delete_post == 403'
n=${#HIDDEN[@]}
for ((i = 0; i < n; i++)); do
	check "anonymous: ${HIDDEN[$i]}: 404 ($(ui_get anon ".anon_h_$i"))" ok anon ".anon_h_$i == 404"
	check "alice: ${HIDDEN[$i]}: 404 ($(ui_get alice ".alice_h_$i"))" ok alice ".alice_h_$i == 404"
done
check "anonymous: team-a/app is 404" ok anon ".anon_h_$n == 404"
check "anonymous: a digest of another repository under public/hello is 404" ok anon ".anon_h_$((n + 1)) == 404"
# Invisible and unknown: the same page, the name aside.
for pair in 0:1 2:3 4:5 7:8 9:10 11:12; do
	a=${pair%:*} b=${pair#*:}
	check "alice: ${HIDDEN[$a]} reads as ${HIDDEN[$b]}" ok alice ".alice_h_${a}_text == .alice_h_${b}_text"
	check "anonymous: ${HIDDEN[$a]} reads as ${HIDDEN[$b]}" ok anon ".anon_h_${a}_text == .anon_h_${b}_text"
done

# ---- 4: browsing changed nothing (pull counts included) ----
sleep 3
state_sum >"$TMP/state.after"
check "the data folder is the same after browsing (databases' dumps, blobs)" cmp -s "$TMP/state.before" "$TMP/state.after"
cmp -s "$TMP/state.before" "$TMP/state.after" || diff "$TMP/state.before" "$TMP/state.after" | head -20 >&2

# ---- HTTP details every /ui/ reply has ----
CSP="default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
for u in /ui/ /ui/login /ui/storage /ui/mirror "/ui/repo?name=$(q public/hello)" "/ui/repo?name=$(q team-a/app)" /ui/static/style.css; do
	req GET "$u"
	check "$u: CSP ($(hdr Content-Security-Policy))" [ "$(hdr Content-Security-Policy)" = "$CSP" ]
	check "$u: nosniff" [ "$(hdr X-Content-Type-Options)" = nosniff ]
	check "$u: Referrer-Policy same-origin" [ "$(hdr Referrer-Policy)" = same-origin ]
done
req GET /
check "/: 302 to /ui/ ($CODE $(hdr Location))" [ "$CODE $(hdr Location)" = "302 /ui/" ] || [ "$CODE $(hdr Location)" = "302 $BASE/ui/" ]
req GET /ui/
check "/ui/: a doctype, UTF-8" bash -c "head -c 15 '$TMP/b' | grep -qi '<!doctype html>' && grep -qi 'charset=utf-8' '$TMP/h'"
ET=$(hdr ETag)
check "/ui/: a weak ETag ($ET)" bash -c "[[ '$ET' == W/* ]]"
req GET /ui/ -H "If-None-Match: $ET"
check "/ui/: 304 on If-None-Match ($CODE)" [ "$CODE" = 304 ]
req GET /ui/ -H 'Accept-Encoding: gzip'
check "/ui/: gzip ($(hdr Content-Encoding))" [ "$(hdr Content-Encoding)" = gzip ]
check "/ui/: the gzip body is the page" bash -c "gzip -dc '$TMP/b' | grep -q 'data-repo=\"public/hello\"'"
req GET "/ui/repo?name=$(q team-a/app)"
check "/ui/repo of a hidden name over curl: 404 ($CODE)" [ "$CODE" = 404 ]
req GET /ui/
check "no Basic challenge on /ui/" bash -c "! grep -qi '^WWW-Authenticate' '$TMP/h'"

# ---- 5: CSRF: the admin's session, posts without, with a wrong and with
# someone else's token change nothing; the page's own form deletes ----
ALICE_CSRF=$(ui_get alice .alice_csrf | jq -r .)
post() { # post NAME PATH FIELDS_JS: a same-origin form post, its status
	ev "$1" "fetch(\"$2\", {method: \"POST\", redirect: \"manual\", body: new URLSearchParams($3)}).then(r => r.type === \"opaqueredirect\" ? 303 : r.status)"
}
{
	echo context
	echo "bypass_csp on"
	login admin
	page csrf_repo "$BASE/ui/repo?name=$(q team-a/app)" -
	ev pulls_after '[...document.querySelectorAll("#tags tr[data-tag] td.pulls")].map(t => t.textContent.trim())'
	post del_none /ui/delete '{name: "team-a/app", ref: "latest"}'
	post del_wrong /ui/delete '{name: "team-a/app", ref: "latest", csrf: "0123456789abcdef"}'
	post del_empty /ui/delete '{name: "team-a/app", ref: "latest", csrf: ""}'
	post del_alice /ui/delete "{name: \"team-a/app\", ref: \"latest\", csrf: \"$ALICE_CSRF\"}"
	post out_none /ui/logout '{}'
	post out_wrong /ui/logout '{csrf: "0123456789abcdef"}'
	page csrf_still "$BASE/ui/" -
	ev still_user "$J_USER"
	page csrf_repo2 "$BASE/ui/repo?name=$(q team-a/app)" -
	ev before_delete "$J_TAGS"
	echo "submit del_form '#tags tr[data-tag=latest] form.delete'"
	ev del_form_url 'location.pathname + location.search'
	ev after_delete "$J_TAGS"
	post del_immutable /ui/delete "{name: \"team-b/app\", ref: \"release-1\", csrf: document.querySelector(\"input[name=csrf]\").value}"
	echo "submit logout 'form[action=\"/ui/logout\"]'"
	ev logout_user "$J_USER"
	echo "cookies logout_cookies"
	# Wrong passwords: shown, and counted toward the API's lockout.
	for i in 1 2 3; do
		printf 'goto carol_get_%d %s/ui/login\n' "$i" "$BASE"
		printf 'fill "form#login [name=user]" carol\nfill "form#login [name=password]" wrong\n'
		printf 'submit carol_%d "form#login"\n' "$i"
		ev "carol_err_$i" '(document.querySelector("p.error") || {}).textContent || null'
		ev "carol_form_$i" '!!document.querySelector("form#login")'
	done
	echo "cookies carol_cookies"
} >"$TMP/csrf.steps"
ui_run csrf <"$TMP/csrf.steps"
check "the CSRF run ran every step" [ $? = 0 ]
c() { ui_get csrf "$1"; }
check "browsing counted no pull ($(ui_get admin .repo_pulls) then $(c .pulls_after))" \
	[ "$(ui_get admin .repo_pulls)" = "$(c .pulls_after)" ]
for k in del_none del_wrong del_empty del_alice out_none out_wrong; do
	check "CSRF: $k: 403 ($(c ".$k"))" ok csrf ".$k == 403"
done
check "still logged in after the refused logouts ($(c .still_user))" ok csrf '.still_user == "admin"'
check "nothing deleted by the refused posts ($(c .before_delete))" ok csrf '.before_delete | length == 2'
check "the page's delete form: 303 back to the repository page ($(c .del_form) $(c .del_form_url))" \
	ok csrf '.del_form == 200 and (.del_form_url | startswith("/ui/repo?name=team-a"))'
check "...and latest is gone ($(c .after_delete))" ok csrf '.after_delete == ["v1=" + $d]' --arg d "$D_APP"
req GET /v2/team-a/app/manifests/latest -u admin:pw-admin -H "Accept: $UI_MT_MAN"
expect "the API agrees: latest deleted" 404
req GET /v2/team-a/app/manifests/v1 -u admin:pw-admin -H "Accept: $UI_MT_MAN"
expect "v1 is still there" 200
# (how the page says no is the UI's choice; that the tag stays is the rule)
req GET /v2/team-b/app/manifests/release-1 -u admin:pw-admin -H "Accept: $UI_MT_MAN"
expect "an immutable tag is not deleted through the UI (the post got $(c .del_immutable))" 200
check "the logout form logs out ($(c .logout_user))" ok csrf '.logout_user == null'
check "...and clears the cookie" ok csrf '[.logout_cookies[] | select(.name == "regui" and .value != "")] == []'
for i in 1 2 3; do
	check "wrong password $i: 200, the form and an error ($(c ".carol_$i") $(c ".carol_err_$i"))" \
		ok csrf ".carol_$i == 200 and .carol_form_$i == true and (.carol_err_$i | length > 0)"
done
check "no session cookie after wrong passwords" ok csrf '[.carol_cookies[] | select(.name == "regui" and .value != "")] == []'
req GET /v2/ -u carol:pw-carol
check "the UI's wrong passwords locked carol out of the API too ($CODE)" [ "$CODE" = 429 ]

# ---- 6: the cookie over HTTPS (registry cert), with curl and the browser ----
ui_browser_stop
reg_stop
"$BIN" cert 127.0.0.1 --out "$TMP/tls" >/dev/null
{
	cat "$TMP/ui.conf"
	printf 'tls_cert = %s\ntls_key = %s\n' "$TMP/tls/server.crt" "$TMP/tls/server.key"
} >"$TMP/tls.conf"
: >"$REG_LOG"
"$BIN" serve -c "$TMP/tls.conf" --listen 127.0.0.1:0 --data "$DATA" 2>>"$REG_LOG" &
REG_PID=$!
for _ in $(seq 1 100); do
	PORT=$(sed -n 's/.*(port \([0-9]*\)) with TLS.*/\1/p' "$REG_LOG" | tail -1)
	[ -n "$PORT" ] && curl -s -o /dev/null --cacert "$TMP/tls/ca.crt" "https://127.0.0.1:$PORT/v2/" && break
	sleep 0.1
done
BASE=https://127.0.0.1:$PORT
J=$TMP/jar
req GET /ui/login --cacert "$TMP/tls/ca.crt" -c "$J"
expect "login form over HTTPS" 200
TOKEN=$(sed -n 's/.*name="csrf"[^>]*value="\([^"]*\)".*/\1/p; s/.*value="\([^"]*\)"[^>]*name="csrf".*/\1/p' "$TMP/b" | head -1)
req POST /ui/login --cacert "$TMP/tls/ca.crt" -b "$J" -c "$J" \
	--data-urlencode user=admin --data-urlencode password=pw-admin --data-urlencode "csrf=$TOKEN"
SC=$(grep -i '^set-cookie: regui=' "$TMP/h" | tr -d '\r')
check "HTTPS login: 303 to /ui/ ($CODE $(hdr Location))" bash -c "[ '$CODE' = 303 ] && [[ '$(hdr Location)' == */ui/ ]]"
has_attr() { tr ';' '\n' <<<"$SC" | sed 's/^ *//' | grep -qix -- "$1"; }
for a in HttpOnly SameSite=Strict Path=/ui Secure Max-Age=43200; do
	check "HTTPS cookie has $a ($SC)" has_attr "$a"
done
UI_CHROMIUM_ARGS=--ignore-certificate-errors
ui_browser_start
ui_run tls <<EOS
context
$(login admin)
$(ev tls_user "$J_USER")
cookies tls_cookies
EOS
check "the browser's HTTPS run ran every step" [ $? = 0 ]
check "HTTPS login in the browser ($(ui_get tls .tls_user))" ok tls '.tls_user == "admin"'
check "the browser holds a Secure, HttpOnly, Strict cookie over HTTPS" \
	ok tls '.tls_cookies[] | select(.name == "regui") | .secure and .httpOnly and .sameSite == "Strict"'
ui_browser_stop
reg_stop

# The README's two screenshots (an index on a desktop, the repositories on
# a phone): copied only when asked (UI_README_SHOTS=1), so a test run never
# dirties the work tree.
if [ -n "${UI_README_SHOTS:-}" ]; then
	cp "$OUT/index-desktop.png" "$UI_REPO_DIR/doc/ui-image.png"
	cp "$OUT/repos-phone.png" "$UI_REPO_DIR/doc/ui-repos-phone.png"
fi
summary
