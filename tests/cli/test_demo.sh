#!/usr/bin/env bash
# `mopay demo` against a real server on its real clock: the story runs end to end twice on one
# database (new phone numbers each run), says what happened at the key steps and exits 0; without
# an admin key the operator's steps are skipped; a refused key, a bad option and a server that is
# not running are clear errors.
. "$(dirname "$0")/lib.sh"

start_server
url="http://127.0.0.1:$PORT"
"$MOPAY" demo --url "$url" --admin-key "$ADMIN_KEY" >"$WORK/run1" 2>"$WORK/err" ||
    fail "the first run exited non-zero: $(cat "$WORK/err")"
# the second run takes its options from the environment, and its URL with a trailing slash
MOPAY_URL="$url/" MOPAY_ADMIN_KEY="$ADMIN_KEY" "$MOPAY" demo >"$WORK/run2" 2>"$WORK/err" ||
    fail "the second run on the same database exited non-zero: $(cat "$WORK/err")"
[ "$(grep -o 'as +86138[0-9]*' "$WORK/run1")" != "$(grep -o 'as +86138[0-9]*' "$WORK/run2")" ] ||
    fail "both runs signed Alice up with the same phone number"

for run in run1 run2; do
    for line in \
        "Alice tops up CNY 300.00 from her Visa ending 4242: succeeded. Her balance: CNY 300.00." \
        "from Alice Wang, \"for dinner\"" \
        "declined (insufficient_funds). Her balance is unchanged: CNY 250.00." \
        "refused (limit_exceeded)" \
        "Nothing moved: her balance is CNY 550.00, Bob's CNY 50.00." \
        "raises her to KYC tier 1" \
        "for the rent again: succeeded. Her balance: CNY 90.00. Bob's: CNY 510.00." \
        "her backup UnionPay ending 0005 is now her primary card" \
        "withdraws CNY 20.00 to it: succeeded. Her balance: CNY 70.00." \
        "the ledger check: ok." \
        "Every step went as expected."; do
        grep -qF "$line" "$WORK/$run" || fail "$run does not say: $line"
    done
done

env -u MOPAY_ADMIN_KEY "$MOPAY" demo --url "$url" >"$WORK/nokey" 2>"$WORK/err" ||
    fail "a run without an admin key exited non-zero: $(cat "$WORK/err")"
[ "$(grep -c '^(Skipped, as it needs the admin key' "$WORK/nokey")" -eq 3 ] || fail "three operator steps are skipped"
grep -qF "withdraws CNY 20.00 to it: succeeded. Her balance: CNY 530.00." "$WORK/nokey" ||
    fail "without the operator, the story goes on with the money Alice kept"

set +e
"$MOPAY" demo --url "$url" --admin-key ak_nope >/dev/null 2>"$WORK/err"
rc=$?
set -e
[ $rc -eq 1 ] || fail "a refused admin key must exit 1, got $rc"
grep -q 'does not take the admin key' "$WORK/err" && grep -q 'answered HTTP 401' "$WORK/err" ||
    fail "a refused admin key's message: $(cat "$WORK/err")"
stop_server

set +e
"$MOPAY" demo --url "$url" --admin-key "$ADMIN_KEY" >/dev/null 2>"$WORK/err"
rc=$?
"$MOPAY" demo --no-such-flag 2>/dev/null
bad=$?
set -e
[ $rc -eq 1 ] || fail "with no server the demo must exit 1, got $rc"
grep -q "step \"the server answers\": GET $url/healthz got no answer" "$WORK/err" ||
    fail "no server's message: $(cat "$WORK/err")"
[ $bad -eq 2 ] || fail "a bad option must exit 2, got $bad"
"$MOPAY" demo --help | grep -q "Usage: mopay demo" || fail "mopay demo --help"
echo "1 passed, 0 failed"
