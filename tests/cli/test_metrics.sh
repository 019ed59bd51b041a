#!/usr/bin/env bash
# /metrics is valid Prometheus text, as promtool (Debian package prometheus) checks it; it takes
# the operator's key, or is served without one on its own --metrics-listen address, which serves
# nothing else.
. "$(dirname "$0")/lib.sh"
command -v promtool >/dev/null || fail "promtool is missing: run scripts/deps.sh"

start_server --metrics-listen 127.0.0.1:0
METRICS_PORT=$(sed -n 's/.*msg="mopay is serving".* metrics_port=\([0-9]*\).*/\1/p' "$WORK/server.log" | tail -n 1)
[ -n "$METRICS_PORT" ] && [ "$METRICS_PORT" != 0 ] && [ "$METRICS_PORT" != "$PORT" ] ||
    fail "no metrics port of its own: '$METRICS_PORT'"
base="http://127.0.0.1:$PORT"
curl -s "$base/healthz" >/dev/null
curl -s "$base/nope" >/dev/null
curl -s -X PUT "$base/healthz" >/dev/null
curl -s -X POST -H "Authorization: Bearer $ADMIN_KEY" -H 'Content-Type: application/json' \
    -d '{"name":"metrics"}' "$base/v1/admin-keys" >/dev/null
curl -s -X POST -H 'Content-Type: application/json' -d '{}' "$base/v1/admin-keys" >/dev/null

# on the API's address: 401 without the operator's key, and a merchant's or a wrong one will not do
status=$(curl -s -o "$WORK/anon" -w '%{http_code}' "$base/metrics")
[ "$status" = 401 ] || fail "anonymous /metrics answered $status"
grep -q '"code":"auth_missing"' "$WORK/anon" || fail "anonymous /metrics: $(cat "$WORK/anon")"
status=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer ak_nope" "$base/metrics")
[ "$status" = 401 ] || fail "a wrong key on /metrics answered $status"
curl -sf -H "Authorization: Bearer $ADMIN_KEY" "$base/metrics" >"$WORK/metrics" || fail "operator /metrics"
promtool check metrics <"$WORK/metrics" || fail "promtool check metrics failed"
grep -q 'mopay_http_requests_total{route="admin_keys_create",status="201"} 1' "$WORK/metrics" ||
    fail "the 201 is not counted"
grep -q 'mopay_http_requests_total{route="admin_keys_create",status="401"} 1' "$WORK/metrics" ||
    fail "the 401 is not counted"
grep -q '^mopay_seq_commands_total 1$' "$WORK/metrics" || fail "the sequencer did not count one command"

# on the metrics address: /metrics without a key, and nothing else, not even with the key
mbase="http://127.0.0.1:$METRICS_PORT"
curl -sf "$mbase/metrics" >"$WORK/metrics2" || fail "keyless /metrics on the metrics address"
promtool check metrics <"$WORK/metrics2" || fail "promtool check metrics failed (metrics address)"
grep -q 'mopay_http_requests_total{route="metrics",status="401"} 2' "$WORK/metrics2" ||
    fail "the refused scrapes are not counted"
for path in /healthz /v1/admin-keys /v1/ledger/check; do
    status=$(curl -s -o "$WORK/other" -w '%{http_code}' -H "Authorization: Bearer $ADMIN_KEY" "$mbase$path")
    [ "$status" = 404 ] || fail "the metrics address served $path: $status"
    grep -q '"code":"route_not_found"' "$WORK/other" || fail "$path on the metrics address: $(cat "$WORK/other")"
done
stop_server

# a --metrics-listen that is not HOST:PORT, or shares the API's port, stops the start
for pair in "127.0.0.1:0 not-an-address" "127.0.0.1:$PORT 127.0.0.1:$PORT"; do
    set -- $pair
    set +e
    timeout 20 "$MOPAY" serve --db "sqlite:$WORK/mopay.db" --master-key-file "$WORK/master.key" \
        --listen "$1" --metrics-listen "$2" >/dev/null 2>"$WORK/err"
    rc=$?
    set -e
    [ $rc -eq 1 ] || fail "--listen $1 --metrics-listen $2 must stop the start, got $rc"
    grep -q "cannot start the HTTP server" "$WORK/err" || fail "no reason given: $(cat "$WORK/err")"
done
echo "1 passed, 0 failed"
