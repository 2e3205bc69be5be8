#!/usr/bin/env bash
# Builds plugins to wasm32-wasip2 and installs each as a folder (plugin.toml + component).
#   scripts/build-plugins.sh [DEST]   the plugins we ship (plugins/*) into DEST (default ./plugins.d)
#   scripts/build-plugins.sh --tests  the test plugins (tests/plugins/*, and tests/plugins-ts/* in TypeScript)
#                                     into $CARGO_TARGET_DIR/test-plugins
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
if ! rustup target list --installed | grep -qx wasm32-wasip2; then
  rustup target add wasm32-wasip2
fi

field() { sed -n "s/^$1 = \"\(.*\)\"/\1/p" "$2" | head -1; }

# install CRATE_DIR DEST_DIR [cargo args...]: build and swap the folder in at once, so a
# watching gateway never sees half a plugin.
install() {
  local dir=$1 dest=$2; shift 2
  local crate; crate=$(field name "$dir/Cargo.toml")
  # Not --locked: a plugin just added under plugins/ adds itself to Cargo.lock.
  # `rustc --crate-type cdylib`: plugins are also rlibs (native tests), and cargo skips LTO
  # for a crate that builds an rlib; the component alone gets it (11% faster transforms).
  cargo rustc --quiet --profile plugin --target wasm32-wasip2 -p "$crate" --crate-type cdylib "$@"
  local tmp; tmp=$(mktemp -d "$(dirname "$dest")/.build.XXXXXX")
  cp "$dir/plugin.toml" "$tmp/"
  cp "$CARGO_TARGET_DIR/wasm32-wasip2/plugin/${crate//-/_}.wasm" "$tmp/"
  rm -rf "$dest.old"
  [ -e "$dest" ] && mv "$dest" "$dest.old"
  mv "$tmp" "$dest"
  rm -rf "$dest.old"
  echo "plugin $(basename "$dest") -> $dest"
}

if [ "${1:-}" = "--tests" ]; then
  out="$CARGO_TARGET_DIR/test-plugins"
  mkdir -p "$out"
  install tests/plugins/relay "$out/relay-strict" --features strict
  for dir in tests/plugins/*/; do
    install "${dir%/}" "$out/$(basename "$dir")"
  done
  # Test plugins written in TypeScript: the same folder shape, built by build-ts-plugin.sh.
  for dir in tests/plugins-ts/*/; do
    ./scripts/build-ts-plugin.sh "${dir%/}" "$out/$(basename "$dir")"
  done
else
  out="${1:-plugins.d}"
  mkdir -p "$out"
  for dir in plugins/*/; do
    [ -f "$dir/plugin.toml" ] || continue
    install "${dir%/}" "$out/$(field name "$dir/plugin.toml")"
  done
fi
