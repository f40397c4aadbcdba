#!/bin/bash
# The web UI at the HTTP level (tests/ui/CONTRACT.md; the browser tests are
# tests/ui/'s): / redirects, every page answers with the contract's
# markup and headers (CSP, nosniff, Referrer-Policy), ETag and 304, gzip,
# values from manifests and configs escaped, keyset paging, sorting,
# immutable tags, delete behind a CSRF token, storage and mirror pages,
# `ui = off`. Then under auth = basic: the login form (CSRF, wrong
# password, lockout shared with the API), the session cookie's attributes,
# what each user sees (names one may not pull appear nowhere, and an
# invisible repository is the same 404 as an unknown one), delete only
# with the delete right, Basic credentials not taken, logout, and a
# removed user's session ending at the next page.
set -u
. "$(dirname "$0")/lib.sh"
BIN=$1
MT=application/vnd.oci.image.manifest.v1+json
IT=application/vnd.oci.image.index.v1+json
DATA=$TMP/data
mkdir -p "$DATA"
JAR=$TMP/jar

# page PATH [curl args]: GET with the cookie jar; CODE, $TMP/h, $TMP/b.
page() {
	local path=$1
	shift
	rm -f "$TMP/b" "$TMP/h" # curl leaves them alone when no body comes
	req GET "$path" -b "$JAR" -c "$JAR" "$@"
}
# has TEXT: the last body contains TEXT (fixed string).
has() { grep -qF -- "$1" "$TMP/b"; }
# csrf: the csrf token of the last page's first form.
csrf() { grep -o 'name="csrf" value="[0-9a-f]*"' "$TMP/b" | head -1 | sed 's/.*value="//; s/"//'; }
# post PATH FORM [curl args]: a form POST with the cookie jar.
post() {
	local path=$1 form=$2
	shift 2
	rm -f "$TMP/b" "$TMP/h"
	req POST "$path" -b "$JAR" -c "$JAR" --data "$form" "$@"
}

# ---- images to look at -------------------------------------------------------
# blob REPO FILE: uploads FILE to REPO, prints its digest.
blob() {
	local d
	d=$(sha256 "$2")
	curl -s -o /dev/null -X POST "$BASE/v2/$1/blobs/uploads/?digest=$d" --data-binary @"$2"
	echo "$d"
}
# manifest REPO REF FILE TYPE: PUT, checked.
manifest() {
	req PUT "/v2/$1/manifests/$2" -H "Content-Type: $4" --data-binary @"$3"
	expect "push $1:$2" 201
}
# image REPO TAG ARCH: an image whose config says linux/ARCH, with a label,
# env and a history line holding markup.
image() {
	local repo=$1 tag=$2 arch=$3
	python3 -c 'import json,sys
print(json.dumps({"architecture":sys.argv[1],"os":"linux","created":"2026-01-02T03:04:05Z",
 "config":{"Env":["PATH=/bin","X=<script>alert(1)</script>"],"Entrypoint":["/bin/sh"],
  "Cmd":["-c","echo \"hi\""],"Labels":{"evil\"label":"<img src=x onerror=alert(1)>"},
  "ExposedPorts":{"8080/tcp":{}}},
 "history":[{"created_by":"RUN echo <b>bold</b> && true"}]}),end="")' "$arch" >"$TMP/config"
	printf 'layer %s %s %s' "$repo" "$tag" "$arch" >"$TMP/layer"
	DC=$(blob "$repo" "$TMP/config")
	DL=$(blob "$repo" "$TMP/layer")
	printf '{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%d}],"annotations":{"note":"<script>x</script>"}}' \
		"$MT" "$DC" "$(stat -c %s "$TMP/config")" "$DL" "$(stat -c %s "$TMP/layer")" >"$TMP/man"
	manifest "$repo" "$tag" "$TMP/man" "$MT"
	IMG=$(sha256 "$TMP/man")
	IMG_SIZE=$(stat -c %s "$TMP/man")
	IMG_BYTES=$(($(stat -c %s "$TMP/config") + $(stat -c %s "$TMP/layer")))
}

cat >"$TMP/none.conf" <<EOF
immutable = "team/** stable"
quota = "team/** 1G"
EOF
auth_start "$TMP/none.conf"

