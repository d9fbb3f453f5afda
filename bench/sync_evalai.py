"""Measures `retention sync evalai` on N submissions (default 100k): starts a throwaway
PostgreSQL 15 (tests/integration/postgresql_server.py), fills an EvalAI database (the schema of
tests/integration/test_sync_evalai.py: 1,000 users, 10 host teams, 20 challenges of 2 phases,
N submissions with 2 of their 7 file columns set), and runs the binary under /usr/bin/time -v
three times: the first sync (everything added; sizes unknown: storage is empty), the second
(incremental: nothing changed) and a full pass. Prints seconds and peak RSS of each.

  /usr/bin/python3 bench/sync_evalai.py [N]     (RETENTION_BIN to pick the binary)
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))

import psycopg2  # noqa: E402

import postgresql_server  # noqa: E402
from test_sync_evalai import schema  # noqa: E402

BIN = os.environ.get("RETENTION_BIN") or os.path.join(HERE, "..", "build", "apps", "retention",
                                                      "retention")


def fill(url, n):
    con = psycopg2.connect(url)
    con.autocommit = True
    cur = con.cursor()
    cur.execute(schema())
    cur.execute("INSERT INTO auth_user (username, email) SELECT 'user' || i, 'user' || i || "
                "'@example.org' FROM generate_series(1, 1000) i")
    cur.execute("INSERT INTO challenge_host_teams (team_name, created_by_id) SELECT 'team ' || i,"
                " i FROM generate_series(1, 10) i")
    cur.execute("INSERT INTO challenge_host (status, team_name_id, user_id) SELECT "
                "(ARRAY['Accepted', 'Self', 'Pending', 'Denied'])[1 + i % 4], 1 + i % 10, i "
                "FROM generate_series(1, 40) i")
    cur.execute("INSERT INTO challenge (title, description, start_date, creator_id, "
                "approved_by_admin) SELECT 'challenge ' || i, '', '2025-01-01', 1 + i % 10, true "
                "FROM generate_series(1, 20) i")
    cur.execute("INSERT INTO challenge_phase (name, start_date, end_date, challenge_id, "
                "is_public) SELECT 'phase ' || i, '2025-01-01', '2026-01-01', 1 + i % 20, "
                "i % 2 = 0 FROM generate_series(1, 40) i")
    cur.execute("INSERT INTO submission (challenge_phase_id, created_by_id, status, input_file, "
                "stdout_file, stderr_file) SELECT 1 + i %% 40, 1 + i %% 1000, 'finished', "
                "'submission_files/' || i || '/input.zip', 'submission_files/' || i || "
                "'/stdout.txt', '' FROM generate_series(1, %s) i", (n,))
    con.close()


def timed(env, *args):
    p = subprocess.run(["/usr/bin/time", "-v", BIN, "--json", *args], capture_output=True,
                       text=True, env=env)
    if p.returncode != 0:
        raise SystemExit("%s failed: %s" % (" ".join(args), p.stderr[-2000:]))
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", p.stderr)
    seconds = (int(wall.group(1) or 0) * 3600 + int(wall.group(2)) * 60 +
               float(wall.group(3)))
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr).group(1))
    return seconds, rss / 1024, p.stdout


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100000
    server = postgresql_server.Server()
    work = tempfile.mkdtemp(prefix="retention-bench-evalai-")
    try:
        admin = psycopg2.connect(server.url)
        admin.autocommit = True
        admin.cursor().execute("CREATE DATABASE evalai")
        admin.close()
        evalai = server.url.rsplit("/", 1)[0] + "/evalai"
        t = time.monotonic()
        fill(evalai, n)
        print("fixture: %d submissions in %.1f s" % (n, time.monotonic() - t))
        env = {k: v for k, v in os.environ.items() if not k.startswith("RETENTION_")}
        env.update({"RETENTION_DB": "sqlite://" + os.path.join(work, "retention.db"),
                    "RETENTION_STORAGE": "file://" + os.path.join(work, "artifacts"),
                    "RETENTION_LOGS": "file://" + os.path.join(work, "logs"),
                    "RETENTION_EVALAI_DB": evalai})
        os.makedirs(os.path.join(work, "artifacts"))
        subprocess.run([BIN, "migrate"], env=env, check=True, capture_output=True)
        for label, args in (("first sync", ()), ("second sync (incremental)", ()),
                            ("full pass", ("--full",))):
            seconds, rss, out = timed(env, "sync", "evalai", *args)
            r = json.loads(out)
            s = r["tables"]["submissions"]
            print("%-28s %6.1f s  peak RSS %6.1f MiB  submissions +%d ~%d =%d, artifacts +%d"
                  % (label, seconds, rss, s["added"], s["changed"], s["unchanged"],
                     r["tables"]["artifacts"]["added"]))
    finally:
        if os.environ.get("BENCH_KEEP"):
            print("kept", work)
        else:
            shutil.rmtree(work, ignore_errors=True)
        server.stop()


if __name__ == "__main__":
    main()
