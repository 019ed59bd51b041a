#!/usr/bin/env bash
# GET /healthz through mopay's router and middleware (request ID, metrics, and the access log:
# to a file by default, ACCESS_LOG=off to leave it out) with wrk on loopback, side by side with a
# minimal h2o responder built from the same library. Runs the pair ROUNDS times, alternating, and
# prints the medians and their ratio on one line.
set -euo pipefail
build=${1:?usage: $0 BUILD_DIR}
rounds=${ROUNDS:-3} seconds=${SECONDS_PER_RUN:-10} conns=${CONNS:-64} wrk_threads=${WRK_THREADS:-2}
work=$(mktemp -d /tmp/mopay-bench.XXXXXX)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT

mopay_port=18481 minimal_port=18482
"$build/mopay" serve --db "sqlite:$work/mopay.db" --master-key-file "$work/master.key" \
    --listen 127.0.0.1:$mopay_port --access-log "${ACCESS_LOG:-$work/access.log}" --log-level warn >/dev/null 2>"$work/server.log" &
pids+=($!)
"$build/bench/h2o_minimal" $minimal_port 2 &
pids+=($!)
for port in $mopay_port $minimal_port; do
    for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.05; done
done

# requests/s and p99 (ms) of one wrk run
run_wrk() {
    wrk -t"$wrk_threads" -c"$conns" -d"${seconds}s" --latency "http://127.0.0.1:$1/healthz" >"$work/wrk.txt"
    rps=$(awk '/Requests\/sec/ {print int($2)}' "$work/wrk.txt")
    p99=$(awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v*=1000}; print v}' "$work/wrk.txt")
    echo "$rps $p99"
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

: >"$work/mopay" ; : >"$work/minimal"
for _ in $(seq 1 "$rounds"); do
    run_wrk $mopay_port >>"$work/mopay"
    run_wrk $minimal_port >>"$work/minimal"
done
m_rps=$(cut -d' ' -f1 "$work/mopay" | median); m_p99=$(cut -d' ' -f2 "$work/mopay" | median)
b_rps=$(cut -d' ' -f1 "$work/minimal" | median)
ratio=$(awk -v a="$m_rps" -v b="$b_rps" 'BEGIN {printf "%.2f", a / b}')
echo "http_healthz (access log ${ACCESS_LOG:-to a file}): mopay ${m_rps} req/s (p99 ${m_p99} ms), minimal h2o ${b_rps} req/s, ratio ${ratio}; median of ${rounds}x${seconds}s, wrk -t${wrk_threads} -c${conns}, $(nproc) cores"
