#!/usr/bin/env python3
"""Writer latency during a sweep (R5: a writer waits for one bounded batch at most).

(a) in-process: `retention serve` runs the sweep (POST /api/jobs/cleanup_expired_submission_
    artifacts/run) while, every 100 ms, one request alternates between a legal hold
    (POST /api/challenges/{id}/hold, admin) and a consent change
    (POST /api/challenges/{id}/update-retention-consent/, host), each on a challenge being swept:
    hold X, withdraw Y, release X, re-grant Y, then the next two challenges.
(b) cross-process: `retention cleanup` runs while separate processes run
    `retention hold set|release --challenge-id ID --reason bench` every 100 ms
    (set X, set Y, release X, release Y, ...); reported as wall time, the same command's idle
    time, and the difference.
Targets: p99 <= 1 s, max <= 2 s. Each run starts from a copy of the database with every
eligible file restored.

  writer_latency.py --bin BIN --db PRE_SWEEP.db --storage DIR [--work DIR]   (from scale.py)
  writer_latency.py [--bin BIN] [--size N]       (alone: builds shape A of N, default 1000000)
"""
import argparse
import http.client
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402
import make_scale_data as data  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
from api_helpers import free_port  # noqa: E402

NOW = data.parse_time(bl.NOW_ISO)


def swept_challenges(db):
    con = sqlite3.connect(db)
    ids = [r[0] for r in con.execute(
        "SELECT DISTINCT s.challenge_id FROM submissions s WHERE " + bl.ELIGIBLE_NOW +
        " ORDER BY 1", (NOW,))]
    con.close()
    return ids


def deleted_count(db):
    con = sqlite3.connect(db)
    n = con.execute("SELECT COUNT(*) FROM submissions WHERE is_artifact_deleted = 1").fetchone()[0]
    con.close()
    return n


def summary(label, values, targets=True):
    if not values:
        print("    %-34s no samples" % label)
        return True
    p50, p99, mx = (bl.percentile(values, 50), bl.percentile(values, 99), max(values))
    ok = p99 <= 1.0 and mx <= 2.0
    print("    %-34s n=%4d  p50 %6.3f s  p99 %6.3f s  max %6.3f s%s" % (
        label, len(values), p50, p99, mx,
        ("   p99<=1 %s, max<=2 %s" % (bl.verdict(p99 <= 1.0), bl.verdict(mx <= 2.0)))
        if targets else ""))
    return ok


def prepare(src, storage, work, name):
    db = os.path.join(work, "wl-%s.db" % name)
    bl.copy_db(src, db)
    t = time.perf_counter()
    files = bl.restore_files(db, storage, NOW)
    print("    (%s: copied the database, restored %d files in %.0f s)" %
          (name, files, time.perf_counter() - t), flush=True)
    return db


def in_process(bin_path, src, storage, work, interval):
    db = prepare(src, storage, work, "api")
    port = free_port()
    env = bl.product_env(db, storage, work + "/logs-api",
                         {"RETENTION_CONSENT_RATE_PER_MINUTE": "1000000"})
    log = open(os.path.join(work, "serve.log"), "wb")
    srv = subprocess.Popen([bin_path, "serve", "--listen", "127.0.0.1:%d" % port], env=env,
                           stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 60
        while True:
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                c.request("GET", "/healthz")
                if c.getresponse().status == 200:
                    break
            except OSError:
                pass
            if srv.poll() is not None or time.time() > deadline:
                raise bl.StepFailed("retention serve did not start (see %s/serve.log)" % work)
            time.sleep(0.1)
        admin = {"Authorization": "Token " + data.ADMIN_TOKEN,
                 "Content-Type": "application/json"}
        host = {"Authorization": "Token " + data.HOST_TOKEN, "Content-Type": "application/json"}
        sweep = {}

        def run_sweep():
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=7200)
            t = time.perf_counter()
            c.request("POST", "/api/jobs/cleanup_expired_submission_artifacts/run", body="{}",
                      headers=admin)
            resp = c.getresponse()
            sweep["body"] = resp.read()
            sweep["status"] = resp.status
            sweep["secs"] = time.perf_counter() - t
        th = threading.Thread(target=run_sweep)
        chs = swept_challenges(db)
        th.start()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        lat = {"hold": [], "consent": []}
        bad = []
        i, j = 0, 0
        next_at = time.perf_counter() + interval
        while th.is_alive():
            pause = next_at - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            next_at += interval
            if not th.is_alive():
                break
            x, y = chs[j % len(chs)], chs[(j + 1) % len(chs)]
            kind, path, body, hdr = [
                ("hold", "/api/challenges/%d/hold" % x, {"hold": True, "reason": "bench"}, admin),
                ("consent", "/api/challenges/%d/update-retention-consent/" % y,
                 {"consent": False}, host),
                ("hold", "/api/challenges/%d/hold" % x, {"hold": False, "reason": "bench"}, admin),
                ("consent", "/api/challenges/%d/update-retention-consent/" % y,
                 {"consent": True}, host)][i % 4]
            t = time.perf_counter()
            conn.request("POST", path, body=json.dumps(body), headers=hdr)
            resp = conn.getresponse()
            payload = resp.read()
            lat[kind].append(time.perf_counter() - t)
            if resp.status != 200:
                bad.append((path, resp.status, payload[:200]))
            i += 1
            if i % 4 == 0:
                j += 2
        th.join()
    finally:
        srv.terminate()
        try:
            srv.wait(30)
        except subprocess.TimeoutExpired:
            srv.kill()
            srv.wait()
        log.close()
    if sweep.get("status") != 200:
        raise bl.StepFailed("job run answered %s: %s" % (sweep.get("status"),
                                                         sweep.get("body", b"")[:300]))
    print("    (a) in-process: sweep via the job API took %.1f s, deleted %d submissions; "
          "%d writes" % (sweep["secs"], deleted_count(db), sum(map(len, lat.values()))))
    ok = summary("all writes (hold + consent)", lat["hold"] + lat["consent"])
    summary("  hold / release (admin)", lat["hold"], targets=False)
    summary("  withdraw / re-grant (host)", lat["consent"], targets=False)
    if bad:
        for b in bad[:5]:
            print("    FAILED write: %s -> %s %s" % b)
        raise bl.StepFailed("%d writes failed during the in-process sweep" % len(bad))
    os.unlink(db)
    return ok


