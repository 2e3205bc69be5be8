# Shared by build-ts-plugin.sh and test-ts-plugin.sh (sourced from the checkout's root): the
# toolchain installed beside the cargo target directory, and a TypeScript plugin compiled.

ts_toolchain() {
  command -v node >/dev/null || { echo "node (>= 18) is required for TypeScript plugins" >&2; exit 1; }
  TS_TOOL="$CARGO_TARGET_DIR/../ts-toolchain"
  if [ ! -d "$TS_TOOL/node_modules" ] || ! cmp -s scripts/ts-toolchain/package-lock.json "$TS_TOOL/package-lock.json"; then
    mkdir -p "$TS_TOOL"
    cp scripts/ts-toolchain/package.json scripts/ts-toolchain/package-lock.json "$TS_TOOL/"
    (cd "$TS_TOOL" && npm ci --no-audit --no-fund --loglevel=error)
  fi
  cp scripts/ts-toolchain/testing.d.ts "$TS_TOOL/"
}

# ts_compile SRC WORK: the plugin's world (from its plugin.toml), the contract's declarations
# (jco, from that world) and its sources and tests compiled (tsc) into WORK/js.
ts_compile() {
  local src=$1 work=$2
  node scripts/ts-toolchain/world.mjs "$src" wit/plugin.wit "$work" "$TS_TOOL"
  # jco reads the WIT through its own WASI file system, rooted at the working directory.
  (cd "$work" && "$TS_TOOL/node_modules/.bin/jco" types wit --world-name plugin-ts -o types --quiet)
  "$TS_TOOL/node_modules/.bin/tsc" -p "$work/tsconfig.json"
}
