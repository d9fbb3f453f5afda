"""`retention sync evalai` (DESIGN.md 7b, issue 12) against a real PostgreSQL 15 that holds a
fixture built from EvalAI's schema (Django's conventions: `id serial`, created_at / modified_at
timestamptz, foreign keys `<name>_id`, file columns varchar(100)). The module starts its own
server (postgresql_server.Server) and gives each test a fresh EvalAI database on it; our store is
the workspace's (SQLite, or PostgreSQL in StoreOnPostgresqlTests).
"""
import json
import os
import socket
import sqlite3
import unittest
import uuid

import psycopg2

import postgresql_server
from helpers import Workspace

SERVER = None

FILE_COLUMNS = ["input_file", "submission_input_file", "stdout_file", "stderr_file",
                "environment_log_file", "submission_result_file", "submission_metadata_file"]


def setUpModule():
    global SERVER
    SERVER = postgresql_server.Server()


def tearDownModule():
    if SERVER is not None:
        SERVER.stop()


def create_database():
    name = "evalai_" + uuid.uuid4().hex[:10]
    admin = psycopg2.connect(SERVER.url)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute("CREATE DATABASE %s" % name)
    admin.close()
    return SERVER.url.rsplit("/", 1)[0] + "/" + name


def schema(retention_columns=True, write_back_columns=True, phase_end_type="timestamptz"):
    stamps = ("created_at timestamptz NOT NULL DEFAULT now(), "
              "modified_at timestamptz NOT NULL DEFAULT now()")
    files = ", ".join("%s varchar(100)%s" % (c, " NOT NULL" if c == "input_file" else "")
                      for c in FILE_COLUMNS)
    retention = ""
    if retention_columns:
        retention = (", retention_policy_consent boolean NOT NULL DEFAULT false, "
                     "retention_policy_consent_date timestamptz, "
                     "retention_policy_consent_by_id integer REFERENCES auth_user(id), "
                     "retention_policy_notes text, log_retention_days_override integer")
    write_back = ""
    if write_back_columns:
        write_back = (", is_artifact_deleted boolean NOT NULL DEFAULT false, "
                      "artifact_deletion_date timestamptz")
    return """
CREATE TABLE auth_user (id serial PRIMARY KEY, password varchar(128) NOT NULL DEFAULT '',
  last_login timestamptz, is_superuser boolean NOT NULL DEFAULT false,
  username varchar(150) NOT NULL UNIQUE, first_name varchar(150) NOT NULL DEFAULT '',
  last_name varchar(150) NOT NULL DEFAULT '', email varchar(254) NOT NULL DEFAULT '',
  is_staff boolean NOT NULL DEFAULT false, is_active boolean NOT NULL DEFAULT true,
  date_joined timestamptz NOT NULL DEFAULT now());
CREATE TABLE challenge_host_teams (id serial PRIMARY KEY, %(stamps)s,
  team_name varchar(100) NOT NULL UNIQUE, team_url varchar(1000) NOT NULL DEFAULT '',
  created_by_id integer NOT NULL REFERENCES auth_user(id));
CREATE TABLE challenge_host (id serial PRIMARY KEY, %(stamps)s, status varchar(30) NOT NULL,
  permissions varchar(30) NOT NULL DEFAULT 'Admin',
  team_name_id integer NOT NULL REFERENCES challenge_host_teams(id),
  user_id integer NOT NULL REFERENCES auth_user(id));
CREATE TABLE challenge (id serial PRIMARY KEY, %(stamps)s, title varchar(100) NOT NULL,
  short_description text, description text, terms_and_conditions text,
  image varchar(100), start_date timestamptz, end_date timestamptz,
  creator_id integer NOT NULL REFERENCES challenge_host_teams(id),
  published boolean NOT NULL DEFAULT false, approved_by_admin boolean NOT NULL DEFAULT false,
  inform_hosts boolean NOT NULL DEFAULT true, is_disabled boolean NOT NULL DEFAULT false
  %(retention)s);
CREATE TABLE challenge_phase (id serial PRIMARY KEY, %(stamps)s, name varchar(100) NOT NULL,
  description text, leaderboard_public boolean NOT NULL DEFAULT false,
  start_date timestamptz, end_date %(phase_end)s,
  challenge_id integer NOT NULL REFERENCES challenge(id),
  is_public boolean NOT NULL DEFAULT false, codename varchar(100) NOT NULL DEFAULT '',
  test_annotation varchar(100));
CREATE TABLE submission (id serial PRIMARY KEY, %(stamps)s, participant_team_id integer,
  challenge_phase_id integer NOT NULL REFERENCES challenge_phase(id),
  created_by_id integer NOT NULL REFERENCES auth_user(id), status varchar(30) NOT NULL,
  is_public boolean NOT NULL DEFAULT false, submission_number integer NOT NULL DEFAULT 0,
  output text, submitted_at timestamptz NOT NULL DEFAULT now(), started_at timestamptz,
  completed_at timestamptz, is_baseline boolean NOT NULL DEFAULT false, %(files)s
  %(write_back)s);
""" % {"stamps": stamps, "files": files, "retention": retention, "write_back": write_back,
       "phase_end": phase_end_type}


