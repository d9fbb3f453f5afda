#!/usr/bin/env bash
# Scale check: import, recompute, dry run, status and the sweep at two sizes (default 100k and
# 400k submissions, 2 artifacts each), printing seconds per step and the ratio between sizes
# (linear work gives a ratio close to the size ratio). Notices are off (notice_days = 0) so the
# sweep acts on every eligible submission.
#   bench/scale.sh [path/to/retention] [SMALL] [LARGE]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${1:-$root/build/apps/retention/retention}"
sizes=("${2:-100000}" "${3:-400000}")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
now=2027-06-01T00:00:00Z
declare -A secs
steps=(import update-dates update-dates-noop dry-run status sweep)
for n in "${sizes[@]}"; do
  /usr/bin/python3 "$root/bench/make_scale_data.py" "$work/data-$n.json" "$n" --now "$now"
  export RETENTION_DB="sqlite://$work/db-$n.db" RETENTION_STORAGE="file://$work/a-$n" \
         RETENTION_LOGS="file://$work/l-$n" RETENTION_FAKE_NOW="$now" RETENTION_NOTICE_DAYS=0
  t() { local s; s=$(date +%s.%N); "$@" >/dev/null; echo "$(date +%s.%N) - $s" | bc; }
  secs[import,$n]=$(t "$bin" import "$work/data-$n.json")
  /usr/bin/sqlite3 "$work/db-$n.db" "UPDATE submissions SET retention_eligible_date = NULL"
  secs[update-dates,$n]=$(t "$bin" update-dates)
  secs[update-dates-noop,$n]=$(t "$bin" update-dates)
  secs[dry-run,$n]=$(t "$bin" --json cleanup --dry-run)
  secs[status,$n]=$(t "$bin" --json status)
  secs[sweep,$n]=$(t "$bin" cleanup)
  left=$(/usr/bin/sqlite3 "$work/db-$n.db" "SELECT COUNT(*) FROM submissions WHERE is_artifact_deleted = 0")
  echo "size $n: submissions left after the sweep: $left"
done
printf "%-20s %12s %12s %8s\n" step "${sizes[0]}" "${sizes[1]}" ratio
for s in "${steps[@]}"; do
  a=${secs[$s,${sizes[0]}]}; b=${secs[$s,${sizes[1]}]}
  printf "%-20s %12.2f %12.2f %8.2f\n" "$s" "$a" "$b" "$(echo "$b / $a" | bc -l)"
done
echo "size ratio: $(echo "${sizes[1]} / ${sizes[0]}" | bc -l | cut -c1-5)"
