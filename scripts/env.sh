# Shared by the run and test scripts: one cargo target directory outside the checkout, so a
# fresh clone (CI) reuses earlier builds; everything still builds when it is empty.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/wagate/target}"
mkdir -p "$CARGO_TARGET_DIR"
command -v cargo >/dev/null || { echo "cargo is required (rustup.rs)" >&2; exit 1; }