class EvalaiFixture:
    """A fresh EvalAI database with the fixture's rows: users, one host team with a member of
    every status, challenge 7 with a private phase (ended) and a public one, and a submission for
    every combination of empty and set file columns (empty alternating between '' and NULL)."""

    USERS = ["alice", "dave", "carol", "eve", "frank", "bob"]
    STATUSES = {"alice": "Accepted", "dave": "Self", "carol": "Pending", "eve": "Denied",
                "frank": "Unknown"}

    def __init__(self, ws, retention_columns=True, write_back_columns=True,
                 phase_end_type="timestamptz", submissions=True):
        self.url = create_database()
        self.retention_columns = retention_columns
        self.con = psycopg2.connect(self.url)
        self.con.autocommit = True
        self.exec(schema(retention_columns, write_back_columns, phase_end_type))
        self.user_id = {}
        for name in self.USERS:
            self.user_id[name] = self.one(
                "INSERT INTO auth_user (username, email) VALUES (%s, %s) RETURNING id",
                (name, name + "@example.org"))
        self.exec("INSERT INTO challenge_host_teams (id, team_name, created_by_id) "
                  "VALUES (1, 'Vision Lab', %s)", (self.user_id["alice"],))
        self.host_id = {}
        for name, status in self.STATUSES.items():
            self.host_id[name] = self.one(
                "INSERT INTO challenge_host (status, team_name_id, user_id) VALUES (%s, 1, %s) "
                "RETURNING id", (status, self.user_id[name]))
        self.exec("INSERT INTO challenge (id, title, description, start_date, end_date, "
                  "creator_id, approved_by_admin, inform_hosts) VALUES (7, 'Cars 2026', 'd', "
                  "'2025-06-01T00:00:00Z', '2026-01-01T00:00:00Z', 1, true, true)")
        self.exec("INSERT INTO challenge_phase (id, name, start_date, end_date, challenge_id, "
                  "is_public) VALUES (70, 'Test', '2025-06-01T00:00:00Z', "
                  "'2026-01-01T00:00:00Z', 7, false), (71, 'Dev', '2025-06-01T00:00:00Z', "
                  "'2026-01-01T00:00:00Z', 7, true)")
        self.expected = {}  # submission id -> {kind: key}
        if submissions:
            for mask in range(128):
                self.add_submission(1000 + mask, 70 if mask % 2 == 0 else 71, mask, ws)

    def add_submission(self, sid, phase, mask, ws=None, with_files=True):
        values = []
        keys = {}
        for bit, column in enumerate(FILE_COLUMNS):
            if mask & (1 << bit):
                value = "submission_files/submission_%d/%s.txt" % (sid, column)
                keys[column] = "media/" + value
                if ws is not None and with_files and sid % 3 != 0:
                    ws.put_artifact("media/" + value, b"y" * (10 + bit))
            else:
                value = "" if (sid + bit) % 2 == 0 else None
                if column == "input_file" and value is None:
                    value = ""  # EvalAI's input_file is NOT NULL
            values.append(value)
        self.exec("INSERT INTO submission (id, challenge_phase_id, created_by_id, status, "
                  "submitted_at, is_baseline, " + ", ".join(FILE_COLUMNS) + ") VALUES "
                  "(%s, %s, %s, 'finished', '2025-12-01T00:00:00Z', false" +
                  ", %s" * len(FILE_COLUMNS) + ")",
                  (sid, phase, self.user_id["bob"], *values))
        self.expected[sid] = keys

    def exec(self, sql, params=()):
        with self.con.cursor() as cur:
            cur.execute(sql, params)

    def one(self, sql, params=()):
        with self.con.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchone()[0]

    def rows(self, sql, params=()):
        with self.con.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()

    def close(self):
        self.con.close()