image team/app v1 amd64
V1=$IMG
V1_BYTES=$IMG_BYTES
image team/app v2 arm64
V2=$IMG
V2_SIZE=$IMG_SIZE
V2_BYTES=$IMG_BYTES
image team/app stable amd64
for i in $(seq 1 5); do image team/many "t$i" amd64; done
image public/tool latest amd64
# an index of v1 and v2 (v1's size from a HEAD: a GET would count as a
# pull, written a moment later, and change the pages under the checks)
printf '{"schemaVersion":2,"mediaType":"%s","manifests":[{"mediaType":"%s","digest":"%s","size":%d,"platform":{"os":"linux","architecture":"amd64"}},{"mediaType":"%s","digest":"%s","size":%d,"platform":{"os":"linux","architecture":"arm64","variant":"v8"}}]}' \
	"$IT" "$MT" "$V1" "$(curl -sI "$BASE/v2/team/app/manifests/v1" -H "Accept: $MT" | tr -d '\r' | sed -n 's/^Content-Length: //Ip')" "$MT" "$V2" "$V2_SIZE" >"$TMP/index"
manifest team/app multi "$TMP/index" "$IT"
INDEX=$(sha256 "$TMP/index")
# a signature of v1 (a referrer), with an artifact type holding markup
printf '{}' >"$TMP/empty"
DE=$(blob team/app "$TMP/empty")
printf '{"schemaVersion":2,"mediaType":"%s","artifactType":"application/vnd.test.sig<b>","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"%s","size":2},"layers":[{"mediaType":"application/vnd.oci.empty.v1+json","digest":"%s","size":2}],"subject":{"mediaType":"%s","digest":"%s","size":1}}' \
	"$MT" "$DE" "$DE" "$MT" "$V1" >"$TMP/sig"
SIG=$(sha256 "$TMP/sig")
manifest team/app "$SIG" "$TMP/sig" "$MT"

# ---- the frame, headers, redirect ---------------------------------------------
req GET /
expect "/ redirects" 302
check "...to /ui/" [ "$(hdr Location)" = /ui/ ]
page /ui/
expect "the repository list" 200
CSP="default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
check "the contract's CSP" [ "$(hdr Content-Security-Policy)" = "$CSP" ]
check "nosniff" [ "$(hdr X-Content-Type-Options)" = nosniff ]
check "Referrer-Policy same-origin" [ "$(hdr Referrer-Policy)" = same-origin ]
check "HTML, UTF-8" [ "$(hdr Content-Type)" = "text/html; charset=utf-8" ]
check "doctype" grep -q '^<!doctype html>' "$TMP/b"
check "no inline script" bash -c "! grep -q '<script>' '$TMP/b' && ! grep -qi ' on[a-z]*=' '$TMP/b'"
check "the stylesheet and the script by src" bash -c "grep -q 'href=\"/ui/static/style.css\"' '$TMP/b' && grep -q '<script src=\"/ui/static/ui.js\"' '$TMP/b'"
check "nav with the three links and a login link" bash -c "grep -q '<nav>.*href=\"/ui/\".*href=\"/ui/storage\".*href=\"/ui/mirror\".*id=\"login-link\" href=\"/ui/login\"' '$TMP/b'"
check "a row per repository" has '<tr data-repo="team/app">'
check "...with its tag count (v1 v2 stable multi)" has '<td class="tags">4</td>'
check "...its size in bytes" grep -q '<tr data-repo="team/app">.*<td class="size" data-bytes="[1-9][0-9]*">' "$TMP/b"
check "the search form" has '<form id="search" method="get" action="/ui/"><input name="q"'
page /ui/static/style.css
check "style.css" [ "$CODE" = 200 ] && check "...as text/css" [ "$(hdr Content-Type)" = "text/css; charset=utf-8" ]
page /ui/static/ui.js
check "ui.js" [ "$CODE" = 200 ] && check "...with the CSP too" [ "$(hdr Content-Security-Policy)" = "$CSP" ]
page /ui/nothing
expect "an unknown page" 404

