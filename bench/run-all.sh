#!/usr/bin/env bash
# `make bench`: every benchmark, one result line each.
set -euo pipefail
build=${1:?usage: $0 BUILD_DIR}
cd "$(dirname "$0")/.."
bash bench/http_healthz.sh "$build"
ACCESS_LOG=off bash bench/http_healthz.sh "$build"
bash bench/payments_http.sh "$build" # POST /v1/payments over loopback, uniform and hot merchant
"$build/bench/ledger_apply"          # the ledger state machine alone, in memory
"$build/bench/risk_score"            # risk score+commit per event, 100k customers, in memory
"$build/bench/transfers_parse_bench" # the transfers body reader against jansson
bash bench/ledger.sh "$build"        # in process durable, over HTTP, crash test (long mode)
bash bench/payments_crash.sh "$build" # the payments crash test (long mode)
bash bench/ledger_pg_baseline.sh "$build"
