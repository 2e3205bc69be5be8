#!/usr/bin/env bash
# The full test suite: Rust unit and integration tests, then the end-to-end tests that start
# the real binary and drive it with the real socket.io-client (installed here from npm).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
command -v node >/dev/null || { echo "node (>= 18) is required for the end-to-end tests" >&2; exit 1; }

echo "== build"
cargo build --locked -p wagate --bin wagate
./scripts/build-plugins.sh "$CARGO_TARGET_DIR/shipped-plugins"
./scripts/build-plugins.sh --tests
# PostgreSQL, when this machine runs it (CI's does): the integration and end-to-end suites
# run a second time with the store on it, each gateway in a schema of its own; without it
# they say that they were skipped and why.
postgres=""
if (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; then
  postgres="${WAGATE_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
  export WAGATE_TEST_POSTGRES_URL="$postgres"
  echo "== PostgreSQL on 127.0.0.1:5432: the suites run on it too ($postgres)"
  # Schemas earlier runs left behind (a test that failed keeps its data to look at).
  if command -v psql >/dev/null; then
    psql "$postgres" -Atqc "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'wagate\_test\_%' OR nspname LIKE 'wagate\_e2e\_%'" \
      | while read -r schema; do psql "$postgres" -qc "DROP SCHEMA $schema CASCADE" >/dev/null; done || true
  fi
else
  echo "== PostgreSQL is not reachable on 127.0.0.1:5432: the suites run on SQLite only (start PostgreSQL there, trust auth, database 'test', to run them on it too)"
fi
echo "== rust tests"
cargo test --locked --workspace
if [ -n "$postgres" ]; then
  echo "== rust integration tests, store on PostgreSQL"
  WAGATE_TEST_DATABASE_URL="$postgres" cargo test --locked -p wagate --test '*'
fi
echo "== TypeScript plugin tests (under Node, against the fake host)"
for dir in tests/plugins-ts/*/; do
  ./scripts/test-ts-plugin.sh "${dir%/}"
done
echo "== end-to-end tests (socket.io-client $(cd tests && node -p 'require("./package.json").devDependencies["socket.io-client"]'))"
(cd tests && npm ci --no-audit --no-fund --loglevel=error)
export WAGATE_BIN="$CARGO_TARGET_DIR/debug/wagate" WAGATE_TEST_PLUGINS="$CARGO_TARGET_DIR/test-plugins" \
  WAGATE_SHIPPED_PLUGINS="$CARGO_TARGET_DIR/shipped-plugins"
# A local S3-compatible server (moto, from PyPI) for the S3 media store's test, kept beside
# the build cache; without python3 or PyPI that test says why it is skipped.
moto="$CARGO_TARGET_DIR/../moto"
if [ ! -x "$moto/bin/moto_server" ] && command -v python3 >/dev/null; then
  python3 -m venv "$moto" && "$moto/bin/pip" install --quiet --disable-pip-version-check "moto[server]==5.*" \
    || echo "could not install moto (a local S3 server): the S3 media store test will be skipped" >&2
fi
[ -x "$moto/bin/moto_server" ] && export WAGATE_TEST_MOTO="$moto/bin/moto_server"
# Debian's Chromium for the dashboard's browser tests (driven by playwright-core from npm; no
# browser is downloaded). Without it those tests say why they are skipped, and fail under CI.
if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null; then
  echo "== installing chromium (Debian's package) for the dashboard tests"
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo -n"
  $sudo apt-get install -y -qq chromium >/dev/null 2>&1 \
    || { $sudo apt-get update -qq >/dev/null 2>&1 && $sudo apt-get install -y -qq chromium >/dev/null 2>&1; } \
    || echo "could not install chromium: the dashboard's browser tests will not run" >&2
fi
(cd tests && node e2e/lib/warm-cache.mjs)
# The security suite floods a gateway with hundreds of MiB on purpose; it runs after the
# others, alone, so it cannot starve their timing-sensitive checks on a 2-core machine.
# e2e CONCURRENCY: the suite, CONCURRENCY files at a time.
e2e() {
  (cd tests && node --test --test-concurrency="$1" $(ls e2e/*.test.mjs | grep -v '/security\.test\.mjs$'))
  (cd tests && node --test e2e/security.test.mjs)
}
e2e 2
if [ -n "$postgres" ]; then
  # One file at a time: the PostgreSQL server shares the two cores with the gateways, and
  # the suite's timing checks (pacing, resume under a tiny socket buffer) need them.
  echo "== end-to-end tests, store on PostgreSQL"
  WAGATE_E2E_DATABASE_URL="$postgres" e2e 1
fi
echo "== all tests passed"
