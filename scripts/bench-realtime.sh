#!/usr/bin/env bash
# Realtime benchmark (tests/bench/realtime.mjs prints the table): wagate beside a Node
# socket.io 4.8 reference server in the same run: fan-out to 10,000 and 5,000 clients, server
# CPU and memory per client, latency at steady rates, sustained inbound rate, and 1,000
# simulated sessions (memory, login time, back after a restart). Uses the release build unless
# WAGATE_BIN names another. Knobs: BENCH_ROUNDS (3), BENCH_FANOUT ("10000,5000"),
# BENCH_FANOUT_RAW (the same with the light raw client, "10000"),
# BENCH_WORKERS (client processes, 4), BENCH_RATES ("sio:200,raw:500,raw:1000"),
# BENCH_LATENCY_SECONDS (8), BENCH_SESSIONS (1000; 0 skips).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
release_binary
(cd tests && npm ci --no-audit --no-fund --loglevel=error)
# Every client is a file descriptor on both ends.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
cd tests && node bench/realtime.mjs