class SyncTestBase(unittest.TestCase):
    fixture_args = {}

    def setUp(self):
        self.ws = Workspace(notice_days=0)
        self.addCleanup(self.ws.close)
        self.ev = EvalaiFixture(self.ws, **self.fixture_args)
        self.addCleanup(self.ev.close)
        self.ws.env["RETENTION_EVALAI_DB"] = self.ev.url

    def sync(self, *args, check=0, env=None):
        p = self.ws.run("--json", "sync", "evalai", *args, check=check, env=env)
        return json.loads(p.stdout) if check == 0 else p

    def ours(self, query, params=()):
        con = sqlite3.connect(self.ws.db)
        try:
            return con.execute(query, params).fetchall()
        finally:
            con.close()

    def assert_nothing_changed(self, report):
        for table, c in report["tables"].items():
            self.assertEqual((c["added"], c["changed"]), (0, 0), table)
        self.assertFalse(report["changed"])


class FirstSyncTests(SyncTestBase):
    def test_first_sync_brings_in_everything_with_prefixed_keys(self):
        r = self.sync()
        t = r["tables"]
        self.assertTrue(r["full"])
        self.assertEqual(t["users"]["added"], 6)
        self.assertEqual(t["host_teams"]["added"], 1)
        # Accepted and Self are hosts, Pending is pending, Denied and Unknown are dropped.
        self.assertEqual(t["host_team_members"]["added"], 3)
        self.assertEqual(t["challenges"]["added"], 1)
        self.assertEqual(t["phases"]["added"], 2)
        self.assertEqual(t["submissions"]["added"], 128)
        self.assertEqual(t["artifacts"]["added"], 7 * 64)
        self.assertEqual(r["warnings"], [])
        members = dict(self.ours("SELECT u.username, m.status FROM host_team_members m "
                                 "JOIN users u ON u.id = m.user_id WHERE m.host_team_id = 1"))
        self.assertEqual(members, {"alice": "accepted", "dave": "accepted", "carol": "pending"})
        self.assertEqual(self.ours("SELECT title, approved, inform_hosts, start_date FROM "
                                   "challenges WHERE id = 7"),
                         [("Cars 2026", 1, 1, 1748736000)])
        self.assertEqual(sorted(self.ours("SELECT id, challenge_id, end_date, is_public FROM "
                                          "phases")),
                         [(70, 7, 1767225600, 0), (71, 7, 1767225600, 1)])
        got = {}
        for sid, kind, key in self.ours("SELECT submission_id, kind, storage_key FROM artifacts"):
            got.setdefault(sid, {})[kind] = key
        for sid, keys in self.ev.expected.items():
            self.assertEqual(got.get(sid, {}), keys, "submission %d" % sid)
        self.assertEqual(self.ours("SELECT COUNT(*) FROM submissions WHERE participant = 'bob' "
                                   "AND phase_id IN (70, 71) AND challenge_id = 7"), [(128,)])
        # Sizes come from storage where it has the file; the rest stay unknown (pending).
        sized = self.ours("SELECT a.size_bytes FROM artifacts a WHERE a.storage_key = ?",
                          ("media/submission_files/submission_1001/input_file.txt",))
        self.assertEqual(sized, [(10,)])
        unknown = self.ours("SELECT COUNT(*) FROM artifact_sizes_pending")[0][0]
        self.assertEqual(unknown, r["sizes_unknown"])
        self.assertGreater(unknown, 0)
        status = self.ws.json("status")
        self.assertEqual(status["overall"]["artifacts_size_unknown"], unknown)
        self.assertIn("(and %d artifacts of unknown size)" % unknown,
                      self.ws.run("status", check=0).stdout)
        # A later sync fills in what storage knows by then.
        key = "media/submission_files/submission_1002/submission_input_file.txt"
        self.ws.put_artifact(key, b"z" * 33)
        r = self.sync()
        self.assertEqual((r["sizes_filled"], r["sizes_unknown"]), (1, unknown - 1))
        self.assertEqual(self.ours("SELECT size_bytes FROM artifacts WHERE storage_key = ?",
                                   (key,)), [(33,)])

    def test_second_sync_changes_nothing_and_says_so(self):
        self.sync()
        before = self.ws.dump()
        r = self.sync()
        self.assertFalse(r["full"])
        self.assert_nothing_changed(r)
        self.assertEqual(self.ws.dump(), before)
        text = self.ws.run("sync", "evalai", check=0).stdout
        self.assertIn("nothing changed", text)
        self.assertIn("submissions: 0 added, 0 changed", text)
        # A full pass finds nothing either.
        r = self.sync("--full")
        self.assert_nothing_changed(r)
        self.assertEqual(r["tables"]["submissions"]["unchanged"], 128)
        self.assertEqual(r["tables"]["submissions"]["gone"], 0)

    def test_dry_run_reports_and_changes_nothing(self):
        self.ws.run("status", check=0)  # migrated
        before = self.ws.dump()
        r = self.sync("--dry-run")
        self.assertTrue(r["dry_run"])
        self.assertEqual(r["tables"]["submissions"]["added"], 128)
        self.assertEqual(r["tables"]["host_team_members"]["added"], 3)
        self.assertEqual(self.ws.dump(), before)

    def test_job_exists_only_with_evalai_url(self):
        names = [j["name"] for j in self.ws.json("jobs", "list")["jobs"]]
        self.assertIn("sync_evalai", names)
        p = self.ws.run("--json", "jobs", "list", env={"RETENTION_EVALAI_DB": ""})
        names = [j["name"] for j in json.loads(p.stdout)["jobs"]]
        self.assertNotIn("sync_evalai", names)
        run = self.ws.json("jobs", "run", "sync_evalai")
        self.assertEqual(run["status"], "succeeded")
        self.assertEqual(run["result"]["tables"]["submissions"]["added"], 128)


