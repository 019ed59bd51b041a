#!/usr/bin/env bash
# `mopay fx import` against a real server: a good file (CRLF, a time with an offset, a pair given
# twice) is imported and GET /v1/fx/rates lists its rates, the latest of each pair; 300 rates go
# in two requests; a bad file is refused with its line and field, and nothing of it is imported;
# a refused key is the server's status and body; usage errors exit 2; --help works.
. "$(dirname "$0")/lib.sh"

start_server
url="http://127.0.0.1:$PORT"
rates() { # the server's rates, one "PAIR RATE SOURCE|TIME" line each
    curl -sf -H "Authorization: Bearer $ADMIN_KEY" "$url/v1/fx/rates" |
        jq -r '.data[] | "\(.pair) \(.rate) \(.source)|\(.time)"' | sort
}

printf 'pair,rate,source,time\r\nUSD/CNY,7.1000,ECB reference,2026-11-20T08:30:00Z\r\nUSD/KRW,1386.96,Reuters,%s\r\nUSD/CNY,7.1234,ECB reference,2026-11-21T08:30:00Z\r\n\r\n' \
    '2026-11-21T08:30:00.123+09:00' >"$WORK/rates.csv"
(cd "$WORK" && "$MOPAY" fx import rates.csv --url "$url" --admin-key "$ADMIN_KEY") >"$WORK/out" 2>"$WORK/err" ||
    fail "importing a good file exited non-zero: $(cat "$WORK/err")"
grep -qxF "PUT $url/v1/fx/rates: rates 1-2 of 2 imported (HTTP 200)" "$WORK/out" || fail "the request's line: $(cat "$WORK/out")"
grep -qxF "imported 2 rates from rates.csv (1 older line of a pair left out): USD/CNY 7.1234 (ECB reference, 2026-11-21T08:30:00Z), USD/KRW 1386.96 (Reuters, 2026-11-20T23:30:00.123Z)" \
    "$WORK/out" || fail "the summary: $(cat "$WORK/out")"
[ "$(rates)" = "USD/CNY 7.1234 ECB reference|2026-11-21T08:30:00.000Z
USD/KRW 1386.96 Reuters|2026-11-20T23:30:00.123Z" ] || fail "the server's rates after the import: $(rates)"

# 300 pairs: the endpoint takes 256 a request
codes=(USD EUR JPY GBP AUD CAD CHF CNY HKD SGD KRW INR THB MYR IDR PHP NZD SEK)
{
    echo pair,rate,source,time
    n=0
    for base in "${codes[@]}"; do
        for quote in "${codes[@]}"; do
            [ "$base" != "$quote" ] && [ $n -lt 300 ] || continue
            n=$((n + 1))
            echo "$base/$quote,1.$n,bulk feed,2026-11-21T09:00:00Z"
        done
    done
} >"$WORK/bulk.csv"
MOPAY_URL="$url/" MOPAY_ADMIN_KEY="$ADMIN_KEY" "$MOPAY" fx import "$WORK/bulk.csv" >"$WORK/out" 2>"$WORK/err" ||
    fail "importing 300 rates exited non-zero: $(cat "$WORK/err")"
grep -qxF "PUT $url/v1/fx/rates: rates 1-256 of 300 imported (HTTP 200)" "$WORK/out" &&
    grep -qxF "PUT $url/v1/fx/rates: rates 257-300 of 300 imported (HTTP 200)" "$WORK/out" ||
    fail "300 rates should go in two requests: $(cat "$WORK/out")"
grep -q "^imported 300 rates from $WORK/bulk.csv: USD/EUR 1.1 (bulk feed, 2026-11-21T09:00:00Z), " "$WORK/out" ||
    fail "the bulk summary: $(head -c 300 "$WORK/out")"
[ "$(rates | grep -c '|2026-11-21T09:00:00.000Z$')" -eq 300 ] || fail "the server should list the 300 rates"
rates | grep -qxF "USD/CNY 1.7 bulk feed|2026-11-21T09:00:00.000Z" || fail "the bulk file's USD/CNY replaces the older one"
rates >"$WORK/before"

# a bad rate on line 4: refused with its line and field, and nothing of the file reaches the server
printf 'pair,rate,source,time\nGBP/MXN,24.1,ECB,2026-11-21T10:00:00Z\nUSD/CNY,7.2,ECB,2026-11-21T10:00:00Z\nEUR/MXN,7.1.2,ECB,2026-11-21T10:00:00Z\n' \
    >"$WORK/bad.csv"
set +e
(cd "$WORK" && "$MOPAY" fx import bad.csv --url "$url" --admin-key "$ADMIN_KEY") >"$WORK/out" 2>"$WORK/err"
rc=$?
set -e
[ $rc -eq 1 ] || fail "a bad file must exit 1, got $rc"
[ "$(cat "$WORK/err")" = "mopay fx import: bad.csv line 4 (rate): fx_rate_invalid" ] || fail "a bad file's message: $(cat "$WORK/err")"
[ ! -s "$WORK/out" ] || fail "a bad file prints nothing on stdout: $(cat "$WORK/out")"
rates | cmp -s - "$WORK/before" || fail "a bad file must import nothing"
printf 'pair,rate,source,time\nUSD/XXY,1.5,ECB,2026-11-21T10:00:00Z\n' >"$WORK/bad.csv"
set +e
"$MOPAY" fx import "$WORK/bad.csv" --url "$url" --admin-key "$ADMIN_KEY" 2>"$WORK/err"
rc=$?
set -e
[ $rc -eq 1 ] && grep -qxF "mopay fx import: $WORK/bad.csv line 2 (pair): currency_unknown" "$WORK/err" ||
    fail "an unknown currency: $rc $(cat "$WORK/err")"

# the server's refusal: its status and body
set +e
"$MOPAY" fx import "$WORK/rates.csv" --url "$url" --admin-key ak_nope >"$WORK/out" 2>"$WORK/err"
rc=$?
set -e
[ $rc -eq 1 ] || fail "a refused key must exit 1, got $rc"
grep -qF "mopay fx import: PUT $url/v1/fx/rates (rates 1-2 of 2) answered HTTP 401: {" "$WORK/err" &&
    grep -qF '"code":"auth_invalid"' "$WORK/err" || fail "a refused key's message: $(cat "$WORK/err")"
rates | cmp -s - "$WORK/before" || fail "a refused import changes nothing"
stop_server

# usage
"$MOPAY" fx import --help | grep -q "^Usage: mopay fx import FILE.csv" || fail "mopay fx import --help"
"$MOPAY" fx --help | grep -q "^  import " || fail "mopay fx --help"
"$MOPAY" --help | grep -q "^  fx " || fail "mopay --help lists fx"
for args in "" "import" "import a.csv b.csv --admin-key k" "import a.csv --admin-key" "import a.csv --nope x" "nope"; do
    set +e
    # shellcheck disable=SC2086 # the words are the arguments
    env -u MOPAY_ADMIN_KEY "$MOPAY" fx $args >/dev/null 2>&1
    rc=$?
    set -e
    [ $rc -eq 2 ] || fail "mopay fx $args must exit 2, got $rc"
done
set +e
env -u MOPAY_ADMIN_KEY "$MOPAY" fx import "$WORK/rates.csv" 2>"$WORK/err"
rc=$?
set -e
[ $rc -eq 2 ] && grep -q 'needs an operator key' "$WORK/err" || fail "no admin key: $rc $(cat "$WORK/err")"
echo "1 passed, 0 failed"
