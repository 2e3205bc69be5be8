#!/usr/bin/env bash
# Builds a TypeScript plugin into a plugin folder (plugin.toml + component), the same shape a
# Rust plugin installs as, so the gateway loads, checks and hot-reloads it the same way.
#   scripts/build-ts-plugin.sh PLUGIN_DIR DEST
# PLUGIN_DIR holds plugin.toml and src/plugin.ts (one module: componentize-js takes one file).
# The toolchain (tsc, jco, componentize-js, pinned in scripts/ts-toolchain/) is installed from
# npm beside the cargo target directory.
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 PLUGIN_DIR DEST" >&2; exit 2; }
# Both paths as the caller meant them, before moving to the checkout.
src=$(cd "$1" && pwd)
mkdir -p "$(dirname "$2")"
dest="$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"
cd "$(dirname "$0")/.."
source scripts/env.sh
source scripts/ts-toolchain/prepare.sh
ts_toolchain
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ts_compile "$src" "$work"
# No WASI the gateway does not give plugins: no HTTP, stdio or clocks (the `clock` capability
# is the plugin's clock); what is left is wasi:random, which every plugin has.
(cd "$work" && "$TS_TOOL/node_modules/.bin/componentize-js" js/src/plugin.js --wit wit --world-name plugin-ts \
  -d http -d fetch-event -d stdio -d clocks -o plugin.wasm >/dev/null)
name=$(sed -n 's/^name = "\(.*\)"/\1/p' "$src/plugin.toml" | head -1)
tmp=$(mktemp -d "$(dirname "$dest")/.build.XXXXXX")
cp "$src/plugin.toml" "$tmp/"
cp "$work/plugin.wasm" "$tmp/$name.wasm"
rm -rf "$dest.old"
[ -e "$dest" ] && mv "$dest" "$dest.old"
mv "$tmp" "$dest"
rm -rf "$dest.old"
echo "plugin $(basename "$dest") (TypeScript) -> $dest"
