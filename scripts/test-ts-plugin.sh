#!/usr/bin/env bash
# Runs a TypeScript plugin's tests (PLUGIN_DIR/test/*.test.ts) under Node, against the fake
# host (scripts/ts-toolchain/fake/), as plugin-sdk's harness runs a Rust plugin's natively.
#   scripts/test-ts-plugin.sh PLUGIN_DIR
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 PLUGIN_DIR" >&2; exit 2; }
src=$(cd "$1" && pwd)
cd "$(dirname "$0")/.."
source scripts/env.sh
source scripts/ts-toolchain/prepare.sh
ts_toolchain
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ts_compile "$src" "$work"
node --import "$PWD/scripts/ts-toolchain/register.mjs" --test "$work"/js/test/*.test.js
