#!/bin/bash
# The OCI distribution API over HTTP, endpoint by endpoint, error path by
# error path, against the real binary.
set -u
. "$(dirname "$0")/lib.sh"
reg_start "$1"

# ---- base ----
req GET /v2/
expect "GET /v2/" 200
check "GET /v2/ body {}" [ "$(cat "$TMP/b")" = "{}" ]
check "API version header" [ "$(hdr Docker-Distribution-API-Version)" = "registry/2.0" ]
req GET /nope
expect "unknown path" 404

# ---- monolithic blob push ----
printf 'hello blob' >"$TMP/blob1"
D1=$(sha256 "$TMP/blob1")
req POST "/v2/test/app/blobs/uploads/?digest=$D1" -H 'Content-Type: application/octet-stream' --data-binary @"$TMP/blob1"
expect "monolithic POST" 201
check "monolithic Location" [ "$(hdr Location)" = "/v2/test/app/blobs/$D1" ]
check "monolithic digest header" [ "$(hdr Docker-Content-Digest)" = "$D1" ]

req HEAD "/v2/test/app/blobs/$D1"
expect "HEAD blob" 200
check "HEAD blob length" [ "$(hdr Content-Length)" = "10" ]
req GET "/v2/test/app/blobs/$D1"
expect "GET blob" 200
check "GET blob bytes" cmp -s "$TMP/b" "$TMP/blob1"
req GET "/v2/test/app/blobs/$D1" -H 'Range: bytes=6-'
expect "GET blob range" 206
check "range body" [ "$(cat "$TMP/b")" = "blob" ]
check "Content-Range" [ "$(hdr Content-Range)" = "bytes 6-9/10" ]
req GET "/v2/test/app/blobs/$D1" -H 'Range: bytes=-3'
expect "suffix range" 206
check "suffix body" [ "$(cat "$TMP/b")" = "lob" ]
req GET "/v2/test/app/blobs/$D1" -H 'Range: bytes=10-'
expect "unsatisfiable range" 416
check "416 Content-Range" [ "$(hdr Content-Range)" = "bytes */10" ]
req GET "/v2/other/blobs/$D1"
expect "blob not linked to repo" 404 BLOB_UNKNOWN
req GET "/v2/test/app/blobs/sha256:abc"
expect "malformed digest" 400 DIGEST_INVALID

printf 'wrong' >"$TMP/wrong"
req POST "/v2/test/app/blobs/uploads/?digest=$D1" --data-binary @"$TMP/wrong"
expect "monolithic wrong digest" 400 DIGEST_INVALID

# ---- chunked upload: POST, PATCH (Content-Range), PATCH, PUT ----
head -c 100000 /dev/urandom >"$TMP/big"
DBIG=$(sha256 "$TMP/big")
head -c 60000 "$TMP/big" >"$TMP/c1"
tail -c 40000 "$TMP/big" >"$TMP/c2"
req POST /v2/test/app/blobs/uploads/
expect "POST session" 202
LOC=$(hdr Location)
UUID=$(hdr Docker-Upload-UUID)
check "Location names session" [ "$LOC" = "/v2/test/app/blobs/uploads/$UUID" ]
check "Range on new session" [ "$(hdr Range)" = "0-0" ]
req PATCH "$LOC" -H 'Content-Type: application/octet-stream' -H 'Content-Range: 0-59999' --data-binary @"$TMP/c1"
expect "PATCH chunk 1" 202
check "Range after chunk 1" [ "$(hdr Range)" = "0-59999" ]
req PATCH "$LOC" -H 'Content-Range: 0-59999' --data-binary @"$TMP/c1"
expect "repeated chunk" 416
check "416 carries Range" [ "$(hdr Range)" = "0-59999" ]
req GET "$LOC"
expect "GET upload status" 204
check "status Range" [ "$(hdr Range)" = "0-59999" ]
req PATCH "$LOC" -H 'Content-Range: 60000-99999' --data-binary @"$TMP/c2"
expect "PATCH chunk 2" 202
req PUT "$LOC?digest=$DBIG"
expect "PUT commit" 201
req GET "/v2/test/app/blobs/$DBIG"
check "chunked blob bytes" cmp -s "$TMP/b" "$TMP/big"
req GET "$LOC"
expect "session gone after commit" 404 BLOB_UPLOAD_UNKNOWN

