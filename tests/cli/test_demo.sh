#!/usr/bin/env bash
# `mopay demo` against a real server on its real clock: the story runs end to end twice on one
# database (new phone numbers and new merchants each run), says what happened at the key steps,
# merchant and traveller chapters included, and exits 0; without an admin key the operator's
# steps, and each chapter as a whole, are skipped; a refused key, a bad option and a server that
# is not running are clear errors.
. "$(dirname "$0")/lib.sh"

# with the shipped model, as `make run` serves
start_server --risk-model "$(dirname "$0")/../../models/risk-v1.txt"
grep -q "no risk model" "$WORK/server.log" && fail "the server did not load models/risk-v1.txt"
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
        "The operator signs up a merchant: Noodle House, a restaurant (MCC 5812) in Shanghai, paid in CNY at a fee of 0.6 %. It is merchant mch_" \
        "with an API key of its own (sk_..." \
        "She pays CNY 25.00 for lunch: succeeded. Noodle House pays a fee of CNY 0.15 on it. Alice's balance: CNY 45.00. Noodle House's account: CNY 24.85." \
        "Bob scans it and pays: succeeded. Noodle House pays a fee of CNY 0.23. Bob's balance: CNY 471.50. Noodle House's account: CNY 63.12." \
        "Bob scans the same code again: refused (order_paid), as the order is paid. Nothing moved: Bob's balance is CNY 471.50, Noodle House's account CNY 63.12." \
        "Noodle House scans it for CNY 12.00: succeeded, a fee of CNY 0.07. Bob's balance: CNY 459.50. Noodle House's account: CNY 75.05." \
        "refused (payment_code_used), as a code pays once. Nothing moved: Bob's balance is CNY 459.50, Noodle House's account CNY 75.05." \
        "CNY 0.06 of the fee it paid comes back to it (fee_returned). Alice's balance: CNY 55.00. Noodle House's account: CNY 65.11." \
        "1 USD = 7.1234 CNY, and 1 CNY = 194.7 KRW." \
        "The operator signs up two merchants abroad, each at a fee of 0.6 %: Liberty Books, a bookshop (MCC 5942) in New York, paid in USD, merchant mch_" \
        "and Seoul Beauty, a cosmetics shop (MCC 5977) in Seoul, paid in KRW, merchant mch_" \
        "Their ledger accounts hold USD 0.00 and KRW 0." \
        "10 % off a spend of USD 10.00 or more, which the shop pays for out of a budget of USD 100.00, until " \
        "Alice tops up CNY 500.00 for her trip from her UnionPay ending 0005: succeeded. Her balance: CNY 555.00." \
        "She asks for a quote to buy USD 27.00 with CNY, locked for 5 minutes: quote quo_" \
        "at 1 CNY = 0.140382401662 USD (the operator's USD/CNY 7.1234, the other way round). That is CNY 192.34 at the mid rate and a fee of CNY 0.97 (0.5 %): CNY 193.31 in all" \
        "The coupon takes USD 3.00 off, which the shop bears, so she pays USD 27.00, what her quote buys, at its rate of 0.140382401662: CNY 193.31 leaves her wallet, the quote's CNY 192.34 and its fee of CNY 0.97. Liberty Books gets USD 27.00 less its fee of USD 0.16. Alice's balance: CNY 361.69. Liberty Books' account: USD 26.84." \
        "KRW 55000 with KRW 5000 of VAT in it." \
        "at 1 CNY = 194.7 KRW (the payment's fx): CNY 283.91 leaves her wallet, a fee of CNY 1.42 included. Seoul Beauty gets KRW 55000 less its fee of KRW 330. Alice's balance: CNY 77.78. Seoul Beauty's account: KRW 54670." \
        "KRW 5000, credited to her wallet as CNY 25.68 at her payment's rate. It is pending_validation until customs confirm" \
        "the operator validates the refund: validated. The CNY 25.68 is hers to keep. Her balance: CNY 103.46." \
        "the ledger check: ok." \
        "Every step went as expected."; do
        grep -qF "$line" "$WORK/$run" || fail "$run does not say: $line"
    done
    # the payloads as the phones read them, and Bob's code as his phone made it
    grep -qE '^  00020101021126[0-9]{2}0009com\.mopay0136mch_[0-9a-f]{32}.*5912Noodle House6008Shanghai6304[0-9A-F]{4}$' \
        "$WORK/$run" || fail "$run does not show the static QR payload"
    grep -qE '^  00020101021226.*540538\.50.*62120508T12-00426304[0-9A-F]{4}$' "$WORK/$run" ||
        fail "$run does not show the order's dynamic QR payload"
    grep -qE 'offline payment code, 87[0-9]{16}: ' "$WORK/$run" || fail "$run does not show Bob's payment code"
    # the merchant chapter comes after the consumer steps, the traveller chapter after it (each set
    # apart by a blank line), and the ledger check last of all
    grep -B2 "Alice is off to New York and Seoul." "$WORK/$run" | tr '\n' '|' |
        grep -q "^Noodle House refunds CNY 10.00 of Alice's[^|]*||Alice is off" ||
        fail "$run: the traveller chapter should follow the merchant chapter's refund, after a blank line"
    grep -v '^$' "$WORK/$run" | tail -n 3 | head -n 1 | grep -qF "the operator validates the refund: validated." ||
        fail "$run: the tax refund's validation should be the traveller chapter's last step"
    grep -v '^$' "$WORK/$run" | tail -n 2 | head -n 1 | grep -qF "the ledger check: ok." ||
        fail "$run: the ledger check should be the story's last step"
    [ "$(grep -n 'withdraws CNY 20.00' "$WORK/$run" | cut -d: -f1)" -lt \
        "$(grep -n 'The operator signs up a merchant' "$WORK/$run" | cut -d: -f1)" ] ||
        fail "$run: the merchant chapter should come after the consumer steps"
done

env -u MOPAY_ADMIN_KEY "$MOPAY" demo --url "$url" >"$WORK/nokey" 2>"$WORK/err" ||
    fail "a run without an admin key exited non-zero: $(cat "$WORK/err")"
[ "$(grep -c '^(Skipped, as it needs the admin key' "$WORK/nokey")" -eq 5 ] ||
    fail "two operator steps, the merchant and traveller chapters and the ledger check are skipped, one line each"
grep -qF "(Skipped, as it needs the admin key: the merchant chapter (Noodle House's" "$WORK/nokey" ||
    fail "the merchant chapter is skipped with a line"
grep -qF "(Skipped, as it needs the admin key: the traveller chapter (FX rates, a coupon and a locked quote at Liberty Books, a tax refund at Seoul Beauty).)" \
    "$WORK/nokey" || fail "the traveller chapter is skipped with a line"
! grep -q 'Noodle House pays a fee' "$WORK/nokey" || fail "without the operator, nobody pays Noodle House"
! grep -qE 'Liberty Books gets|Seoul Beauty gets' "$WORK/nokey" || fail "without the operator, nobody travels"
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
