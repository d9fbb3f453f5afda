#!/usr/bin/env python3
"""Driver of bench/scale.sh: every product step at each size next to its floor measured in the
same run on a copy of the same data; prints seconds, peak RSS, ratios and PASS/MISS.
Run it through bench/scale.sh (see docs/TESTING.md, "Benchmarks")."""
import hashlib
import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402
import make_scale_data as data  # noqa: E402

MiB = 1024
NOW = data.parse_time(bl.NOW_ISO)

# The sweep's batch statements, copied from src/service/sweep.cc (BatchStatement: the candidates
# with their phase and challenge; the artifacts of the deletable ones follow by id list), and
# kHeldSameDate and kHeldLaterDates, which list a challenge on hold. Keep them in step with that
# file.
K_ARTIFACTS = ("SELECT a.submission_id, a.id, a.kind, a.storage_key, a.size_bytes FROM artifacts "
               "a WHERE a.state <> 'deleted' AND a.submission_id IN (?, ?, ?)")


def batch_statement(where, order):
    """One batch statement: live candidates with an eligible date, `where`, `order`."""
    return """
SELECT s.id, s.challenge_id, s.retention_eligible_date, s.legal_hold, s.notice_sent_at,
       p.end_date, p.is_public, c.retention_policy_consent, c.log_retention_days_override,
       c.legal_hold, p.retention_days, p.retention_policy
FROM submissions s
JOIN phases p ON p.id = s.phase_id
JOIN challenges c ON c.id = s.challenge_id
WHERE s.retention_eligible_date IS NOT NULL AND s.is_artifact_deleted = 0
  AND %s
ORDER BY %s LIMIT ?
""" % (where, order)


# A sweep of every challenge passes over the challenges on hold (listed apart): NOT IN (...).
K_SAME_DATE = batch_statement(
    "s.challenge_id NOT IN (?) AND s.retention_eligible_date = ? AND s.id > ?", "s.id")
K_LATER_DATES = batch_statement(
    "s.challenge_id NOT IN (?) AND s.retention_eligible_date > ? AND "
    "s.retention_eligible_date <= ?", "s.retention_eligible_date, s.id")
K_SAME_DATE_CHALLENGE = batch_statement(
    "s.challenge_id = ? AND s.retention_eligible_date = ? AND s.id > ?", "s.id")
K_LATER_DATES_CHALLENGE = batch_statement(
    "s.challenge_id = ? AND s.retention_eligible_date > ? AND s.retention_eligible_date <= ?",
    "s.retention_eligible_date, s.id")


def held_listing(where):
    """One page of the listing of a challenge on hold: ids and dates from the index alone."""
    return """
SELECT s.id, s.retention_eligible_date FROM submissions s
WHERE s.retention_eligible_date IS NOT NULL AND s.is_artifact_deleted = 0
  AND s.challenge_id = ? AND %s
ORDER BY s.retention_eligible_date, s.id LIMIT ?
""" % where


K_HELD_SAME_DATE = held_listing("s.retention_eligible_date = ? AND s.id > ?")
K_HELD_LATER_DATES = held_listing(
    "s.retention_eligible_date > ? AND s.retention_eligible_date <= ?")

# The floor of update-dates: R2 for every live row in one set-based UPDATE (the product's own
# statement, without the process around it).
RECOMPUTE_SQL = """
UPDATE submissions SET
  retention_eligible_date = CASE WHEN submissions.kept = 1 THEN NULL ELSE x.eligible END,
  retention_policy_applied = CASE WHEN x.eligible IS NULL OR submissions.kept = 1 THEN NULL
    ELSE x.days || ' days after the end of phase ' || x.phase_id END
FROM (
  SELECT p.id AS phase_id, COALESCE(p.retention_days, c.log_retention_days_override, 30) AS days,
         CASE WHEN c.retention_policy_consent = 1 AND p.end_date IS NOT NULL AND p.is_public = 0
                   AND p.retention_policy IS NULL
              THEN p.end_date + 86400 * COALESCE(p.retention_days, c.log_retention_days_override,
                                                 30) END AS eligible
  FROM phases p JOIN challenges c ON c.id = p.challenge_id) AS x
WHERE submissions.phase_id = x.phase_id AND submissions.is_artifact_deleted = 0
  AND submissions.retention_eligible_date IS DISTINCT FROM
      (CASE WHEN submissions.kept = 1 THEN NULL ELSE x.eligible END)
"""

