#!/usr/bin/env bash
# Webhook delivery benchmark (tests/bench/webhooks.mjs prints the table): deliveries per second
# to a local receiver, and inbound -> webhook latency p50/p99 at a steady rate beside the
# sockets' latency for the same messages. Uses the release build unless WAGATE_BIN names another.
# Knobs: BENCH_RATE (msg/s, 500), BENCH_COUNT (per round, 2000), BENCH_ROUNDS (3),
# BENCH_CONCURRENCY (the endpoint's maxConcurrency, 16).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
release_binary
(cd tests && npm ci --no-audit --no-fund --loglevel=error)
cd tests && node bench/webhooks.mjs
