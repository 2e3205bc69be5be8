# Shared by the run and test scripts: one cargo target directory outside the checkout, so a
# fresh clone (CI) reuses earlier builds; everything still builds when it is empty.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/wagate/target}"
mkdir -p "$CARGO_TARGET_DIR"
command -v cargo >/dev/null || { echo "cargo is required (rustup.rs)" >&2; exit 1; }

# Benchmarks run the release build, unless WAGATE_BIN names another binary.
release_binary() {
  if [ -z "${WAGATE_BIN:-}" ]; then
    cargo build --release --locked -p wagate --bin wagate
    export WAGATE_BIN="$CARGO_TARGET_DIR/release/wagate"
  fi
}