DRY_RUN_SELECT = ("SELECT s.id, s.challenge_id, s.retention_eligible_date, a.kind, "
                  "a.storage_key, a.size_bytes FROM submissions s JOIN artifacts a "
                  "ON a.submission_id = s.id WHERE " + bl.ELIGIBLE_NOW +
                  " ORDER BY s.retention_eligible_date, s.id, a.id")


def cpu_now():
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime


def timed(fn):
    """Runs fn(); returns (seconds, CPU seconds of this process, fn's result)."""
    c, t = cpu_now(), time.perf_counter()
    out = fn()
    return time.perf_counter() - t, cpu_now() - c, out


def best_of(runs):
    """The best of several Measures: least seconds, most RSS, least CPU."""
    return bl.Measure(min(m.secs for m in runs), max(m.rss for m in runs),
                      min(m.cpu for m in runs))


def floor_print(label, secs, cpu):
    print("  %-36s %9.2f s   (floor) %7.2f s cpu" % (label, secs, cpu), flush=True)


def turn_about(repeats, steps):
    """Runs each of `steps` (name -> function returning a Measure) once per round, `repeats`
    rounds, a step and its floor side by side so that both meet the same load; returns the best
    Measure of each step."""
    runs = {name: [] for name in steps}
    for _ in range(max(1, repeats)):
        for name, step in steps.items():
            runs[name].append(step())
    return {name: best_of(ms) for name, ms in runs.items()}


def recompute_floor(a0, path):
    bl.copy_db(a0, path)
    con = bl.connect(path)
    con.execute("UPDATE submissions SET retention_eligible_date = NULL")
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def work():
        con.execute("BEGIN IMMEDIATE")
        n = con.execute(RECOMPUTE_SQL).rowcount
        con.execute("COMMIT")
        return n
    secs, cpu, n = timed(work)
    con.close()
    return bl.Measure(secs, 0, cpu), n


def select_floor(a0):
    con = bl.connect(a0)

    def work():
        rows = con.execute(DRY_RUN_SELECT, (NOW,)).fetchall()
        return len(rows)
    secs, cpu, n = timed(work)
    con.close()
    return bl.Measure(secs, 0, cpu), n


def sweep_floor(a0, path):
    """Unlinks the eligible files and their folders, then marks them deleted in one transaction."""
    bl.copy_db(a0, path)
    root = os.path.dirname(path) + "/storage"
    con = bl.connect(path)

    def work():
        keys = bl.eligible_keys(con, NOW)
        last = None
        for sid, key in keys:
            p = os.path.join(root, key)
            d = os.path.dirname(p)
            if last is not None and d != last:
                os.rmdir(last)
            os.unlink(p)
            last = d
        if last is not None:
            os.rmdir(last)
        con.execute("BEGIN IMMEDIATE")
        con.execute("UPDATE artifacts SET state = 'deleted', deleted_at = ? WHERE submission_id "
                    "IN (SELECT s.id FROM submissions s WHERE " + bl.ELIGIBLE_NOW + ")",
                    (NOW, NOW))
        n = con.execute("UPDATE submissions AS s SET is_artifact_deleted = 1, "
                        "artifact_deletion_date = ? WHERE " + bl.ELIGIBLE_NOW,
                        (NOW, NOW)).rowcount
        con.execute("COMMIT")
        return n
    secs, cpu, n = timed(work)
    con.close()
    return bl.Measure(secs, 0, cpu), n


def import_floor(schema, path, challenges):
    """Inserts the rows the import ends with, prepared statements, one transaction."""
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.unlink(path + suffix)
    con = bl.connect(path)
    con.executescript(schema)
    ch, ph, sub, art = data.rows(challenges, NOW)   # built before the clock starts

    def work():
        con.execute("BEGIN IMMEDIATE")
        con.executemany("INSERT INTO users (id, username, email, is_admin, created_at) "
                        "VALUES (?, ?, ?, ?, ?)",
                        [(1, "host", "host@example.org", 0, NOW),
                         (2, "admin", "admin@example.org", 1, NOW)])
        con.executemany("INSERT INTO api_tokens (token_hash, user_id, created_at) VALUES (?, ?, ?)",
                        [(hashlib.sha256(data.HOST_TOKEN.encode()).hexdigest(), 1, NOW),
                         (hashlib.sha256(data.ADMIN_TOKEN.encode()).hexdigest(), 2, NOW)])
        con.execute("INSERT INTO host_teams (id, name) VALUES (1, 'Bench')")
        con.execute("INSERT INTO host_team_members (host_team_id, user_id, status) "
                    "VALUES (1, 1, 'accepted')")
        con.executemany("INSERT INTO challenges (id, title, host_team_id, approved, inform_hosts, "
                        "start_date, retention_policy_consent, retention_policy_consent_date, "
                        "retention_policy_consent_by, retention_policy_notes, created_at) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", ch)
        con.executemany("INSERT INTO phases (id, challenge_id, name, start_date, end_date, "
                        "is_public) VALUES (?, ?, ?, ?, ?, ?)", ph)
        con.executemany("INSERT INTO submissions (id, phase_id, challenge_id, participant, "
                        "submitted_at, status, retention_eligible_date, retention_policy_applied) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", sub)
        con.executemany("INSERT INTO artifacts (submission_id, kind, storage_key, size_bytes) "
                        "VALUES (?, ?, ?, ?)", art)
        con.execute("COMMIT")
        return len(sub)
    secs, cpu, n = timed(work)
    con.close()
    return bl.Measure(secs, 0, cpu), n


