"""The HTTP API end to end (issue 3): the authorization matrix over every route, EvalAI's cases,
bad input never giving a 5xx, the consent rate limit, platform writes, and the UI being served."""
import datetime
import json
import os
import re
import shutil
import subprocess
import unittest

from api_helpers import Server
from helpers import SOURCE_DIR, DataSet, Workspace

HOST, PENDING, PARTICIPANT, ADMIN = "alice-token-123", "carol-token-123", "bob-token-1234", "admin-token-123"
ROLES = {"anonymous": None, "participant": PARTICIPANT, "pending": PENDING, "host": HOST,
         "admin": ADMIN}

# Who may call each route: the expected outcome per role ("ok" = authorised; 401/403 refused).
EVERYONE = {"anonymous": "ok", "participant": "ok", "pending": "ok", "host": "ok", "admin": "ok"}
USERS = {"anonymous": 401, "participant": "ok", "pending": "ok", "host": "ok", "admin": "ok"}
HOSTS_ADMINS = {"anonymous": 401, "participant": 403, "pending": 403, "host": "ok", "admin": "ok"}
HOSTS = {"anonymous": 401, "participant": 403, "pending": 403, "host": "ok", "admin": 403}
ADMINS = {"anonymous": 401, "participant": 403, "pending": 403, "host": 403, "admin": "ok"}

MATRIX = {
    ("GET", "/healthz"): EVERYONE,
    ("GET", "/metrics"): EVERYONE,
    ("GET", "/api/routes"): ADMINS,
    ("GET", "/api/me"): USERS,
    ("GET", "/api/challenges"): USERS,
    ("POST", "/api/challenges"): ADMINS,
    ("PATCH", "/api/challenges/{pk}"): ADMINS,
    ("POST", "/api/challenges/{pk}/retention-consent/"): HOSTS,
    ("GET", "/api/challenges/{pk}/retention-consent-status/"): USERS,
    ("POST", "/api/challenges/{pk}/update-retention-consent/"): HOSTS,
    ("GET", "/api/challenges/{pk}/retention-info/"): USERS,
    ("GET", "/api/challenges/{pk}/forecast"): HOSTS_ADMINS,
    ("POST", "/api/challenges/{pk}/override"): ADMINS,
    ("POST", "/api/challenges/{pk}/hold"): ADMINS,
    ("POST", "/api/challenges/{pk}/events"): ADMINS,
    ("POST", "/api/challenges/{pk}/phases"): ADMINS,
    ("PATCH", "/api/phases/{id}"): ADMINS,
    ("POST", "/api/phases/{id}/policy"): ADMINS,
    ("POST", "/api/phases/{id}/submissions"): ADMINS,
    ("POST", "/api/submissions/{id}/artifacts"): ADMINS,
    ("PUT", "/api/submissions/{id}/artifacts/upload"): ADMINS,
    ("POST", "/api/submissions/{id}/hold"): ADMINS,
    ("PATCH", "/api/submissions/{id}"): ADMINS,
    # R10: hosts of the challenge and admins keep and release (only admins release a baseline:
    # KeepTests), and search the challenge's submissions.
    ("GET", "/api/challenges/{pk}/submissions"): HOSTS_ADMINS,
    ("POST", "/api/challenges/{pk}/submissions/{id}/keep"): HOSTS_ADMINS,
    ("POST", "/api/challenges/{pk}/submissions/{id}/release"): HOSTS_ADMINS,
    ("POST", "/api/users"): ADMINS,
    ("PATCH", "/api/users/{name}"): ADMINS,
    ("POST", "/api/users/{name}/tokens"): ADMINS,
    ("POST", "/api/host-teams"): ADMINS,
    ("POST", "/api/host-teams/{id}/members"): ADMINS,
    # Hosts may read their own challenge's ledger (checked in AuditTests); the matrix call has no
    # challenge_id, which only admins may do.
    ("GET", "/api/audit"): {"anonymous": 401, "participant": 403, "pending": 403, "host": 403,
                            "admin": "ok"},
    ("GET", "/api/audit/verify"): ADMINS,
    ("GET", "/api/plan"): ADMINS,
    ("GET", "/api/jobs"): ADMINS,
    ("GET", "/api/jobs/runs"): ADMINS,
    ("POST", "/api/jobs/{name}/run"): ADMINS,
    ("GET", "/api/outbox"): ADMINS,
    ("POST", "/api/log-groups/{name}/lines"): ADMINS,
    ("GET", "/api/log-groups/{name}/lines"): ADMINS,
}

# The routes a platform token may call (DESIGN section 6: the platform's data, nothing else); on
# every other route that needs a token it gets 403.
PLATFORM_ROUTES = {
    ("GET", "/api/challenges"), ("POST", "/api/challenges"), ("PATCH", "/api/challenges/{pk}"),
    ("POST", "/api/challenges/{pk}/events"), ("POST", "/api/challenges/{pk}/phases"),
    ("PATCH", "/api/phases/{id}"), ("POST", "/api/phases/{id}/submissions"),
    ("PATCH", "/api/submissions/{id}"), ("POST", "/api/submissions/{id}/artifacts"),
    ("PUT", "/api/submissions/{id}/artifacts/upload"),
    ("POST", "/api/users"), ("PATCH", "/api/users/{name}"), ("POST", "/api/host-teams"),
    ("POST", "/api/host-teams/{id}/members"), ("POST", "/api/log-groups/{name}/lines"),
    ("GET", "/api/log-groups/{name}/lines"),
}


def platform_expectation(route, expected):
    if expected["anonymous"] == "ok":
        return "ok"
    return "ok" if route in PLATFORM_ROUTES else 403


PARAMS = {"{pk}": "1", "{id}": "10", "{name}": "bob"}


