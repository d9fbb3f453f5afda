#!/usr/bin/env python3
"""Writes an import file with N submissions (2 artifacts each, keys only: the files do not exist,
which the sweep counts as already deleted) spread over 100 challenges with consent and private
phases that ended 40-400 days before --now. Usage: make_scale_data.py OUT.json N --now TIME"""
import datetime as dt
import json
import sys


def main():
    out, n = sys.argv[1], int(sys.argv[2])
    now = dt.datetime.strptime(sys.argv[sys.argv.index("--now") + 1], "%Y-%m-%dT%H:%M:%SZ")
    iso = lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ")
    challenges = []
    per = max(1, n // 100)
    sid = 1
    for c in range(1, 101):
        end = now - dt.timedelta(days=40 + 4 * c)
        subs = []
        for _ in range(per):
            subs.append({"id": sid, "participant": "p%d" % (sid % 1000),
                         "submitted_at": iso(end - dt.timedelta(days=1)),
                         "artifacts": [{"kind": "input_file", "key": "s/%d/in" % sid, "size": 1000},
                                       {"kind": "stdout_file", "key": "s/%d/out" % sid, "size": 10}]})
            sid += 1
        challenges.append({"id": c, "title": "C%d" % c, "host_team": 1,
                           "start_date": iso(end - dt.timedelta(days=60)),
                           "consent": {"by": "host", "at": iso(end - dt.timedelta(days=30))},
                           "phases": [{"id": c, "name": "Test", "end_date": iso(end),
                                       "is_public": False, "submissions": subs}]})
    data = {"users": [{"username": "host", "email": "h@example.org"}],
            "host_teams": [{"id": 1, "name": "T", "members": [{"username": "host", "status": "accepted"}]}],
            "challenges": challenges}
    with open(out, "w") as f:
        json.dump(data, f)


if __name__ == "__main__":
    main()