class ChangeTests(SyncTestBase):
    def test_changes_are_reflected_exactly(self):
        self.sync()
        self.ws.run("consent", "7", "dave", check=0)
        eligible = self.ours("SELECT retention_eligible_date FROM submissions WHERE id = 1000")
        self.assertEqual(eligible, [(1767225600 + 30 * 86400,)])
        self.assertEqual(self.ours("SELECT COUNT(*) FROM submissions WHERE phase_id = 71 AND "
                                   "retention_eligible_date IS NOT NULL"), [(0,)])
        ev = self.ev
        ev.exec("UPDATE challenge_phase SET end_date = '2026-02-01T00:00:00Z', "
                "modified_at = now() WHERE id = 70")
        ev.exec("UPDATE challenge_phase SET is_public = false, modified_at = now() WHERE id = 71")
        ev.exec("UPDATE challenge_host SET status = 'Accepted', modified_at = now() "
                "WHERE id = %s", (ev.host_id["carol"],))
        ev.exec("UPDATE challenge_host SET status = 'Denied', modified_at = now() "
                "WHERE id = %s", (ev.host_id["alice"],))
        ev.add_submission(2000, 70, 0b0000101, self.ws)
        ev.add_submission(2001, 71, 0b1111111, self.ws)
        r = self.sync()
        t = r["tables"]
        self.assertEqual((t["phases"]["changed"], t["phases"]["added"]), (2, 0))
        self.assertEqual((t["host_team_members"]["changed"], t["host_team_members"]["added"]),
                         (2, 0))
        self.assertEqual((t["submissions"]["added"], t["submissions"]["changed"]), (2, 0))
        self.assertEqual(t["artifacts"]["added"], 2 + 7)
        members = dict(self.ours("SELECT u.username, m.status FROM host_team_members m "
                                 "JOIN users u ON u.id = m.user_id"))
        self.assertEqual(members, {"dave": "accepted", "carol": "accepted"})
        # R3: the new end date and the phase made private moved the eligible dates at once.
        feb = 1769904000
        self.assertEqual(self.ours("SELECT DISTINCT retention_eligible_date FROM submissions "
                                   "WHERE phase_id = 70"), [(feb + 30 * 86400,)])
        self.assertEqual(self.ours("SELECT DISTINCT retention_eligible_date FROM submissions "
                                   "WHERE phase_id = 71"), [(1767225600 + 30 * 86400,)])
        self.assertEqual(self.ours("SELECT kind FROM artifacts WHERE submission_id = 2000 "
                                   "ORDER BY kind"),
                         [("input_file",), ("stdout_file",)])
        # A row deleted in EvalAI is kept here and reported by the next full pass.
        ev.exec("DELETE FROM submission WHERE id = 1005")
        ev.exec("DELETE FROM challenge_host WHERE id = %s", (ev.host_id["dave"],))
        r = self.sync()
        self.assert_nothing_changed(r)
        self.assertEqual(r["tables"]["submissions"]["gone"], 0)  # incremental: not looked for
        r = self.sync("--full")
        self.assert_nothing_changed(r)
        self.assertEqual(r["tables"]["submissions"]["gone"], 1)
        self.assertEqual(r["tables"]["submissions"]["gone_ids"], [1005])
        self.assertEqual(r["tables"]["host_team_members"]["gone"], 1)
        self.assertEqual(self.ours("SELECT m.status FROM host_team_members m JOIN users u ON "
                                   "u.id = m.user_id WHERE u.username = 'dave'"), [("accepted",)])
        self.assertEqual(self.ours("SELECT COUNT(*) FROM submissions WHERE id = 1005"), [(1,)])
        text = self.ws.run("sync", "evalai", "--full", check=0).stdout
        self.assertIn("submissions: 0 added, 0 changed, 129 unchanged, 1 gone (kept), "
                      "gone ids: 1005", text)

    def test_a_baseline_in_evalai_is_kept_here_at_once(self):
        """R10: EvalAI's is_baseline keeps a submission (no eligible date) until it is unset."""
        self.sync()
        self.ws.run("consent", "7", "dave", check=0)
        dated = self.ours("SELECT retention_eligible_date FROM submissions WHERE id = 1000")
        self.assertIsNotNone(dated[0][0])
        self.ev.exec("UPDATE submission SET is_baseline = true, modified_at = now() WHERE id = 1000")
        r = self.sync()
        self.assertEqual(r["tables"]["submissions"]["changed"], 1)
        self.assertEqual(self.ours("SELECT is_baseline, kept, retention_eligible_date FROM "
                                   "submissions WHERE id = 1000"), [(1, 1, None)])
        self.ev.exec("UPDATE submission SET is_baseline = false, modified_at = now() "
                     "WHERE id = 1000")
        self.sync()
        self.assertEqual(self.ours("SELECT is_baseline, kept, retention_eligible_date FROM "
                                   "submissions WHERE id = 1000"), [(0, 0, dated[0][0])])


