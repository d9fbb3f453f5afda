"""Notices end to end (issue 4): the real binary hands notices to Debian's aiosmtpd on loopback.
Every accepted host gets the mail with the right count and dates, a second run sends nothing, a
mail server that is down keeps the notice in the outbox until it comes back, and a 550 on one
recipient is recorded without stopping the others. With `retention serve`: two processes on one
database run each scheduled slot once, and a sweep killed with SIGKILL is marked interrupted and
finished by the next run."""
import email
import email.policy
import glob
import json
import os
import signal
import subprocess
import time
import unittest

from api_helpers import Server, free_port
from helpers import DataSet, Workspace, iso

SMTP_SERVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "smtp_server.py")
NOW = "2026-06-01T00:00:00Z"  # a Monday; the notifications job's next run is 10:00 today


class SmtpServer:
    def __init__(self, maildir, port=None, reject=(), tempfail=()):
        self.maildir = maildir
        for sub in ("new", "tmp", "cur"):
            os.makedirs(os.path.join(maildir, sub), exist_ok=True)
        args = ["/usr/bin/python3", SMTP_SERVER, "--maildir", maildir]
        if port:
            args += ["--port", str(port)]
        for r in reject:
            args += ["--reject", r]
        for r in tempfail:
            args += ["--tempfail", r]
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().strip()
        if not line.startswith("PORT="):
            self.stop()
            raise AssertionError("smtp server did not start: %r" % line)
        self.port = int(line[5:])

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc.stdin.close()
        self.proc.stdout.close()

    def messages(self):
        out = []
        for path in sorted(glob.glob(os.path.join(self.maildir, "new", "*"))):
            with open(path, "rb") as f:
                msg = email.message_from_bytes(f.read(), policy=email.policy.default)
            text = msg.get_body(preferencelist=("plain",)).get_content()
            html = msg.get_body(preferencelist=("html",)).get_content()
            out.append({"to": msg["X-RcptTo"], "subject": str(msg["Subject"]), "text": text,
                        "html": html})
        return out


class NoticeTest(unittest.TestCase):
    def setUp(self):
        self.ws = Workspace(now=NOW, notice_days=14)
        self.addCleanup(self.ws.close)
        d = DataSet(self.ws)
        c = d.challenge(1, title="Cars 2026")
        # Ended 20 days ago: eligible 2026-06-11, before the cutoff (next run + 14 days).
        self.phase = d.phase(c, end_days_ago=20, submissions=3)
        # Ended 5 days ago: eligible 2026-06-26, noticed by a later run.
        self.later = d.phase(c, end_days_ago=5, submissions=2)
        d.load()
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            s.stop()

    def smtp(self, **kw):
        s = SmtpServer(os.path.join(self.ws.dir, "mail"), **kw)
        self.servers.append(s)
        return s

    def notify(self, port, now=NOW, *extra):
        env = {"RETENTION_SMTP": "smtp://127.0.0.1:%d" % port, "RETENTION_FAKE_NOW": now,
               "RETENTION_SMTP_FROM": "retention@example.org"}
        p = self.ws.run("--json", "notify", *extra, env=env, check=0)
        return json.loads(p.stdout)

    def outbox(self):
        return self.ws.sql("SELECT recipient, state, last_error FROM mail_outbox ORDER BY id")

    def test_every_accepted_host_receives_the_notice_once_with_count_and_dates(self):
        server = self.smtp()
        r = self.notify(server.port)
        self.assertEqual(r["submissions_noticed"], 3)
        self.assertEqual(r["delivery"]["sent"], 2)
        mails = server.messages()
        self.assertEqual(sorted(m["to"] for m in mails), ["alice@example.org", "dave@example.org"])
        for m in mails:
            for body in (m["text"], m["html"]):
                self.assertIn("Cars 2026", body)
                self.assertIn("3 submissions", body)
                # Deletion date max(2026-06-11, now + 14 days) = 2026-06-15; first sweep July 1st.
                self.assertIn("2026-06-15", body)
                self.assertIn("14 days remaining", body)
                self.assertIn("2026-07-01 02:00 UTC", body)
                self.assertIn("http://127.0.0.1:8000/challenges/1", body)
                self.assertIn("input_file", body)
                self.assertIn("leaderboards", body)
                self.assertIn("--withdraw", body)
            self.assertIn("3 submissions", m["subject"])
        noticed = self.ws.sql("SELECT id FROM submissions WHERE notice_sent_at IS NOT NULL")
        self.assertEqual(sorted(i for (i,) in noticed),
                         sorted(s["id"] for s in self.phase["submissions"]))

        again = self.notify(server.port, "2026-06-01T01:00:00Z")
        self.assertEqual(again["submissions_noticed"], 0)
        run = self.ws.run("--json", "jobs", "run", "weekly_retention_notifications_and_consent_log",
                          env={"RETENTION_SMTP": "smtp://127.0.0.1:%d" % server.port,
                               "RETENTION_FAKE_NOW": "2026-06-01T02:00:00Z"}, check=0)
        self.assertEqual(json.loads(run.stdout)["status"], "succeeded")
        self.assertEqual(len(server.messages()), 2, "a second run sends nothing")
        # A week later the second phase is due (eligible 2026-06-26 < 2026-06-15 + 14 days).
        week = self.notify(server.port, "2026-06-08T10:00:00Z")
        self.assertEqual(week["submissions_noticed"], 2)
        self.assertEqual(len(server.messages()), 4)

    def test_mail_server_down_keeps_the_notice_until_it_comes_back_then_sends_it_once(self):
        port = free_port()
        r = self.notify(port)
        self.assertEqual(r["delivery"]["retry_later"], 2)
        self.assertEqual([s for (_, s, _) in self.outbox()], ["queued", "queued"])
        self.assertEqual(self.ws.sql("SELECT COUNT(*) FROM submissions WHERE notice_sent_at IS "
                                     "NOT NULL"), [(0,)])
        dry = self.ws.json("notify", "--dry-run")
        self.assertEqual([e["state"] for e in dry["outbox"]], ["queued", "queued"])
        self.assertEqual(dry["submissions_noticed"], 0, "queued notices are not planned again")
        still_down = self.notify(port, "2026-06-01T00:30:00Z")
        self.assertEqual(still_down["mails_queued"], 0)

        server = self.smtp(port=port)
        up = self.notify(port, "2026-06-01T03:00:00Z")
        self.assertEqual(up["delivery"]["sent"], 2)
        self.assertEqual(len(server.messages()), 2)
        self.notify(port, "2026-06-01T06:00:00Z")
        self.assertEqual(len(server.messages()), 2, "delivered once")
        self.assertEqual([s for (_, s, _) in self.outbox()], ["sent", "sent"])

    def test_a_550_on_one_recipient_does_not_stop_the_others_and_is_recorded(self):
        server = self.smtp(reject=["alice@example.org"])
        r = self.notify(server.port)
        self.assertEqual(r["delivery"]["sent"], 1)
        self.assertEqual(r["delivery"]["failed"], 1)
        self.assertTrue(any("550" in e for e in r["errors"]), r["errors"])
        self.assertEqual([m["to"] for m in server.messages()], ["dave@example.org"])
        rows = {rcpt: (state, err) for (rcpt, state, err) in self.outbox()}
        self.assertEqual(rows["alice@example.org"][0], "failed")
        self.assertIn("550", rows["alice@example.org"][1])
        self.assertEqual(rows["dave@example.org"][0], "sent")

    def test_dry_run_changes_nothing_and_names_the_recipients(self):
        before = self.ws.dump()
        dry = self.ws.json("notify", "--dry-run")
        self.assertEqual(self.ws.dump(), before)
        self.assertEqual(dry["notices"][0]["recipients"], ["alice@example.org", "dave@example.org"])
        self.assertEqual(dry["notices"][0]["deletion_date"], "2026-06-15T00:00:00Z")


