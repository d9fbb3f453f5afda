"""Log retention end to end (issue 5, R8): the real binary against the CloudWatch Logs fake in
this folder (every request's SigV4 signature checked with botocore) and against the local log
store, for set-retention, the triggers, the reconcile_log_retention job and the local store's
enforcement."""
import json
import os
import subprocess
import time
import unittest
import urllib.request

from api_helpers import Server
from helpers import DataSet, Workspace, days_before

FAKE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fake_cloudwatch.py")
ACCESS_KEY = "AKIDRETENTIONTEST"
SECRET_KEY = "retention-test-secret"
WRITES = ("PutRetentionPolicy", "DeleteRetentionPolicy")


def group(cid, env="production"):
    return "challenge-pk-%d-%s-workers" % (cid, env)


class FakeCloudWatch:
    """fake_cloudwatch.py in a child process, and its control endpoints."""

    def __init__(self):
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", FAKE, "--port", "0", "--region", "us-east-1",
             "--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY],
            stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().strip()
        if not line.startswith("PORT="):
            self.proc.kill()
            raise RuntimeError("fake_cloudwatch.py did not start: %r" % line)
        self.port = int(line[len("PORT="):])
        self.url = "http://127.0.0.1:%d" % self.port

    def stop(self):
        self.proc.kill()
        self.proc.wait()

    def _call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read() or b"{}")

    def reset(self):
        self._call("POST", "/_fake/reset", {})

    def create(self, name, days=None):
        body = {"name": name}
        if days is not None:
            body["retentionInDays"] = days
        self._call("POST", "/_fake/groups", body)

    def inject(self, operation, error_type, count):
        self._call("POST", "/_fake/errors",
                   {"operation": operation, "type": error_type, "count": count})

    def groups(self):
        return {g["name"]: g["retentionInDays"] for g in self._call("GET", "/_fake/groups")["groups"]}

    def calls(self):
        return self._call("GET", "/_fake/calls")


class CloudWatchTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.fake = FakeCloudWatch()

    @classmethod
    def tearDownClass(cls):
        cls.fake.stop()

    def setUp(self):
        self.fake.reset()
        self.ws = Workspace(extra_env={
            "RETENTION_LOGS": "cloudwatch://us-east-1?endpoint=" + self.fake.url,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        })
        self.ws.env.pop("AWS_SESSION_TOKEN", None)
        self.addCleanup(self.ws.close)
        self.data = DataSet(self.ws)

    # ---- helpers ----

    def load(self, *challenges):
        """Imports challenges given as (id, consent, phase end days ago or None)."""
        for cid, consent, end in challenges:
            c = self.data.challenge(cid, consent=consent)
            self.data.phase(c, end_days_ago=end, submissions=0)
        self.data.load()

    def state(self, cid):
        rows = self.ws.sql("SELECT applied_days, applied_known, state, last_error FROM "
                           "log_retention_state WHERE challenge_id = ?", (cid,))
        return rows[0] if rows else None

    def writes(self, calls):
        return [c for c in calls if c["operation"] in WRITES]

    def new_calls(self, before):
        return self.fake.calls()["calls"][before:]

    def ncalls(self):
        return len(self.fake.calls()["calls"])

    def reconcile_job(self):
        out = self.ws.json("jobs", "run", "reconcile_log_retention")
        result = out.get("result", out)
        self.assertNotEqual(result.get("skipped"), "no log backend",
                            "`jobs run reconcile_log_retention` must use the App's log sync "
                            "(JobEnvironment.log_sync is not wired)")
        return result

    # ---- tests ----

    def test_set_retention_without_consent_exits_3_and_changes_nothing(self):
        self.fake.create(group(1))
        self.load((1, False, 40))
        before_db = self.ws.dump()
        before_groups = self.fake.groups()
        n = self.ncalls()
        p = self.ws.run("set-retention", "1", "--days", "25", "--reason", "legal")
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertIn("consent", p.stderr)
        self.assertEqual(p.stderr.count("\n"), 1, "one line on stderr")
        self.assertEqual(self.ws.dump(), before_db)
        self.assertEqual(self.fake.groups(), before_groups)
        self.assertEqual(self.new_calls(n), [], "no call to CloudWatch when refused")

    def test_days_25_applies_30(self):
        # Phase ended 40 days ago: with D = 25, E was 15 days ago, so the policy is D rounded up.
        self.load((1, True, 40))
        self.assertEqual(self.state(1)[2], "pending")
        self.fake.create(group(1), 7)
        out = self.ws.json("set-retention", "1", "--days", "25", "--reason", "legal asked")
        self.assertEqual(out["log_group"], group(1))
        self.assertEqual(out["requested_days"], 25)
        self.assertEqual(out["applied_days"], 30)
        self.assertEqual(out["state"], "in_step")
        self.assertTrue(out["changed"])
        self.assertEqual(self.fake.groups()[group(1)], 30)
        self.assertEqual(self.state(1), (30, 1, "in_step", None))
        status = self.ws.json("status", "--challenge-id", "1")["challenges"][0]
        self.assertEqual(status["log_retention_days_override"], 25)
        self.assertEqual(status["log_retention"]["desired_days"], 30)
        self.assertEqual(status["log_retention"]["applied_days"], 30)
        self.assertEqual(status["log_retention"]["state"], "in_step")
        actions = [e["action"] for e in self.ws.json("audit", "list", "--challenge-id", "1")["events"]]
        self.assertIn("override_set", actions)
        self.assertIn("log_retention_applied", actions)
        # Text output names the group, the requested and the applied value.
        p = self.ws.run("set-retention", "1", "--days", "25", "--reason", "again", check=0)
        self.assertIn("log group %s: requested 25 days, applied 30 days" % group(1), p.stdout)

    def test_trigger_before_the_group_exists_is_pending_until_the_next_reconcile(self):
        n = self.ncalls()
        self.load((1, True, 40))  # the import triggers challenge 1
        self.assertEqual(self.writes(self.new_calls(n)), [])
        applied, known, state, error = self.state(1)
        self.assertEqual((applied, known, state), (None, 0, "pending"))
        self.assertIn("does not exist yet", error)
        status = self.ws.json("status", "--challenge-id", "1")["challenges"][0]["log_retention"]
        self.assertEqual(status["state"], "pending")
        self.assertEqual(status["desired_days"], 30)

        self.fake.create(group(1))
        n = self.ncalls()
        result = self.reconcile_job()
        self.assertEqual(result["changed"], 1)
        self.assertEqual(result["pending"], 0)
        self.assertEqual(result["changes"], [{"challenge_id": 1, "log_group": group(1),
                                              "from_days": None, "to_days": 30}])
        self.assertEqual(self.fake.groups()[group(1)], 30)
        self.assertEqual(self.state(1), (30, 1, "in_step", None))
        calls = self.new_calls(n)
        self.assertEqual([c["operation"] for c in calls],
                         ["DescribeLogGroups", "PutRetentionPolicy"],
                         "one listing, one write")

    def test_withdrawal_removes_the_policy_and_consent_restores_it(self):
        self.fake.create(group(1))
        self.load((1, True, 40))
        self.assertEqual(self.fake.groups()[group(1)], 30)
        self.ws.run("consent", "1", "alice", "--withdraw", check=0)
        self.assertIsNone(self.fake.groups()[group(1)])
        self.assertEqual(self.state(1), (None, 1, "in_step", None))
        self.ws.run("consent", "1", "alice", check=0)
        self.assertEqual(self.fake.groups()[group(1)], 30)
        self.assertEqual(self.state(1), (30, 1, "in_step", None))

    def test_no_write_call_when_in_step(self):
        self.fake.create(group(1))
        self.fake.create(group(2))
        self.load((1, True, 40), (2, False, 40))
        self.assertEqual(self.fake.groups(), {group(1): 30, group(2): None})
        n = self.ncalls()
        out = self.ws.json("set-retention", "1")
        self.assertFalse(out["changed"])
        self.assertEqual(out["applied_days"], 30)
        result = self.reconcile_job()
        self.assertEqual(result["changed"], 0)
        self.assertEqual(result["checked"], 2)
        calls = self.new_calls(n)
        self.assertGreater(len(calls), 0)
        self.assertEqual(self.writes(calls), [])

    def test_throttling_and_aborted_operations_are_retried(self):
        self.fake.create(group(1), 1)
        self.fake.inject("PutRetentionPolicy", "ThrottlingException", 2)
        self.fake.inject("PutRetentionPolicy", "OperationAbortedException", 1)
        n = self.ncalls()
        self.load((1, True, 40))
        self.assertEqual(self.fake.groups()[group(1)], 30)
        self.assertEqual(self.state(1), (30, 1, "in_step", None))
        puts = [c for c in self.new_calls(n) if c["operation"] == "PutRetentionPolicy"]
        self.assertEqual([c["error"] for c in puts],
                         ["ThrottlingException", "ThrottlingException",
                          "OperationAbortedException", None])

    def test_never_more_than_5_calls_in_any_second(self):
        ids = list(range(1, 13))
        for cid in ids:
            self.fake.create(group(cid), 1)
        self.load(*[(cid, True, 40) for cid in ids])  # 12 triggers: Describe + Put each
        groups = self.fake.groups()
        self.assertEqual([groups[group(cid)] for cid in ids], [30] * 12)
        calls = self.fake.calls()
        self.assertEqual(len(calls["calls"]), 24)
        self.assertLessEqual(calls["max_in_any_second"], 5)
        self.assertGreaterEqual(calls["max_in_any_second"], 4, "the limit is used, not starved")

    def test_backend_error_is_recorded_and_reported_by_set_retention(self):
        self.load((1, True, 40))
        self.fake.create(group(1))
        self.fake.inject("PutRetentionPolicy", "AccessDeniedException", 1)
        # D = 14 and the phase ended 40 days ago: E has passed, so 14 is wanted.
        p = self.ws.run("set-retention", "1", "--days", "14", "--reason", "x")
        self.assertEqual(p.returncode, 3, p.stderr)  # permission denied: refused by the backend
        self.assertIn("override stored", p.stderr)
        applied, known, state, error = self.state(1)
        self.assertEqual((applied, known, state), (None, 1, "error"))
        self.assertIn("AccessDenied", error)
        # The next reconcile retries and succeeds.
        result = self.reconcile_job()
        self.assertEqual(result["changed"], 1)
        self.assertEqual(self.fake.groups()[group(1)], 14)
        self.assertEqual(self.state(1), (14, 1, "in_step", None))


    def test_serve_refuses_log_lines_and_queues_challenge_events(self):
        """The platform sends worker lines to CloudWatch itself: serve's log-line routes answer 503
        without calling the backend, and a challenge event queues the challenge's reconcile on
        serve's worker, which then applies the policy."""
        self.load((1, True, 40))
        self.assertEqual(self.state(1)[2], "pending")
        self.fake.create(group(1))
        server = Server(self.ws)
        self.addCleanup(server.stop)
        admin = "admin-token-123"
        n = self.ncalls()
        lines = "/api/log-groups/%s/lines" % group(1)
        for method, body in (("POST", {"lines": [{"timestamp": days_before(1), "message": "x"}]}),
                             ("GET", None)):
            s, b, _ = server.request(method, lines, body=body, token=admin)
            self.assertEqual((s, b), (503, {"error": "the local log store is not available in this "
                                                     "process"}), method)
        self.assertEqual(self.new_calls(n), [], "the log-line routes do not call CloudWatch")

        s, b, _ = server.request("POST", "/api/challenges/1/events", {"event": "worker_restarted"},
                                 token=admin)
        self.assertEqual(s, 202, b)
        self.assertEqual(b["log_retention"], {"log_group": group(1), "queued": True})
        deadline = time.monotonic() + 20
        while self.state(1)[2] != "in_step" and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(self.state(1), (30, 1, "in_step", None))
        self.assertEqual(self.fake.groups()[group(1)], 30)
        self.assertEqual([c["operation"] for c in self.writes(self.new_calls(n))],
                         ["PutRetentionPolicy"])