# ---- streamed PATCH (chunked transfer encoding) + PUT with last chunk ----
req POST /v2/test/app/blobs/uploads/
LOC=$(hdr Location)
CODE=$(head -c 60000 "$TMP/big" | curl -s -o "$TMP/b" -D "$TMP/h" -w '%{http_code}' -X PATCH \
	-H 'Transfer-Encoding: chunked' --data-binary @- "$BASE$LOC")
expect "streamed PATCH" 202
req PUT "$LOC?digest=$DBIG" --data-binary @"$TMP/c2"
expect "PUT with last chunk" 201

# ---- wrong digest at PUT: nothing stored ----
req POST /v2/test/app/blobs/uploads/
LOC=$(hdr Location)
req PATCH "$LOC" --data-binary @"$TMP/wrong"
req PUT "$LOC?digest=sha256:0000000000000000000000000000000000000000000000000000000000000000"
expect "PUT wrong digest" 400 DIGEST_INVALID
req HEAD "/v2/test/app/blobs/sha256:0000000000000000000000000000000000000000000000000000000000000000"
expect "wrong-digest blob absent" 404
req PUT "$LOC?digest=$D1"
expect "session ended after failed PUT" 404 BLOB_UPLOAD_UNKNOWN
req POST /v2/test/app/blobs/uploads/
LOC=$(hdr Location)
req PUT "$LOC"
expect "PUT without digest" 400 DIGEST_INVALID

# ---- cancel ----
req POST /v2/test/app/blobs/uploads/
LOC=$(hdr Location)
req DELETE "$LOC"
expect "DELETE upload" 204
req GET "$LOC"
expect "cancelled upload unknown" 404 BLOB_UPLOAD_UNKNOWN
req GET /v2/test/app/blobs/uploads/not-a-session
expect "unknown upload" 404 BLOB_UPLOAD_UNKNOWN

# ---- sha512 ----
D512="sha512:$(sha512sum "$TMP/blob1" | cut -d' ' -f1)"
req POST "/v2/test/app/blobs/uploads/?digest-algorithm=sha512"
expect "POST sha512 session" 202
LOC=$(hdr Location)
req PUT "$LOC?digest=$D512" --data-binary @"$TMP/blob1"
expect "PUT sha512" 201
req HEAD "/v2/test/app/blobs/$D512"
expect "HEAD sha512 blob" 200

# ---- mount ----
req POST "/v2/test/other/blobs/uploads/?mount=$D1&from=test/app"
expect "mount from repo" 201
check "mount Location" [ "$(hdr Location)" = "/v2/test/other/blobs/$D1" ]
req HEAD "/v2/test/other/blobs/$D1"
expect "mounted blob served" 200
req POST "/v2/test/third/blobs/uploads/?mount=$D1"
expect "mount without from" 201
req POST "/v2/test/fourth/blobs/uploads/?mount=$D1&from=nowhere"
expect "mount from repo lacking blob -> session" 202

