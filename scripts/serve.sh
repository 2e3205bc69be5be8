#!/usr/bin/env bash
# Runs the gateway on its embedded defaults (127.0.0.1:3000, data in ./data, the plugins we
# ship built into ./plugins.d) with the simulator switched on, so a first tour needs no phone
# (WAGATE_SIM__ENABLED=false turns it off). Extra arguments go to `wagate serve` (see
# `--help`); WAGATE_* variables configure it.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
cargo build --release --locked -p wagate --bin wagate
./scripts/build-plugins.sh "${WAGATE_PLUGINS__DIR:-plugins.d}"
export WAGATE_SIM__ENABLED="${WAGATE_SIM__ENABLED:-true}"
exec "$CARGO_TARGET_DIR/release/wagate" serve "$@"
