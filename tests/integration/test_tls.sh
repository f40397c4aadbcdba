#!/bin/bash
# TLS against the real binary: `registry cert` writes a CA and a server
# certificate OpenSSL verifies (for each name, DNS and IP) and keeps the CA
# when run again; the registry serves HTTPS with them (push and pull,
# keep-alive, the CA trusted or not), plain HTTP on listen_plain beside it,
# token challenges that name the scheme the client used, and refuses to
# start with half or broken TLS settings.
set -u
. "$(dirname "$0")/lib.sh"
BIN=$1
DATA=$TMP/data
CERTS=$TMP/tls
MT=application/vnd.oci.image.manifest.v1+json
mkdir -p "$DATA"

# ---- registry cert ----
"$BIN" cert 127.0.0.1 localhost --out "$CERTS" >"$TMP/cert.out"
check "cert exits 0" [ $? = 0 ]
for f in ca.crt ca.key server.crt server.key; do
	check "cert wrote $f" [ -s "$CERTS/$f" ]
done
check "keys are 0600" [ "$(stat -c %a "$CERTS/ca.key") $(stat -c %a "$CERTS/server.key")" = "600 600" ]
check "cert tells what to put in registry.conf" grep -q "tls_cert = $CERTS/server.crt" "$TMP/cert.out"
check "openssl verifies server.crt against ca.crt" \
	bash -c "openssl verify -CAfile '$CERTS/ca.crt' -purpose sslserver '$CERTS/server.crt' >/dev/null"
SAN=$(openssl x509 -in "$CERTS/server.crt" -noout -ext subjectAltName 2>/dev/null | tail -1)
check "SAN holds the IP and the name ($SAN)" [ "$(echo $SAN)" = "IP Address:127.0.0.1, DNS:localhost" ]
check "the CA is a CA" bash -c "openssl x509 -in '$CERTS/ca.crt' -noout -ext basicConstraints | grep -q 'CA:TRUE'"
cp "$CERTS/ca.crt" "$TMP/ca.first"
cp "$CERTS/server.crt" "$TMP/server.first"
"$BIN" cert 127.0.0.1 localhost registry.test --out "$CERTS" --days 30 >"$TMP/cert.out"
check "a second run keeps the CA" cmp -s "$CERTS/ca.crt" "$TMP/ca.first"
check "...says so" grep -q '^kept ' "$TMP/cert.out"
check "...and makes a new server certificate" bash -c "! cmp -s '$CERTS/server.crt' '$TMP/server.first'"
check "...that the kept CA verifies" \
	bash -c "openssl verify -CAfile '$CERTS/ca.crt' '$CERTS/server.crt' >/dev/null"
"$BIN" cert --out "$TMP/x" >/dev/null 2>&1
check "cert without names exits 2" [ $? = 2 ]
"$BIN" cert 'bad name!' --out "$TMP/x" >/dev/null 2>&1
check "cert with a bad name exits 1" [ $? = 1 ]
"$BIN" cert localhost --days 0 --out "$TMP/x" >/dev/null 2>&1
check "cert --days 0 exits 2" [ $? = 2 ]
"$BIN" cert localhost -d "$DATA" >/dev/null
check "cert defaults to DATA/tls" [ -s "$DATA/tls/server.crt" ]

# ---- HTTPS with plain HTTP beside it ----
cat >"$TMP/tls.conf" <<EOF
tls_cert = $CERTS/server.crt
tls_key = $CERTS/server.key
listen_plain = 127.0.0.1:0
EOF
: >"$REG_LOG"
"$BIN" serve -c "$TMP/tls.conf" --listen 127.0.0.1:0 --data "$DATA" 2>>"$REG_LOG" &
REG_PID=$!
for _ in $(seq 1 100); do
	PORT=$(sed -n 's/.*(port \([0-9]*\)) with TLS.*/\1/p' "$REG_LOG" | tail -1)
	[ -n "$PORT" ] && break
	sleep 0.1
done
PLAIN=$(sed -n 's/.*plain HTTP also on .*, port=\([0-9]*\).*/\1/p' "$REG_LOG" | tail -1)
check "HTTPS listener up ($PORT)" [ -n "$PORT" ]
check "plain listener up ($PLAIN)" [ -n "$PLAIN" ]
BASE="https://127.0.0.1:$PORT"
CA=(--cacert "$CERTS/ca.crt")

req GET /v2/ "${CA[@]}"
expect "GET /v2/ over HTTPS, CA trusted" 200
req GET /v2/
check "an untrusted certificate is refused by curl (got $CODE)" [ "$CODE" = 000 ]
CODE=$(curl -s -o /dev/null -w '%{http_code}' "${CA[@]}" "https://localhost:$PORT/v2/")
check "the DNS name in the certificate works too ($CODE)" [ "$CODE" = 200 ]
CODE=$(curl -s -o /dev/null -w '%{http_code}' -m 5 "http://127.0.0.1:$PORT/v2/")
check "plain HTTP on the HTTPS port gets nothing ($CODE)" [ "$CODE" = 000 ]
CODE=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PLAIN/v2/")
check "plain HTTP on listen_plain ($CODE)" [ "$CODE" = 200 ]
check "TLS 1.2 or newer only" bash -c "! curl -s -o /dev/null --cacert '$CERTS/ca.crt' --tls-max 1.1 '$BASE/v2/'"