class LocalStoreTests(unittest.TestCase):
    def setUp(self):
        self.ws = Workspace()
        self.addCleanup(self.ws.close)
        self.data = DataSet(self.ws)
        self.logs = os.path.join(self.ws.dir, "logs")

    def write_segment(self, name, day, lines):
        """Writes one day-segment the way the local store lays it out (local_log_store.h)."""
        d = os.path.join(self.logs, name)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "name"), "w") as f:
            f.write(name)
        with open(os.path.join(d, day + ".jsonl"), "a") as f:
            for msg in lines:
                f.write(json.dumps({"ingestion_time": day + "T12:00:00Z",
                                    "timestamp": day + "T11:00:00Z", "message": msg}) + "\n")

    def policy(self, name):
        with open(os.path.join(self.logs, name, "policy.json")) as f:
            return json.load(f)

    def segments(self, name):
        d = os.path.join(self.logs, name)
        return sorted(n for n in os.listdir(d) if n.endswith(".jsonl"))

    def test_reconcile_job_enforces_the_local_store(self):
        consented = self.data.challenge(1)
        self.data.phase(consented, end_days_ago=100, submissions=0)  # E passed: 30 days
        refused = self.data.challenge(2, consent=False)
        self.data.phase(refused, end_days_ago=100, submissions=0)
        self.data.load()
        policy = self.policy(group(1))
        self.assertEqual(policy["retention_days"], 30)
        self.assertFalse(os.path.exists(os.path.join(self.logs, group(2), "policy.json")))

        old, new = days_before(45)[:10], days_before(5)[:10]
        self.write_segment(group(1), old, ["old 1", "old 2"])
        self.write_segment(group(1), new, ["new 1"])
        self.write_segment(group(2), old, ["kept, no policy"])

        out = self.ws.json("jobs", "run", "reconcile_log_retention")
        result = out.get("result", out)
        self.assertNotEqual(result.get("skipped"), "no log backend",
                            "`jobs run reconcile_log_retention` must use the App's log sync")
        self.assertEqual(result["changed"], 0, "policies were applied by the import's triggers")
        self.assertEqual(result["enforcement"]["lines_removed"], 2)
        self.assertEqual(result["enforcement"]["segments_removed"], 1)
        self.assertEqual(result["deleted"], 2)
        self.assertEqual(self.segments(group(1)), [new + ".jsonl"])
        self.assertEqual(self.segments(group(2)), [old + ".jsonl"])
        # A second run has nothing left to do.
        again = self.ws.json("jobs", "run", "reconcile_log_retention")
        self.assertEqual(again.get("result", again)["enforcement"]["lines_removed"], 0)

    def test_set_retention_applies_to_the_local_store(self):
        c = self.data.challenge(1)
        self.data.phase(c, end_days_ago=100, submissions=0)
        self.data.load()
        out = self.ws.json("set-retention", "1", "--days", "100", "--reason", "longer")
        self.assertEqual(out["requested_days"], 100)
        self.assertEqual(out["applied_days"], 120)
        policy = self.policy(group(1))
        self.assertEqual(policy["retention_days"], 120)


    def test_issue8_defect1_daily_reconcile_keeps_lines_until_e_without_a_start_date(self):
        # Consent, no start date, phase end 2026-06-01, D = 30: E = 2026-07-01. The import on
        # 2026-03-01 applies 150 days (122 days to E); a line is ingested that day. The daily
        # reconcile of 2026-05-15 must keep it: it used to shrink the policy to 60 days (47 days
        # from "now" to E) and purge the line 47 days before E.
        c = self.data.challenge(1, start_date=None,
                                consent={"by": "alice", "at": "2026-02-01T00:00:00Z", "notes": ""})
        self.data.phase(c, end_days_ago=0, submissions=0)
        path = self.ws.write("import.json", self.data.data())
        self.ws.run("import", path, check=0, env={"RETENTION_FAKE_NOW": "2026-03-01T00:00:00Z"})
        self.assertEqual(self.policy(group(1))["retention_days"], 150)
        self.write_segment(group(1), "2026-03-01", ["stored before E"])

        p = self.ws.run("--json", "jobs", "run", "reconcile_log_retention", check=0,
                        env={"RETENTION_FAKE_NOW": "2026-05-15T00:00:00Z"})
        out = json.loads(p.stdout)
        result = out.get("result", out)
        self.assertEqual(result["changes"], [], "the policy must not shrink before E")
        self.assertEqual(result["enforcement"]["lines_removed"], 0)
        self.assertEqual(self.policy(group(1))["retention_days"], 150)
        self.assertEqual(self.segments(group(1)), ["2026-03-01.jsonl"])

        # From E on the policy is D rounded up, and the line goes soon after E.
        p = self.ws.run("--json", "jobs", "run", "reconcile_log_retention", check=0,
                        env={"RETENTION_FAKE_NOW": "2026-07-02T00:00:00Z"})
        result = json.loads(p.stdout)
        result = result.get("result", result)
        self.assertEqual(self.policy(group(1))["retention_days"], 30)
        self.assertEqual(result["enforcement"]["lines_removed"], 1)

if __name__ == "__main__":
    unittest.main()
