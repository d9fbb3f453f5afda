#!/usr/bin/env python3
"""The data of bench/scale.sh, as an import file, real artifact files and plain rows.

Shape A (issue 9) for N submissions, 100 challenges of two phases each (a public "Dev" phase and a
private "Test" phase, half of the challenge's submissions in each; ids interleave across
challenges like a live platform's). Every submission of a phase shares its phase's end date, and
every submission has two artifacts of 100 bytes (`input_file`, `stdout_file`) under
`submission_files/submission_<id>/`. With `now` = RETENTION_FAKE_NOW and the default D = 30:

  challenge id % 5   consent   Dev (public) ends   Test (private) ends   Test's eligible date
  0, 1 (40)          yes       now - 90 d          now - 60 d            now - 30 d: swept
  2    (20)          no        now - 90 d          now - 60 d            none
  3    (20)          yes       now + 30 d          now + 60 d            now + 90 d
  4    (20)          yes       now - 40 d          now - 10 d            now + 20 d

so 20 % of the submissions are eligible now, all on ONE eligible date (the worst case for a keyset
walk: see docs/adr/0005). Shape B adds challenge 101 (HELD) with one private phase that ended
60 days before `now`, consented, HELD submissions, all on that same eligible date; the benchmark
puts it on legal hold.

Usage (standalone): make_scale_data.py OUT.json N [--now TIME] [--files DIR] [--held M]
  (--held M writes the held challenge only, for a second import into a shape-A database)
"""
import argparse
import datetime as dt
import os

DAY = 86400
DEFAULT_DAYS = 30
HELD_CHALLENGE = 101
HOST_TOKEN = "bench-host-token-0001"
ADMIN_TOKEN = "bench-admin-token-0001"
FILE_BYTES = b"r" * 100
KINDS = (("input_file", "input_file.zip"), ("stdout_file", "stdout.txt"))


def parse_time(s):
    return int(dt.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=dt.timezone.utc).timestamp())


def iso(t):
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def folder(sid):
    return "submission_files/submission_%d" % sid


def keys(sid):
    return [(kind, "%s/%s" % (folder(sid), name)) for kind, name in KINDS]


class Phase:
    def __init__(self, pid, name, is_public, end, ids):
        self.id, self.name, self.is_public, self.end, self.ids = pid, name, is_public, end, ids


class Challenge:
    def __init__(self, cid, consent, phases):
        self.id, self.consent, self.phases = cid, consent, phases


def shape_a(n, now):
    """The 100 challenges of shape A (ids as ranges/lists, nothing big is built)."""
    out = []
    for c in range(1, 101):
        count = n // 100 + (1 if c <= n % 100 else 0)
        dev = range(c, count * 100 + c - 100 + 1, 200)        # k even: id = k * 100 + c
        test = range(100 + c, count * 100 + c - 100 + 1, 200)  # k odd
        cat = c % 5
        if cat in (0, 1, 2):
            ends = (now - 90 * DAY, now - 60 * DAY)
        elif cat == 3:
            ends = (now + 30 * DAY, now + 60 * DAY)
        else:
            ends = (now - 40 * DAY, now - 10 * DAY)
        out.append(Challenge(c, cat != 2, [Phase(c * 10 + 1, "Dev", True, ends[0], dev),
                                           Phase(c * 10 + 2, "Test", False, ends[1], test)]))
    return out


