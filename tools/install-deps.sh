#!/usr/bin/env bash
# Installs what the project needs on Debian 12 and is not there yet (run as root; apt-get only
# what is missing). Used by `make run` and `make test`; safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake ninja-build pkg-config git
  libboost-dev libsqlite3-dev sqlite3 libpq-dev postgresql-15 nlohmann-json3-dev libcli11-dev
  libtomlplusplus-dev libhowardhinnant-date-dev libsodium-dev libcurl4-openssl-dev
  libgtest-dev libgmock-dev libbenchmark-dev libexpat1-dev libssl-dev
  python3 python3-aiosmtpd python3-botocore python3-psycopg2
  chromium curl wrk bc
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "error: missing packages (${missing[*]}); run as root or install them with apt-get" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# s3rver, the S3 that the S3 artifact store tests start (tests/integration/s3_server.py).
if [ -f tests/s3rver/package.json ] && [ ! -d tests/s3rver/node_modules/s3rver ]; then
  (cd tests/s3rver && npm install --no-audit --no-fund --loglevel=error)
fi

# npm packages for the browser tests (playwright-core drives Debian's chromium).
if [ -f tests/e2e/package.json ] && [ ! -d tests/e2e/node_modules/playwright-core ]; then
  (cd tests/e2e && npm install --no-audit --no-fund --loglevel=error)
fi

# promtool, which checks deploy/prometheus/alerts.yml (tests/integration/test_deploy.py), from
# Debian's prometheus package: only the binary is unpacked into .tools/, so that no Prometheus
# server or node exporter is installed or started on this machine.
if ! command -v promtool >/dev/null 2>&1 && [ ! -x .tools/promtool ]; then
  tmp=$(mktemp -d)
  if ! (cd "$tmp" && apt-get download -qq prometheus 2>/dev/null); then
    [ "$(id -u)" -eq 0 ] && apt-get update -qq
    (cd "$tmp" && apt-get download -qq prometheus)
  fi
  dpkg-deb -x "$tmp"/prometheus_*.deb "$tmp/x"
  mkdir -p .tools
  cp "$tmp/x/usr/bin/promtool" .tools/promtool
  rm -rf "$tmp"
fi
