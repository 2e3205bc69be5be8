#!/usr/bin/env bash
# Builds a TypeScript plugin into a plugin folder (plugin.toml + component), the same shape a
# Rust plugin installs as, so the gateway loads, checks and hot-reloads it the same way.
#   scripts/build-ts-plugin.sh PLUGIN_DIR DEST
# PLUGIN_DIR holds plugin.toml and src/plugin.ts. The toolchain (tsc, jco, componentize-js,
# pinned in scripts/ts-toolchain/) is installed from npm beside the cargo target directory.
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 PLUGIN_DIR DEST" >&2; exit 2; }
# Both paths as the caller meant them, before moving to the checkout.
src=$(cd "$1" && pwd)
mkdir -p "$(dirname "$2")"
dest="$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"
cd "$(dirname "$0")/.."
source scripts/env.sh
command -v node >/dev/null || { echo "node (>= 18) is required to build TypeScript plugins" >&2; exit 1; }
tool="$CARGO_TARGET_DIR/../ts-toolchain"
if [ ! -d "$tool/node_modules" ] || ! cmp -s scripts/ts-toolchain/package-lock.json "$tool/package-lock.json"; then
  mkdir -p "$tool"
  cp scripts/ts-toolchain/package.json scripts/ts-toolchain/package-lock.json "$tool/"
  (cd "$tool" && npm ci --no-audit --no-fund --loglevel=error)
fi
bin="$tool/node_modules/.bin"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
node scripts/ts-toolchain/world.mjs "$src" wit/plugin.wit "$work"
# jco reads the WIT through its own WASI file system, rooted at the working directory.
(cd "$work" && "$bin/jco" types wit --world-name plugin-ts -o types --quiet)
"$bin/tsc" -p "$work/tsconfig.json"
# No WASI the gateway does not give plugins: no HTTP, stdio or clocks (the `clock` capability
# is the plugin's clock); what is left is wasi:random, which every plugin has.
(cd "$work" && "$bin/componentize-js" js/plugin.js --wit wit --world-name plugin-ts \
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