def query_plans(db):
    con = sqlite3.connect(db)
    date = con.execute("SELECT MIN(retention_eligible_date) FROM submissions s WHERE " +
                       bl.ELIGIBLE_NOW, (NOW,)).fetchone()[0] or NOW
    held_id = data.HELD_CHALLENGE
    plans = [("same date, every challenge but one on hold", K_SAME_DATE, (held_id, date, 0, 1000)),
             ("later dates, every challenge but one on hold", K_LATER_DATES,
              (held_id, date, NOW, 1000)),
             ("same date, one challenge", K_SAME_DATE_CHALLENGE, (1, date, 0, 1000)),
             ("later dates, one challenge", K_LATER_DATES_CHALLENGE, (1, date, NOW, 1000)),
             ("artifacts of a batch's deletable candidates", K_ARTIFACTS, (1, 2, 3))]
    held = [("held challenge's listing, same date", K_HELD_SAME_DATE, (1, date, 0, 4096)),
            ("held challenge's listing, later dates", K_HELD_LATER_DATES, (1, date, NOW, 4096))]
    ok = True
    for label, head, params in plans + held:
        print("  %s:" % label)
        sql = head
        rows = con.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall()
        for _, parent, _, detail in rows:
            print("    %s" % detail)
        if head is K_SAME_DATE:
            # SQLite names the rowid by its alias when the index lists it (id is the alias).
            want = [("SEARCH s USING INDEX submission_sweep (retention_eligible_date=? AND %s>?)"
                     % col) for col in ("rowid", "id")]
            found = any(r[3] in want for r in rows)
            ok = ok and found
            print("    -> %s (or id>?): %s" % (want[0], bl.verdict(found)))
        if head is not K_ARTIFACTS and (label, head, params) not in held:
            # The index gives the walk's order: no batch sorts its candidates.
            found = not any("TEMP B-TREE" in r[3] for r in rows)
            ok = ok and found
            print("    -> no TEMP B-TREE: %s" % bl.verdict(found))
        if head is K_ARTIFACTS:
            found = any("USING INDEX artifacts_submission" in r[3] for r in rows)
            ok = ok and found
            print("    -> SEARCH a USING INDEX artifacts_submission: %s" % bl.verdict(found))
        if head is K_HELD_LATER_DATES:
            # Index only: the listing must not read the submissions' rows.
            found = any("USING COVERING INDEX submission_sweep_challenge" in r[3] for r in rows)
            ok = ok and found
            print("    -> SEARCH s USING COVERING INDEX submission_sweep_challenge: %s"
                  % bl.verdict(found))
    con.close()
    return ok


def fmt_ratio(x):
    return "%.2f" % x if x == x else "-"


