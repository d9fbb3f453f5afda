#!/usr/bin/env bash
# Load check for issue 3: wrk on loopback (64 connections) against one `retention serve` on the
# demo data, alternating GET /healthz (the floor: no database, no auth) and
# GET /api/challenges/2/retention-consent-status/ (token lookup, role, challenge read) in rounds
# a b a b, and prints requests per second, p99, and the ratio of the medians.
#
#   bench/http_load.sh [path/to/retention]     (default: build/apps/retention/retention)
# Env: DURATION (default 10s), ROUNDS (default 2), THREADS (wrk threads, default 2).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${1:-$root/build/apps/retention/retention}"
duration="${DURATION:-10s}"
rounds="${ROUNDS:-2}"
command -v wrk >/dev/null || { echo "error: wrk is missing (apt-get install wrk)" >&2; exit 1; }
work=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
/usr/bin/python3 "$root/tools/make_demo.py" "$work" >/dev/null
export RETENTION_DB="sqlite://$work/r.db" RETENTION_STORAGE="file://$work/artifacts" \
       RETENTION_LOGS="file://$work/logs"
"$bin" import "$work/demo.json" >/dev/null
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin" serve --listen "127.0.0.1:$port" 2>"$work/access.log" >/dev/null &
pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done

cat > "$work/auth.lua" <<'LUA'
wrk.headers["Authorization"] = "Token demo-host-token"
done = function(summary, latency, requests)
  io.write(string.format("RESULT %.1f %.3f %d\n", summary.requests / (summary.duration / 1e6),
                         latency:percentile(99) / 1000, summary.errors.status))
end
LUA
run() {
  wrk -t"${THREADS:-2}" -c64 -d"$duration" -s "$work/auth.lua" "http://127.0.0.1:$port$1" |
    awk '/^RESULT/ {print $2, $3, $4}'
}
declare -a h_rps c_rps
echo "round  endpoint                                   req/s      p99(ms)  non-2xx"
for r in $(seq "$rounds"); do
  read -r rps p99 errs < <(run /healthz)
  h_rps+=("$rps"); printf "%-6s %-42s %-10s %-8s %s\n" "$r" "/healthz" "$rps" "$p99" "$errs"
  read -r rps p99 errs < <(run /api/challenges/2/retention-consent-status/)
  c_rps+=("$rps"); printf "%-6s %-42s %-10s %-8s %s\n" "$r" "retention-consent-status" "$rps" "$p99" "$errs"
done
median() { printf "%s\n" "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
mh=$(median "${h_rps[@]}"); mc=$(median "${c_rps[@]}")
echo "median /healthz $mh req/s, retention-consent-status $mc req/s, ratio $(awk -v a="$mc" -v b="$mh" 'BEGIN {printf "%.3f", a/b}') (aim >= 0.5)"