def iso_time(unix):
    return datetime.datetime.fromtimestamp(unix, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def fill(pattern, method):
    path = pattern
    if "/submissions/{id}" in path:
        path = path.replace("{id}", "100")
    if "/host-teams/{id}" in path:
        path = path.replace("{id}", "1")
    if "/jobs/{name}" in path:
        path = path.replace("{name}", "no_such_job")
    if "/log-groups/{name}" in path:
        path = path.replace("{name}", "challenge-pk-1-production-workers")
    for k, v in PARAMS.items():
        path = path.replace(k, v)
    return path


def base_data(ws):
    d = DataSet(ws)
    d.users.append({"username": "pendingcarol", "email": "pc@example.org"})
    for u in d.users:
        if u["username"] == "carol":
            u["token"] = PENDING
    c = d.challenge(1, consent=False)
    d.phase(c, end_days_ago=40, submissions=2)
    c2 = d.challenge(2)
    d.phase(c2, end_days_ago=40, submissions=1)
    d.load()
    return d


class ApiTest(unittest.TestCase):
    env = None

    def setUp(self):
        self.ws = Workspace(notice_days=0, extra_env=self.env)
        self.addCleanup(self.ws.close)
        self.data = base_data(self.ws)
        self.server = Server(self.ws)
        self.addCleanup(self.server.stop)

    def call(self, method, path, body=None, token=None, **kw):
        return self.server.request(method, path, body=body, token=token, **kw)


class AuthorizationMatrixTests(ApiTest):
    def test_every_route_is_in_the_matrix(self):
        status, body, _ = self.call("GET", "/api/routes", token=ADMIN)
        self.assertEqual(status, 200)
        served = {(r["method"], r["pattern"]) for r in body["routes"]}
        self.assertEqual(served - set(MATRIX), set(), "routes missing from the test's matrix")
        self.assertEqual(set(MATRIX) - served, set(), "matrix names routes the server lacks")
        platform = {(r["method"], r["pattern"]) for r in body["routes"] if r["platform"]}
        self.assertEqual(platform, PLATFORM_ROUTES)

    def test_every_route_for_every_role(self):
        # A platform token (issue 14 item 1), made by the CLI for a user who is no admin.
        made = self.ws.json("token", "create", "bob", "--role", "platform")
        self.assertEqual(made["role"], "platform")
        roles = dict(ROLES, platform=made["token"])
        failures = []
        for (method, pattern), expected in sorted(MATRIX.items()):
            path = fill(pattern, method)
            expected = dict(expected, platform=platform_expectation((method, pattern), expected))
            for role, token in roles.items():
                body = {} if method in ("POST", "PATCH", "PUT") else None
                if "retention-consent/" in pattern and "update" not in pattern:
                    body = {"notes": 1}  # invalid on purpose: authorised callers get 400
                if "update-retention-consent" in pattern:
                    body = {"consent": "yes"}
                status, resp, _ = self.call(method, path, body=body, token=token)
                want = expected[role]
                if want == "ok":
                    if status in (401, 403) or status >= 500:
                        failures.append("%s %s as %s: %d %s" % (method, path, role, status, resp))
                elif status != want:
                    failures.append("%s %s as %s: %d, wanted %d" % (method, path, role, status, want))
        self.assertEqual(failures, [])


class EvalAiCaseTests(ApiTest):
    def test_status_of_a_missing_challenge_is_404(self):
        status, body, _ = self.call("GET", "/api/challenges/999/retention-consent-status/", token=HOST)
        self.assertEqual(status, 404)
        self.assertEqual(body, {"error": "Challenge does not exist"})

    def test_non_host_gets_403_on_both_consent_writes(self):
        for token in (PARTICIPANT, PENDING, ADMIN):
            s1, _, _ = self.call("POST", "/api/challenges/1/retention-consent/", {}, token)
            s2, _, _ = self.call("POST", "/api/challenges/1/update-retention-consent/",
                                 {"consent": True}, token)
            self.assertEqual((s1, s2), (403, 403))
        self.assertEqual(self.ws.sql("SELECT retention_policy_consent FROM challenges WHERE id = 1")[0][0], 0)

    def test_an_admin_who_hosts_the_challenge_can_give_and_withdraw_consent(self):
        # Issue 8 defect 7: being an admin must not take away being a host.
        self.ws.sql("INSERT INTO host_team_members (host_team_id, user_id, status) "
                    "SELECT 1, id, 'accepted' FROM users WHERE username = 'admin'")
        status, body, _ = self.call("GET", "/api/challenges/1/retention-consent-status/",
                                    token=ADMIN)
        self.assertEqual((status, body["is_host"], body["can_provide_consent"]), (200, True, True))
        status, info, _ = self.call("GET", "/api/challenges/1/retention-info/", token=ADMIN)
        self.assertTrue(info["user_permissions"]["is_host"])
        self.assertTrue(info["user_permissions"]["is_admin"])
        status, body, _ = self.call("POST", "/api/challenges/1/retention-consent/",
                                    {"notes": "admin hosts"}, ADMIN)
        self.assertEqual(status, 201, body)
        self.assertEqual(body["consent_by"], "admin")
        status, body, _ = self.call("POST", "/api/challenges/1/update-retention-consent/",
                                    {"consent": False}, ADMIN)
        self.assertEqual((status, body["consent_by"]), (200, None))
        actions = self.ws.sql("SELECT actor, action FROM audit_events WHERE challenge_id = 1 "
                              "AND ledger = 'consent' ORDER BY id")
        self.assertEqual(actions, [("admin", "granted"), ("admin", "withdrawn")])

    def test_update_requires_a_json_boolean_and_changes_nothing_otherwise(self):
        before = self.ws.dump()
        for body in ({}, {"consent": "false"}, {"consent": "true"}, {"consent": 1}, {"consent": None},
                     {"consent": True, "extra": 1}):
            status, resp, _ = self.call("POST", "/api/challenges/1/update-retention-consent/", body, HOST)
            self.assertEqual(status, 400, body)
            self.assertIn("error", resp)
        self.assertEqual(self.ws.dump(), before)

    def test_grant_saves_notes_regrant_keeps_date_withdrawal_keeps_history(self):
        status, body, _ = self.call("POST", "/api/challenges/1/retention-consent/",
                                    {"notes": "lab approved"}, HOST)
        self.assertEqual(status, 201)
        self.assertEqual(body["consent_by"], "alice")
        self.assertEqual(body["challenge_id"], 1)
        first_date = body["consent_date"]
        status, again, _ = self.call("POST", "/api/challenges/1/retention-consent/", {}, HOST)
        self.assertEqual(status, 200)
        self.assertEqual(again["consent_date"], first_date)
        status, upd, _ = self.call("POST", "/api/challenges/1/update-retention-consent/",
                                   {"consent": True}, HOST)
        self.assertEqual((status, upd["consent_date"]), (200, first_date))
        _, st, _ = self.call("GET", "/api/challenges/1/retention-consent-status/", token=HOST)
        self.assertEqual(st["retention_notes"], "lab approved")
        self.assertTrue(st["has_consent"])
        self.assertFalse(st["can_provide_consent"])
        self.assertIn("custom_policies", st)
        status, w, _ = self.call("POST", "/api/challenges/1/update-retention-consent/",
                                 {"consent": False}, HOST)
        self.assertEqual(status, 200)
        self.assertIsNone(w["consent_date"])
        self.assertIsNone(w["consent_by"])
        status, ledger, _ = self.call("GET", "/api/audit?challenge_id=1", token=HOST)
        self.assertEqual(status, 200)
        actions = [e["action"] for e in ledger["events"] if e["ledger"] == "consent"]
        self.assertEqual(actions, ["granted", "withdrawn"])
        self.assertEqual(self.ws.sql("SELECT COUNT(*) FROM submissions WHERE challenge_id = 1 AND "
                                     "retention_eligible_date IS NOT NULL")[0][0], 0)

    def test_details_are_hidden_from_non_hosts(self):
        _, host_view, _ = self.call("GET", "/api/challenges/2/retention-consent-status/", token=HOST)
        self.assertIn("consent_date", host_view)
        self.assertTrue(host_view["is_host"])
        for token in (PARTICIPANT, PENDING):
            status, view, _ = self.call("GET", "/api/challenges/2/retention-consent-status/", token=token)
            self.assertEqual(status, 200)
            self.assertTrue(view["has_consent"])
            self.assertFalse(view["is_host"])
            for key in ("consent_date", "consent_by", "retention_notes", "custom_policies"):
                self.assertNotIn(key, view)
            _, info, _ = self.call("GET", "/api/challenges/2/retention-info/", token=token)
            self.assertNotIn("consent_by", info["retention_policy"])

    def test_retention_info_has_the_calculated_retention(self):
        status, info, _ = self.call("GET", "/api/challenges/2/retention-info/", token=HOST)
        self.assertEqual(status, 200)
        self.assertEqual(info["calculated_retention"]["retention_days"], 30)
        self.assertEqual(info["calculated_retention"]["log_group"], "challenge-pk-2-production-workers")
        self.assertEqual(info["submissions"]["total"], 1)
        self.assertEqual(info["submissions"]["eligible_now"], 1)
        self.assertTrue(info["user_permissions"]["is_host"])


class BadInputTests(ApiTest):
    def assertClientError(self, status, body, code=400):
        self.assertEqual(status, code, body)
        self.assertIsInstance(body, dict)
        self.assertTrue(body.get("error"))

    def test_malformed_json_wrong_types_and_unknown_fields(self):
        s, b, _ = self.call("POST", "/api/challenges/1/override", token=ADMIN, raw='{"days": 5,',
                            headers={"Content-Type": "application/json"})
        self.assertClientError(s, b)
        self.assertIn("malformed JSON", b["error"])
        for body in ({"days": "30", "reason": "x"}, {"days": 0, "reason": "x"}, {"days": 3654, "reason": "x"},
                     {"days": 30}, {"days": 30, "reason": "x", "colour": "red"}, {"days": 1.5, "reason": "x"}):
            s, b, _ = self.call("POST", "/api/challenges/1/override", body, ADMIN)
            self.assertClientError(s, b)
        s, b, _ = self.call("POST", "/api/challenges/1/override", token=ADMIN, raw="[1, 2]",
                            headers={"Content-Type": "application/json"})
        self.assertClientError(s, b)

    def test_non_json_body_is_415_and_huge_body_is_413(self):
        s, b, _ = self.call("POST", "/api/challenges/1/hold", token=ADMIN, raw="hold=1",
                            headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertClientError(s, b, 415)
        s, b, _ = self.call("POST", "/api/challenges/1/hold", token=ADMIN, raw=b"x" * (2 << 20),
                            headers={"Content-Type": "application/json"})
        self.assertEqual(s, 413)
        self.assertEqual(self.call("GET", "/healthz")[0], 200, "the server survives a huge body")

    def test_bad_ids_and_bad_dates(self):
        for path in ("/api/challenges/abc/retention-info/", "/api/challenges/0/retention-info/",
                     "/api/challenges/-1/retention-info/", "/api/challenges/99999999999999999999/retention-info/"):
            s, b, _ = self.call("GET", path, token=HOST)
            self.assertClientError(s, b)
        s, b, _ = self.call("GET", "/api/plan?as_of=tomorrow", token=ADMIN)
        self.assertClientError(s, b)
        self.assertIn("tomorrow", b["error"])
        s, b, _ = self.call("PATCH", "/api/phases/10", {"end_date": "31/12/2026"}, ADMIN)
        self.assertClientError(s, b)
        s, b, _ = self.call("GET", "/api/challenges/1/forecast?weeks=x", token=HOST)
        self.assertClientError(s, b)
        s, b, _ = self.call("GET", "/api/audit?challenge_id=seven", token=ADMIN)
        self.assertClientError(s, b)

    def test_invalid_utf8_and_bad_tokens_never_5xx(self):
        s, b, _ = self.call("POST", "/api/users", token=ADMIN, raw=b'{"username": "\xff\xfe", "email": "a@b"}',
                            headers={"Content-Type": "application/json"})
        self.assertLess(s, 500)
        s, b, _ = self.call("GET", "/api/me", headers={"Authorization": "Token " + "x" * 5000})
        self.assertEqual(s, 401)
        s, b, _ = self.call("GET", "/api/me", headers={"Authorization": "Basic abc"})
        self.assertEqual(s, 401)
        s, b, _ = self.call("GET", "/api/me", headers={"Authorization": "bearer " + HOST})
        self.assertEqual(s, 200)
        self.assertEqual(b["username"], "alice")

    # Issue 8 defect 10: user writes refuse anything but exactly one plain address, naming the
    # field, and change nothing.
    def test_issue8_defect10_user_writes_with_a_bad_email_are_refused(self):
        before = self.ws.dump()
        for email in ("erin@example.org\nBcc: all@example.org", "erin@example.org, eve@example.org",
                      "erin @example.org", "Erin <erin@example.org>", "erin@a@example.org",
                      "erin@exa\u0001mple.org", "erin"):
            s, b, _ = self.call("POST", "/api/users", {"username": "erin", "email": email}, ADMIN)
            self.assertClientError(s, b)
            self.assertIn("email", b["error"], repr(email))
            s, b, _ = self.call("PATCH", "/api/users/bob", {"email": email}, ADMIN)
            self.assertClientError(s, b)
            self.assertIn("email", b["error"], repr(email))
        self.assertEqual(self.ws.dump(), before)
        self.assertEqual(self.ws.sql("SELECT email FROM users WHERE username = 'bob'")[0][0],
                         "bob@example.org")


class PhasePolicyTests(ApiTest):
    """POST /api/phases/{id}/policy: phase retention days, keep, or clear (R1)."""

    def eligible(self):
        return self.ws.sql("SELECT retention_eligible_date FROM submissions WHERE phase_id = 11")[0][0]

    def test_days_keep_and_clear_recompute_at_once_and_are_audited(self):
        end = self.ws.sql("SELECT end_date FROM phases WHERE id = 11")[0][0]
        self.assertEqual(self.eligible(), end + 30 * 86400)
        s, b, _ = self.call("POST", "/api/phases/11/policy", {"days": 7, "reason": "small"}, ADMIN)
        self.assertEqual((s, b), (200, {"phase_id": 11, "retention_days": 7,
                                        "retention_policy": None, "reason": "small"}))
        self.assertEqual(self.eligible(), end + 7 * 86400)
        s, b, _ = self.call("POST", "/api/phases/11/policy", {"keep": True, "reason": "bench"}, ADMIN)
        self.assertEqual((s, b["retention_policy"]), (200, "keep"))
        self.assertIsNone(self.eligible())
        info = self.call("GET", "/api/challenges/2/retention-info/", token=ADMIN)[1]
        self.assertEqual([(p["id"], p["retention_policy"]) for p in info["phases"]], [(11, "keep")])
        s, b, _ = self.call("POST", "/api/phases/11/policy", {"clear": True, "reason": "done"}, ADMIN)
        self.assertEqual(s, 200, b)
        self.assertEqual(self.eligible(), end + 30 * 86400)
        actions = [(e["action"], e["actor"]) for e in
                   self.call("GET", "/api/audit?challenge_id=2", token=ADMIN)[1]["events"]
                   if e["action"].startswith("phase_policy")]
        self.assertEqual(actions, [("phase_policy_set", "admin"), ("phase_policy_set", "admin"),
                                   ("phase_policy_cleared", "admin")])

    def test_bad_bodies_are_400_an_unknown_phase_404_and_nothing_changes(self):
        before = self.ws.dump()
        for body in ({}, {"reason": "x"}, {"days": 7}, {"days": 7, "reason": ""},
                     {"days": 0, "reason": "x"}, {"days": 3654, "reason": "x"},
                     {"days": "7", "reason": "x"}, {"days": 7.5, "reason": "x"},
                     {"days": 7, "keep": True, "reason": "x"}, {"keep": False, "reason": "x"},
                     {"clear": 1, "reason": "x"}, {"keep": True, "clear": True, "reason": "x"},
                     {"keep": True, "reason": 5}, {"keep": True, "reason": "x", "extra": 1}, []):
            s, b, _ = self.call("POST", "/api/phases/11/policy", body, ADMIN)
            self.assertEqual(s, 400, (body, b))
            self.assertIn("error", b)
        s, b, _ = self.call("POST", "/api/phases/999/policy", {"keep": True, "reason": "x"}, ADMIN)
        self.assertEqual(s, 404, b)
        s, _, _ = self.call("POST", "/api/phases/11/policy", {"keep": True, "reason": "x"}, HOST)
        self.assertEqual(s, 403)
        self.assertEqual(self.ws.dump(), before)


class KeepTests(ApiTest):
    """Keep (R10): POST .../submissions/{id}/keep and /release, GET .../submissions, and the
    platform's is_baseline."""

    def eligible(self, sid=102):
        return self.ws.sql("SELECT retention_eligible_date FROM submissions WHERE id = ?",
                           (sid,))[0][0]

    def test_a_host_keeps_and_releases_and_the_date_moves_at_once(self):
        due = self.eligible()
        self.assertIsNotNone(due)
        s, b, _ = self.call("POST", "/api/challenges/2/submissions/102/keep",
                            {"reason": "paper figure"}, HOST)
        self.assertEqual((s, b), (200, {"submission_id": 102, "challenge_id": 2, "changed": True,
                                        "kept": True, "is_baseline": False,
                                        "baseline_released": False,
                                        "retention_eligible_date": None,
                                        "reason": "paper figure"}))
        self.assertIsNone(self.eligible())
        s, page, _ = self.call("GET", "/api/challenges/2/submissions?q=102", token=HOST)
        self.assertEqual(s, 200, page)
        self.assertEqual([(x["id"], x["kept"], x["keep_reason"], x["kept_by"])
                          for x in page["submissions"]], [(102, True, "paper figure", "alice")])
        s, fc, _ = self.call("GET", "/api/challenges/2/forecast", token=HOST)
        self.assertEqual((s, fc["kept_submissions"], fc["total_submissions"]), (200, 1, 0))
        s, b, _ = self.call("POST", "/api/challenges/2/submissions/102/release",
                            {"reason": "done"}, ADMIN)
        self.assertEqual((s, b["kept"]), (200, False))
        self.assertEqual(self.eligible(), due)
        self.assertEqual(b["retention_eligible_date"], iso_time(due))
        events = [(e["action"], e["actor"], e["submission_id"]) for e in
                  self.call("GET", "/api/audit?challenge_id=2", token=ADMIN)[1]["events"]
                  if e["action"].startswith("keep")]
        self.assertEqual(events, [("keep_set", "alice", 102), ("keep_released", "admin", 102)])

    def test_a_platform_baseline_is_kept_and_only_an_admin_releases_it(self):
        s, b, _ = self.call("POST", "/api/phases/11/submissions",
                            {"id": 300, "participant": "bob", "submitted_at": "2026-01-01T00:00:00Z",
                             "is_baseline": True}, ADMIN)
        self.assertEqual(s, 201, b)
        self.assertIsNone(self.eligible(300), "a baseline from the platform is kept")
        s, b, _ = self.call("PATCH", "/api/submissions/102", {"is_baseline": True}, ADMIN)
        self.assertEqual(s, 200, b)
        self.assertIsNone(self.eligible(102), "and one flagged later")
        for sid in (300, 102):
            s, b, _ = self.call("POST", "/api/challenges/2/submissions/%d/release" % sid,
                                {"reason": "mine"}, HOST)
            self.assertEqual(s, 403, b)
            self.assertIn("only an admin", b["error"])
        self.assertIsNone(self.eligible(102))
        s, b, _ = self.call("POST", "/api/challenges/2/submissions/102/release",
                            {"reason": "superseded"}, ADMIN)
        self.assertEqual((s, b["baseline_released"], b["kept"]), (200, True, False), b)
        self.assertIsNotNone(self.eligible(102))
        self.assertEqual([e["action"] for e in
                          self.call("GET", "/api/audit?challenge_id=2", token=ADMIN)[1]["events"]
                          if e["submission_id"] == 102], ["baseline_released"])
        # The platform may not keep through its writes.
        s, b, _ = self.call("POST", "/api/phases/11/submissions",
                            {"id": 301, "participant": "bob", "submitted_at": "2026-01-01T00:00:00Z",
                             "keep": {"reason": "x"}}, ADMIN)
        self.assertEqual(s, 400, b)
        for body in ({"is_baseline": "yes"}, {"is_baseline": 1}, {"kept": True}):
            s, b, _ = self.call("PATCH", "/api/submissions/102", body, ADMIN)
            self.assertEqual(s, 400, (body, b))

    def test_search_finds_by_id_or_participant_a_page_at_a_time(self):
        s, page, _ = self.call("GET", "/api/challenges/1/submissions?limit=1", token=HOST)
        self.assertEqual(s, 200, page)
        self.assertEqual([x["id"] for x in page["submissions"]], [100])
        self.assertEqual(page["next"], 100)
        s, page, _ = self.call("GET", "/api/challenges/1/submissions?limit=1&after=100", token=HOST)
        self.assertEqual(([x["id"] for x in page["submissions"]], page["next"]), ([101], None))
        s, page, _ = self.call("GET", "/api/challenges/1/submissions?q=bob", token=HOST)
        self.assertEqual([x["id"] for x in page["submissions"]], [100, 101])
        one = page["submissions"][0]
        for key in ("kept", "is_baseline", "baseline_released", "retention_eligible_date",
                    "is_artifact_deleted", "artifact_deletion_date", "participant", "phase_id"):
            self.assertIn(key, one)
        s, page, _ = self.call("GET", "/api/challenges/1/submissions?q=102", token=HOST)
        self.assertEqual(page["submissions"], [], "another challenge's submission is not found")
        s, page, _ = self.call("GET", "/api/challenges/1/submissions?q=nobody", token=HOST)
        self.assertEqual(page["submissions"], [])
        for q in ("limit=0", "limit=501", "after=x", "after=-1"):
            s, b, _ = self.call("GET", "/api/challenges/1/submissions?" + q, token=HOST)
            self.assertEqual(s, 400, (q, b))

    def test_bad_bodies_are_400_unknown_ids_404_and_nothing_changes(self):
        before = self.ws.dump()
        for body in ({}, {"reason": ""}, {"reason": 5}, {"reason": "x", "extra": 1}, []):
            s, b, _ = self.call("POST", "/api/challenges/2/submissions/102/keep", body, HOST)
            self.assertEqual(s, 400, (body, b))
            self.assertIn("error", b)
        s, b, _ = self.call("POST", "/api/challenges/2/submissions/999/keep", {"reason": "x"}, HOST)
        self.assertEqual(s, 404, b)
        s, b, _ = self.call("POST", "/api/challenges/2/submissions/100/keep", {"reason": "x"}, HOST)
        self.assertEqual(s, 404, b)  # a submission of challenge 1
        s, b, _ = self.call("POST", "/api/challenges/9/submissions/102/keep", {"reason": "x"}, HOST)
        self.assertEqual((s, b), (404, {"error": "Challenge does not exist"}))
        for token in (PARTICIPANT, PENDING, None):
            s, _, _ = self.call("POST", "/api/challenges/2/submissions/102/keep", {"reason": "x"},
                                token)
            self.assertIn(s, (401, 403))
        self.assertEqual(self.ws.dump(), before)


class InvalidUtf8BodyTests(ApiTest):
    def test_issue8_defect12_json_bodies_with_invalid_utf8_are_refused(self):
        # nlohmann's parser rejects an ill-formed byte; nothing reaches the ledger.
        before = self.ws.dump()
        for path, raw in (("/api/challenges/1/retention-consent/", b'{"notes": "o\xffk"}'),
                          ("/api/challenges/1/update-retention-consent/",
                           b'{"consent": true, "notes": "\xc3"}')):
            s, b, _ = self.call("POST", path, token=HOST, raw=raw,
                                headers={"Content-Type": "application/json"})
            self.assertEqual(s, 400, b)
            self.assertIn("error", b)
        s, b, _ = self.call("POST", "/api/challenges/1/override", token=ADMIN,
                            raw=b'{"days": 30, "reason": "\xfe"}',
                            headers={"Content-Type": "application/json"})
        self.assertEqual(s, 400, b)
        self.assertEqual(self.ws.dump(), before)


class TokenCacheTests(ApiTest):
    """Issue 8 defect 13 (token cache): a change of a user is seen by the very next request, in
    this process and in another one on the same database: every request reads the token's user."""

    def make_admin(self, server, name):
        s, b, _ = server.request("POST", "/api/users", token=ADMIN,
                                 body={"username": name, "email": name + "@example.org",
                                       "is_admin": True})
        self.assertEqual(s, 201, b)
        s, b, _ = server.request("POST", "/api/users/%s/tokens" % name, token=ADMIN, body={})
        self.assertEqual(s, 201, b)
        token = b["token"]
        for _ in range(3):  # authenticated, and cached
            s, b, _ = self.call("GET", "/api/routes", token=token)
            self.assertEqual(s, 200, b)
        return token

    def test_issue8_defect13_admin_demoted_through_this_server_is_refused_at_once(self):
        token = self.make_admin(self.server, "root2")
        s, b, _ = self.call("PATCH", "/api/users/root2", {"is_admin": False}, ADMIN)
        self.assertEqual(s, 200, b)
        s, b, _ = self.call("GET", "/api/routes", token=token)
        self.assertEqual(s, 403, str(b)[:200])
        s, b, _ = self.call("GET", "/api/me", token=token)
        self.assertEqual((s, b["is_admin"]), (200, False), b)

    def test_issue8_defect13_admin_demoted_by_another_process_is_refused_at_once(self):
        other = Server(self.ws)  # a second replica on the same database
        self.addCleanup(other.stop)
        token = self.make_admin(other, "root3")
        s, b, _ = other.request("PATCH", "/api/users/root3", body={"is_admin": False},
                                token=ADMIN)
        self.assertEqual(s, 200, b)
        s, b, _ = self.call("GET", "/api/routes", token=token)
        self.assertEqual(s, 403, str(b)[:200])


class TokenRoleTests(ApiTest):
    """Issue 14 item 1: a platform token feeds the platform's data but cannot make an admin or do
    an admin's work; a token revoked by another process is refused on the next request."""

    def test_a_platform_token_writes_platform_data_but_makes_no_admin(self):
        s, made, _ = self.call("POST", "/api/users/bob/tokens", {"role": "platform"}, ADMIN)
        self.assertEqual((s, made["role"]), (201, "platform"), made)
        self.assertEqual(made["prefix"], made["token"][:8])
        token = made["token"]
        s, b, _ = self.call("POST", "/api/users", {"username": "erin", "email": "e@example.org",
                                                   "is_admin": True}, token)
        self.assertEqual((s, b), (403, {"error": "a platform token may not set 'is_admin'"}))
        s, b, _ = self.call("PATCH", "/api/users/bob", {"is_admin": True}, token)
        self.assertEqual(s, 403, b)
        s, b, _ = self.call("POST", "/api/users", {"username": "erin", "email": "e@example.org"},
                            token)
        self.assertEqual((s, b["is_admin"]), (201, False), b)
        s, b, _ = self.call("POST", "/api/challenges", {"id": 60, "title": "Fed", "host_team": 1},
                            token)
        self.assertEqual(s, 201, b)
        s, b, _ = self.call("GET", "/api/challenges", token=token)
        self.assertEqual(s, 200, b)
        self.assertIn(60, [c["id"] for c in b["challenges"]])
        s, b, _ = self.call("POST", "/api/users/bob/tokens", {}, token)  # no tokens from it
        self.assertEqual(s, 403, b)
        self.assertEqual(self.ws.sql("SELECT is_admin FROM users WHERE username = 'bob'"), [(0,)])
        for body, why in (({"role": "root"}, "'role' must be"),
                          ({"expires_in_days": 0}, "between 1 and 3653"),
                          ({"expires_in_days": "7"}, "must be an integer"),
                          ({"colour": 1}, "colour")):
            s, b, _ = self.call("POST", "/api/users/bob/tokens", body, ADMIN)
            self.assertEqual(s, 400, b)
            self.assertIn(why, b["error"])

    def test_a_token_revoked_by_the_cli_is_refused_on_the_next_request(self):
        made = self.ws.json("token", "create", "bob", "--expires-in", "30")
        token = made["token"]
        s, b, _ = self.call("GET", "/api/me", token=token)
        self.assertEqual((s, b["username"]), (200, "bob"))
        self.ws.json("token", "revoke", made["prefix"][:6])
        s, b, _ = self.call("GET", "/api/me", token=token)
        self.assertEqual((s, b), (401, {"error": "Token has been revoked."}))


class RateLimitTests(ApiTest):
    env = {"RETENTION_CONSENT_RATE_PER_MINUTE": "3"}

    def test_consent_writes_are_rate_limited_per_user(self):
        statuses = [self.call("POST", "/api/challenges/1/update-retention-consent/",
                              {"consent": i % 2 == 0}, HOST)[0] for i in range(3)]
        self.assertEqual(statuses, [200, 200, 200])
        s, b, h = self.call("POST", "/api/challenges/1/retention-consent/", {}, HOST)
        self.assertEqual(s, 429)
        self.assertGreaterEqual(int(h["Retry-After"]), 1)
        # Reads are not limited.
        self.assertEqual(self.call("GET", "/api/challenges/1/retention-consent-status/", token=HOST)[0], 200)


class PlatformTests(ApiTest):
    def test_create_team_challenge_phase_submission_and_artifacts(self):
        s, _, _ = self.call("POST", "/api/users", {"username": "erin", "email": "erin@example.org"}, ADMIN)
        self.assertEqual(s, 201)
        s, tok, _ = self.call("POST", "/api/users/erin/tokens", {}, ADMIN)
        self.assertEqual(s, 201)
        self.assertEqual(self.call("GET", "/api/me", token=tok["token"])[1]["username"], "erin")
        self.assertEqual(self.call("POST", "/api/host-teams", {"id": 5, "name": "T"}, ADMIN)[0], 201)
        self.assertEqual(self.call("POST", "/api/host-teams/5/members",
                                   {"username": "erin", "status": "accepted"}, ADMIN)[0], 201)
        s, b, _ = self.call("POST", "/api/challenges", {"id": 50, "title": "New", "host_team": 5}, ADMIN)
        self.assertEqual(s, 201, b)
        s, b, _ = self.call("POST", "/api/challenges/50/phases",
                            {"id": 500, "name": "Test", "end_date": "2026-04-01T00:00:00Z"}, ADMIN)
        self.assertEqual(s, 201, b)
        s, b, _ = self.call("POST", "/api/phases/500/submissions",
                            {"id": 5000, "participant": "bob", "submitted_at": "2026-03-01T00:00:00Z"}, ADMIN)
        self.assertEqual(s, 201, b)
        s, b, _ = self.call("PUT", "/api/submissions/5000/artifacts/upload?kind=input_file&key=up/5000/in.zip",
                            token=ADMIN, raw=b"\x00\x01zipbytes", headers={"Content-Type": "application/octet-stream"})
        self.assertEqual(s, 201, b)
        with open(os.path.join(self.ws.artifacts, "up/5000/in.zip"), "rb") as f:
            self.assertEqual(f.read(), b"\x00\x01zipbytes")
        os.makedirs(os.path.join(self.ws.artifacts, "pre"), exist_ok=True)
        with open(os.path.join(self.ws.artifacts, "pre/out.txt"), "w") as f:
            f.write("12345")
        s, b, _ = self.call("POST", "/api/submissions/5000/artifacts",
                            {"kind": "stdout_file", "key": "pre/out.txt", "size": 4}, ADMIN)
        self.assertEqual(s, 400, "a size that does not match the store is refused")
        s, b, _ = self.call("POST", "/api/submissions/5000/artifacts",
                            {"kind": "stdout_file", "key": "pre/out.txt"}, ADMIN)
        self.assertEqual(s, 201, b)
        s, b, _ = self.call("POST", "/api/submissions/5000/artifacts",
                            {"kind": "stdout_file", "key": "pre/missing.txt"}, ADMIN)
        self.assertEqual(s, 404)
        self.assertEqual(self.call("POST", "/api/challenges/50/retention-consent/", {}, tok["token"])[0], 201)
        plan = self.call("GET", "/api/plan?challenge_id=50", token=ADMIN)[1]
        self.assertEqual([i["submission_id"] for i in plan["deletable"]], [5000])
        self.assertEqual(plan["deletable"][0]["bytes"], 10 + 5)

    def test_phase_end_date_and_visibility_recompute_at_once(self):
        def eligible():
            return self.ws.sql("SELECT retention_eligible_date FROM submissions WHERE phase_id = 11")[0][0]
        phase = self.ws.sql("SELECT id, end_date FROM phases WHERE challenge_id = 2")[0]
        self.assertEqual(phase[0], 11)
        self.assertEqual(eligible(), phase[1] + 30 * 86400)
        s, _, _ = self.call("PATCH", "/api/phases/11", {"end_date": "2026-05-01T00:00:00Z"}, ADMIN)
        self.assertEqual(s, 200)
        self.assertEqual(eligible(), 1777593600 + 30 * 86400)
        self.call("PATCH", "/api/phases/11", {"is_public": True}, ADMIN)
        self.assertIsNone(eligible())
        self.call("PATCH", "/api/phases/11", {"is_public": False}, ADMIN)
        self.assertIsNotNone(eligible())
        self.call("PATCH", "/api/phases/11", {"end_date": None}, ADMIN)
        self.assertIsNone(eligible())

    def test_events_are_recorded_and_audited(self):
        for event in ("approved", "worker_restarted", "task_definition_registered"):
            s, b, _ = self.call("POST", "/api/challenges/2/events", {"event": event}, ADMIN)
            self.assertEqual(s, 202, b)
        s, b, _ = self.call("POST", "/api/challenges/2/events", {"event": "exploded"}, ADMIN)
        self.assertEqual(s, 400)
        actions = [e["action"] for e in self.call("GET", "/api/audit?challenge_id=2", token=ADMIN)[1]["events"]]
        for event in ("approved", "worker_restarted", "task_definition_registered"):
            self.assertIn("event_" + event, actions)

    def test_override_and_holds_are_audited_and_csv_export_works(self):
        self.assertEqual(self.call("POST", "/api/challenges/2/override", {"days": 5, "reason": "short"}, ADMIN)[0], 200)
        self.assertEqual(self.call("POST", "/api/challenges/2/hold", {"hold": True, "reason": "court"}, ADMIN)[0], 200)
        self.assertEqual(self.call("POST", "/api/submissions/100/hold", {"hold": True, "reason": "x"}, ADMIN)[0], 200)
        s, csv, h = self.call("GET", "/api/audit?format=csv", token=ADMIN)
        self.assertEqual(s, 200)
        self.assertIn("text/csv", h["Content-Type"])
        self.assertIn("override_set", csv)
        self.assertIn("hold_set", csv)
        v = self.call("GET", "/api/audit/verify", token=ADMIN)[1]
        self.assertTrue(v["ok"])
        plan = self.call("GET", "/api/plan", token=ADMIN)[1]
        self.assertEqual({s["reason"] for s in plan["skipped"]}, {"challenge_on_hold"})

    def test_outbox_lists_through_the_outbox_module_and_refuses_an_unknown_state(self):
        s, b, _ = self.call("GET", "/api/outbox?state=queued", token=ADMIN)
        self.assertEqual(s, 200, b)
        self.assertEqual(b, {"mail": []})
        s, b, _ = self.call("GET", "/api/outbox?state=lost", token=ADMIN)
        self.assertEqual(s, 400, b)
        self.assertIn("unknown state 'lost'", b["error"])


class ArtifactAfterSweepTests(ApiTest):
    """Issue 8 defect 6: an artifact added to a swept submission (a re-run's file) cleared nothing,
    so the submission stayed `is_artifact_deleted = 1` and no sweep ever looked at the file again."""

    SID = 102  # challenge 2 (consent), phase 11 ended 40 days ago: eligible 10 days ago

    def state(self):
        return self.ws.sql("SELECT is_artifact_deleted, artifact_deletion_date, "
                           "retention_eligible_date FROM submissions WHERE id = ?", (self.SID,))[0]

    def sweep_first(self):
        done = self.ws.json("cleanup")
        self.assertIn(self.SID, [i["submission_id"] for i in done["deleted"]])
        self.assertEqual(self.state()[0], 1)
        # An override set now leaves the deleted submission's dates alone (they are history); a
        # new artifact must bring them up to date.
        s, b, _ = self.call("POST", "/api/challenges/2/override", {"days": 5, "reason": "short"}, ADMIN)
        self.assertEqual(s, 200, b)
        end = self.ws.sql("SELECT end_date FROM phases WHERE id = 11")[0][0]
        return end + 5 * 86400

    def assert_swept_in_turn(self, key, eligible):
        deleted, deletion_date, eligible_date = self.state()
        self.assertEqual(deleted, 0, "a new artifact clears is_artifact_deleted")
        self.assertIsNone(deletion_date, "and the deletion date")
        self.assertEqual(eligible_date, eligible, "and the eligible date is recomputed (R3)")
        plan = self.call("GET", "/api/plan?challenge_id=2", token=ADMIN)[1]
        self.assertEqual([i["submission_id"] for i in plan["deletable"]], [self.SID])
        done = self.ws.json("cleanup")
        self.assertEqual([i["submission_id"] for i in done["deleted"]], [self.SID])
        self.assertEqual([a["key"] for a in done["deleted"][0]["artifacts"]], [key])
        self.assertFalse(os.path.exists(os.path.join(self.ws.artifacts, key)))
        self.assertEqual(self.state()[0], 1)
        self.assertEqual(self.ws.sql("SELECT state FROM artifacts WHERE storage_key = ?", (key,)),
                         [("deleted",)])

    def test_issue8_defect6_an_upload_on_a_swept_submission_is_swept_in_turn(self):
        eligible = self.sweep_first()
        key = "rerun/102/result.json"
        s, b, _ = self.call("PUT", "/api/submissions/102/artifacts/upload?kind=submission_result_file&key=" + key,
                            token=ADMIN, raw=b"{}", headers={"Content-Type": "application/octet-stream"})
        self.assertEqual(s, 201, b)
        self.assert_swept_in_turn(key, eligible)

    def test_issue8_defect6_a_registered_artifact_on_a_swept_submission_is_swept_in_turn(self):
        eligible = self.sweep_first()
        key = "rerun/102/stdout.txt"
        os.makedirs(os.path.join(self.ws.artifacts, "rerun/102"))
        with open(os.path.join(self.ws.artifacts, key), "w") as f:
            f.write("log")
        s, b, _ = self.call("POST", "/api/submissions/102/artifacts",
                            {"kind": "stdout_file", "key": key, "size": 3}, ADMIN)
        self.assertEqual(s, 201, b)
        self.assert_swept_in_turn(key, eligible)

    def test_issue8_defect6_a_refused_artifact_leaves_the_swept_submission_as_it_was(self):
        self.sweep_first()
        before = self.state()
        s, b, _ = self.call("POST", "/api/submissions/102/artifacts",
                            {"kind": "stdout_file", "key": "rerun/102/missing.txt"}, ADMIN)
        self.assertEqual(s, 404, b)
        self.assertEqual(self.state(), before)


class ArtifactStoreConfinementTests(ApiTest):
    def test_issue8_defect5_an_upload_through_a_symlinked_folder_is_refused(self):
        outside = os.path.join(self.ws.dir, "outside")
        os.makedirs(outside)
        os.symlink(outside, os.path.join(self.ws.artifacts, "linked"))
        s, b, _ = self.call("PUT", "/api/submissions/102/artifacts/upload?kind=stdout_file&key=linked/out.txt",
                            token=ADMIN, raw=b"planted", headers={"Content-Type": "application/octet-stream"})
        self.assertEqual(s, 409, b)
        self.assertIn("symbolic link", b["error"])
        self.assertEqual(os.listdir(outside), [], "nothing is written outside the artifact folder")
        self.assertEqual(self.ws.sql("SELECT COUNT(*) FROM artifacts WHERE storage_key = 'linked/out.txt'"),
                         [(0,)])


class LogLineTests(ApiTest):
    GROUP = "/api/log-groups/challenge-pk-2-production-workers/lines"

    def test_ingest_then_read_by_time_range(self):
        lines = [{"timestamp": "2026-05-0%dT12:00:00Z" % d, "message": "day %d" % d} for d in (1, 2, 3, 4)]
        s, b, _ = self.call("POST", self.GROUP, {"lines": lines}, ADMIN)
        self.assertEqual(s, 201, b)
        self.assertEqual(b["ingested"], 4)
        s, b, _ = self.call("GET", self.GROUP + "?from=2026-05-02T00:00:00Z&to=2026-05-04T00:00:00Z",
                            token=ADMIN)
        self.assertEqual(s, 200, b)
        self.assertEqual([l["message"] for l in b["lines"]], ["day 2", "day 3"])
        s, b, _ = self.call("GET", self.GROUP + "?limit=1", token=ADMIN)
        self.assertEqual([l["message"] for l in b["lines"]], ["day 1"])

    def test_bad_lines_and_bad_group_names_are_refused(self):
        for body in ({"lines": [{"timestamp": "soon", "message": "x"}]},
                     {"lines": [{"message": "no time"}]}, {"lines": "x"}):
            s, b, _ = self.call("POST", self.GROUP, body, ADMIN)
            self.assertEqual(s, 400, body)
            self.assertIn("error", b)
        s, b, _ = self.call("POST", "/api/log-groups/bad..name/lines",
                            {"lines": [{"timestamp": "2026-05-01T00:00:00Z", "message": "x"}]}, ADMIN)
        self.assertEqual(s, 400, b)
        s, b, _ = self.call("GET", self.GROUP, token=ADMIN)
        self.assertEqual(b["lines"], [], "a refused batch stores nothing")


class ServiceTests(ApiTest):
    def test_health_metrics_ui_and_graceful_stop(self):
        s, b, _ = self.call("GET", "/healthz")
        self.assertEqual((s, b), (200, {"status": "ok"}))
        self.call("GET", "/api/me", token=HOST)
        s, text, h = self.call("GET", "/metrics")
        self.assertEqual(s, 200)
        for name in ("retention_http_requests_total", "retention_http_request_duration_seconds_bucket",
                     "retention_artifacts_deleted_total", "retention_bytes_freed_total",
                     "retention_sweep_failures", "retention_oldest_overdue_seconds"):
            self.assertIn(name, text)
        self.assertIn('route="GET /api/me",status="200"', text)
        s, html, h = self.call("GET", "/")
        self.assertEqual(s, 200)
        self.assertIn("text/html", h["Content-Type"])
        s, js, h = self.call("GET", "/app.js")
        self.assertEqual(s, 200)
        self.assertIn("javascript", h["Content-Type"])
        self.assertEqual(self.call("GET", "/nope.js")[0], 404)
        self.assertEqual(self.server.stop(), 0, "SIGTERM ends serve cleanly with exit 0")


if __name__ == "__main__":
    unittest.main()


def promtool():
    """Debian's promtool: on PATH, or unpacked into .tools/ by tools/install-deps.sh."""
    local = os.path.join(SOURCE_DIR, ".tools", "promtool")
    return shutil.which("promtool") or (local if os.access(local, os.X_OK) else None)


class DeployTests(ApiTest):
    """Issue 15 item 3: deploy/prometheus/alerts.yml passes `promtool check rules` and its unit
    tests (alerts_test.yml), and every metric that the alerts and deploy/grafana/retention.json
    read is one that this server exports."""

    def exported_metrics(self):
        s, text, _ = self.call("GET", "/metrics")
        self.assertEqual(s, 200)
        names = set(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M))
        out = set()
        for name, kind in names:
            out.add(name)
            if kind == "histogram":
                out.update(name + suffix for suffix in ("_bucket", "_sum", "_count"))
        return out

    @staticmethod
    def metric_names(expr):
        return set(re.findall(r"\b(retention_[a-z_]+)\b", expr))

    def test_alerts_pass_promtool_and_read_exported_metrics(self):
        tool = promtool()
        self.assertIsNotNone(tool, "no promtool: run tools/install-deps.sh")
        folder = os.path.join(SOURCE_DIR, "deploy", "prometheus")
        r = subprocess.run([tool, "check", "rules", "alerts.yml"], cwd=folder, capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("SUCCESS: 7 rules found", r.stdout)
        r = subprocess.run([tool, "test", "rules", "alerts_test.yml"], cwd=folder,
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        with open(os.path.join(folder, "alerts.yml")) as f:
            used = self.metric_names(f.read())
        self.assertIn("retention_oldest_overdue_seconds", used)
        self.assertEqual(used - self.exported_metrics(), set())

    def test_the_dashboards_queries_parse_and_read_exported_metrics(self):
        with open(os.path.join(SOURCE_DIR, "deploy", "grafana", "retention.json")) as f:
            dash = json.load(f)
        exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
        self.assertGreaterEqual(len(exprs), 10)
        used = set()
        for e in exprs:
            used |= self.metric_names(e)
        self.assertEqual(used - self.exported_metrics(), set())
        for wanted in ("retention_backlog_submissions", "retention_bytes_freed_total",
                       "retention_job_last_duration_seconds",
                       "retention_http_request_duration_seconds_bucket"):
            self.assertIn(wanted, used)
        # Every query parses: promtool checks them as recording rules.
        tool = promtool()
        self.assertIsNotNone(tool, "no promtool: run tools/install-deps.sh")
        rules = os.path.join(self.ws.dir, "dashboard_rules.yml")
        with open(rules, "w") as f:
            f.write("groups:\n  - name: dashboard\n    rules:\n")
            for i, e in enumerate(exprs):
                f.write("      - record: dashboard:q%d\n        expr: %s\n" % (i, json.dumps(e)))
        r = subprocess.run([tool, "check", "rules", rules], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
