#!/usr/bin/env bash
# `make run`: loads the demo data into ./var on first start, then runs `retention serve` on the
# embedded defaults (SQLite, ./var/artifacts, ./var/logs, mail to the outbox) and prints where to
# open it and the demo tokens.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build/apps/retention/retention}
var=${RETENTION_VAR:-./var}
export RETENTION_DB="sqlite://$var/retention.db"
export RETENTION_STORAGE="file://$var/artifacts"
export RETENTION_LOGS="file://$var/logs"
listen=${RETENTION_LISTEN:-127.0.0.1:8000}

if [ ! -f "$var/retention.db" ]; then
  echo "loading the demo data into $var ..."
  mkdir -p "$var"
  demo=$(mktemp -d)
  python3 tools/make_demo.py "$demo" >/dev/null
  mkdir -p "$var/artifacts"
  cp -r "$demo/artifacts/." "$var/artifacts/"
  "$bin" import "$demo/demo.json"
  "$bin" hold set --challenge-id 3 --reason "litigation: keep all files" >/dev/null
  rm -rf "$demo"
fi

cat <<MSG

  retention is starting on http://$listen/
  Sign in with one of the demo tokens:
    host (alice, hosts every demo challenge):  demo-host-token
    admin:                                     demo-admin-token
    participant (bob):                         demo-participant-token
  In a second terminal (same folder):
    RETENTION_DB=$RETENTION_DB RETENTION_STORAGE=$RETENTION_STORAGE $bin status
    RETENTION_DB=$RETENTION_DB RETENTION_STORAGE=$RETENTION_STORAGE $bin cleanup --dry-run
  Stop with Ctrl-C.

MSG
exec "$bin" serve --listen "$listen"
