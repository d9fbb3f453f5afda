#!/usr/bin/env bash
# `retention sync evalai` on 100k submissions (or $1): seconds and peak RSS of the first sync,
# the second (nothing changed) and a full pass. See bench/sync_evalai.py.
set -euo pipefail
cd "$(dirname "$0")"
exec /usr/bin/python3 sync_evalai.py "$@"