# ---- ETag, 304, gzip -----------------------------------------------------------
page /ui/
ETAG=$(hdr ETag)
cp "$TMP/b" "$TMP/plain"
check "a weak ETag" bash -c "[[ '$ETAG' == W/\\\"* ]]"
page /ui/ -H "If-None-Match: $ETAG"
expect "If-None-Match: the same ETag" 304
check "...no body" bash -c "[ ! -s '$TMP/b' ]"
page /ui/ -H 'If-None-Match: W/"0000"'
expect "another ETag" 200
page /ui/ -H 'Accept-Encoding: gzip'
check "gzip when asked" [ "$(hdr Content-Encoding)" = gzip ]
check "...the same page unzipped" bash -c "gunzip -c <'$TMP/b' | cmp -s - '$TMP/plain'"
check "...Vary: Accept-Encoding" bash -c "grep -qi '^Vary: Accept-Encoding' '$TMP/h'"
page /ui/ -H 'Accept-Encoding: gzip;q=0'
check "not with q=0" [ -z "$(hdr Content-Encoding)" ]
page /ui/
check "not unasked" [ -z "$(hdr Content-Encoding)" ]
image team/app v3 amd64
page /ui/ -H "If-None-Match: $ETAG"
expect "after a push the page (and its ETag) changed" 200
check "...5 tags now" has '<td class="tags">5</td>'

# ---- search and paging ---------------------------------------------------------
page "/ui/?q=man"
check "search: team/many" has 'data-repo="team/many"'
check "...not team/app" bash -c "! grep -q 'data-repo=\"team/app\"' '$TMP/b'"
page "/ui/?n=1"
check "n=1: one row" [ "$(grep -c '<tr data-repo=' "$TMP/b")" = 1 ]
check "...public/tool first" has 'data-repo="public/tool"'
check "...a next link" has '<a id="next" href="/ui/?q=&amp;after=public%2Ftool&amp;n=1">'
page "/ui/?q=&after=public%2Ftool&n=1"
check "the next page: team/app" has 'data-repo="team/app"'
page "/ui/?after=team%2Fmany"
check "after the last: no rows, no next" bash -c "! grep -q '<tr data-repo=' '$TMP/b' && ! grep -q 'id=\"next\"' '$TMP/b'"

# ---- a repository --------------------------------------------------------------
page "/ui/repo?name=team/app" -H "Host: reg.example.com:5000"
expect "the repository page" 200
check "a row per tag with its digest" has "<tr data-tag=\"v1\" data-digest=\"$V1\">"
check "...platforms from the config" grep -q '<tr data-tag="v2".*<td class="platforms">linux/arm64</td>' "$TMP/b"
check "...an index's platforms" grep -q '<tr data-tag="multi".*<td class="platforms">linux/amd64,linux/arm64/v8</td>' "$TMP/b"
check "...pushed, by whom" grep -q '<tr data-tag="v1".*<td class="pushed">[0-9-]* [0-9:]* UTC by <span class="by">anonymous</span>' "$TMP/b"
check "...pulled never, 0 pulls" grep -q '<tr data-tag="v1".*<td class="pulled">never</td><td class="pulls">0</td>' "$TMP/b"
check "...size in bytes: the image's, config and layers" grep -q "<tr data-tag=\"v2\".*<td class=\"size\" data-bytes=\"$V2_BYTES\">" "$TMP/b"
check "...an index's: every platform's" grep -q "<tr data-tag=\"multi\".*<td class=\"size\" data-bytes=\"$((V1_BYTES + V2_BYTES))\">" "$TMP/b"
check "docker pull with the Host" has '<code class="pull-cmd" data-client="docker">docker pull reg.example.com:5000/team/app:v1</code>'
check "podman pull" has '<code class="pull-cmd" data-client="podman">podman pull reg.example.com:5000/team/app:v1</code>'
check "a delete form per tag (auth off: anyone)" has '<form class="delete" method="post" action="/ui/delete"><input type="hidden" name="name" value="team/app"><input type="hidden" name="ref" value="v1"><input type="hidden" name="csrf" value="'
check "the immutable tag: why, no form" grep -q '<tr data-tag="stable".*<span class="immutable" title="team/\*\* stable">' "$TMP/b"
check "...and no delete form" bash -c "! grep -q '<tr data-tag=\"stable\".*class=\"delete\"' '$TMP/b'"
curl -s -o /dev/null "$BASE/v2/team/app/manifests/v1" -H "Accept: $MT"
# pull counts are written every CORE_PULLS_FLUSH_SEC (2 s): wait for it
for _ in $(seq 1 50); do
	page "/ui/repo?name=team/app"
	grep -q '<tr data-tag="v1".*<td class="pulls">1</td>' "$TMP/b" && break
	sleep 0.2