def main():
    bin_path = os.path.abspath(os.environ["RETENTION_BIN"])
    sizes = [int(s) for s in sys.argv[1:]] or [100000, 1000000]
    held = int(os.environ.get("BENCH_HELD", "200000"))
    files_mode = os.environ.get("BENCH_FILES", "all")
    keep = os.environ.get("BENCH_KEEP") == "1"
    latency = os.environ.get("BENCH_LATENCY", "1") == "1"
    base = os.environ.get("TMPDIR") or "/tmp"
    work = tempfile.mkdtemp(prefix="retention-bench-", dir=base)
    started = time.perf_counter()
    print("retention scale benchmark: sizes %s, held challenge %d, files: %s" %
          (" ".join(map(str, sizes)), held, files_mode))
    print("binary %s\nwork dir %s (%s; unlink costs differ a lot between disk and tmpfs)" %
          (bin_path, work, bl.fs_type(work)))
    print("RETENTION_FAKE_NOW=%s RETENTION_NOTICE_DAYS=0; 2 cores shared: compare ratios, not "
          "seconds\n" % bl.NOW_ISO, flush=True)
    results = {}
    failed = None
    try:
        # The schema, as `retention migrate` makes it.
        empty = os.path.join(work, "empty.db")
        bl.run(bin_path, ["migrate"], bl.product_env(empty, work + "/s0", work + "/l0"),
               label="migrate (empty db, for the schema)")
        schema = subprocess.run(["/usr/bin/sqlite3", empty, ".schema"], check=True,
                                capture_output=True, text=True).stdout
        for n in sizes:
            results[n] = one_size(bin_path, n, held, files_mode, work, schema,
                                  smallest=(n == min(sizes)), largest=(n == max(sizes)),
                                  latency=latency, keep=keep)
    except bl.StepFailed as e:
        failed = str(e)
    finally:
        if not keep:
            t = time.perf_counter()
            bl.remove_tree(work)
            print("\nremoved %s in %.0f s" % (work, time.perf_counter() - t))
        else:
            print("\nkept %s" % work)
    for n, r in results.items():
        print_table(n, r)
    print("\ntotal wall time %.0f s" % (time.perf_counter() - started))
    if failed:
        print("FAILED: " + failed, file=sys.stderr)
        sys.exit(1)