def cross_process(bin_path, src, storage, work, interval):
    db = prepare(src, storage, work, "cli")
    env = bl.product_env(db, storage, work + "/logs-cli")
    chs = swept_challenges(db)

    def cmd(verb, ch):
        return [bin_path, "hold", verb, "--challenge-id", str(ch), "--reason", "bench"]

    def timed(args):
        t = time.perf_counter()
        p = subprocess.run(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        secs = time.perf_counter() - t
        if p.returncode != 0:
            raise bl.StepFailed("%s: exit %d: %s" % (" ".join(args[1:]), p.returncode,
                                                     p.stderr.decode(errors="replace").strip()))
        return secs
    idle = []
    for k in range(10):   # idle baseline on a challenge the sweep does not touch
        idle.append(timed(cmd("set", 2)))
        idle.append(timed(cmd("release", 2)))
    base = statistics.median(idle)
    t0 = time.perf_counter()
    sweep = subprocess.Popen([bin_path, "cleanup"], env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
    walls = []
    i, j = 0, 0
    next_at = time.perf_counter() + interval
    while sweep.poll() is None:
        pause = next_at - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        next_at += interval
        if sweep.poll() is not None:
            break
        verb, ch = [("set", chs[j % len(chs)]), ("set", chs[(j + 1) % len(chs)]),
                    ("release", chs[j % len(chs)]), ("release", chs[(j + 1) % len(chs)])][i % 4]
        walls.append(timed(cmd(verb, ch)))
        i += 1
        if i % 4 == 0:
            j += 2
    err = sweep.stderr.read()
    sweep.wait()
    secs = time.perf_counter() - t0
    if sweep.returncode != 0:
        raise bl.StepFailed("retention cleanup: exit %d: %s" % (sweep.returncode,
                                                               err.decode(errors="replace")))
    print("    (b) cross-process: `retention cleanup` took %.1f s, deleted %d submissions; "
          "%d hold commands" % (secs, deleted_count(db), len(walls)))
    print("    idle baseline of one hold command: median %.3f s, max %.3f s (n=%d)" %
          (base, max(idle), len(idle)))
    summary("wall time of hold set/release", walls, targets=False)
    ok = summary("wall time minus idle median", [max(0.0, w - base) for w in walls])
    os.unlink(db)
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--bin", default=os.environ.get(
        "RETENTION_BIN", os.path.join(root, "build/apps/retention/retention")))
    ap.add_argument("--db", help="a pre-sweep database of shape A (from scale.py)")
    ap.add_argument("--storage", help="its artifact folder")
    ap.add_argument("--work", help="a folder for copies (default: a temp dir)")
    ap.add_argument("--size", type=int, default=1000000, help="alone: build shape A of N")
    ap.add_argument("--interval", type=float, default=0.1)
    ap.add_argument("--mode", choices=("both", "api", "cli"), default="both")
    a = ap.parse_args()
    bin_path = os.path.abspath(a.bin)
    own = None
    try:
        if a.db:
            work = a.work or tempfile.mkdtemp(prefix="retention-wl-",
                                              dir=os.environ.get("TMPDIR") or "/tmp")
            db, storage = a.db, a.storage
        else:   # alone: build shape A of --size (files of the eligible submissions only)
            own = work = tempfile.mkdtemp(prefix="retention-wl-",
                                          dir=os.environ.get("TMPDIR") or "/tmp")
            db, storage = work + "/a0.db", work + "/storage"
            print("  building shape A of %d submissions in %s (%s)" %
                  (a.size, work, bl.fs_type(work)), flush=True)
            chs = data.shape_a(a.size, NOW)
            data.write_import(work + "/a.json", chs, NOW)
            bl.run(bin_path, ["import", work + "/a.json"],
                   bl.product_env(db, storage, work + "/logs"), label="import")
            os.unlink(work + "/a.json")
        ok = True
        if a.mode in ("both", "api"):
            ok = in_process(bin_path, db, storage, work, a.interval) and ok
        if a.mode in ("both", "cli"):
            ok = cross_process(bin_path, db, storage, work, a.interval) and ok
        print("    writer latency targets (p99 <= 1 s, max <= 2 s): %s" % bl.verdict(ok))
    except bl.StepFailed as e:
        print("writer_latency: FAILED: %s" % e, file=sys.stderr)
        sys.exit(1)
    finally:
        if own:
            bl.remove_tree(own)


if __name__ == "__main__":
    main()