done
check "a pull counted" grep -q '<tr data-tag="v1".*<td class="pulled">[0-9-]* [0-9:]* UTC</td><td class="pulls">1</td>' "$TMP/b"
page "/ui/repo?name=team/app" -H 'Host: "><script>alert(1)</script>'
check "a hostile Host is not used" has 'docker pull localhost/team/app:v1'
page "/ui/repo?name=team/app" -H "X-Forwarded-Host: evil.example" -H "Host: reg.example.com"
check "X-Forwarded-Host from an untrusted peer is ignored" has 'docker pull reg.example.com/team/app:v1'
page "/ui/repo?name=team/app&sort=pushed"
check "sort=pushed: newest first (v3)" bash -c "grep -o '<tr data-tag=\"[^\"]*\"' '$TMP/b' | head -1 | grep -q v3"
page "/ui/repo?name=team/many&n=2"
check "n=2: two tags" [ "$(grep -c '<tr data-tag=' "$TMP/b")" = 2 ]
NEXT=$(grep -o '<a id="next" href="[^"]*"' "$TMP/b" | sed 's/.*href="//; s/"$//; s/&amp;/\&/g')
check "...a next link" [ -n "$NEXT" ]
page "$NEXT"
check "...the next page: t3 t4" bash -c "[ \"\$(grep -o '<tr data-tag=\"[^\"]*\"' '$TMP/b' | tr '\n' ' ')\" = '<tr data-tag=\"t3\" <tr data-tag=\"t4\" ' ]"
page "/ui/repo?name=team/many&sort=pushed&n=2"
NEXT=$(grep -o '<a id="next" href="[^"]*"' "$TMP/b" | sed 's/.*href="//; s/"$//; s/&amp;/\&/g')
page "$NEXT"
check "sort=pushed paging: the third and fourth newest (t3 t2)" bash -c "[ \"\$(grep -o '<tr data-tag=\"[^\"]*\"' '$TMP/b' | tr '\n' ' ')\" = '<tr data-tag=\"t3\" <tr data-tag=\"t2\" ' ]"
page "/ui/repo?name=team/many&sort=pushed&after=garbage"
expect "a bad cursor" 400
page "/ui/repo?name=nobody/here"
expect "an unknown repository" 404
cp "$TMP/b" "$TMP/404-none"
page "/ui/repo?name=NOT..valid"
expect "an invalid name" 404
page "/ui/repo"
expect "no name" 404

# ---- an image ------------------------------------------------------------------
page "/ui/image?name=team/app&ref=v1"
expect "an image" 200
check "config: created" has '<dd class="created">2026-01-02T03:04:05Z</dd>'
check "config: entrypoint" has '<dd class="entrypoint"><code>[&quot;/bin/sh&quot;]</code></dd>'
check "config: cmd" has '<dd class="cmd"><code>[&quot;-c&quot;,&quot;echo \&quot;hi\&quot;&quot;]</code></dd>'
check "config: env, escaped" has '<li><code>X=&lt;script&gt;alert(1)&lt;/script&gt;</code></li>'
check "config: a label, key and value escaped" has '<dt>evil&quot;label</dt><dd>&lt;img src=x onerror=alert(1)&gt;</dd>'
check "config: exposed ports" has '<code class="port">8080/tcp</code>'
check "history: created_by, escaped" has '<td class="created_by"><code>RUN echo &lt;b&gt;bold&lt;/b&gt; &amp;&amp; true</code>'
check "layers with sizes" grep -q '^<tr data-digest="sha256:[0-9a-f]*"><td class="digest"><code>sha256:[0-9a-f]*</code></td><td class="size" data-bytes="[1-9][0-9]*">' "$TMP/b"
check "referrers: the signature, its type escaped" has "<li data-artifact-type=\"application/vnd.test.sig&lt;b&gt;\" data-digest=\"$SIG\">"
check "raw: the manifest, escaped" has '<section id="raw"><h2>Manifest</h2><pre>{&quot;schemaVersion&quot;:2'
check "annotations escaped" has '<dt>note</dt><dd>&lt;script&gt;x&lt;/script&gt;</dd>'
check "nothing unescaped from the image" bash -c "! grep -q '<script>\\|<img\\|<b>' '$TMP/b'"
check "a delete form for the manifest" has "<input type=\"hidden\" name=\"ref\" value=\"$V1\">"
page "/ui/image?name=team/app&ref=multi"
check "an index: a row per platform" has '<tr data-platform="linux/arm64/v8" data-digest="'"$V2"'">'
check "...linking to its manifest" has "<a href=\"/ui/image?name=team%2Fapp&amp;ref=sha256%3A${V2#sha256:}\">linux/arm64/v8</a>"
page "/ui/image?name=team/app&ref=$V2"
expect "an image by digest" 200
page "/ui/image?name=team/app&ref=nope"
expect "an unknown tag" 404
page "/ui/image?name=team/app&ref=../../etc/passwd"
expect "a ref that is no ref" 404