def one_size(bin_path, n, held, files_mode, work, schema, smallest, largest, latency, keep):
    wd = os.path.join(work, "n%d" % n)
    os.makedirs(wd)
    storage, logs = wd + "/storage", wd + "/logs"
    db_a, a0 = wd + "/a.db", wd + "/a0.db"
    env_a = bl.product_env(db_a, storage, logs)
    challenges = data.shape_a(n, NOW)
    eligible = list(data.eligible_ids(challenges, NOW))
    print("== N = %d submissions (%d eligible now, 2 files each) ==" % (n, len(eligible)))
    secs, _, _ = timed(lambda: data.write_import(wd + "/a.json", challenges, NOW))
    print("  %-36s %9.2f s   (%.0f MB)" % ("prepare: import file", secs,
                                           os.path.getsize(wd + "/a.json") / 1e6))
    ids = (eligible if files_mode == "eligible" else
           (sid for ch in challenges for ph in ch.phases for sid in ph.ids))
    secs, _, count = timed(lambda: data.write_files(storage, ids))
    print("  %-36s %9.2f s   (%d files)" % ("prepare: artifact files", secs, count), flush=True)
    r = {"n": n, "eligible": len(eligible)}
    r["import"] = bl.run(bin_path, ["import", wd + "/a.json"], env_a, label="import")
    # Steps of a second or less are the best of `repeats` rounds (the machine is shared: one run
    # can land on a busy moment), each round running the step and its floor turn about.
    repeats = int(os.environ.get("BENCH_REPEAT", "3" if n <= 200000 else "1"))

    def floor(label, measure_and_rows):
        m, rows = measure_and_rows
        floor_print(label % rows, m.secs, m.cpu)
        return m

    def recompute():
        con = bl.connect(db_a)
        con.execute("UPDATE submissions SET retention_eligible_date = NULL")
        con.close()
        return bl.run(bin_path, ["update-dates"], env_a, label="update-dates (all rows)")
    r.update(turn_about(repeats, {
        "recompute": recompute,
        "f_recompute": lambda: floor("floor: one UPDATE (%d rows)",
                                     recompute_floor(db_a, wd + "/f-recompute.db"))}))
    r.update(turn_about(repeats, {
        "dry_json": lambda: bl.run(bin_path, ["--json", "cleanup", "--dry-run"], env_a,
                                   label="--json cleanup --dry-run"),
        "dry_text": lambda: bl.run(bin_path, ["cleanup", "--dry-run"], env_a,
                                   label="cleanup --dry-run"),
        "f_select": lambda: floor("floor: one SELECT (%d rows)", select_floor(db_a))}))
    with open(wd + "/status.json", "w") as out:
        r["status"] = bl.run(bin_path, ["--json", "status"], env_a, stdout=out,
                             label="--json status")
    with open(wd + "/status.json") as f:
        json.load(f)
    if smallest:
        with open(wd + "/dry.json", "w") as out:
            bl.run(bin_path, ["--json", "cleanup", "--dry-run"], env_a, stdout=out, quiet=True)
        with open(wd + "/dry.json") as f:
            doc = json.load(f)
        got = len(doc["deletable"])
        print("  check: --json cleanup --dry-run parses; %d deletable (expected %d): %s" %
              (got, len(eligible), "ok" if got == len(eligible) else "WRONG"))
        if got != len(eligible):
            raise bl.StepFailed("dry run lists %d, expected %d" % (got, len(eligible)))
        os.unlink(wd + "/dry.json")
    bl.copy_db(db_a, a0)   # the pre-sweep state every floor and shape B start from

    # Sweep A and its floor on copies of the same database, each over freshly written files; the
    # floor goes first in each round so that the files checked afterwards are the sweep's doing.
    def sweep_a():
        bl.copy_db(a0, db_a)
        bl.restore_files(a0, storage, NOW)
        return bl.run(bin_path, ["cleanup"], env_a, label="cleanup (sweep A)")

    def sweep_floor_run():
        bl.restore_files(a0, storage, NOW)
        return floor("floor: unlink+rmdir+UPDATE (%d)", sweep_floor(a0, wd + "/f-sweep.db"))
    r.update(turn_about(repeats, {"f_sweep": sweep_floor_run, "sweep": sweep_a}))
    check_swept(db_a, storage, eligible, "sweep A")
    r["f_import"] = floor("floor: executemany insert (%d)",
                          import_floor(schema, wd + "/f-import.db", challenges))
    for f in ("f-recompute.db", "f-sweep.db", "f-import.db"):
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(wd + "/" + f + suffix):
                os.unlink(wd + "/" + f + suffix)

    # Shape B: shape A plus one challenge of `held` submissions on legal hold, files real.
    if held > 0:
        hch = data.shape_held(n, NOW, held)
        data.write_import(wd + "/held.json", hch, NOW, with_users=False)
        secs, _, count = timed(lambda: data.write_files(
            storage, (sid for ch in hch for ph in ch.phases for sid in ph.ids)))
        print("  %-36s %9.2f s   (%d files)" % ("prepare: held challenge's files", secs, count))
        db_b, b0 = wd + "/b.db", wd + "/b0.db"
        bl.copy_db(a0, b0)
        env_b0 = bl.product_env(b0, storage, logs)
        bl.run(bin_path, ["import", wd + "/held.json"], env_b0, label="B: import held challenge")
        bl.run(bin_path, ["hold", "set", "--challenge-id", str(data.HELD_CHALLENGE), "--reason",
                          "bench"], env_b0, label="B: hold set")
        env_b = bl.product_env(db_b, storage, logs)

        # B against A in the same storage (the held challenge's files present for both), turn
        # about, at least two rounds: a single pair of runs on a shared machine cannot tell a
        # 20% difference from noise (stop 21 measured 1.24 once).
        def sweep_a_same_storage():
            bl.copy_db(a0, db_a)
            bl.restore_files(a0, storage, NOW)
            return bl.run(bin_path, ["cleanup"], env_a, label="cleanup (sweep A, B's storage)")

        def sweep_b():
            bl.copy_db(b0, db_b)
            bl.restore_files(a0, storage, NOW)
            return bl.run(bin_path, ["cleanup"], env_b, label="cleanup (sweep B)")
        r.update(turn_about(max(2, repeats), {"sweep_a2": sweep_a_same_storage,
                                              "sweep_b": sweep_b}))
        check_swept(db_b, storage, eligible, "sweep B")
        con = sqlite3.connect(db_b)
        left = con.execute("SELECT COUNT(*) FROM submissions WHERE challenge_id = ? AND "
                           "is_artifact_deleted = 0", (data.HELD_CHALLENGE,)).fetchone()[0]
        con.close()
        probe = os.path.join(storage, data.folder(data.held_base(n) + held), "stdout.txt")
        if left != held or not os.path.exists(probe):
            raise bl.StepFailed("sweep B touched the held challenge")
        print("  check: held challenge untouched (%d submissions, files present): ok" % left)
    if largest:
        print("\n  EXPLAIN QUERY PLAN of the sweep's batch statements (N = %d):" % n)
        r["plan_ok"] = query_plans(a0)
        if latency:
            print("\n  writer latency during a sweep (N = %d):" % n, flush=True)
            p = subprocess.run([sys.executable, os.path.join(os.path.dirname(
                os.path.abspath(__file__)), "writer_latency.py"), "--bin", bin_path,
                "--db", a0, "--storage", storage, "--work", wd], check=False)
            if p.returncode != 0:
                raise bl.StepFailed("writer_latency.py: exit %d" % p.returncode)
    print("", flush=True)
    if not keep:
        t = time.perf_counter()
        bl.remove_tree(wd)
        print("  (removed this size's files in %.0f s)\n" % (time.perf_counter() - t), flush=True)
    return r


