#!/usr/bin/env bash
# Scale benchmark (issue 9): at each size N (default 100000 and 1000000 submissions), times
# import, update-dates, the dry run (JSON and text), status and the sweep of the real binary with
# peak RSS, next to floors measured in the same run on copies of the same data (one set-based
# UPDATE, one SELECT, unlink+rmdir+UPDATE, an executemany insert); then shape B (shape A plus a
# 200,000-submission challenge on legal hold) against shape A; at the largest size the query
# plans of the sweep's batch statements and bench/writer_latency.py. Prints ratios with
# PASS/MISS; a MISS does not fail the script, a failing step does (exit 1).
#
#   bench/scale.sh [N...]               e.g. bench/scale.sh 20000 100000 for a quick run
#   RETENTION_BIN=path/to/retention     the binary (default build/apps/retention/retention)
#   TMPDIR=/dev/shm                     where the data goes (default /tmp; tmpfs vs disk changes
#                                       the unlink floor by ~10x)
#   BENCH_HELD=200000                   size of shape B's held challenge (0: no shape B)
#   BENCH_FILES=all|eligible            write all 2N files (default) or only the eligible ones
#   BENCH_LATENCY=0                     skip the writer latency run
#   BENCH_KEEP=1                        keep the work dir
#   BENCH_REPEAT=K                      dry runs, sweep A and their floors: best of K runs
#                                       (default 3 at N <= 200000, 1 above)
# Needs bash, /usr/bin/python3 (stdlib), /usr/bin/sqlite3; peak RSS from /usr/bin/time if present.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
export RETENTION_BIN="${RETENTION_BIN:-$root/build/apps/retention/retention}"
for n in "$@"; do
  [[ "$n" =~ ^[0-9]+$ && "$n" -ge 1000 ]] || { echo "scale.sh: sizes are integers >= 1000: $n" >&2; exit 2; }
done
[[ -x "$RETENTION_BIN" ]] || { echo "scale.sh: no binary at $RETENTION_BIN (build it or set RETENTION_BIN)" >&2; exit 2; }
command -v /usr/bin/sqlite3 >/dev/null || { echo "scale.sh: needs /usr/bin/sqlite3 (apt-get install sqlite3)" >&2; exit 2; }
[[ -x /usr/bin/time ]] || echo "scale.sh: no /usr/bin/time; peak RSS comes from wait4() instead, an upper bound (apt-get install time)" >&2
exec /usr/bin/python3 "$root/bench/scale.py" "$@"