class ConsentImportTests(SyncTestBase):
    def test_consent_in_evalai_becomes_one_imported_grant_once(self):
        ev = self.ev
        ev.exec("UPDATE challenge SET retention_policy_consent = true, "
                "retention_policy_consent_date = '2026-01-05T00:00:00Z', "
                "retention_policy_consent_by_id = %s, retention_policy_notes = 'from evalai', "
                "log_retention_days_override = 60 WHERE id = 7", (ev.user_id["alice"],))
        r = self.sync()
        self.assertTrue(r["retention_columns"])
        self.assertEqual((r["consents_imported"], r["overrides_imported"]), (1, 1))
        self.assertEqual(self.ours("SELECT retention_policy_consent, "
                                   "retention_policy_consent_date, retention_policy_notes, "
                                   "log_retention_days_override FROM challenges WHERE id = 7"),
                         [(1, 1767571200, "from evalai", 60)])
        self.assertEqual(self.ours("SELECT DISTINCT retention_eligible_date FROM submissions "
                                   "WHERE phase_id = 70"), [(1767225600 + 60 * 86400,)])
        events = self.ws.json("audit", "list", "--challenge-id", "7", "--format", "json")
        events = events if isinstance(events, list) else events.get("events", events)
        imported = [e for e in events if e["action"] == "imported"]
        self.assertEqual(len(imported), 1)
        self.assertEqual(imported[0]["actor"], "alice")
        self.assertEqual(len([e for e in events if e["action"] == "override_set"]), 1)
        # Afterwards consent is ours: a withdrawal here stands against EvalAI's column.
        self.ws.run("consent", "7", "alice", "--withdraw", check=0)
        ev.exec("UPDATE challenge SET modified_at = now() WHERE id = 7")
        for args in ((), ("--full",)):
            r = self.sync(*args)
            self.assertEqual((r["consents_imported"], r["overrides_imported"]), (0, 0))
        self.assertEqual(self.ours("SELECT retention_policy_consent FROM challenges "
                                   "WHERE id = 7"), [(0,)])
        self.assertEqual(self.ours("SELECT COUNT(*) FROM audit_events WHERE action = "
                                   "'imported' AND challenge_id = 7"), [(1,)])
        self.assertEqual(self.ws.json("audit", "verify")["ok"], True)


