"""Several `retention serve` replicas on one PostgreSQL (issue 11 item 3): each scheduled slot runs
once across them, a replica killed with SIGKILL while it holds a job's lease is taken over when
the lease expires, and sweeps that run at once share the work.

The replicas' clocks run 60 times as fast from the same start (RETENTION_FAKE_NOW +
RETENTION_CLOCK_SPEED), so minute crons fire about every second; each replica has a name of its
own (RETENTION_REPLICA), so that none can see that another's pid is gone and a lease is taken
over only when it expires, as between hosts. PostgreSQL only: the module skips on SQLite.
"""
import datetime as dt
import json
import os
import signal
import subprocess
import threading
import time
import unittest

from api_helpers import Server
from helpers import BIN, POSTGRESQL_SERVER, DataSet, Workspace

SWEEP = "cleanup_expired_submission_artifacts"
JOBS = [SWEEP, "weekly_retention_notifications_and_consent_log",
        "update_submission_retention_dates", "reconcile_log_retention"]
SPEED = 60
LEASE_TTL = 180  # fake seconds: 3 real seconds
HOST = "alice-token-123"


def count_files(root):
    return sum(len(names) for _, _, names in os.walk(root))


def real_now_text():
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def wait_for(what, predicate, timeout):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.02)


@unittest.skipUnless(POSTGRESQL_SERVER, "replicas need PostgreSQL (run under postgresql_server.py)")
class ReplicaTest(unittest.TestCase):
    def make(self, submissions, artifacts=1, crons=True):
        self.ws = Workspace(now=None, notice_days=0)
        self.addCleanup(self.ws.close)
        d = DataSet(self.ws)
        c = d.challenge(1)
        d.phase(c, end_days_ago=40, submissions=submissions, artifacts=artifacts, size=10)
        self.total = submissions * artifacts
        self.ws.env["RETENTION_FAKE_NOW"] = "2026-06-01T00:00:00Z"
        d.load()
        self.assertEqual(count_files(self.ws.artifacts), self.total)
        # The replicas' shared fast clock starts now (real time), so that each fake minute is a
        # real second from here on; the data's dates lie months before it.
        self.ws.env.update({"RETENTION_FAKE_NOW": real_now_text(),
                            "RETENTION_CLOCK_SPEED": str(SPEED),
                            "RETENTION_LEASE_TTL_SECONDS": str(LEASE_TTL)})
        lines = ["[schedule]"]
        for job in JOBS:
            lines.append('%s = "%s"' % (job, "* * * * *" if crons else "0 0 1 1 *"))
        self.config = self.ws.write("replicas.toml", "\n".join(lines) + "\n")
        self.servers = []

    def start(self, n):
        for i in range(n):
            s = Server(self.ws, config=self.config, env={"RETENTION_REPLICA": "replica-%d" % i})
            self.addCleanup(s.stop)
            self.servers.append(s)

    def runs(self):
        return self.ws.sql("SELECT id, job, trigger, slot, owner, started_at, finished_at, status, "
                           "result FROM job_runs ORDER BY job, started_at, id")

    def assert_each_slot_ran_once(self, runs):
        by_slot = {}
        for r in runs:
            if r[2] in ("schedule", "catchup"):
                by_slot.setdefault((r[1], r[3]), []).append(r)
        for (job, slot), rs in by_slot.items():
            live = [r for r in rs if r[7] != "interrupted"]
            self.assertLessEqual(len(live), 1, "%s slot %s ran %d times: %s" % (
                job, slot, len(live), rs))
        # One run of a job at a time across the replicas: each starts when the one before ended
        # (a run taken over ends when its successor takes the lease).
        for job in JOBS:
            rs = [r for r in runs if r[1] == job]
            for before, after in zip(rs, rs[1:]):
                self.assertIsNotNone(before[6], before)
                self.assertGreaterEqual(after[5], before[6], "%s overlaps %s" % (after, before))
        return by_slot

    def test_each_slot_runs_once_across_three_replicas_and_a_killed_holder_is_taken_over(self):
        self.make(submissions=3000)
        self.start(3)
        # The first sweep slot: one replica takes its lease; kill it while it sweeps.
        lease = wait_for("a replica to take the sweep's lease", lambda: self.ws.sql(
            "SELECT owner, expires_at FROM job_locks WHERE job = ?", (SWEEP,)), 30)[0]
        owner = lease[0]
        victim = [s for s in self.servers if owner.startswith("%d@" % s.proc.pid)]
        self.assertEqual(len(victim), 1, owner)
        victim[0].proc.send_signal(signal.SIGKILL)
        victim[0].proc.wait()
        files_at_kill = count_files(self.ws.artifacts)
        self.assertGreater(files_at_kill, 0, "the sweep ended before the kill")
        # Another replica finishes the sweep once the lease has expired.
        wait_for("the sweep to be taken over", lambda: self.ws.sql(
            "SELECT id FROM job_runs WHERE job = ? AND status = 'succeeded' AND owner <> ? AND "
            "started_at >= ?", (SWEEP, owner, lease[1])), 40)
        wait_for("a few more slots", lambda: self.ws.sql(
            "SELECT COUNT(DISTINCT slot) FROM job_runs WHERE job = ?",
            ("update_submission_retention_dates",))[0][0] >= 5, 30)
        for s in self.servers:
            s.stop()
        runs = self.runs()
        self.assert_each_slot_ran_once(runs)
        killed = [r for r in runs if r[1] == SWEEP and r[4] == owner]
        self.assertEqual([r[7] for r in killed], ["interrupted"])
        self.assertIn("lease expired", killed[0][8])
        takeover = [r for r in runs if r[1] == SWEEP and r[5] >= killed[0][6] and r[4] != owner]
        self.assertTrue(takeover)
        # Nobody ran the sweep while the killed replica's lease was valid.
        self.assertGreaterEqual(takeover[0][5], lease[1])
        self.assertEqual(count_files(self.ws.artifacts), 0)
        self.assertEqual(self.ws.sql("SELECT COUNT(*) FROM artifacts WHERE state <> 'deleted'"),
                         [(0,)])
        self.assertEqual(self.ws.sql("SELECT COUNT(*) FROM sweep_intents"), [(0,)])
        owners = {r[4].split("@")[1] for r in runs}
        self.assertGreaterEqual(len(owners), 2, owners)


