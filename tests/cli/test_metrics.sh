#!/usr/bin/env bash
# /metrics is valid Prometheus text, as promtool (Debian package prometheus) checks it.
. "$(dirname "$0")/lib.sh"
command -v promtool >/dev/null || fail "promtool is missing: run scripts/deps.sh"

start_server
base="http://127.0.0.1:$PORT"
curl -s "$base/healthz" >/dev/null
curl -s "$base/nope" >/dev/null
curl -s -X PUT "$base/healthz" >/dev/null
curl -s -X POST -H "Authorization: Bearer $ADMIN_KEY" -H 'Content-Type: application/json' \
    -d '{"name":"metrics"}' "$base/v1/admin-keys" >/dev/null
curl -s -X POST -H 'Content-Type: application/json' -d '{}' "$base/v1/admin-keys" >/dev/null
curl -s "$base/metrics" >"$WORK/metrics"
promtool check metrics <"$WORK/metrics" || fail "promtool check metrics failed"
grep -q 'mopay_http_requests_total{route="admin_keys_create",status="201"} 1' "$WORK/metrics" ||
    fail "the 201 is not counted"
grep -q 'mopay_http_requests_total{route="admin_keys_create",status="401"} 1' "$WORK/metrics" ||
    fail "the 401 is not counted"
grep -q '^mopay_seq_commands_total 1$' "$WORK/metrics" || fail "the sequencer did not count one command"
stop_server
echo "1 passed, 0 failed"
