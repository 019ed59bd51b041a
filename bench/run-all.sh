#!/usr/bin/env bash
# `make bench`: every benchmark, one result line each.
set -euo pipefail
build=${1:?usage: $0 BUILD_DIR}
cd "$(dirname "$0")/.."
for bench in bench/*.sh; do
    [ "$(basename "$bench")" = run-all.sh ] && continue
    bash "$bench" "$build"
done
ACCESS_LOG=off bash bench/http_healthz.sh "$build"
