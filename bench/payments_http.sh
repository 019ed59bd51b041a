#!/usr/bin/env bash
# Payments over HTTP on loopback: POST /v1/payments of CNY 0.01 scanning merchants' static QR
# codes, each with an Idempotency-Key of its own, from wrk on the same machine, against Release
# `mopay serve`s on SQLite. Four cases:
#   healthz   GET /healthz on the same server by the same wrk: the server's own HTTP ceiling
#   uniform   a random customer pays a random merchant (PAY_CUSTOMERS x PAY_MERCHANTS)
#   hot       a random customer pays merchant 0: every payment credits the same account
#   risk      uniform, on a second server whose risk step scores every payment with the model
#             and every rule as it serves, but with each rule's action set to approve
#             (--risk-rules), so that all of it pays the way the other cases do; the first two
#             run with --risk=false, and the ratio is the cost of scoring
# bench/payments_setup makes the merchants and funded customers and writes the wrk script. The
# cases alternate ROUNDS times; each line is the median rate and the median p99 of its rounds:
#   bench: payments uniform sqlite N payments/s p99 X ms (errors E), H of /healthz (M req/s)
#   bench: payments hot sqlite N payments/s p99 X ms (errors E), R of uniform
#   bench: payments uniform sqlite risk-scored N payments/s p99 X ms (errors E), R of uniform
# The rate counts 201 answers only. Any other answer or socket error is counted in E, the answers
# by status go to stderr with the first error's body, and the script exits 1 after the lines.
# Afterwards GET /v1/ledger/check must be ok.
set -euo pipefail
build=${1:?usage: $0 BUILD_DIR}
rounds=${ROUNDS:-3} seconds=${SECONDS_PER_RUN:-10} conns=${CONNS:-64} wrk_threads=${WRK_THREADS:-2}
merchants=${PAY_MERCHANTS:-100} customers=${PAY_CUSTOMERS:-200} port=${PAY_PORT:-18493}
risk_port=$((port + 1)) root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/mopay-bench-pay.XXXXXX)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
      cat "$work"/*.log >/tmp/mopay-bench-payments-server.log 2>/dev/null; rm -rf "$work"' EXIT

# Every rule the engine has, set to approve: scored and reasoned about, never stopping a payment.
rules=$(sed -n 's/^ *X(\([A-Z_0-9]*\), "\([a-z_0-9]*\)", \(APPROVE\|CONFIRM\|DECLINE\),.*/\2=approve/p' \
    "$root/include/mopay/risk.h" | paste -sd, -)
[ -n "$rules" ] || { echo "payments_http.sh: no rules found in include/mopay/risk.h" >&2; exit 1; }

# serve NAME PORT ARGS...: a server on its own database, set up with merchants and customers;
# its admin key in $work/NAME.key and the wrk script in $work/NAME.lua. The setup signs up every
# customer from one address and one phone range: the sign-up throttles are off for it.
serve() {
    local name=$1 p=$2
    shift 2
    "$build/mopay" serve --db "sqlite:$work/$name.db" --master-key-file "$work/master.key" --listen "127.0.0.1:$p" \
        --access-log off --log-level warn --rate-anonymous-max 0 --signup-address-max 0 --signup-prefix-max 0 \
        --rate-principal-max 0 --idempotency-records-max 100000000 --idempotency-records-per-principal-max 0 \
        "$@" >"$work/$name.out" 2>"$work/$name.log" &
    pids+=($!)
    for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$p/healthz" >/dev/null && break; sleep 0.1; done
    head -n 1 "$work/$name.out" >"$work/$name.key"
    "$build/bench/payments_setup" "http://127.0.0.1:$p" "$(cat "$work/$name.key")" "$merchants" "$customers" \
        "$work/$name.lua"
}
serve plain "$port" --risk=false
serve risk "$risk_port" --risk=true --risk-model "$root/models/risk-v1.txt" --risk-rules "$rules"
grep -q "no risk model" "$work/risk.log" && { echo "payments_http.sh: the risk server has no model" >&2; exit 1; }