def held_base(n):
    return (n // 100 + 2) * 100


def shape_held(n, now, held):
    base = held_base(n)
    return [Challenge(HELD_CHALLENGE, True,
                      [Phase(HELD_CHALLENGE * 10 + 2, "Test", False, now - 60 * DAY,
                             range(base + 1, base + held + 1))])]


def eligible_date(ch, ph):
    if not ch.consent or ph.is_public or ph.end is None:
        return None
    return ph.end + DAY * DEFAULT_DAYS


def eligible_ids(challenges, now):
    for ch in challenges:
        for ph in ch.phases:
            d = eligible_date(ch, ph)
            if d is not None and d <= now:
                yield from ph.ids


def write_import(path, challenges, now, with_users=True):
    """Streams the import file (DESIGN.md section 7)."""
    start = now - 200 * DAY
    with open(path, "w") as f:
        if with_users:
            f.write('{"users": [{"username": "host", "email": "host@example.org", "token": "%s"},'
                    ' {"username": "admin", "email": "admin@example.org", "is_admin": true,'
                    ' "token": "%s"}],\n' % (HOST_TOKEN, ADMIN_TOKEN))
            f.write('"host_teams": [{"id": 1, "name": "Bench", "members": '
                    '[{"username": "host", "status": "accepted"}]}],\n')
        else:
            f.write('{"users": [], "host_teams": [],\n')
        f.write('"challenges": [\n')
        for i, ch in enumerate(challenges):
            consent = (', "consent": {"by": "host", "at": "%s", "notes": "bench"}'
                       % iso(now - 150 * DAY)) if ch.consent else ""
            f.write('%s{"id": %d, "title": "Bench %d", "host_team": 1, "approved": true, '
                    '"start_date": "%s"%s, "phases": [' %
                    ("," if i else "", ch.id, ch.id, iso(start), consent))
            for j, ph in enumerate(ch.phases):
                f.write('%s{"id": %d, "name": "%s", "start_date": "%s", "end_date": "%s", '
                        '"is_public": %s, "submissions": [\n' %
                        ("," if j else "", ph.id, ph.name, iso(start), iso(ph.end),
                         "true" if ph.is_public else "false"))
                sub_at = iso(ph.end - DAY)
                parts, sep = [], ""
                for sid in ph.ids:
                    d = folder(sid)
                    parts.append(
                        '{"id": %d, "participant": "p%d", "submitted_at": "%s", "artifacts": ['
                        '{"kind": "input_file", "key": "%s/input_file.zip", "size": 100}, '
                        '{"kind": "stdout_file", "key": "%s/stdout.txt", "size": 100}]}'
                        % (sid, sid % 997, sub_at, d, d))
                    if len(parts) >= 10000:
                        f.write(sep + ",\n".join(parts))
                        parts, sep = [], ",\n"
                if parts:
                    f.write(sep + ",\n".join(parts))
                f.write("]}")
            f.write("]}\n")
        f.write("]}\n")


def write_files(root, ids):
    """Creates both 100-byte artifact files of each submission; returns the count of files."""
    n = 0
    for sid in ids:
        d = os.path.join(root, folder(sid))
        try:
            os.makedirs(d)
        except FileExistsError:
            pass
        for _, name in KINDS:
            fd = os.open(os.path.join(d, name), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.write(fd, FILE_BYTES)
            os.close(fd)
            n += 1
    return n


def rows(challenges, now):
    """The rows an import of `challenges` ends with (for the insert floor)."""
    start = now - 200 * DAY
    ch_rows, ph_rows, sub_rows, art_rows = [], [], [], []
    for ch in challenges:
        ch_rows.append((ch.id, "Bench %d" % ch.id, 1, 1, 1, start, 1 if ch.consent else 0,
                        now - 150 * DAY if ch.consent else None, 1 if ch.consent else None,
                        "bench" if ch.consent else "", now))
        for ph in ch.phases:
            ph_rows.append((ph.id, ch.id, ph.name, start, ph.end, 1 if ph.is_public else 0))
            d = eligible_date(ch, ph)
            policy = None if d is None else "%d days after the end of phase %d" % (DEFAULT_DAYS,
                                                                                  ph.id)
            sub_at = ph.end - DAY
            for sid in ph.ids:
                sub_rows.append((sid, ph.id, ch.id, "p%d" % (sid % 997), sub_at, "finished", d,
                                 policy))
                for kind, key in keys(sid):
                    art_rows.append((sid, kind, key, 100))
    return ch_rows, ph_rows, sub_rows, art_rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("n", type=int)
    ap.add_argument("--now", default="2027-06-01T00:00:00Z")
    ap.add_argument("--files", help="also write the artifact files under this folder")
    ap.add_argument("--held", type=int, default=0,
                    help="write only the held challenge (shape B's addition) of this size")
    a = ap.parse_args()
    now = parse_time(a.now)
    chs = shape_held(a.n, now, a.held) if a.held else shape_a(a.n, now)
    write_import(a.out, chs, now, with_users=not a.held)
    if a.files:
        write_files(a.files, (sid for ch in chs for ph in ch.phases for sid in ph.ids))


if __name__ == "__main__":
    main()
