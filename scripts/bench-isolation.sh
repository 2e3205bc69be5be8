#!/usr/bin/env bash
# Tenant isolation benchmark: one tenant's inbound -> client latency alone and beside a tenant
# whose plugin sleeps almost to its call deadline on every event (tests/bench/isolation.mjs
# prints the table). Uses the release build unless WAGATE_BIN names another binary.
# Knobs: BENCH_RATE (msg/s per tenant, 50), BENCH_COUNT (per round, 200), BENCH_ROUNDS (3),
# BENCH_SLEEP_MS (45).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
release_binary
./scripts/build-plugins.sh --tests >/dev/null
(cd tests && npm ci --no-audit --no-fund --loglevel=error)
cd tests && WAGATE_TEST_PLUGINS="$CARGO_TARGET_DIR/test-plugins" node bench/isolation.mjs