@unittest.skipUnless(POSTGRESQL_SERVER, "replicas need PostgreSQL (run under postgresql_server.py)")
class SharedSweepTest(unittest.TestCase):
    """Sweeps that run at once in several processes share the walk (ADR 0008)."""

    def make(self, submissions):
        self.ws = Workspace(notice_days=0)
        self.addCleanup(self.ws.close)
        d = DataSet(self.ws)
        d.phase(d.challenge(1), end_days_ago=40, submissions=submissions, artifacts=1, size=1)
        d.load()
        self.total = submissions

    def sweep(self):
        return subprocess.Popen([BIN, "--json", "cleanup"], env=self.ws.env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def test_three_sweeps_share_10000_submissions_and_a_kill_changes_nothing(self):
        self.make(10000)
        procs = [self.sweep() for _ in range(3)]
        for p in procs:
            self.addCleanup(p.stdout.close)
            self.addCleanup(p.stderr.close)
        wait_for("the sweeps to delete", lambda: count_files(self.ws.artifacts) < self.total - 1500,
                 60)
        procs[0].send_signal(signal.SIGKILL)
        procs[0].wait()
        reports = []
        for p in procs[1:]:
            out, err = p.communicate(timeout=120)
            self.assertEqual(p.returncode, 0, err)
            reports.append(json.loads(out))
        # Nothing is left: what the killed one had claimed went to the others, and its deletion
        # intent was recovered.
        self.assertEqual(count_files(self.ws.artifacts), 0)
        self.assertEqual(self.ws.sql("SELECT COUNT(*) FROM artifacts WHERE state <> 'deleted'"),
                         [(0,)])
        self.assertEqual(self.ws.sql("SELECT COUNT(*) FROM submissions WHERE "
                                     "is_artifact_deleted = 0"), [(0,)])
        self.assertEqual(self.ws.sql("SELECT COUNT(*) FROM sweep_intents"), [(0,)])
        # Every artifact was deleted (or found gone and recorded) exactly once.
        self.assertEqual(self.ws.sql("SELECT attempts, COUNT(*) FROM artifacts GROUP BY attempts"),
                         [(1, self.total)])
        # The two survivors deleted disjoint sets, and both took part.
        sets = [{d["submission_id"] for d in r["deleted"]} for r in reports]
        self.assertFalse(sets[0] & sets[1])
        self.assertTrue(sets[0] and sets[1], [len(x) for x in sets])
        # What the killed one recorded before it died, or left in an intent that a survivor
        # recovered, makes up the rest.
        recovered = sum(r["totals"]["recovered"]["gone"] for r in reports)
        self.assertLessEqual(len(sets[0]) + len(sets[1]) + recovered, self.total)

    def test_a_withdrawal_from_another_process_while_two_sweep_deletes_nothing_after(self):
        self.make(6000)
        procs = [self.sweep() for _ in range(2)]
        wait_for("the sweeps to delete", lambda: count_files(self.ws.artifacts) < self.total - 300,
                 60)
        started = time.monotonic()
        self.ws.run("consent", "1", "alice", "--withdraw", check=0)
        latency = time.monotonic() - started
        at_answer = count_files(self.ws.artifacts)
        for p in procs:
            _, err = p.communicate(timeout=120)
            self.assertEqual(p.returncode, 0, err)
        self.assertGreater(at_answer, 0, "the sweeps had finished before the answer")
        self.assertLess(latency, 2.0)
        self.assertEqual(count_files(self.ws.artifacts), at_answer)
        deleted = self.ws.sql("SELECT COUNT(*) FROM artifacts WHERE state = 'deleted'")[0][0]
        self.assertEqual(deleted, self.total - at_answer)

    def test_postgresql_restarted_during_two_sweeps_nothing_recorded_wrongly_and_the_next_finishes(
            self):
        from postgresql_server import restart_postgresql
        self.make(6000)
        procs = [self.sweep() for _ in range(2)]
        for p in procs:
            self.addCleanup(p.stdout.close)
            self.addCleanup(p.stderr.close)
        wait_for("the sweeps to delete", lambda: count_files(self.ws.artifacts) < self.total - 300,
                 60)
        restart_postgresql()
        for p in procs:
            p.communicate(timeout=120)
            self.assertIn(p.returncode, (0, 1))  # resumed, or failed cleanly (never a crash)
        # Nothing is recorded deleted that storage still has.
        for key, state in self.ws.sql("SELECT storage_key, state FROM artifacts"):
            if state == "deleted":
                self.assertFalse(os.path.exists(os.path.join(self.ws.artifacts, key)), key)
        # The next run finishes: everything deleted and recorded, no intent left.
        self.ws.run("cleanup", check=0)
        self.assertEqual(count_files(self.ws.artifacts), 0)
        self.assertEqual(self.ws.sql("SELECT COUNT(*) FROM artifacts WHERE state <> 'deleted'"),
                         [(0,)])
        self.assertEqual(self.ws.sql("SELECT COUNT(*) FROM sweep_intents"), [(0,)])


if __name__ == "__main__":
    unittest.main()