class WriteBackTests(SyncTestBase):
    def test_write_back_sets_evalai_columns_for_exactly_the_swept_submissions(self):
        ev = self.ev
        self.sync()
        self.ws.run("consent", "7", "alice", check=0)
        env = {}
        config = self.ws.write("config.toml", "[evalai]\nwrite_back = true\n")
        # First sweep while EvalAI cannot be reached: the sweep succeeds, the write-back waits.
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            dead = "postgresql://postgres@127.0.0.1:%d/x" % s.getsockname()[1]
        p = self.ws.run("--config", config, "cleanup", check=0,
                        env=dict(env, RETENTION_EVALAI_DB=dead))
        self.assertIn("warning: evalai write-back", p.stderr)
        swept = {r[0] for r in self.ours("SELECT id FROM submissions WHERE "
                                         "is_artifact_deleted = 1")}
        self.assertTrue(swept)
        self.assertEqual(ev.rows("SELECT COUNT(*) FROM submission WHERE is_artifact_deleted"),
                         [(0,)])
        # The next sync (or sweep) with EvalAI back writes them, in batches, exactly those.
        r = self.ws.json("--config", config, "sync", "evalai")
        self.assertEqual(r["write_back"]["written"], len(swept))
        self.assertIsNone(r["write_back"]["error"])
        marked = {row[0] for row in ev.rows("SELECT id FROM submission WHERE "
                                            "is_artifact_deleted")}
        self.assertEqual(marked, swept)
        dates = ev.rows("SELECT DISTINCT floor(extract(epoch from artifact_deletion_date))::bigint"
                        " FROM submission WHERE is_artifact_deleted")
        ours = self.ours("SELECT DISTINCT artifact_deletion_date FROM submissions WHERE "
                         "is_artifact_deleted = 1")
        self.assertEqual(sorted(d[0] for d in dates), sorted(d[0] for d in ours))
        # Swept: every submission of the private phase 70 (one without files too: nothing of it
        # is left); none of the public phase 71.
        expected = {sid for sid in ev.expected if sid % 2 == 0}
        self.assertEqual(swept, expected)
        p = self.ws.run("--config", config, "cleanup", check=0)
        self.assertIn("evalai write-back: 0 submissions", p.stdout)