class JobCommandTest(unittest.TestCase):
    def setUp(self):
        self.ws = Workspace(now=NOW, notice_days=14)
        self.addCleanup(self.ws.close)

    def test_unknown_job_is_a_usage_error(self):
        p = self.ws.run("jobs", "run", "no_such_job")
        self.assertEqual(p.returncode, 2)
        self.assertIn("unknown job 'no_such_job'", p.stderr)
        self.assertEqual(len(p.stderr.strip().splitlines()), 1)

    def test_run_then_list_shows_the_manual_run(self):
        run = self.ws.json("jobs", "run", "update_submission_retention_dates")
        self.assertEqual(run["status"], "succeeded")
        listed = self.ws.json("jobs", "list")
        by_name = {j["name"]: j for j in listed["jobs"]}
        self.assertEqual(sorted(by_name), sorted([
            "cleanup_expired_submission_artifacts",
            "weekly_retention_notifications_and_consent_log",
            "update_submission_retention_dates", "reconcile_log_retention"]))
        job = by_name["update_submission_retention_dates"]
        self.assertEqual(job["last_run"]["trigger"], "manual")
        self.assertEqual(job["next_run"], "2026-06-07T01:00:00Z")
        self.assertEqual(by_name["cleanup_expired_submission_artifacts"]["next_run"],
                         "2026-06-01T02:00:00Z")
        audit = self.ws.json("audit", "list", "--format", "json")
        events = audit["events"] if isinstance(audit, dict) else audit
        self.assertTrue(any(e["action"] == "job_run" for e in events), events)


