// The seed's consent endpoints (DESIGN.md section 6), retention info and the forecast.
#include <chrono>
#include <optional>

#include "api/consent_rate_limiter.h"
#include "api/route_support.h"
#include "api/routes/routes.h"
#include "service/views.h"

namespace retention {
namespace {

using nlohmann::json;

// 429 with Retry-After when the caller is over the consent-write rate limit; nullopt (and the
// call counted) otherwise.
std::optional<HttpResponse> OverRateLimit(const RouteEnv& env, const Call& c) {
  const int retry = env.consent_limit->Acquire(c.user.id, std::chrono::steady_clock::now());
  if (retry == 0) return std::nullopt;
  HttpResponse r =
      JsonError(429, "too many consent requests; try again in " + std::to_string(retry) + " s");
  r.headers.emplace_back("Retry-After", std::to_string(retry));
  return r;
}

HttpResponse ProvideConsent(const RouteEnv& env, Call& c) {
  if (auto s = CheckFields(c.body, {"notes"}); !s.ok()) return FromStatus(s);
  auto notes = OptString(c.body, "notes");
  if (!notes.ok()) return FromStatus(notes.status());
  if (auto refusal = OverRateLimit(env, c)) return *refusal;
  auto r = GrantConsent(*env.ctx, c.Id("pk"), c.user.username, *notes);
  if (!r.ok()) return FromStatus(r.status());
  return Json(r->changed ? 201 : 200,
              {{"message", r->changed ? "Retention consent recorded."
                                      : "Retention consent was already given."},
               {"consent_date", JsonTime(r->consent_date)},
               {"consent_by", r->consent_by},
               {"challenge_id", r->challenge_id},
               {"challenge_title", r->challenge_title}});
}

HttpResponse ConsentStatus(const RouteEnv& env, Call& c) {
  return JsonOr(200, ConsentStatusView(*env.ctx, c.Id("pk"), c.user));
}

HttpResponse UpdateConsent(const RouteEnv& env, Call& c) {
  if (auto s = CheckFields(c.body, {"consent", "notes"}); !s.ok()) return FromStatus(s);
  auto consent = RequiredBool(c.body, "consent");
  if (!consent.ok()) return FromStatus(consent.status());
  auto notes = OptString(c.body, "notes");
  if (!notes.ok()) return FromStatus(notes.status());
  if (auto refusal = OverRateLimit(env, c)) return *refusal;
  auto r = *consent ? GrantConsent(*env.ctx, c.Id("pk"), c.user.username, *notes)
                    : WithdrawConsent(*env.ctx, c.Id("pk"), c.user.username, *notes);
  if (!r.ok()) return FromStatus(r.status());
  std::string message;
  if (*consent) {
    message = r->changed ? "Retention consent granted." : "Retention consent was already given.";
  } else {
    message = r->changed ? "Retention consent withdrawn." : "Retention consent was not given.";
  }
  return Json(200, {{"message", message},
                    {"consent_date", JsonTime(r->consent_date)},
                    {"consent_by", r->consent_by.empty() ? json() : json(r->consent_by)}});
}

HttpResponse RetentionInfo(const RouteEnv& env, Call& c) {
  Result<ChallengeRole> role = ChallengeRole{};
  {
    auto conn = env.ctx->db->LockRead();
    role = RoleFor(*conn, c.user, c.Id("pk"));
  }
  if (!role.ok()) return FromStatus(role.status());
  return JsonOr(200, RetentionInfoView(*env.ctx, c.Id("pk"), *role));
}

HttpResponse Forecast(const RouteEnv& env, Call& c) {
  auto weeks = QueryInt(c.req, "weeks", 12, 1, 260);
  if (!weeks.ok()) return FromStatus(weeks.status());
  return JsonOr(200, ForecastView(*env.ctx, c.Id("pk"), *weeks));
}

}  // namespace

std::vector<Route> ConsentRoutes() {
  return {
      {{"POST", "/api/challenges/{pk}/retention-consent/", Access::kHost}, &ProvideConsent},
      {{"GET", "/api/challenges/{pk}/retention-consent-status/", Access::kChallenge},
       &ConsentStatus},
      {{"POST", "/api/challenges/{pk}/update-retention-consent/", Access::kHost}, &UpdateConsent},
      {{"GET", "/api/challenges/{pk}/retention-info/", Access::kChallenge}, &RetentionInfo},
      {{"GET", "/api/challenges/{pk}/forecast", Access::kHostOrAdmin}, &Forecast},
  };
}

}  // namespace retention
