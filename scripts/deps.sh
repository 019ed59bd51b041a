#!/usr/bin/env bash
# Installs exactly the Debian packages mopay needs to build, run, test and benchmark.
# Idempotent and quick when everything is present; uses sudo when not root.
set -euo pipefail

packages=(
  build-essential cmake pkg-config            # toolchain
  libh2o-evloop-dev libssl-dev zlib1g-dev     # HTTP server (h2o, TLS)
  libjansson-dev libsodium-dev                # JSON, crypto
  libsqlite3-dev libpq-dev postgresql         # stores; the server for the PostgreSQL tests
  libqrencode-dev libpng-dev libcurl4-openssl-dev
  libcmocka-dev                               # unit tests
  curl openssl zbar-tools wrk prometheus      # scenario tests, QR decoding, load, promtool
  python3                                     # tests/layering (the map of the code)
)

# `make fuzz` also needs clang and its libFuzzer runtime.
[ "${1:-}" = fuzz ] && packages+=(clang libclang-rt-14-dev)

# npm packages for the tests, exactly as tests/node/package-lock.json pins them (Stripe's library
# verifies the webhooks' signatures): `npm ci` when node_modules is missing or older than the lock.
node_dir="$(cd "$(dirname "$0")/.." && pwd)/tests/node"
if [ ! -f "$node_dir/node_modules/.package-lock.json" ] ||
   [ "$node_dir/package-lock.json" -nt "$node_dir/node_modules/.package-lock.json" ]; then
  if command -v npm >/dev/null; then
    echo "deps: npm ci in tests/node" >&2
    (cd "$node_dir" && npm ci --no-audit --no-fund >&2)
  else
    echo "deps: no npm (Node 20 or later): the webhooks_* tests will fail until it is there" >&2
  fi
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
# Refresh the package lists only when they are missing or older than a day.
if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -n 1)" ]; then
  $sudo apt-get update -qq
fi
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
