#!/usr/bin/env bash
# Plugin runtime benchmark: wasm vs native transform, events/s, instantiate, load, reload.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
./scripts/build-plugins.sh --tests
cargo bench --locked -p wagate --bench plugins
