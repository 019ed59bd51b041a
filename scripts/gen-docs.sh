#!/usr/bin/env bash
# Regenerates the error table in docs/api.md (between its errors:begin/end markers) from the
# registry compiled into the binary.
set -euo pipefail
mopay=$1 doc=$2
tmp=$(mktemp)
sed '/<!-- errors:begin -->/q' "$doc" >"$tmp"
"$mopay" errors --markdown >>"$tmp"
sed -n '/<!-- errors:end -->/,$p' "$doc" >>"$tmp"
mv "$tmp" "$doc"
