"""Shared helpers for whole-process tests: a temp workspace with its own database, artifact
folder and log folder, the real binary, and a generator of import files with real artifact files.
"""
import datetime as dt
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
import unittest
import uuid

from storage_helpers import is_s3, open_storage  # noqa: F401 (is_s3 for the tests)

BIN = os.environ.get("RETENTION_BIN") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "apps", "retention", "retention")
SOURCE_DIR = os.environ.get("RETENTION_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))

NOW = "2026-06-01T00:00:00Z"

# A postgresql:// URL here (set by postgresql_server.py) runs every Workspace on that server, in
# a database of its own; otherwise each Workspace has a SQLite file.
POSTGRESQL_SERVER = os.environ.get("RETENTION_DB", "")
if not POSTGRESQL_SERVER.startswith(("postgresql://", "postgres://")):
    POSTGRESQL_SERVER = ""


def _postgresql_connect(url):
    import psycopg2  # Debian's python3-psycopg2; needed only for runs on PostgreSQL
    return psycopg2.connect(url)


def _postgresql_sql(query):
    """sqlite3's `?` placeholders as psycopg2's `%s` (the tests' SQL has no `?` or `%` in
    literals)."""
    return query.replace("%", "%%").replace("?", "%s")


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse(s):
    return dt.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)


def days_before(n, now=NOW):
    return iso(parse(now) - dt.timedelta(days=n))


class Workspace:
    """A temp folder with db, artifacts and logs, and a way to run the CLI against it."""

    def __init__(self, now=NOW, notice_days=0, extra_env=None):
        self.dir = tempfile.mkdtemp(prefix="retention-it-")
        self.db = os.path.join(self.dir, "retention.db")
        self.db_url = "sqlite://" + self.db
        if POSTGRESQL_SERVER:
            name = "it_" + uuid.uuid4().hex[:12]
            admin = _postgresql_connect(POSTGRESQL_SERVER)
            admin.autocommit = True
            with admin.cursor() as cur:
                cur.execute("CREATE DATABASE %s STRATEGY = FILE_COPY" % name)
            admin.close()
            self.db_url = POSTGRESQL_SERVER.rsplit("/", 1)[0] + "/" + name
        self.artifacts = os.path.join(self.dir, "artifacts")
        os.makedirs(self.artifacts)
        self.env = dict(os.environ)
        self.env.update({
            "RETENTION_DB": self.db_url,
            "RETENTION_STORAGE": "file://" + self.artifacts,
            "RETENTION_LOGS": "file://" + os.path.join(self.dir, "logs"),
            "RETENTION_NOTICE_DAYS": str(notice_days),
        })
        if now:
            self.env["RETENTION_FAKE_NOW"] = now
        # RETENTION_STORAGE=s3://... puts the artifacts in a fresh prefix of that bucket.
        self.storage = open_storage(self.artifacts)
        self.env["RETENTION_STORAGE"] = self.storage.url
        if extra_env:
            self.env.update(extra_env)

    def put_artifact(self, key, data):
        self.storage.put(key, data)

    def remove_artifact(self, key):
        self.storage.remove(key)

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)
        if POSTGRESQL_SERVER:
            admin = _postgresql_connect(POSTGRESQL_SERVER)
            admin.autocommit = True
            with admin.cursor() as cur:
                cur.execute("DROP DATABASE IF EXISTS %s WITH (FORCE)"
                            % self.db_url.rsplit("/", 1)[1])
            admin.close()

    def run(self, *args, check=None, input=None, env=None):
        e = dict(self.env)
        if env:
            e.update(env)
        p = subprocess.run([BIN, *args], capture_output=True, text=True, env=e, input=input,
                           timeout=300)
        if check is not None and p.returncode != check:
            raise AssertionError("%s exited %d, wanted %d\nstdout: %s\nstderr: %s" % (
                " ".join(args), p.returncode, check, p.stdout, p.stderr))
        return p

    def peak_rss_mib(self, *args):
        """Runs the CLI to its end and returns (exit code, its peak RSS in MiB). A small parent
        process starts it: Linux keeps a child's pre-exec peak across execve, so a child forked
        from this (large) test process would report this process's size."""
        probe = ("import os, subprocess, sys\n"
                 "p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, "
                 "stderr=subprocess.DEVNULL)\n"
                 "_, st, ru = os.wait4(p.pid, 0)\n"
                 "print(os.waitstatus_to_exitcode(st), ru.ru_maxrss)\n")
        p = subprocess.run(["/usr/bin/python3", "-c", probe, BIN, *args], capture_output=True,
                           text=True, env=self.env, timeout=300, check=True)
        code, kib = p.stdout.split()
        return int(code), int(kib) / 1024

    def json(self, *args, check=0):
        p = self.run("--json", *args, check=check)
        return json.loads(p.stdout)

    def write(self, name, data):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            if isinstance(data, str):
                f.write(data)
            else:
                json.dump(data, f, indent=1)
        return path

    def sql(self, query, params=()):
        if POSTGRESQL_SERVER:
            con = _postgresql_connect(self.db_url)
            try:
                with con.cursor() as cur:
                    cur.execute(_postgresql_sql(query), tuple(params))
                    rows = [tuple(r) for r in cur.fetchall()] if cur.description else []
                con.commit()
                return rows
            finally:
                con.close()
        con = sqlite3.connect(self.db)
        try:
            cur = con.execute(query, params)
            rows = cur.fetchall()
            con.commit()
            return rows
        finally:
            con.close()

    def _postgresql_dump(self):
        """Every table's rows in the order of all their columns (PostgreSQL keeps no stable
        physical order)."""
        con = _postgresql_connect(self.db_url)
        try:
            with con.cursor() as cur:
                cur.execute("SELECT table_name FROM information_schema.tables WHERE "
                            "table_schema = 'public' ORDER BY table_name")
                lines = []
                for (table,) in cur.fetchall():
                    cur.execute("SELECT * FROM %s" % table)
                    rows = sorted(repr(tuple(r)) for r in cur.fetchall())
                    lines += ["%s %s" % (table, r) for r in rows]
                return lines
        finally:
            con.close()

    def dump(self):
        """The whole database as text plus the artifact keys, to compare states."""
        if POSTGRESQL_SERVER:
            lines = self._postgresql_dump()
        else:
            con = sqlite3.connect(self.db)
            try:
                lines = list(con.iterdump())
            finally:
                con.close()
        return "\n".join(lines), self.storage.keys()

    def files(self):
        return self.dump()[1]

    def import_data(self, data):
        path = self.write("import.json", data)
        return self.run("import", path, check=0)


