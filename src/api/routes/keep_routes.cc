// Keep (R10): hosts of a challenge and admins keep submissions and release their keeps, and
// search the challenge's submissions to find them. Only admins release a baseline (the service
// decides: PermissionDenied, 403).
#include "api/route_support.h"
#include "api/routes/routes.h"
#include "service/views.h"

namespace retention {
namespace {

using nlohmann::json;

json KeepJson(const KeepResult& r, const std::string& reason) {
  return {{"submission_id", r.submission_id},
          {"challenge_id", r.challenge_id},
          {"changed", r.changed},
          {"kept", r.kept},
          {"is_baseline", r.is_baseline},
          {"baseline_released", r.baseline_released},
          {"retention_eligible_date", JsonTime(r.eligible_date)},
          {"reason", reason}};
}

using KeepAction = Result<KeepResult> (*)(const ServiceContext&, std::int64_t,
                                          std::optional<std::int64_t>, const std::string&,
                                          const std::optional<std::string>&);

// Body: {"reason": "..."} (required). The submission must be one of the challenge's (404).
HttpResponse Keep(const RouteEnv& env, Call& c, KeepAction act) {
  if (auto s = CheckFields(c.body, {"reason"}); !s.ok()) return FromStatus(s);
  auto reason = OptString(c.body, "reason");
  if (!reason.ok()) return FromStatus(reason.status());
  if (!*reason || (*reason)->empty()) return JsonError(400, "'reason' is required");
  auto r = act(*env.ctx, c.Id("id"), c.Id("pk"), **reason, c.user.username);
  if (!r.ok()) return FromStatus(r.status());
  return Json(200, KeepJson(*r, **reason));
}

HttpResponse KeepRoute(const RouteEnv& env, Call& c) { return Keep(env, c, &KeepSubmission); }

HttpResponse ReleaseRoute(const RouteEnv& env, Call& c) { return Keep(env, c, &ReleaseKeep); }

// ?q= (an id or a participant; empty: all), ?after= (the previous page's `next`), ?limit= (1-500).
HttpResponse SearchRoute(const RouteEnv& env, Call& c) {
  auto limit = QueryInt(c.req, "limit", 50, 1, 500);
  if (!limit.ok()) return FromStatus(limit.status());
  auto after = QueryId(c.req, "after");
  if (!after.ok()) return FromStatus(after.status());
  return JsonOr(200, SubmissionSearchView(*env.ctx, c.Id("pk"), QueryText(c.req, "q"),
                                          after->value_or(0), *limit));
}

}  // namespace

std::vector<Route> KeepRoutes() {
  return {
      {{"GET", "/api/challenges/{pk}/submissions", Access::kHostOrAdmin}, &SearchRoute},
      {{"POST", "/api/challenges/{pk}/submissions/{id}/keep", Access::kHostOrAdmin}, &KeepRoute},
      {{"POST", "/api/challenges/{pk}/submissions/{id}/release", Access::kHostOrAdmin},
       &ReleaseRoute},
  };
}

}  // namespace retention