# ---- manifests ----
printf '{}' >"$TMP/config"
DCFG=$(sha256 "$TMP/config")
req POST "/v2/test/app/blobs/uploads/?digest=$DCFG" --data-binary @"$TMP/config"
cat >"$TMP/manifest" <<JSON
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"$DCFG","size":2},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"$D1","size":10}]}
JSON
DMAN=$(sha256 "$TMP/manifest")
MT=application/vnd.oci.image.manifest.v1+json
req PUT /v2/test/app/manifests/v1 -H "Content-Type: $MT" --data-binary @"$TMP/manifest"
expect "PUT manifest by tag" 201
check "manifest digest header" [ "$(hdr Docker-Content-Digest)" = "$DMAN" ]
check "manifest Location" [ "$(hdr Location)" = "/v2/test/app/manifests/$DMAN" ]
req GET /v2/test/app/manifests/v1
expect "GET manifest by tag" 200
check "manifest bytes unchanged" cmp -s "$TMP/b" "$TMP/manifest"
check "manifest Content-Type" [ "$(hdr Content-Type)" = "$MT" ]
check "manifest digest on GET" [ "$(hdr Docker-Content-Digest)" = "$DMAN" ]
req HEAD "/v2/test/app/manifests/$DMAN"
expect "HEAD manifest by digest" 200
check "HEAD manifest length" [ "$(hdr Content-Length)" = "$(wc -c <"$TMP/manifest")" ]
req GET /v2/test/app/manifests/nope
expect "unknown tag" 404 MANIFEST_UNKNOWN
req GET /v2/never/pushed/manifests/v1
expect "unknown repository" 404 NAME_UNKNOWN
req GET '/v2/Bad_Name/manifests/v1'
expect "invalid name" 400 NAME_INVALID
# A reference that is neither a tag nor a digest names no manifest that
# could exist: reads and deletes say 404 (the conformance suite asks this),
# only a push is told its tag is invalid.
for m in GET HEAD DELETE; do
	for ref in .INVALID_MANIFEST_NAME 'bad!tag' sha256:abc; do
		req "$m" "/v2/test/app/manifests/$ref"
		expect "$m of the invalid reference $ref" 404
		[ "$m" = HEAD ] || check "...MANIFEST_UNKNOWN" grep -q '"code":"MANIFEST_UNKNOWN"' "$TMP/b"
	done
done
req PUT "/v2/test/app/manifests/.INVALID_MANIFEST_NAME" -H "Content-Type: $MT" --data-binary @"$TMP/manifest"
expect "PUT to an invalid tag" 400 TAG_INVALID
req PUT "/v2/test/app/manifests/sha256:1111111111111111111111111111111111111111111111111111111111111111" -H "Content-Type: $MT" --data-binary @"$TMP/manifest"
expect "PUT by wrong digest" 400 DIGEST_INVALID
req PUT "/v2/test/app/manifests/$DMAN?tag=a&tag=b" -H "Content-Type: $MT" --data-binary @"$TMP/manifest"
expect "PUT by digest with tags" 201
req GET /v2/test/app/manifests/b
expect "tag from ?tag=" 200

sed "s/$D1/$DBIG/; s/\"size\":10/\"size\":100000/" "$TMP/manifest" >"$TMP/m2"
req PUT /v2/test/other/manifests/v1 -H "Content-Type: $MT" --data-binary @"$TMP/m2"
expect "manifest with blob not in repo" 400 MANIFEST_BLOB_UNKNOWN
req PUT /v2/test/app/manifests/bad -H "Content-Type: $MT" --data-binary '{"schemaVersion":2,'
expect "malformed manifest" 400 MANIFEST_INVALID
req PUT /v2/test/app/manifests/bad -H "Content-Type: $MT" --data-binary '{"schemaVersion":1,"fsLayers":[]}'
expect "schema 1 refused" 400 MANIFEST_INVALID
head -c 5000000 /dev/zero >"$TMP/huge"
req PUT /v2/test/app/manifests/huge -H "Content-Type: $MT" --data-binary @"$TMP/huge"
expect "manifest over 4 MiB" 413

# docker schema 2 manifest, stored as pushed (with its odd whitespace)
DMT=application/vnd.docker.distribution.manifest.v2+json
cat >"$TMP/dmanifest" <<JSON
{
   "schemaVersion": 2,
   "mediaType": "$DMT",
   "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 2, "digest": "$DCFG"},
   "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 10, "digest": "$D1"}]
}
JSON
DDMAN=$(sha256 "$TMP/dmanifest")
req PUT /v2/test/app/manifests/docker -H "Content-Type: $DMT" --data-binary @"$TMP/dmanifest"
expect "PUT docker v2 manifest" 201
req GET /v2/test/app/manifests/docker
check "docker manifest byte-exact" cmp -s "$TMP/b" "$TMP/dmanifest"
check "docker manifest type" [ "$(hdr Content-Type)" = "$DMT" ]