class ShippedEvalaiTests(SyncTestBase):
    fixture_args = {"retention_columns": False, "write_back_columns": False}

    def test_evalai_without_retention_columns_syncs(self):
        r = self.sync()
        self.assertFalse(r["retention_columns"])
        self.assertFalse(r["write_back_columns"])
        self.assertEqual(r["tables"]["submissions"]["added"], 128)
        self.assertEqual(r["consents_imported"], 0)
        self.assert_nothing_changed(self.sync())
        self.ws.run("consent", "7", "alice", check=0)
        config = self.ws.write("config.toml", "[evalai]\nwrite_back = true\n")
        p = self.ws.run("--config", config, "cleanup", check=0)
        self.assertNotIn("warning", p.stderr)
        r = self.ws.json("--config", config, "sync", "evalai")
        self.assertEqual(r["write_back"], {"columns": False, "written": 0, "pending": 0,
                                           "error": None})


class BadInputTests(SyncTestBase):
    fixture_args = {"submissions": False}

    def assert_refused(self, env, code, *needles):
        self.ws.run("status", check=0)
        before = self.ws.dump()
        p = self.ws.run("sync", "evalai", check=code, env=env)
        for n in needles:
            self.assertIn(n, p.stderr)
        self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
        self.assertEqual(self.ws.dump(), before)

    def test_unreachable_database(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            url = "postgresql://postgres@127.0.0.1:%d/evalai" % s.getsockname()[1]
        self.assert_refused({"RETENTION_EVALAI_DB": url}, 1, "evalai database")

    def test_wrong_database(self):
        self.assert_refused({"RETENTION_EVALAI_DB": SERVER.url}, 1,
                            "table auth_user is missing")

    def test_missing_table(self):
        self.ev.exec("DROP TABLE submission")
        self.assert_refused({}, 1, "evalai database: table submission is missing")

    def test_column_of_unexpected_type(self):
        self.ev.exec("ALTER TABLE challenge_phase ALTER COLUMN end_date TYPE integer USING 0")
        self.assert_refused({}, 1, "evalai table challenge_phase: column end_date is integer, "
                                   "expected a timestamp")

    def test_bad_url_and_no_url(self):
        self.assert_refused({"RETENTION_EVALAI_DB": "mysql://x/y"}, 2, "evalai.url")
        self.assert_refused({"RETENTION_EVALAI_DB": ""}, 2, "evalai.url is not set")


class StoreOnPostgresqlTests(SyncTestBase):
    """The same sync into a store on PostgreSQL (the SQL of our side runs on both engines)."""

    def test_sync_into_postgresql_store(self):
        self.ws.env["RETENTION_DB"] = create_database()
        r = self.sync()
        self.assertEqual(r["tables"]["submissions"]["added"], 128)
        self.assert_nothing_changed(self.sync())
        self.ws.run("consent", "7", "alice", check=0)
        self.ev.exec("UPDATE challenge_phase SET end_date = '2026-02-01T00:00:00Z', "
                     "modified_at = now() WHERE id = 70")
        r = self.sync()
        self.assertEqual(r["tables"]["phases"]["changed"], 1)
        status = self.ws.json("status", "--challenge-id", "7")
        phases = {p["id"]: p for p in status["challenges"][0]["phases"]}
        self.assertEqual(phases[70]["end_date"], "2026-02-01T00:00:00Z")
        self.assertEqual(status["challenges"][0]["submissions"]["total"], 128)


if __name__ == "__main__":
    unittest.main()
