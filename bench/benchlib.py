"""Helpers shared by bench/scale.py and bench/writer_latency.py (stdlib only)."""
import math
import os
import shutil
import sqlite3
import subprocess
import sys
import time

NOW_ISO = "2027-06-01T00:00:00Z"


class StepFailed(Exception):
    pass


def product_env(db, storage, logs, extra=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("RETENTION_")}
    env.update({
        "RETENTION_DB": "sqlite://" + os.path.abspath(db),
        "RETENTION_STORAGE": "file://" + os.path.abspath(storage),
        "RETENTION_LOGS": "file://" + os.path.abspath(logs),
        "RETENTION_FAKE_NOW": NOW_ISO,
        "RETENTION_NOTICE_DAYS": "0",
    })
    if extra:
        env.update(extra)
    return env


class Measure(tuple):
    """(seconds, peak RSS in KiB, CPU seconds): wall time, memory and user+system time of one run.
    CPU time barely moves when other work shares the machine, wall time does: ratios of both are
    printed, and a step and its floor are measured turn about (see bench/scale.py)."""
    __slots__ = ()

    def __new__(cls, secs, rss, cpu):
        return super().__new__(cls, (secs, rss, cpu))

    secs = property(lambda self: self[0])
    rss = property(lambda self: self[1])
    cpu = property(lambda self: self[2])


def run(bin_path, args, env, stdout=subprocess.DEVNULL, label=None, quiet=False):
    """Runs the product once; returns a Measure. Raises StepFailed on exit != 0.

    Peak RSS and CPU time come from /usr/bin/time -f "%M %U %S"; without it, from wait4()'s
    rusage of the child, where the RSS is only an upper bound: Linux keeps a forked child's
    pre-exec peak across execve, so the figure is at least the size of this Python process."""
    label = label or " ".join(args)
    cmd = [bin_path] + list(args)
    rss_file = None
    if os.access("/usr/bin/time", os.X_OK):
        rss_file = "%s/.bench-rss-%d" % (os.environ.get("TMPDIR") or "/tmp", os.getpid())
        cmd = ["/usr/bin/time", "-f", "%M %U %S", "-o", rss_file] + cmd
    t = time.perf_counter()
    p = subprocess.Popen(cmd, env=env, stdout=stdout, stderr=subprocess.PIPE)
    err = p.stderr.read()
    _, status, usage = os.wait4(p.pid, 0)
    secs = time.perf_counter() - t
    p.returncode = os.waitstatus_to_exitcode(status)
    p.stderr.close()
    rss, cpu = usage.ru_maxrss, usage.ru_utime + usage.ru_stime
    if rss_file:
        with open(rss_file) as f:
            fields = f.read().split()[-3:]
        rss, cpu = int(fields[0]), float(fields[1]) + float(fields[2])
        os.unlink(rss_file)
    if p.returncode != 0:
        sys.stderr.write(err.decode(errors="replace"))
        raise StepFailed("%s: exit %d" % (label, p.returncode))
    if not quiet:
        print("  %-36s %9.2f s %9.1f MiB %7.2f s cpu" % (label, secs, rss / 1024, cpu), flush=True)
    return Measure(secs, rss, cpu)


def connect(path):
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute("PRAGMA foreign_keys=ON")
    return con


def copy_db(src, dst):
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(dst + suffix):
            os.unlink(dst + suffix)
    s = sqlite3.connect(src)
    d = sqlite3.connect(dst)
    s.backup(d)
    d.close()
    s.close()


ELIGIBLE_NOW = ("s.retention_eligible_date IS NOT NULL AND s.is_artifact_deleted = 0 "
                "AND s.retention_eligible_date <= ?")


def eligible_keys(con, now):
    return con.execute("SELECT s.id, a.storage_key FROM submissions s JOIN artifacts a "
                       "ON a.submission_id = s.id WHERE " + ELIGIBLE_NOW +
                       " ORDER BY s.id, a.id", (now,)).fetchall()


def restore_files(db, root, now, data=b"r" * 100):
    """(Re)creates the files of every submission eligible at `now` (what a sweep deletes)."""
    con = sqlite3.connect(db)
    n = 0
    made = set()
    for _, key in eligible_keys(con, now):
        path = os.path.join(root, key)
        d = os.path.dirname(path)
        if d not in made:
            os.makedirs(d, exist_ok=True)
            made.add(d)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.write(fd, data)
        os.close(fd)
        n += 1
    con.close()
    return n


def percentile(values, p):
    if not values:
        return float("nan")
    v = sorted(values)
    return v[max(0, math.ceil(p / 100 * len(v)) - 1)]


def verdict(ok):
    return "PASS" if ok else "MISS"


def fs_type(path):
    path = os.path.realpath(path)
    best, kind = "", "?"
    with open("/proc/mounts") as f:
        for line in f:
            parts = line.split()
            mnt, typ = parts[1], parts[2]
            if (path == mnt or path.startswith(mnt.rstrip("/") + "/")) and len(mnt) >= len(best):
                best, kind = mnt, typ
    return kind


def remove_tree(path):
    shutil.rmtree(path, ignore_errors=True)
