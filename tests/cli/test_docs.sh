#!/usr/bin/env bash
# docs/api.md carries the error table generated from include/mopay/errors.def.
. "$(dirname "$0")/lib.sh"
DOCS=${2:?usage: $0 MOPAY_BINARY DOCS_API_MD}
"$MOPAY" errors --markdown >"$WORK/table"
sed -n '/<!-- errors:begin -->/,/<!-- errors:end -->/p' "$DOCS" | sed '1d;$d' >"$WORK/docs_table"
diff -u "$WORK/docs_table" "$WORK/table" >&2 || fail "docs/api.md's error table is stale: run 'make docs'"
echo "1 passed, 0 failed"