# ---- storage, mirror -----------------------------------------------------------
page /ui/storage
expect "storage" 200
check "usage per repository" has '<tr data-repo="team/app">'
check "usage per namespace" has '<tr data-namespace="team">'
check "a quota with its use" grep -q '<tr data-pattern="team/\*\*"><td class="pattern"><code>team/\*\*</code></td><td class="used" data-bytes="[1-9][0-9]*">' "$TMP/b"
check "last GC: never" has '<section id="gc"><h2>Garbage collection</h2><p><span class="when">never</span>'
page /ui/mirror
expect "mirror" 200
check "the upstreams table" has '<table id="upstreams">'

# ---- delete --------------------------------------------------------------------
page /ui/delete
expect "GET /ui/delete" 405
page "/ui/repo?name=team/app"
TOKEN=$(csrf)
check "a csrf token" [ ${#TOKEN} = 64 ]
post /ui/delete "name=team/app&ref=v3"
expect "delete without a csrf token" 403
post /ui/delete "name=team/app&ref=v3&csrf=$(printf '%064d' 0)"
expect "delete with a wrong csrf token" 403
req POST /ui/delete --data "name=team/app&ref=v3&csrf=$TOKEN"
expect "delete with a token but not its cookie" 403
req GET /v2/team/app/manifests/v3 -H "Accept: $MT"
expect "...v3 is still there" 200
post /ui/delete "name=team/app&ref=stable&csrf=$TOKEN"
expect "delete an immutable tag" 403
check "...says which rule" has 'team/** stable'
req GET /v2/team/app/manifests/stable -H "Accept: $MT"
expect "...stable is still there" 200
post /ui/delete "name=team/app&ref=v3&csrf=$TOKEN"
expect "delete with the token" 303
check "...back to the repository" [ "$(hdr Location)" = "/ui/repo?name=team%2Fapp" ]
req GET /v2/team/app/manifests/v3 -H "Accept: $MT"
expect "...v3 is gone" 404
reg_stop

# the last collection on the storage page (`registry gc` records it)
"$BIN" gc -d "$DATA" -c "$TMP/none.conf" >/dev/null 2>"$TMP/gc.err"
check "registry gc" [ $? = 0 ]
auth_start "$TMP/none.conf"
page /ui/storage
check "last GC: when, and what it freed" grep -q '<section id="gc">.*Last run <span class="when">[0-9-]* [0-9:]* UTC</span>.*<span class="freed" data-bytes="[0-9]*">' "$TMP/b"
reg_stop

# ---- ui = off ------------------------------------------------------------------
printf 'ui = off\n' >"$TMP/off.conf"
auth_start "$TMP/off.conf"
req GET /ui/
expect "ui = off: /ui/" 404
req GET /
expect "ui = off: /" 404
req GET /v2/
expect "ui = off: the API serves" 200
reg_stop

# ---- access control ------------------------------------------------------------
for u in alice bob carol; do
	echo "pw-$u" | "$BIN" user add "$u" --password-stdin --cost 4 --data "$DATA" >/dev/null
done
cat >"$TMP/basic.conf" <<EOF
auth = basic
auth_rule = "team/** alice pull,delete"
auth_rule = "team/** bob pull"
auth_rule = "public/** anonymous pull"
auth_fail_limit = 3
immutable = "team/** stable"
quota = "team/** 1G"
EOF
auth_start "$TMP/basic.conf"
rm -f "$JAR"
page /ui/
expect "anonymous: the list" 200
check "anonymous sees public/tool" has 'data-repo="public/tool"'
check "...and no team name anywhere" bash -c "! grep -q 'team' '$TMP/b'"
check "...a login link" has '<a id="login-link" href="/ui/login">'
page "/ui/repo?name=team/app"
expect "anonymous: an invisible repository" 404
cp "$TMP/b" "$TMP/404-invisible"
page "/ui/repo?name=nobody/here"
check "...the same page as an unknown one" cmp -s "$TMP/b" "$TMP/404-invisible"
page "/ui/image?name=team/app&ref=v1"
expect "anonymous: an invisible image" 404
page /ui/storage
check "anonymous storage: no team name, no team namespace" bash -c "! grep -q 'data-repo=\"team\|data-namespace=\"team\|>team/app<' '$TMP/b'"
check "...the quota's use: only what anonymous sees" grep -q '<tr data-pattern="team/\*\*">.*<td class="used" data-bytes="0">0 B <span class="partial">' "$TMP/b"
page /ui/ -u alice:pw-alice
check "Basic credentials do not log in to the UI" bash -c "! grep -q 'team' '$TMP/b' && ! grep -q 'id=\"user\"' '$TMP/b'"

# the login form
page /ui/login
expect "the login form" 200
check "...its markup" has '<form id="login" method="post" action="/ui/login">'
TOKEN=$(csrf)
post /ui/login "user=alice&password=pw-alice"
expect "login without csrf" 403
post /ui/login "user=alice&password=wrong&csrf=$TOKEN"
expect "a wrong password: the form again" 200
check "...with an error" has '<p class="error">'
check "...no session cookie" bash -c "! grep -qi '^Set-Cookie: regui=' '$TMP/h'"
post /ui/login "user=alice&password=pw-alice&csrf=$TOKEN"
expect "login" 303
check "...to /ui/" [ "$(hdr Location)" = /ui/ ]
COOKIE=$(grep -i '^Set-Cookie: regui=' "$TMP/h" | tr -d '\r')
check "the session cookie: HttpOnly" bash -c "[[ '$COOKIE' == *'; HttpOnly'* ]]"
check "...SameSite=Strict" bash -c "[[ '$COOKIE' == *'; SameSite=Strict'* ]]"
check "...Path=/ui" bash -c "[[ '$COOKIE' == *'; Path=/ui'* ]]"
check "...Max-Age 12h" bash -c "[[ '$COOKIE' == *'; Max-Age=43200'* ]]"
check "...not Secure over HTTP" bash -c "[[ '$COOKIE' != *Secure* ]]"
req GET /ui/login -H "X-Forwarded-Proto: https"
check "...nor when an untrusted peer says X-Forwarded-Proto: https" \
	bash -c "! grep -qi '^Set-Cookie: regui_pre=.*; Secure' '$TMP/h'"
check "the login is in the audit log" grep -q 'audit: login alice from .* (web)' "$REG_LOG"
page /ui/
check "alice: her name" has '<span id="user">alice</span>'
check "...team/app listed" has 'data-repo="team/app"'
page "/ui/repo?name=team/app"
check "...delete forms" has '<form class="delete"'
ALICE_TOKEN=$(grep -o '<form class="delete".*' "$TMP/b" | grep -o 'name="csrf" value="[0-9a-f]*"' | head -1 | sed 's/.*value="//; s/"//')
cp "$JAR" "$TMP/alice.jar"

# bob: sees, may not delete
rm -f "$JAR"
page /ui/login
post /ui/login "user=bob&password=pw-bob&csrf=$(csrf)"
expect "bob logs in" 303
page "/ui/repo?name=team/app"
expect "bob sees team/app" 200
check "...no delete form" bash -c "! grep -q 'class=\"delete\"' '$TMP/b'"
BOB_TOKEN=$(csrf) # the logout form's: bound to bob's session
post /ui/delete "name=team/app&ref=v2&csrf=$BOB_TOKEN"
expect "bob's delete" 403
req GET /v2/team/app/manifests/v2 -H "Accept: $MT" -u alice:pw-alice
expect "...v2 is still there" 200
post /ui/delete "name=team/app&ref=v2&csrf=$ALICE_TOKEN"
expect "bob with alice's token" 403
post /ui/logout "csrf=0"
expect "logout without the token" 403
post /ui/logout "csrf=$BOB_TOKEN"
expect "logout" 303
check "...clears the cookie" grep -qi '^Set-Cookie: regui=; Path=/ui; Max-Age=0' "$TMP/h"
page /ui/
check "...anonymous again" bash -c "! grep -q 'id=\"user\"' '$TMP/b'"

# alice deletes
cp "$TMP/alice.jar" "$JAR"
post /ui/delete "name=team/app&ref=v2&csrf=$ALICE_TOKEN"
expect "alice deletes v2" 303
req GET /v2/team/app/manifests/v2 -H "Accept: $MT" -u alice:pw-alice
expect "...v2 is gone" 404

# the lockout is the API's: carol's wrong passwords on the form and the API
rm -f "$JAR"
page /ui/login
TOKEN=$(csrf)
post /ui/login "user=carol&password=wrong&csrf=$TOKEN"
req GET /v2/ -u carol:wrong
T=$(curl -s -o /dev/null -w '%{time_total}' -b "$JAR" --data "user=carol&password=wrong&csrf=$TOKEN" "$BASE/ui/login")
check "a login after failed ones is held, as the API's ($T s)" awk -v t="$T" 'BEGIN { exit !(t >= 0.2) }'
post /ui/login "user=carol&password=pw-carol&csrf=$TOKEN"
expect "after 3 failures (form and API), even the right password" 429
req GET /v2/ -u carol:pw-carol
expect "...and the API is locked for carol too" 429

# a removed user's session ends
cp "$TMP/alice.jar" "$JAR"
page /ui/
check "alice's session still works" has '<span id="user">alice</span>'
"$BIN" user del alice --data "$DATA" >/dev/null 2>&1
check "registry user del alice" [ $? = 0 ]
page /ui/
check "...and ends once she is removed" bash -c "! grep -q 'id=\"user\"' '$TMP/b' && ! grep -q 'team' '$TMP/b'"
check "...her cookie cleared" grep -qi '^Set-Cookie: regui=; Path=/ui; Max-Age=0' "$TMP/h"
reg_stop

# token mode: the same form and cookie, the rules judge (no token needed)
sed 's/^auth = basic$/auth = token/' "$TMP/basic.conf" >"$TMP/token.conf"
auth_start "$TMP/token.conf"
rm -f "$JAR"
page /ui/
check "token mode, anonymous: public/tool, no team" bash -c "grep -q 'data-repo=\"public/tool\"' '$TMP/b' && ! grep -q team '$TMP/b'"
page /ui/login
post /ui/login "user=bob&password=pw-bob&csrf=$(csrf)"
expect "token mode: bob logs in on the form" 303
page "/ui/repo?name=team/app"
expect "...and sees team/app" 200
check "...without delete forms" bash -c "! grep -q 'class=\"delete\"' '$TMP/b'"
reg_stop

# ---- over HTTPS: the cookies are Secure ----------------------------------------
"$BIN" cert 127.0.0.1 --out "$TMP/certs" >/dev/null 2>&1
{ cat "$TMP/basic.conf"; printf 'tls_cert = %s\ntls_key = %s\n' "$TMP/certs/server.crt" "$TMP/certs/server.key"; } >"$TMP/tls.conf"
"$BIN" serve -c "$TMP/tls.conf" --listen 127.0.0.1:0 --data "$DATA" 2>"$TMP/tls.log" &
TLS_PID=$!
S=
for _ in $(seq 1 100); do
	P=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$TMP/tls.log" | tail -1)
	[ -n "$P" ] && curl -s -o /dev/null --cacert "$TMP/certs/ca.crt" "https://127.0.0.1:$P/v2/" && S=https://127.0.0.1:$P && break
	sleep 0.1
done
check "the HTTPS registry starts" [ -n "$S" ]
curl -s -D "$TMP/th" -o "$TMP/tb" --cacert "$TMP/certs/ca.crt" -c "$TMP/tjar" -b "$TMP/tjar" "$S/ui/login"
check "HTTPS: the pre-session cookie is Secure" grep -qi '^Set-Cookie: regui_pre=.*; Secure' "$TMP/th"
T=$(grep -o 'name="csrf" value="[0-9a-f]*"' "$TMP/tb" | head -1 | sed 's/.*value="//; s/"//')
curl -s -D "$TMP/th" -o /dev/null --cacert "$TMP/certs/ca.crt" -c "$TMP/tjar" -b "$TMP/tjar" \
	--data "user=bob&password=pw-bob&csrf=$T" "$S/ui/login"
check "HTTPS: the session cookie is Secure" grep -qi '^Set-Cookie: regui=[0-9a-f].*; HttpOnly; SameSite=Strict; Secure' "$TMP/th"
kill -TERM "$TLS_PID"
reg_wait "$TLS_PID"
check "the HTTPS registry exits 0" [ $? = 0 ]
# behind a balancer that ends TLS (in auth_trusted_proxies): Secure when its
# X-Forwarded-Proto says https
{ cat "$TMP/basic.conf"; echo "auth_trusted_proxies = 127.0.0.1"; } >"$TMP/proxy.conf"
auth_start "$TMP/proxy.conf"
req GET /ui/login -H "X-Forwarded-Proto: https"
check "behind a trusted proxy that ended TLS: the pre-session cookie is Secure" \
	grep -qi '^Set-Cookie: regui_pre=.*; Secure' "$TMP/h"
req GET /ui/login -H "X-Forwarded-Proto: http"
check "...and not when it says http" bash -c "! grep -qi '^Set-Cookie: regui_pre=.*; Secure' '$TMP/h'"
reg_stop

# ---- a mirrored repository, by every spelling ---------------------------------
# HUB (another instance, open) is docker.io's upstream; the mirror under test
# has auth = basic: anonymous may pull docker.io/library/**, only bob
# docker.io/team-b/**. A name is checked as its cache name however it is
# spelt: prefix (docker.io/library/alpine), bare (library/alpine, through
# namespaces=library) or ?ns=docker.io.
HUB_LOG=$TMP/hub.log
"$BIN" serve --listen 127.0.0.1:0 --data "$TMP/hub" 2>"$HUB_LOG" &
HUB_PID=$!
for _ in $(seq 1 100); do
	HUB_PORT=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$HUB_LOG" | tail -1)
	[ -n "$HUB_PORT" ] && curl -s -o /dev/null "http://127.0.0.1:$HUB_PORT/v2/" && break
	sleep 0.1
done
SAVE_BASE=$BASE
BASE=http://127.0.0.1:$HUB_PORT
image library/alpine 3 amd64
image team-b/app 1 amd64
BASE=$SAVE_BASE
printf '%s\n' 'auth = basic' "upstream = \"docker.io http://127.0.0.1:$HUB_PORT namespaces=library\"" \
	'auth_rule = "docker.io/library/** anonymous pull"' 'auth_rule = "docker.io/team-b/** bob pull,delete"' \
	'auth_fail_limit = 0' >"$TMP/mirror.conf"
auth_start "$TMP/mirror.conf"
req GET /v2/docker.io/library/alpine/manifests/3 -H "Accept: $MT"
expect "the mirror caches library/alpine:3" 200
req GET /v2/docker.io/team-b/app/manifests/1 -H "Accept: $MT" -u bob:pw-bob
expect "...and team-b/app:1 for bob" 200
rm -f "$JAR"
for spelling in "name=docker.io/library/alpine" "name=library/alpine" "name=alpine&ns=docker.io" "name=library/alpine&ns=docker.io"; do
	page "/ui/repo?$spelling"
	expect "anonymous, a public mirrored repository as $spelling" 200
	check "...shown under its cache name" has '<h1 id="repo">docker.io/library/alpine</h1>'
done
for spelling in "name=docker.io/team-b/app" "name=team-b/app&ns=docker.io"; do
	page "/ui/repo?$spelling"
	expect "anonymous, a private mirrored repository as $spelling" 404
	page "/ui/image?$spelling&ref=1"
	expect "...its image" 404
done
page /ui/
check "anonymous list: the public cache name, not the private one" bash -c "grep -q 'data-repo=\"docker.io/library/alpine\"' '$TMP/b' && ! grep -q 'team-b' '$TMP/b'"
page /ui/mirror
check "the mirror page: docker.io reachable" has '<tr data-upstream="docker.io"><td class="name">docker.io</td><td class="reachable">yes</td>'
check "...cached bytes of what anonymous sees, marked partial" grep -q '<td class="cached" data-bytes="[1-9][0-9]*">[^<]* <span class="partial">' "$TMP/b"
page /ui/login
post /ui/login "user=bob&password=pw-bob&csrf=$(csrf)"
for spelling in "name=docker.io/team-b/app" "name=team-b/app&ns=docker.io"; do
	page "/ui/repo?$spelling"
	expect "bob, the private mirrored repository as $spelling" 200
	check "...no delete form on a read-only mirror, even with the delete right" bash -c "! grep -q 'class=\"delete\"' '$TMP/b'"
done
page "/ui/image?name=team-b/app&ns=docker.io&ref=1"
expect "bob, its image" 200
reg_stop
kill -TERM "$HUB_PID"
reg_wait "$HUB_PID"

summary
