#!/usr/bin/env bash
# Runs the browser tests against the real server: installs the npm dependencies when missing
# (playwright-core only; the browser is Debian's chromium), then `node --test`.
#
#   tests/e2e/run.sh                 # binary: $RETENTION_BIN or build/apps/retention/retention
#   RETENTION_BIN=/path/to/retention tests/e2e/run.sh
#   E2E_SERVER=mock tests/e2e/run.sh # against the in-memory stand-in (UI work only)
#
# Screenshots and the server log go to test-output/e2e/. Exits non-zero when a test fails.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"

if [ ! -x /usr/bin/chromium ]; then
  echo "error: /usr/bin/chromium is missing: apt-get install chromium" >&2
  exit 1
fi
if [ ! -d "$here/node_modules/playwright-core" ] || [ ! -d "$here/node_modules/axe-core" ]; then
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi
if [ "${E2E_SERVER:-real}" != mock ]; then
  bin="${RETENTION_BIN:-$root/build/apps/retention/retention}"
  if [ ! -x "$bin" ]; then
    echo "error: no retention binary at $bin (build it, or set RETENTION_BIN)" >&2
    exit 1
  fi
  export RETENTION_BIN="$bin"
fi
mkdir -p "$root/test-output/e2e"
cd "$root"
exec node --test --test-concurrency=1 tests/e2e/