# One wrk run of a case (uniform, hot; risk is uniform on the risk server): "payments/s p99_ms
# errors" on stdout, the error detail in $work/errors.
run_wrk() {
    local server=plain p=$port mode=$1
    if [ "$1" = healthz ]; then
        wrk -t"$wrk_threads" -c"$conns" -d"${seconds}s" --latency "http://127.0.0.1:$p/healthz" >"$work/wrk.txt"
        awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v*=1000}; p99=v}
             $1 == "Requests/sec:" {rps=$2}
             /Non-2xx/ {errors=$NF}
             END {if (rps == 0) exit 1; printf "%d %s %d\n", rps, p99, errors}' "$work/wrk.txt"
        return
    fi
    [ "$1" = risk ] && server=risk p=$risk_port mode=uniform
    wrk -t"$wrk_threads" -c"$conns" -d"${seconds}s" --latency -s "$work/$server.lua" "http://127.0.0.1:$p" \
        -- "$mode" >"$work/wrk.txt"
    awk -v c="$1" '$1 != "payments:" {next}
         $2 == "status" || $2 == "first" {print c ": " $0}
         $2 == "responses" && $7 > 0 {print c ": socket errors " $7}' "$work/wrk.txt" >>"$work/errors"
    awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v*=1000}; p99=v}
         $1 == "payments:" && $2 == "responses" {ok=$3-$5; errors=$5+$7; us=$9}
         END {if (us == 0) exit 1; printf "%d %s %d\n", ok / (us / 1e6), p99, errors}' "$work/wrk.txt" ||
        { echo "payments_http.sh: no result from wrk:" >&2; cat "$work/wrk.txt" >&2; return 1; }
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

: >"$work/healthz"; : >"$work/uniform"; : >"$work/hot"; : >"$work/risk"; : >"$work/errors"
for _ in $(seq 1 "$rounds"); do
    run_wrk healthz >>"$work/healthz"
    run_wrk uniform >>"$work/uniform"
    run_wrk hot >>"$work/hot"
    run_wrk risk >>"$work/risk"
done
u_rps=$(cut -d' ' -f1 "$work/uniform" | median) u_p99=$(cut -d' ' -f2 "$work/uniform" | median)
h_rps=$(cut -d' ' -f1 "$work/hot" | median) h_p99=$(cut -d' ' -f2 "$work/hot" | median)
u_err=$(awk '{s+=$3} END {print s+0}' "$work/uniform") h_err=$(awk '{s+=$3} END {print s+0}' "$work/hot")
r_rps=$(cut -d' ' -f1 "$work/risk" | median) r_p99=$(cut -d' ' -f2 "$work/risk" | median)
r_err=$(awk '{s+=$3} END {print s+0}' "$work/risk")
z_rps=$(cut -d' ' -f1 "$work/healthz" | median)
z_ratio=$(awk -v a="$u_rps" -v b="$z_rps" 'BEGIN {printf "%.3f", (b > 0 ? a / b : 0)}')
ratio=$(awk -v a="$h_rps" -v b="$u_rps" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')
r_ratio=$(awk -v a="$r_rps" -v b="$u_rps" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')
how="median of ${rounds}x${seconds}s, wrk -t${wrk_threads} -c${conns}, ${customers} customers, ${merchants} merchants, $(nproc) cores"
echo "bench: payments uniform sqlite ${u_rps} payments/s p99 ${u_p99} ms (errors ${u_err}), ${z_ratio} of /healthz (${z_rps} req/s); ${how}"
echo "bench: payments hot sqlite ${h_rps} payments/s p99 ${h_p99} ms (errors ${h_err}), ${ratio} of uniform"
echo "bench: payments uniform sqlite risk-scored ${r_rps} payments/s p99 ${r_p99} ms (errors ${r_err}), ${r_ratio} of uniform"

for server in plain:$port risk:$risk_port; do
    check=$(curl -sf -H "Authorization: Bearer $(cat "$work/${server%%:*}.key")" \
        "http://127.0.0.1:${server##*:}/v1/ledger/check" || true)
    case "$check" in
    *'"ok":true'*) ;;
    *) echo "payments_http.sh: the ${server%%:*} server's ledger does not balance: $check" >&2
       tail -n 20 "$work/${server%%:*}.log" >&2; exit 1 ;;
    esac
done
if [ "$u_err" -gt 0 ] || [ "$h_err" -gt 0 ] || [ "$r_err" -gt 0 ]; then
    echo "payments_http.sh: answers other than 201 (case: status, count) and socket errors, all rounds:" >&2
    cat "$work/errors" >&2
    exit 1
fi
