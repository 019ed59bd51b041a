#!/usr/bin/env bash
# TLS with --tls-cert/--tls-key: HTTPS answers over HTTP/1.1 and HTTP/2 (ALPN).
. "$(dirname "$0")/lib.sh"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj "/CN=127.0.0.1" \
    -addext "subjectAltName=IP:127.0.0.1" -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null ||
    fail "openssl could not make a test certificate"
start_server --tls-cert "$WORK/cert.pem" --tls-key "$WORK/key.pem"
code=$(curl -s --cacert "$WORK/cert.pem" -o "$WORK/body" -w '%{http_code} %{http_version}' --http2 \
    "https://127.0.0.1:$PORT/healthz") || fail "HTTPS request failed"
[ "$code" = "200 2" ] || fail "expected 200 over HTTP/2, got '$code'"
code=$(curl -s --cacert "$WORK/cert.pem" -o /dev/null -w '%{http_code} %{http_version}' --http1.1 \
    "https://127.0.0.1:$PORT/healthz") || fail "HTTPS/1.1 request failed"
[ "$code" = "200 1.1" ] || fail "expected 200 over HTTP/1.1, got '$code'"
# HTTP/2 carries problem+json too
code=$(curl -s --cacert "$WORK/cert.pem" -o "$WORK/body" -w '%{http_code}' --http2 "https://127.0.0.1:$PORT/v1/nope")
[ "$code" = 404 ] && grep -q '"code":"route_not_found"' "$WORK/body" || fail "404 over HTTP/2: $code $(cat "$WORK/body")"
# plain HTTP to the TLS port gets no answer
! curl -s -m 2 "http://127.0.0.1:$PORT/healthz" -o /dev/null -w '%{http_code}' | grep -q 200 || fail "plain HTTP answered"
stop_server

# a missing key file is a clear start-up error
set +e
"$MOPAY" serve --db "sqlite:$WORK/mopay.db" --master-key-file "$WORK/master.key" --listen 127.0.0.1:0 \
    --tls-cert "$WORK/cert.pem" --tls-key "$WORK/missing.pem" >/dev/null 2>"$WORK/err"
rc=$?
set -e
[ $rc -ne 0 ] && grep -q "TLS" "$WORK/err" || fail "missing TLS key must stop start-up: $(cat "$WORK/err")"
echo "1 passed, 0 failed"
