#!/usr/bin/env bash
# Runs the gateway on its embedded defaults (127.0.0.1:3000, data in ./data, the plugins we
# ship built into ./plugins.d). Extra
# arguments go to `wagate serve` (see `--help`); WAGATE_* variables configure it.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
cargo build --release --locked -p wagate --bin wagate
./scripts/build-plugins.sh "${WAGATE_PLUGINS__DIR:-plugins.d}"
exec "$CARGO_TARGET_DIR/release/wagate" serve "$@"
