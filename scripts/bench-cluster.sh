#!/usr/bin/env bash
# Cluster benchmark (tests/bench/cluster.mjs prints the table): inbound messages per second
# that one node and three nodes on one PostgreSQL database store, in alternating rounds, and
# how long the sessions of a node killed with -9 take to run again on the others. Needs
# PostgreSQL (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test). Uses the
# release build unless WAGATE_BIN names another.
# Knobs: BENCH_SESSIONS (per round, 300), BENCH_COUNT (messages per round, 3000),
# BENCH_CLIENTS (concurrent senders, 24), BENCH_ROUNDS (3).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
export BENCH_DATABASE_URL="${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
if ! (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null && [[ "$BENCH_DATABASE_URL" == *127.0.0.1:5432* ]]; then
  echo "bench-cluster: no PostgreSQL answers on 127.0.0.1:5432; set BENCH_DATABASE_URL to one that does" >&2
  exit 1
fi
release_binary
(cd tests && npm ci --no-audit --no-fund --loglevel=error)
cd tests && node bench/cluster.mjs
