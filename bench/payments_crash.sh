#!/usr/bin/env bash
# The payments crash test's longer mode (tests/api/test_crash_payments.c): QR payments, partial
# refunds and P2P transfers from 16 clients, each POST with its Idempotency-Key, SIGKILL at a
# random moment in 0.5-1.5 times PAYMENTS_CRASH_SECONDS (10; 1.5 in make test), then the restart
# and its checks. One line:
#   bench: payments crash-test sqlite passed: N operations acknowledged (P payments, R refunds,
#          T P2P) survived SIGKILL at S s, none applied twice; U unanswered settled once (...)
# MOPAY_CRASH_SEED repeats a run's choices; the line names the seed.
set -euo pipefail
build=${1:?usage: $0 BUILD_DIR}
out=$(mktemp /tmp/mopay-bench-crashpay.XXXXXX)
trap 'rm -f "$out"' EXIT
if "$build/tests/api/test_crash_payments" "$build/mopay" sqlite "${PAYMENTS_CRASH_SECONDS:-10}" >"$out" 2>&1; then
    sed -n 's/^crash-payments test: \(.*\) before SIGKILL at \([0-9.]* s\); \([0-9]* unanswered\) \(.*\)$/'\
'bench: payments crash-test sqlite passed: \1 survived SIGKILL at \2, none applied twice; \3 settled once \4/p' "$out"
else
    cat "$out" >&2
    echo "bench: payments crash-test sqlite FAILED" >&2
    exit 1
fi