class ServeTest(unittest.TestCase):
    """`retention serve` runs the scheduler. Real time here: the crons fire every minute."""

    def setUp(self):
        self.ws = Workspace(now=None, notice_days=0)
        self.addCleanup(self.ws.close)
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()

    def config(self, crons):
        lines = ["[schedule]"] + ['%s = "%s"' % kv for kv in crons.items()]
        return self.ws.write("retention.toml", "\n".join(lines) + "\n")

    def serve(self, config):
        server = Server(self.ws, config=config)
        self.addCleanup(server.log.close)
        self.procs.append(server.proc)
        return server.proc

    def runs(self, job):
        return self.ws.sql("SELECT slot, status, owner, trigger FROM job_runs WHERE job = ? "
                           "ORDER BY id", (job,))

    def wait_for(self, cond, timeout, poll=0.2):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if cond():
                return True
            time.sleep(poll)
        return cond()

    def test_two_serve_processes_run_each_scheduled_slot_once(self):
        config = self.config({"update_submission_retention_dates": "* * * * *",
                              "reconcile_log_retention": "* * * * *",
                              "cleanup_expired_submission_artifacts": "0 0 1 1 *",
                              "weekly_retention_notifications_and_consent_log": "0 0 1 1 *"})
        self.serve(config)
        self.serve(config)
        job = "update_submission_retention_dates"
        self.assertTrue(self.wait_for(lambda: len({r[0] for r in self.runs(job)}) >= 2, 150),
                        "no scheduled runs: %r" % self.runs(job))
        for p in self.procs:
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=30)
        for name in (job, "reconcile_log_retention"):
            slots = [r[0] for r in self.runs(name) if r[3] == "schedule"]
            self.assertEqual(len(slots), len(set(slots)), "a slot ran twice: %r" % self.runs(name))
            self.assertTrue(all(r[1] == "succeeded" for r in self.runs(name)), self.runs(name))

    def start_long_sweep(self):
        """Loads 12,000 eligible submissions and starts serve, whose catch-up sweeps at once."""
        d = DataSet(self.ws)
        now = dt_now()
        c = d.challenge(1, start_date=iso(now.replace(year=now.year - 1)),
                        consent={"by": "alice", "at": iso(now.replace(year=now.year - 1)),
                                 "notes": ""})
        # Enough work that the sweep runs for a few seconds, so the signal lands inside it.
        for _ in range(20):
            ph = d.phase(c, end_days_ago=None, submissions=600, artifacts=1, size=10)
            ph["end_date"] = iso(now.replace(year=now.year - 1))
            ph["start_date"] = iso(now.replace(year=now.year - 2))
        d.load()
        self.total = self.ws.sql("SELECT COUNT(*) FROM submissions")[0][0]
        self.sweep_config = self.config({"cleanup_expired_submission_artifacts": "* * * * *",
                                         "update_submission_retention_dates": "0 0 1 1 *",
                                         "reconcile_log_retention": "0 0 1 1 *",
                                         "weekly_retention_notifications_and_consent_log": "0 0 1 1 *"})
        # A scheduled history, so that a start catches up.
        self.ws.sql("INSERT INTO job_runs (job, trigger, slot, owner, started_at, finished_at, "
                    "status, result) VALUES ('cleanup_expired_submission_artifacts', 'schedule', "
                    "0, 'old@host', 0, 0, 'succeeded', '{}')")
        p = self.serve(self.sweep_config)

        def deleting():
            n = self.ws.sql("SELECT COUNT(*) FROM submissions WHERE is_artifact_deleted = 1")[0][0]
            return 0 < n < self.total
        self.assertTrue(self.wait_for(deleting, 150, poll=0.02),
                        "never saw the sweep half done, so the signal could not land inside it")
        return p

    def test_sigkill_during_a_sweep_is_marked_interrupted_and_the_next_run_finishes(self):
        job = "cleanup_expired_submission_artifacts"
        p = self.start_long_sweep()
        p.kill()
        p.wait()
        self.assertEqual(self.runs(job)[-1][1], "running")
        self.serve(self.sweep_config)
        self.assertTrue(self.wait_for(
            lambda: self.ws.sql("SELECT COUNT(*) FROM submissions WHERE is_artifact_deleted = 0")
            [0][0] == 0, 150), "the next run did not finish the work")
        statuses = [r[1] for r in self.runs(job)]
        self.assertIn("interrupted", statuses)
        self.assertEqual(statuses[-1] if statuses[-1] != "running" else statuses[-2], "succeeded")

    def test_sigterm_during_a_sweep_finishes_the_batch_and_records_interrupted(self):
        job = "cleanup_expired_submission_artifacts"
        p = self.start_long_sweep()
        p.send_signal(signal.SIGTERM)
        self.assertEqual(p.wait(timeout=60), 0, "serve exits 0 on SIGTERM")
        self.assertEqual(self.runs(job)[-1][1], "interrupted")
        left = self.ws.sql("SELECT COUNT(*) FROM submissions WHERE is_artifact_deleted = 0")[0][0]
        self.assertGreater(left, 0, "the sweep stopped early, leaving work")
        # Whole batches only: no submission has some artifacts deleted and is still unflagged.
        partial = self.ws.sql("SELECT COUNT(*) FROM submissions s WHERE s.is_artifact_deleted = 0 "
                              "AND EXISTS (SELECT 1 FROM artifacts a WHERE a.submission_id = s.id "
                              "AND a.state = 'deleted')")[0][0]
        self.assertEqual(partial, 0)


def dt_now():
    import datetime as dt
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


if __name__ == "__main__":
    unittest.main()