def check_swept(db, storage, eligible, label):
    con = sqlite3.connect(db)
    deleted = con.execute("SELECT COUNT(*) FROM submissions WHERE is_artifact_deleted = 1"
                          ).fetchone()[0]
    con.close()
    still = sum(1 for sid in eligible if os.path.exists(os.path.join(storage, data.folder(sid))))
    ok = deleted == len(eligible) and still == 0
    print("  check: %s deleted %d submissions (expected %d), %d folders left: %s" %
          (label, deleted, len(eligible), still, "ok" if ok else "WRONG"), flush=True)
    if not ok:
        raise bl.StepFailed(label + " did not delete what it should")


def print_table(n, r):
    def secs(k):
        return r[k].secs if k in r else float("nan")

    def cpu(k):
        return r[k].cpu if k in r else float("nan")

    def rss(k):
        return r[k].rss / MiB if k in r else float("nan")

    def ratio(a, b):
        return a / b if b else float("nan")
    print("\nN = %d (%d eligible): step, seconds, peak RSS, floor, ratio (wall time; the target), "
          "CPU ratio (user+system, barely moved by other load on the machine)" % (n, r["eligible"]))
    print("  %-24s %9s %10s %9s %7s  %-12s %-5s %9s" % ("step", "seconds", "RSS MiB", "floor s",
                                                       "ratio", "target", "", "cpu ratio"))
    lines = [
        ("import", "import", "f_import", 3.0),
        ("update-dates", "recompute", "f_recompute", 1.5),
        ("dry run --json", "dry_json", "f_select", 2.0),
        ("dry run text", "dry_text", "f_select", 2.0),
        ("sweep A", "sweep", "f_sweep", 1.2),
    ]
    for label, k, fk, target in lines:
        if k not in r:
            continue
        wall = ratio(secs(k), secs(fk))
        print("  %-24s %9.2f %10.1f %9.2f %7s  %-12s %-5s %9s" % (
            label, secs(k), rss(k), secs(fk), fmt_ratio(wall), "<= %.1f" % target,
            bl.verdict(wall <= target), fmt_ratio(ratio(cpu(k), cpu(fk)))))
    st = secs("status")
    print("  %-24s %9.2f %10.1f %9s %7s  %-12s %s" % ("status --json", st, rss("status"), "-",
                                                      "-", "<= 0.5 s", bl.verdict(st <= 0.5)))
    if "sweep_b" in r:
        # The verdict compares B with A run turn about in the same storage (sweep_a2); the ratio
        # to the first sweep A, whose storage lacked the held challenge's files, is shown too.
        wall = ratio(secs("sweep_b"), secs("sweep_a2"))
        print("  %-24s %9.2f %10.1f %9.2f %7s  %-12s %-5s %9s" % (
            "sweep B (+held)", secs("sweep_b"), rss("sweep_b"), secs("sweep_a2"), fmt_ratio(wall),
            "B/A <= 1.2", bl.verdict(wall <= 1.2),
            fmt_ratio(ratio(cpu("sweep_b"), cpu("sweep_a2")))))
        print("  %-24s %9s %10s %9.2f %7s  (first sweep A, before the held files were written)" % (
            "", "", "", secs("sweep"), fmt_ratio(ratio(secs("sweep_b"), secs("sweep")))))
    print("  peak RSS: " + ", ".join(
        "%s %s" % (label, bl.verdict(rss(k) <= lim)) for label, k, lim in
        [("import<=64", "import", 64), ("update-dates<=32", "recompute", 32),
         ("dry-json<=32", "dry_json", 32), ("dry-text<=32", "dry_text", 32),
         ("sweep<=32", "sweep", 32), ("sweepB<=32", "sweep_b", 32), ("status<=32", "status", 32)]
        if k in r))
    if "plan_ok" in r:
        print("  query plan of the same-date batch uses submission_sweep (date=? AND rowid>?): " +
              bl.verdict(r["plan_ok"]))


if __name__ == "__main__":
    main()