# index referencing both
IMT=application/vnd.oci.image.index.v1+json
printf '{"schemaVersion":2,"mediaType":"%s","manifests":[{"mediaType":"%s","digest":"%s","size":%s,"platform":{"architecture":"amd64","os":"linux"}}]}' \
	"$IMT" "$MT" "$DMAN" "$(wc -c <"$TMP/manifest")" >"$TMP/index"
req PUT /v2/test/app/manifests/multi -H "Content-Type: $IMT" --data-binary @"$TMP/index"
expect "PUT index" 201
printf '{"schemaVersion":2,"mediaType":"%s","manifests":[{"mediaType":"%s","digest":"sha256:2222222222222222222222222222222222222222222222222222222222222222","size":3}]}' \
	"$IMT" "$MT" >"$TMP/badindex"
req PUT /v2/test/app/manifests/badmulti -H "Content-Type: $IMT" --data-binary @"$TMP/badindex"
expect "index with unknown child" 400 MANIFEST_BLOB_UNKNOWN

# ---- referrers ----
cat >"$TMP/sig" <<JSON
{"schemaVersion":2,"mediaType":"$MT","artifactType":"application/vnd.example.sig","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"$DCFG","size":2},"layers":[],"subject":{"mediaType":"$MT","digest":"$DMAN","size":$(wc -c <"$TMP/manifest")},"annotations":{"org.example.who":"me"}}
JSON
DSIG=$(sha256 "$TMP/sig")
req PUT "/v2/test/app/manifests/$DSIG" -H "Content-Type: $MT" --data-binary @"$TMP/sig"
expect "PUT referrer" 201
check "OCI-Subject header" [ "$(hdr OCI-Subject)" = "$DMAN" ]
req GET "/v2/test/app/referrers/$DMAN"
expect "GET referrers" 200
check "referrers type" [ "$(hdr Content-Type)" = "$IMT" ]
check "referrers lists sig" grep -q "\"digest\":\"$DSIG\"" "$TMP/b"
check "referrers artifactType" grep -q '"artifactType":"application/vnd.example.sig"' "$TMP/b"
check "referrers annotations" grep -q '"org.example.who":"me"' "$TMP/b"
# a second referrer of another type: the filter must pick one of two
sed 's/vnd.example.sig/vnd.example.sbom/; s/"me"/"sbom"/' "$TMP/sig" >"$TMP/sbom"
DSBOM=$(sha256 "$TMP/sbom")
req PUT "/v2/test/app/manifests/$DSBOM" -H "Content-Type: $MT" --data-binary @"$TMP/sbom"
expect "PUT a second referrer (an SBOM)" 201
req GET "/v2/test/app/referrers/$DMAN"
expect "GET referrers, two" 200
check "unfiltered: both referrers" [ "$(jq '.manifests | length' "$TMP/b")" = 2 ]
check "unfiltered: no filter header" [ -z "$(hdr OCI-Filters-Applied)" ]
req GET "/v2/test/app/referrers/$DMAN?artifactType=application/vnd.example.sig"
expect "filtered referrers" 200
check "filtered referrers: the signature only" \
	[ "$(jq -r '[.manifests[].digest] | join(" ")' "$TMP/b")" = "$DSIG" ]
check "filter header" [ "$(hdr OCI-Filters-Applied)" = "artifactType" ]
req GET "/v2/test/app/referrers/$DMAN?artifactType=application/vnd.example.sbom"
expect "filtered referrers, the other type" 200
check "filtered referrers: the SBOM only" \
	[ "$(jq -r '[.manifests[].digest] | join(" ")' "$TMP/b")" = "$DSBOM" ]
req GET "/v2/test/app/referrers/$DMAN?artifactType=application/other"
expect "filter matching nothing" 200
check "filter excludes" [ "$(jq '.manifests | length' "$TMP/b")" = 0 ]
req GET "/v2/test/app/referrers/sha256:3333333333333333333333333333333333333333333333333333333333333333"
expect "referrers of unknown digest" 200
check "empty index" grep -q '"manifests":\[\]' "$TMP/b"

# ---- tags and catalog ----
for t in c1 c2 c3 c4 c5; do
	req PUT "/v2/test/tags/manifests/$t" -H "Content-Type: $MT" --data-binary @"$TMP/manifest"
	expect "tag $t before its blobs are in the repository" 400 MANIFEST_BLOB_UNKNOWN
done
# manifests need their blobs in this repo first
req POST "/v2/test/tags/blobs/uploads/?mount=$D1&from=test/app"
expect "mount the layer" 201
req POST "/v2/test/tags/blobs/uploads/?mount=$DCFG&from=test/app"
expect "mount the config" 201
for t in c5 c3 c1 c4 c2; do
	req PUT "/v2/test/tags/manifests/$t" -H "Content-Type: $MT" --data-binary @"$TMP/manifest"
	expect "tag $t" 201
done
req GET /v2/test/tags/tags/list
expect "tags list" 200
check "tags lexical" [ "$(cat "$TMP/b")" = '{"name":"test/tags","tags":["c1","c2","c3","c4","c5"]}' ]
req GET '/v2/test/tags/tags/list?n=2'
check "tags page 1" [ "$(cat "$TMP/b")" = '{"name":"test/tags","tags":["c1","c2"]}' ]
check "tags Link" [ "$(hdr Link)" = '</v2/test/tags/tags/list?n=2&last=c2>; rel="next"' ]
req GET '/v2/test/tags/tags/list?n=2&last=c4'
check "tags last page" [ "$(cat "$TMP/b")" = '{"name":"test/tags","tags":["c5"]}' ]
check "no Link on last page" [ -z "$(hdr Link)" ]
req GET /v2/no/such/tags/list
expect "tags of unknown repo" 404 NAME_UNKNOWN
req GET '/v2/_catalog?n=2'
expect "catalog" 200
check "catalog page" [ "$(cat "$TMP/b")" = '{"repositories":["test/app","test/other"]}' ]
check "catalog Link" [ "$(hdr Link)" = '</v2/_catalog?n=2&last=test/other>; rel="next"' ]

# ---- deletes ----
req DELETE /v2/test/tags/manifests/c1
expect "delete tag" 202
req GET /v2/test/tags/manifests/c1
expect "deleted tag gone" 404 MANIFEST_UNKNOWN
req GET /v2/test/tags/manifests/c2
expect "other tags stay" 200
req DELETE "/v2/test/tags/manifests/$DMAN"
expect "delete manifest" 202
req GET /v2/test/tags/manifests/c2
expect "tags of deleted manifest gone" 404 MANIFEST_UNKNOWN
req DELETE "/v2/test/tags/manifests/$DMAN"
expect "delete missing manifest" 404 MANIFEST_UNKNOWN
req DELETE "/v2/test/other/blobs/$D1"
expect "delete blob" 202
req HEAD "/v2/test/other/blobs/$D1"
expect "deleted blob unlinked" 404
req GET "/v2/test/app/blobs/$D1"
expect "blob stays in other repo" 200

# ---- method not allowed ----
req POST /v2/test/app/manifests/v1
expect "POST manifest" 405 UNSUPPORTED

reg_stop

# ---- deletes disabled ----
printf 'delete_enabled = false\n' >"$TMP/nodelete.conf"
reg_start "$1" -c "$TMP/nodelete.conf"
req DELETE "/v2/test/app/manifests/$DMAN"
expect "delete with deletes off" 405 UNSUPPORTED
req GET "/v2/test/app/manifests/v1"
expect "data survives restart" 200
check "manifest intact after restart" cmp -s "$TMP/b" "$TMP/manifest"
reg_stop

summary
