#!/usr/bin/env python3
"""Writes the demo data set: an import file (DESIGN.md section 7) and real artifact files.

Usage: make_demo.py OUT_DIR [--now 2026-11-28T00:00:00Z]

Creates OUT_DIR/demo.json and OUT_DIR/artifacts/<keys>. Dates are relative to --now (default: the
current time), so the demo always shows challenges in every state:
  1 "Cars 2026"        waiting for consent (private phase ended 10 days ago)
  2 "Birds 2026"       consented; phases ending so that deletions fall over the coming weeks
  3 "Speech 2025"      consented, on legal hold (added by tools/run.sh through the CLI)
  4 "Open Leaderboard" public phase still running
Fixed demo tokens: demo-admin-token, demo-host-token, demo-participant-token.
"""
import datetime as dt
import json
import os
import random
import sys

KINDS = ["input_file", "stdout_file", "stderr_file", "submission_result_file"]


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = sys.argv[1]
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    if "--now" in sys.argv:
        now = dt.datetime.strptime(sys.argv[sys.argv.index("--now") + 1], "%Y-%m-%dT%H:%M:%SZ")
        now = now.replace(tzinfo=dt.timezone.utc)
    day = dt.timedelta(days=1)
    rng = random.Random(4712)
    os.makedirs(os.path.join(out, "artifacts"), exist_ok=True)

    next_sub = [1000]

    def submissions(n, first, last):
        subs = []
        for _ in range(n):
            sid = next_sub[0]
            next_sub[0] += 1
            at = first + (last - first) * rng.random()
            arts = []
            for kind in KINDS[: rng.randint(2, 4)]:
                key = "submissions/%d/%s.bin" % (sid, kind)
                size = rng.randint(2, 64) * 1024
                path = os.path.join(out, "artifacts", key)
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "wb") as f:
                    f.write(os.urandom(size))
                arts.append({"kind": kind, "key": key, "size": size})
            subs.append({"id": sid, "participant": rng.choice(["bob", "erin", "frank"]),
                         "submitted_at": iso(at.replace(microsecond=0)), "status": "finished",
                         "artifacts": arts})
        return subs

    def phase(pid, name, start, end, public, n):
        return {"id": pid, "name": name, "start_date": iso(start),
                "end_date": iso(end) if end else None, "is_public": public,
                "submissions": submissions(n, start, min(end or now, now))}

    data = {
        "users": [
            {"username": "admin", "email": "admin@example.org", "is_admin": True,
             "token": "demo-admin-token"},
            {"username": "alice", "email": "alice@example.org", "token": "demo-host-token"},
            {"username": "bob", "email": "bob@example.org", "token": "demo-participant-token"},
            {"username": "carol", "email": "carol@example.org"},
            {"username": "dave", "email": "dave@example.org"},
            {"username": "erin", "email": "erin@example.org"},
            {"username": "frank", "email": "frank@example.org"},
        ],
        "host_teams": [
            {"id": 1, "name": "Vision Lab", "members": [
                {"username": "alice", "status": "accepted"},
                {"username": "dave", "status": "accepted"},
                {"username": "carol", "status": "pending"}]},
            {"id": 2, "name": "Speech Group", "members": [
                {"username": "dave", "status": "accepted"},
                {"username": "alice", "status": "accepted"}]},
        ],
        "challenges": [
            {"id": 1, "title": "Cars 2026", "description": "Detect cars in street scenes.",
             "host_team": 1, "approved": True, "inform_hosts": True,
             "start_date": iso(now - 120 * day),
             "phases": [phase(10, "Dev", now - 120 * day, now - 40 * day, True, 6),
                        phase(11, "Test", now - 60 * day, now - 10 * day, False, 14)]},
            {"id": 2, "title": "Birds 2026", "description": "Classify bird songs.",
             "host_team": 1, "approved": True, "inform_hosts": True,
             "start_date": iso(now - 150 * day),
             "consent": {"by": "alice", "at": iso(now - 90 * day), "notes": "approved by the lab"},
             "phases": [phase(20, "Validation", now - 150 * day, now - 26 * day, False, 12),
                        phase(21, "Test", now - 100 * day, now - 12 * day, False, 16),
                        phase(22, "Final", now - 30 * day, now + 9 * day, False, 10),
                        phase(23, "Public board", now - 150 * day, now + 60 * day, True, 5)]},
            {"id": 3, "title": "Speech 2025", "description": "Transcribe accented speech.",
             "host_team": 2, "approved": True, "inform_hosts": True,
             "start_date": iso(now - 400 * day),
             "consent": {"by": "dave", "at": iso(now - 300 * day), "notes": ""},
             "phases": [phase(30, "Test", now - 400 * day, now - 200 * day, False, 8)]},
            {"id": 4, "title": "Open Leaderboard", "description": "A public benchmark.",
             "host_team": 2, "approved": True, "inform_hosts": True,
             "start_date": iso(now - 30 * day),
             "phases": [phase(40, "Open", now - 30 * day, None, True, 6)]},
        ],
    }
    with open(os.path.join(out, "demo.json"), "w") as f:
        json.dump(data, f, indent=1)
    print(os.path.join(out, "demo.json"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
