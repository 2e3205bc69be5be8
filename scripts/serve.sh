#!/usr/bin/env bash
# Runs the gateway on its embedded defaults (127.0.0.1:3000, data in ./data). Extra
# arguments go to `wagate serve` (see `--help`); WAGATE_* variables configure it.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
cargo build --release --locked -p wagate --bin wagate
exec "$CARGO_TARGET_DIR/release/wagate" serve "$@"
