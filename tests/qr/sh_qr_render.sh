#!/usr/bin/env bash
# `mopay qr`: every published valid payload drawn as PNG and as SVG must scan back, byte for byte,
# with zbarimg (zbar-tools, from scripts/deps.sh); then the command line's contract.
#
# Usage: sh_qr_render.sh VECTORS_TSV COMMAND...   where COMMAND runs `mopay qr` (for instance
# "build/mopay qr", or tests/qr's qr_render_tool, which is the same code as a program of its own).
set -eu

VECTORS=${1:?usage: $0 VECTORS_TSV COMMAND...}
shift
[ $# -gt 0 ] || { echo "usage: $0 VECTORS_TSV COMMAND..." >&2; exit 2; }
QR=("$@")
WORK=$(mktemp -d /tmp/mopay-qr.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

command -v zbarimg >/dev/null || fail "zbarimg is missing: run scripts/deps.sh"

# The SVG's path, drawn by hand into a PBM (4 pixels per module) that zbarimg reads: this checks
# that the SVG says what the symbol is, with nothing but sed and awk. Every drawing command must
# be one run "Mx yhNv1h-Nz"; anything else fails.
svg_to_pbm() {
    local n runs
    n=$(sed -n 's/.*viewBox="0 0 \([0-9]*\) [0-9]*".*/\1/p' "$1")
    [ -n "$n" ] || return 1
    sed -n 's/.* d="\([^"]*\)".*/\1/p' "$1" | tr 'M' '\n' | sed '/^$/d' >"$WORK/runs"
    runs=$(sed -n 's/^\([0-9]*\) \([0-9]*\)h\([0-9]*\)v1h-\3z$/\1 \2 \3/p' "$WORK/runs" | tee "$WORK/runs.ok" | wc -l)
    [ "$runs" -gt 0 ] && [ "$runs" -eq "$(wc -l <"$WORK/runs")" ] || return 1
    awk -v n="$n" -v s=4 '{ for (i = 0; i < $3; i++) dark[$1 + i, $2] = 1 }
        END {
            print "P1"; print n * s, n * s
            for (y = 0; y < n * s; y++) {
                row = ""
                for (x = 0; x < n * s; x++)
                    row = row (((int(x / s), int(y / s)) in dark) ? "1" : "0")
                print row
            }
        }' "$WORK/runs.ok"
}

# scans_back PAYLOAD: PNG and SVG both read back as PAYLOAD. zbarimg's binary mode gives the
# symbol's bytes as they are: without it zbar guesses a character set for non-ASCII bytes and
# takes some Vietnamese UTF-8 for Shift-JIS.
scans_back() {
    printf '%s' "$1" >"$WORK/want"
    "${QR[@]}" render --format png --out "$WORK/qr.png" "$1" || fail "render png of $1"
    zbarimg --raw -q -Sbinary "$WORK/qr.png" 2>/dev/null >"$WORK/got" || fail "zbarimg found no code in the PNG of $1"
    cmp -s "$WORK/got" "$WORK/want" || fail "PNG of $1 scans as $(cat "$WORK/got")"
    "${QR[@]}" render --format svg --scale 2 --margin 4 "$1" >"$WORK/qr.svg" || fail "render svg of $1"
    svg_to_pbm "$WORK/qr.svg" >"$WORK/qr.pbm" || fail "SVG of $1 is not a path of module runs"
    zbarimg --raw -q -Sbinary "$WORK/qr.pbm" 2>/dev/null >"$WORK/got" || fail "zbarimg found no code in the SVG of $1"
    cmp -s "$WORK/got" "$WORK/want" || fail "SVG of $1 scans as $(cat "$WORK/got")"
}

count=0
while IFS=$'\t' read -r payload _ crc_valid _ published_as; do
    [ "$published_as" = valid ] && [ "$crc_valid" = TRUE ] || continue
    scans_back "$payload"
    count=$((count + 1))
done < <(tail -n +2 "$VECTORS")
[ "$count" -ge 40 ] || fail "only $count valid vectors in $VECTORS"

# encode -> render -> scan -> decode: mopay's own payload, with Chinese text.
payload=$("${QR[@]}" encode --merchant-id m_42 --name "最佳运输" --city "北京" --country CN --mcc 4111 \
    --currency CNY --amount 23.72 --order-id ord_7 --reference ORDER-7) || fail "encode"
scans_back "$payload"
"${QR[@]}" decode "$payload" >"$WORK/json" || fail "decode of an encoded payload"
grep -q '"value": "最佳运输"' "$WORK/json" || fail "decode lost the name: $(cat "$WORK/json")"
grep -q '"amount": "23.72"' "$WORK/json" || fail "decode lost the amount"
grep -q '"value": "com.mopay"' "$WORK/json" || fail "encode's default GUID is not com.mopay"
grep -q '"value": "ord_7"' "$WORK/json" || fail "decode lost the order id"

# The contract: --help everywhere, exit 1 with the code on stderr for refusals, 2 for bad usage.
for cmd in decode encode render; do
    "${QR[@]}" "$cmd" --help | grep -q "Usage: mopay qr $cmd" || fail "qr $cmd --help"
done
"${QR[@]}" --help | grep -q "Usage: mopay qr" || fail "qr --help"
bad_crc=${payload%????}0000
set +e
"${QR[@]}" decode "$bad_crc" >"$WORK/out" 2>"$WORK/err"
[ $? -eq 1 ] || fail "a bad CRC must exit 1"
[ ! -s "$WORK/out" ] && grep -q '^invalid_qr_crc' "$WORK/err" || fail "a bad CRC prints its code on stderr only"
"${QR[@]}" render --format png --out "$WORK/no.png" "$bad_crc" 2>"$WORK/err"
[ $? -eq 1 ] && [ ! -e "$WORK/no.png" ] || fail "render must refuse an invalid payload"
"${QR[@]}" encode --merchant-id m --name N --city C --country CN --mcc 5812 --currency CNY --amount 1.234 \
    2>"$WORK/err" >/dev/null
[ $? -eq 1 ] && grep -q '^amount_too_precise' "$WORK/err" || fail "encode must refuse a too precise amount"
"${QR[@]}" encode --merchant-id m --name N --city C --country CN --mcc 5812 --currency XYZ 2>"$WORK/err"
[ $? -eq 1 ] && grep -q '^currency_unknown' "$WORK/err" || fail "encode must refuse an unknown currency"
"${QR[@]}" encode --name N 2>/dev/null
[ $? -eq 2 ] || fail "encode without its required options must exit 2"
"${QR[@]}" render --format gif "$payload" 2>/dev/null
[ $? -eq 2 ] || fail "an unknown format must exit 2"
"${QR[@]}" render --format png --scale 0 "$payload" 2>/dev/null
[ $? -eq 2 ] || fail "scale 0 must exit 2"
"${QR[@]}" frobnicate 2>/dev/null
[ $? -eq 2 ] || fail "an unknown qr command must exit 2"
set -e
echo "ok: $count vectors and mopay's own payload scan back as PNG and SVG"
