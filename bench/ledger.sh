#!/usr/bin/env bash
# The ledger's benchmarks, one line each:
#   bench: ledger uniform|hot sqlite N transfers/s   in process, durable (mopay bench ledger):
#                                                    100,000 accounts, 10,000,000 transfers
#   bench: ledger http sqlite N transfers/s          POST /v1/ledger/transfers, batches of 8,190,
#                                                    over loopback for LEDGER_HTTP_SECONDS (10)
# The PostgreSQL baseline is bench/ledger_pg_baseline.sh, in the same `make bench` run.
set -euo pipefail
build=${1:?usage: $0 BUILD_DIR}
"$build/mopay" bench ledger --accounts "${LEDGER_ACCOUNTS:-100000}" --transfers "${LEDGER_TRANSFERS:-10000000}"

work=$(mktemp -d /tmp/mopay-bench-http.XXXXXX)
pid=
trap '[ -z "$pid" ] || kill "$pid" 2>/dev/null || true; cp "$work/server.log" /tmp/mopay-bench-ledger-server.log 2>/dev/null; rm -rf "$work"' EXIT
port=18491 accounts=100000
"$build/mopay" serve --db "sqlite:$work/mopay.db" --master-key-file "$work/master.key" --listen 127.0.0.1:$port \
    --access-log off --log-level warn --ledger-accounts-max $accounts --ledger-transfers-max 20000000 --ledger-prefault \
    >"$work/key" 2>"$work/server.log" &
pid=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
key=$(head -n 1 "$work/key")
# the accounts, 8,190 a request
for ((first = 1; first <= accounts; first += 8190)); do
    last=$((first + 8189 < accounts ? first + 8189 : accounts))
    awk -v a="$first" -v b="$last" 'BEGIN { printf "{\"accounts\":["; for (i = a; i <= b; i++)
        printf "%s{\"id\":\"acc_%032x\",\"currency\":\"USD\"}", (i > a ? "," : ""), i; printf "]}" }' >"$work/accounts.json"
    curl -sf -o /dev/null -X POST -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
        --data-binary @"$work/accounts.json" "http://127.0.0.1:$port/v1/ledger/accounts"
done
"$build/bench/ledger_http" $port "$key" $accounts "${LEDGER_HTTP_SECONDS:-10}" 2 sqlite
check=$(curl -sf -H "Authorization: Bearer $key" "http://127.0.0.1:$port/v1/ledger/check" || true)
case "$check" in
*'"ok":true'*) ;;
*) echo "ledger.sh: the ledger does not balance after the HTTP run: $check" >&2; tail -n 20 "$work/server.log" >&2; exit 1 ;;
esac

# The crash test's longer mode: 10 s of concurrent writes before the SIGKILL (1.5 s in make test).
if "$build/tests/api/test_crash" "$build/mopay" sqlite "${LEDGER_CRASH_SECONDS:-10}" >"$work/crash.out" 2>&1; then
    acked=$(sed -n 's/^crash test: \([0-9]*\) transfers acknowledged.*/\1/p' "$work/crash.out")
    echo "bench: ledger crash-test sqlite passed: ${acked} acknowledged transfers survived SIGKILL, none applied twice"
else
    cat "$work/crash.out" >&2
    echo "bench: ledger crash-test sqlite FAILED" >&2
    exit 1
fi
