// The admins' retention actions: override, phase policy, legal holds, challenge events, and the
// dry-run plan.
#include "api/api.h"
#include "api/route_support.h"
#include "api/routes/routes.h"
#include "service/log_retention_sync.h"
#include "service/sweep.h"
#include "service/views.h"

namespace retention {
namespace {

using nlohmann::json;

// Body: {"days": 1..3653 or null, "reason"?}. null clears the override.
HttpResponse Override(const RouteEnv& env, Call& c) {
  if (auto s = CheckFields(c.body, {"days", "reason"}); !s.ok()) return FromStatus(s);
  std::optional<int> days;
  if (!c.body.contains("days")) return JsonError(400, "'days' is required (an integer or null)");
  if (!c.body["days"].is_null()) {
    auto d = RetentionDaysField(c.body, "days", " or null");
    if (!d.ok()) return FromStatus(d.status());
    days = *d;
  }
  auto reason = OptString(c.body, "reason");
  if (!reason.ok()) return FromStatus(reason.status());
  if (auto s = SetOverride(*env.ctx, c.Id("pk"), days, reason->value_or(""), c.user.username);
      !s.ok()) {
    return FromStatus(s);
  }
  return Json(200, {{"challenge_id", c.Id("pk")},
                    {"log_retention_days_override", days ? json(*days) : json()},
                    {"reason", reason->value_or("")}});
}

// Body: exactly one of {"days": 1..3653}, {"keep": true}, {"clear": true}, and a "reason".
HttpResponse PhasePolicyRoute(const RouteEnv& env, Call& c) {
  if (auto s = CheckFields(c.body, {"days", "keep", "clear", "reason"}); !s.ok()) {
    return FromStatus(s);
  }
  const int modes = (c.body.contains("days") ? 1 : 0) + (c.body.contains("keep") ? 1 : 0) +
                    (c.body.contains("clear") ? 1 : 0);
  if (modes != 1) return JsonError(400, "give exactly one of 'days', 'keep' or 'clear'");
  PhasePolicy policy;
  if (c.body.contains("days")) {
    auto d = RetentionDaysField(c.body, "days");
    if (!d.ok()) return FromStatus(d.status());
    policy.days = *d;
  }
  for (const char* flag : {"keep", "clear"}) {
    if (c.body.contains(flag) && c.body[flag] != true) {
      return JsonError(400, std::string("'") + flag + "' must be true");
    }
  }
  policy.keep = c.body.contains("keep");
  auto reason = OptString(c.body, "reason");
  if (!reason.ok()) return FromStatus(reason.status());
  if (!*reason || (*reason)->empty()) return JsonError(400, "'reason' is required");
  if (auto s = SetPhasePolicy(*env.ctx, c.Id("id"), policy, **reason, c.user.username); !s.ok()) {
    return FromStatus(s);
  }
  return Json(200, {{"phase_id", c.Id("id")},
                    {"retention_days", policy.days ? json(*policy.days) : json()},
                    {"retention_policy", policy.keep ? json("keep") : json()},
                    {"reason", **reason}});
}

using HoldSetter = Status (*)(const ServiceContext&, std::int64_t, bool, const std::string&,
                              const std::string&);

// Body: {"hold": true|false, "reason"?}. Sets or releases the hold on the object with the path
// id `param` and answers {`id_key`: id, "legal_hold", "reason"}.
HttpResponse Hold(const RouteEnv& env, Call& c, HoldSetter set, const char* param,
                  const char* id_key) {
  if (auto s = CheckFields(c.body, {"hold", "reason"}); !s.ok()) return FromStatus(s);
  auto hold = RequiredBool(c.body, "hold");
  if (!hold.ok()) return FromStatus(hold.status());
  auto reason = OptString(c.body, "reason");
  if (!reason.ok()) return FromStatus(reason.status());
  const std::int64_t id = c.Id(param);
  if (auto s = set(*env.ctx, id, *hold, reason->value_or(""), c.user.username); !s.ok()) {
    return FromStatus(s);
  }
  return Json(200, {{id_key, id}, {"legal_hold", *hold}, {"reason", reason->value_or("")}});
}

HttpResponse ChallengeHold(const RouteEnv& env, Call& c) {
  return Hold(env, c, &SetChallengeHold, "pk", "challenge_id");
}

HttpResponse SubmissionHold(const RouteEnv& env, Call& c) {
  return Hold(env, c, &SetSubmissionHold, "id", "submission_id");
}

// Body: {"event": "approved" | "worker_restarted" | "task_definition_registered"}. Audited; an
// approval also marks the challenge approved; the log retention sync (R8) answers with the
// policy it applied (or that it queued the challenge).
HttpResponse ChallengeEvent(const RouteEnv& env, Call& c) {
  if (auto s = CheckFields(c.body, {"event"}); !s.ok()) return FromStatus(s);
  auto event = OptString(c.body, "event");
  if (!event.ok()) return FromStatus(event.status());
  static const std::set<std::string> kEvents = {"approved", "worker_restarted",
                                                "task_definition_registered"};
  if (!*event || !kEvents.contains(**event)) {
    return JsonError(400,
                     "'event' must be one of approved, worker_restarted, "
                     "task_definition_registered");
  }
  const std::int64_t id = c.Id("pk");
  if (**event == "approved") {
    if (auto s = UpdateChallenge(*env.ctx, id, json{{"approved", true}}); !s.ok()) {
      return FromStatus(s);
    }
  }
  if (auto s = RecordAdminAction(*env.ctx, id, c.user.username, "event_" + **event, ""); !s.ok()) {
    return FromStatus(s);
  }
  json result = {{"challenge_id", id}, {"event", **event}, {"recorded", true}};
  if (env.ctx->log_sync != nullptr) {
    auto r = env.ctx->log_sync->ChallengeEvent(id, **event);
    if (!r.ok()) return FromStatus(r.status());
    result["log_retention"] = *r;
  }
  return Json(202, result);
}

// A dry-run sweep page: ?as_of, ?challenge_id, ?limit (deletable submissions, and skipped ones
// listed up to the same count), ?after ("DATE:ID", the `next` of the previous page).
HttpResponse Plan(const RouteEnv& env, Call& c) {
  SweepOptions o;
  o.dry_run = true;
  if (auto it = c.req.query.find("as_of"); it != c.req.query.end()) {
    auto t = ParseTime(it->second);
    if (!t.ok()) return FromStatus(t.status().WithContext("as_of"));
    o.as_of = *t;
  }
  auto challenge = QueryId(c.req, "challenge_id");
  if (!challenge.ok()) return FromStatus(challenge.status());
  o.challenge_id = *challenge;
  auto limit = QueryInt(c.req, "limit", 1000, 1, 100000);
  if (!limit.ok()) return FromStatus(limit.status());
  o.max_items = *limit;
  o.max_listed_problems = *limit;
  if (auto it = c.req.query.find("after"); it != c.req.query.end()) {
    auto cursor = ParseSweepCursor(it->second);
    if (!cursor.ok()) return FromStatus(cursor.status());
    o.after = *cursor;
  }
  auto r = RunSweep(*env.ctx, o);
  if (!r.ok()) return FromStatus(r.status());
  return Json(200, SweepReportJson(*r));
}

}  // namespace

std::vector<Route> AdminRoutes() {
  return {
      {{"POST", "/api/challenges/{pk}/override", Access::kAdmin}, &Override},
      {{"POST", "/api/challenges/{pk}/hold", Access::kAdmin}, &ChallengeHold},
      {{"POST", "/api/challenges/{pk}/events", Access::kAdmin, true}, &ChallengeEvent},
      {{"POST", "/api/phases/{id}/policy", Access::kAdmin}, &PhasePolicyRoute},
      {{"POST", "/api/submissions/{id}/hold", Access::kAdmin}, &SubmissionHold},
      {{"GET", "/api/plan", Access::kAdmin}, &Plan},
  };
}

}  // namespace retention