# push over HTTPS, pull over both
head -c 300000 /dev/urandom >"$TMP/blob"
D=$(sha256 "$TMP/blob")
printf '{}' >"$TMP/config"
DC=$(sha256 "$TMP/config")
req POST /v2/tls/app/blobs/uploads/ "${CA[@]}"
expect "POST upload over HTTPS" 202
LOC=$(hdr Location)
req PATCH "$LOC" "${CA[@]}" --data-binary @"$TMP/blob"
expect "PATCH over HTTPS" 202
req PUT "$LOC?digest=$D" "${CA[@]}"
expect "PUT over HTTPS" 201
req POST "/v2/tls/app/blobs/uploads/?digest=$DC" "${CA[@]}" --data-binary @"$TMP/config"
printf '{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":2},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":300000}]}' \
	"$MT" "$DC" "$D" >"$TMP/man"
req PUT /v2/tls/app/manifests/v1 "${CA[@]}" -H "Content-Type: $MT" --data-binary @"$TMP/man"
expect "manifest PUT over HTTPS" 201
req GET "/v2/tls/app/blobs/$D" "${CA[@]}"
check "blob back over HTTPS, byte-exact" cmp -s "$TMP/b" "$TMP/blob"
CODE=$(curl -s -o "$TMP/b2" -w '%{http_code}' "http://127.0.0.1:$PLAIN/v2/tls/app/blobs/$D")
check "blob back over plain HTTP, byte-exact ($CODE)" cmp -s "$TMP/b2" "$TMP/blob"
req GET "/v2/tls/app/blobs/$D" "${CA[@]}" -H 'Range: bytes=100-199'
expect "Range over HTTPS" 206

# HTTP/1.1 keep-alive: two requests, one TLS connection
curl -sv "${CA[@]}" -o /dev/null -o /dev/null "$BASE/v2/" "$BASE/v2/tls/app/manifests/v1" 2>"$TMP/v"
check "keep-alive: the second request reuses the connection" grep -qi 're-using existing connection' "$TMP/v"
check "keep-alive: one TLS handshake" [ "$(grep -c 'SSL connection using' "$TMP/v")" = 1 ]
reg_stop

# ---- TLS with access control: challenges over each listener ----
echo pw-alice | "$BIN" user add alice --password-stdin --cost 4 --data "$DATA" >/dev/null
{ cat "$TMP/tls.conf"; printf 'auth = token\n'; } >"$TMP/tls-token.conf"
: >"$REG_LOG"
"$BIN" serve -c "$TMP/tls-token.conf" --listen 127.0.0.1:0 --data "$DATA" 2>>"$REG_LOG" &
REG_PID=$!
for _ in $(seq 1 100); do
	PORT=$(sed -n 's/.*(port \([0-9]*\)) with TLS.*/\1/p' "$REG_LOG" | tail -1)
	PLAIN=$(sed -n 's/.*plain HTTP also on .*, port=\([0-9]*\).*/\1/p' "$REG_LOG" | tail -1)
	[ -n "$PORT" ] && curl -s -o /dev/null "${CA[@]}" "https://127.0.0.1:$PORT/v2/" && break
	sleep 0.1
done
BASE="https://127.0.0.1:$PORT"
req GET /v2/ "${CA[@]}"
expect "token over HTTPS: 401" 401 UNAUTHORIZED
check "token over HTTPS: the realm is https" [ "$(hdr WWW-Authenticate)" = "Bearer realm=\"https://127.0.0.1:$PORT/token\",service=\"registry\"" ]
T=$(curl -s "${CA[@]}" -u alice:pw-alice "$BASE/token?service=registry&scope=repository:tls/app:pull" | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
req GET /v2/tls/app/manifests/v1 "${CA[@]}" -H "Authorization: Bearer $T"
expect "token over HTTPS: pull with a token from /token" 200
BASE="http://127.0.0.1:$PLAIN"
req GET /v2/
check "token over plain HTTP: the realm is http" [ "$(hdr WWW-Authenticate)" = "Bearer realm=\"http://127.0.0.1:$PLAIN/token\",service=\"registry\"" ]
req GET /v2/tls/app/manifests/v1 -H "Authorization: Bearer $T"
expect "a token from one listener works on the other" 200
reg_stop

# ---- set-ups that must not start ----
printf 'tls_cert = %s\n' "$CERTS/server.crt" >"$TMP/half.conf"
out=$("$BIN" serve -c "$TMP/half.conf" --listen 127.0.0.1:0 --data "$DATA" 2>&1)
check "tls_cert without tls_key stops start-up ($?)" grep -q 'TLS needs both tls_cert and tls_key' <<<"$out"
printf 'tls_cert = %s/nope.crt\ntls_key = %s\n' "$TMP" "$CERTS/server.key" >"$TMP/missing.conf"
"$BIN" serve -c "$TMP/missing.conf" --listen 127.0.0.1:0 --data "$DATA" >/dev/null 2>"$TMP/err"
check "a missing certificate exits 1" [ $? = 1 ]
check "...saying which file" grep -q "cannot read $TMP/nope.crt" "$TMP/err"
printf 'tls_cert = %s\ntls_key = %s\n' "$CERTS/server.crt" "$CERTS/ca.key" >"$TMP/mismatch.conf"
"$BIN" serve -c "$TMP/mismatch.conf" --listen 127.0.0.1:0 --data "$DATA" >/dev/null 2>"$TMP/err"
check "a key that is not the certificate's exits 1" [ $? = 1 ]
check "...saying so" grep -q "$CERTS/ca.key is not the key of the certificate in $CERTS/server.crt" "$TMP/err"
printf 'tls_cert = %s\ntls_key = %s\n' "$TMP/cert.out" "$CERTS/server.key" >"$TMP/notpem.conf"
"$BIN" serve -c "$TMP/notpem.conf" --listen 127.0.0.1:0 --data "$DATA" >/dev/null 2>"$TMP/err"
check "a certificate file that is not PEM exits 1" grep -q "$TMP/cert.out: no usable PEM certificate" "$TMP/err"

summary
