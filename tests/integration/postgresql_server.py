"""A throwaway PostgreSQL 15 for a run of the integration tests, and a fresh database per test.

`python3 postgresql_server.py MODULE...` starts a server (initdb --no-sync into a temp folder
owned by `postgres` when run as root, fsync off, a free loopback port, its socket in that folder),
runs `python3 -m unittest -v MODULE...` with RETENTION_DB set to the server's URL, then stops the
server. helpers.Workspace sees that URL and creates a database of its own on that server. A
server that cannot start fails the run with initdb's or pg_ctl's output.
"""
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile

BIN_DIR = "/usr/lib/postgresql/15/bin"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="retention-it-pg-")
        self.data = os.path.join(self.dir, "data")
        self.log = os.path.join(self.dir, "server.log")
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self._run([BIN_DIR + "/initdb", "-D", self.data, "--no-sync", "-U", "postgres",
                   "--auth=trust", "-E", "UTF8", "--locale=C"])
        for attempt in range(3):
            self.port = _free_port()
            options = ("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off "
                       "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
                       % (self.port, self.dir))
            try:
                self._run([BIN_DIR + "/pg_ctl", "-D", self.data, "-w", "-l", self.log, "-o",
                           options, "start"])
                break
            except RuntimeError:
                if attempt == 2:
                    raise
        self.url = "postgresql://postgres@127.0.0.1:%d/postgres" % self.port

    def _run(self, argv):
        if self.as_postgres:
            argv = ["/usr/sbin/runuser", "-u", "postgres", "--"] + argv
        p = subprocess.run(argv, capture_output=True, text=True)
        if p.returncode != 0:
            log = ""
            if os.path.exists(self.log):
                with open(self.log) as f:
                    log = f.read()[-2000:]
            raise RuntimeError("postgresql test server: %s failed: %s%s%s" % (
                os.path.basename(argv[-1] if argv[-1] == "start" else argv[0]), p.stdout,
                p.stderr, log))

    def stop(self):
        try:
            self._run([BIN_DIR + "/pg_ctl", "-D", self.data, "-m", "immediate", "stop"])
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


def restart_postgresql():
    """Restarts the server this run started (pg_ctl restart -m fast: connections are cut)."""
    argv = [BIN_DIR + "/pg_ctl", "-D", os.environ["RETENTION_PG_DATA"], "-w", "-m", "fast",
            "-l", os.path.join(os.path.dirname(os.environ["RETENTION_PG_DATA"]), "server.log"),
            "restart"]
    if os.environ.get("RETENTION_PG_AS_POSTGRES"):
        argv = ["/usr/sbin/runuser", "-u", "postgres", "--"] + argv
    subprocess.run(argv, capture_output=True, check=True)


def main(modules):
    server = Server()
    try:
        # RETENTION_PG_DATA (and RETENTION_PG_AS_POSTGRES) let a test restart the server
        # (restart_postgresql below).
        env = dict(os.environ, RETENTION_DB=server.url, RETENTION_PG_DATA=server.data,
                   RETENTION_PG_AS_POSTGRES="1" if server.as_postgres else "")
        return subprocess.run([sys.executable, "-m", "unittest", "-v", *modules],
                              env=env).returncode
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