class DataSet:
    """Builds an import file and writes its artifact files into a workspace."""

    def __init__(self, ws):
        self.ws = ws
        self.users = [
            {"username": "alice", "email": "alice@example.org", "token": "alice-token-123"},
            {"username": "dave", "email": "dave@example.org"},
            {"username": "carol", "email": "carol@example.org"},
            {"username": "bob", "email": "bob@example.org", "token": "bob-token-1234"},
            {"username": "admin", "email": "admin@example.org", "is_admin": True,
             "token": "admin-token-123"},
        ]
        self.teams = [{"id": 1, "name": "Vision Lab", "members": [
            {"username": "alice", "status": "accepted"},
            {"username": "dave", "status": "accepted"},
            {"username": "carol", "status": "pending"}]}]
        self.challenges = []
        self.next_submission = 100
        self.next_phase = 10

    def challenge(self, cid, consent=True, **kw):
        c = {"id": cid, "title": "Challenge %d" % cid, "host_team": 1, "approved": True,
             "inform_hosts": True, "start_date": days_before(200), "phases": []}
        if consent:
            c["consent"] = {"by": "alice", "at": days_before(150), "notes": "ok"}
        c.update(kw)
        self.challenges.append(c)
        return c

    def phase(self, challenge, end_days_ago, is_public=False, submissions=2, artifacts=2,
              size=1000):
        pid = self.next_phase
        self.next_phase += 1
        p = {"id": pid, "name": "Phase %d" % pid, "start_date": days_before(300),
             "end_date": days_before(end_days_ago) if end_days_ago is not None else None,
             "is_public": is_public, "submissions": []}
        kinds = ["input_file", "stdout_file", "stderr_file", "submission_result_file"]
        for _ in range(submissions):
            sid = self.next_submission
            self.next_submission += 1
            arts = []
            for k in range(artifacts):
                key = "submissions/%d/%s.bin" % (sid, kinds[k % len(kinds)])
                self.ws.put_artifact(key, b"x" * size)
                arts.append({"kind": kinds[k % len(kinds)], "key": key, "size": size})
            p["submissions"].append({"id": sid, "participant": "bob",
                                     "submitted_at": days_before(250), "status": "finished",
                                     "artifacts": arts})
        challenge["phases"].append(p)
        return p

    def data(self):
        return {"users": self.users, "host_teams": self.teams, "challenges": self.challenges}

    def load(self):
        return self.ws.import_data(self.data())


def local_storage_only(why):
    """Skips a test when the artifacts are on S3 (RETENTION_STORAGE=s3://...), saying why."""
    return unittest.skipIf(is_s3(), "local storage only: " + why)


class WorkspaceTest(unittest.TestCase):
    notice_days = 0

    def setUp(self):
        self.ws = Workspace(notice_days=self.notice_days)
        self.addCleanup(self.ws.close)
        self.data = DataSet(self.ws)
