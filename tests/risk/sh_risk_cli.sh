#!/usr/bin/env bash
# `mopay sim` and `mopay risk train|eval`: the CSV (header, labels, time order, the same bytes for
# the same seed), a small train on one seed and eval on another, and the usage contract.
#
# Usage: sh_risk_cli.sh COMMAND...   where COMMAND runs mopay (build/mopay, or tests/risk's
# risk_cli, which dispatches sim and risk to the same functions).
set -eu

[ $# -gt 0 ] || { echo "usage: $0 COMMAND..." >&2; exit 2; }
MOPAY=("$@")
WORK=$(mktemp -d /tmp/mopay-risk.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

expect_status() { # STATUS COMMAND...: runs it, its stderr kept in $WORK/err
    local want=$1 got=0
    shift
    "$@" >"$WORK/out" 2>"$WORK/err" || got=$?
    [ "$got" -eq "$want" ] || fail "$* exited $got, expected $want: $(cat "$WORK/err")"
}

# The simulator: a file, stdout, and the same bytes twice.
expect_status 0 "${MOPAY[@]}" sim --seed 3 --customers 300 --days 4 --out "$WORK/a.csv"
"${MOPAY[@]}" sim --seed 3 --customers 300 --days 4 >"$WORK/b.csv"
cmp -s "$WORK/a.csv" "$WORK/b.csv" || fail "the same seed gave different records"
"${MOPAY[@]}" sim --seed 4 --customers 300 --days 4 >"$WORK/c.csv"
cmp -s "$WORK/a.csv" "$WORK/c.csv" && fail "another seed gave the same records"
head -1 "$WORK/a.csv" | grep -q '^time_ns,type,kind,customer,device,payee,card,amount_minor,' ||
    fail "the CSV header is wrong: $(head -1 "$WORK/a.csv")"
[ "$(wc -l <"$WORK/a.csv")" -gt 1000 ] || fail "too few records"
awk -F, 'NR > 1 && NF != 18 { bad = 1 } END { exit bad }' "$WORK/a.csv" || fail "a record without 18 fields"
tail -n +2 "$WORK/a.csv" | cut -d, -f1 | sort -c -n || fail "records out of time order"
cut -d, -f18 "$WORK/a.csv" | grep -qx legit || fail "no legit records"
cut -d, -f18 "$WORK/a.csv" | grep -qvx 'legit\|label' || fail "no fraud records"
cut -d, -f2 "$WORK/a.csv" | grep -qx wrong_pin || fail "no wrong-PIN notes"

# Train on seed 1, evaluate on seed 2.
expect_status 0 "${MOPAY[@]}" risk train --seed 1 --customers 1000 --days 15 --out "$WORK/model.txt"
head -1 "$WORK/model.txt" | grep -qx 'mopay-risk-model v1' || fail "the model file has no version line"
grep -q 'written to' "$WORK/err" || fail "train said nothing on stderr"
expect_status 0 "${MOPAY[@]}" risk eval --model "$WORK/model.txt" --seed 2 --customers 1000 --days 15
for key in events frauds flagged precision recall false_positive_rate roc_auc recall_at_1pct_fpr; do
    grep -q "^$key " "$WORK/out" || fail "eval printed no $key: $(cat "$WORK/out")"
done
auc=$(sed -n 's/^roc_auc *//p' "$WORK/out")
awk -v a="$auc" 'BEGIN { exit !(a > 0.95) }' || fail "AUC $auc on a held-out seed"

# Refusals: a model of other features, no model, bad usage.
sed 's/^feature amount_z /feature amount_zscore /' "$WORK/model.txt" >"$WORK/other.txt"
expect_status 1 "${MOPAY[@]}" risk eval --model "$WORK/other.txt" --seed 2 --customers 100 --days 1
grep -q 'amount_zscore' "$WORK/err" || fail "the refusal does not name the feature: $(cat "$WORK/err")"
expect_status 1 "${MOPAY[@]}" risk eval --model "$WORK/missing.txt" --seed 2
expect_status 2 "${MOPAY[@]}" risk eval --seed 2
expect_status 2 "${MOPAY[@]}" risk train --seed 1
expect_status 2 "${MOPAY[@]}" risk train --seed x --out "$WORK/m"
expect_status 2 "${MOPAY[@]}" risk
expect_status 2 "${MOPAY[@]}" risk forecast
expect_status 2 "${MOPAY[@]}" sim --days 0
expect_status 2 "${MOPAY[@]}" sim --customers
expect_status 0 "${MOPAY[@]}" sim --help
grep -q 'Usage: mopay sim' "$WORK/out" || fail "sim --help printed no usage"
expect_status 0 "${MOPAY[@]}" risk --help
grep -q 'Usage: mopay risk' "$WORK/out" || fail "risk --help printed no usage"
echo "ok: sim and risk train/eval"
