#include "api/api.h"

#include <algorithm>
#include <array>
#include <deque>
#include <set>
#include <sstream>

#include "core/crypto.h"
#include "domain/retention_rules.h"
#include "service/audit_log.h"
#include "service/sweep.h"
#include "service/views.h"
#include "web/web_assets.h"

namespace retention {
namespace {

using nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

// One request on its way through a route.
struct Call {
  const HttpRequest& req;
  User user;
  bool signed_in = false;
  Role role = Role::kAnonymous;
  bool is_host = false;  // an accepted member of the host team of the route's challenge
  std::map<std::string, std::string> params;
  json body;
  std::int64_t Id(const char* name) const { return std::stoll(params.at(name)); }
};

HttpResponse Json(int status, const json& j) {
  HttpResponse r;
  r.status = status;
  r.body = j.dump(-1, ' ', false, json::error_handler_t::replace);
  return r;
}

HttpResponse FromStatus(const Status& s) {
  if (s.code() == StatusCode::kInternal || s.code() == StatusCode::kUnavailable) {
    return JsonError(HttpStatusFor(s), "internal error: " + s.message());
  }
  return JsonError(HttpStatusFor(s), s.message());
}

Status CheckFields(const json& body, const std::set<std::string>& allowed) {
  if (!body.is_object()) return InvalidArgument("the body must be a JSON object");
  for (const auto& [key, value] : body.items()) {
    if (!allowed.contains(key)) return InvalidArgument("unknown field '" + key + "'");
  }
  return Status::Ok();
}

Result<std::optional<std::string>> OptString(const json& body, const char* key) {
  if (!body.contains(key) || body[key].is_null()) return std::optional<std::string>();
  if (!body[key].is_string()) return InvalidArgument(std::string("'") + key + "' must be a string");
  return std::optional<std::string>(body[key].get<std::string>());
}

Result<bool> RequiredBool(const json& body, const char* key) {
  if (!body.contains(key)) return InvalidArgument(std::string("'") + key + "' is required");
  if (!body[key].is_boolean()) {
    return InvalidArgument(std::string("'") + key + "' must be a JSON boolean (true or false)");
  }
  return body[key].get<bool>();
}

Result<int> QueryInt(const HttpRequest& req, const char* key, int fallback, int lo, int hi) {
  auto it = req.query.find(key);
  if (it == req.query.end()) return fallback;
  try {
    std::size_t used = 0;
    const std::int64_t v = std::stoll(it->second, &used);
    if (used != it->second.size() || v < lo || v > hi) throw std::out_of_range("range");
    return static_cast<int>(v);
  } catch (...) {
    return InvalidArgument(std::string("query parameter '") + key + "' must be an integer " +
                           std::to_string(lo) + "-" + std::to_string(hi));
  }
}

Result<std::optional<std::int64_t>> QueryId(const HttpRequest& req, const char* key) {
  auto it = req.query.find(key);
  if (it == req.query.end()) return std::optional<std::int64_t>();
  try {
    std::size_t used = 0;
    const std::int64_t v = std::stoll(it->second, &used);
    if (used != it->second.size() || v <= 0) throw std::out_of_range("range");
    return std::optional<std::int64_t>(v);
  } catch (...) {
    return InvalidArgument(std::string("query parameter '") + key + "' must be a positive id");
  }
}

const char* AccessName(Access a) {
  switch (a) {
    case Access::kPublic:
      return "public";
    case Access::kUser:
      return "user";
    case Access::kChallenge:
      return "challenge";
    case Access::kHostOrAdmin:
      return "host_or_admin";
    case Access::kHost:
      return "host";
    case Access::kAdmin:
      return "admin";
  }
  return "admin";
}

// Splits "/a/b/" into {"a", "b"}; trailing slashes do not matter.
std::vector<std::string> Segments(const std::string& path) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : path) {
    if (c == '/') {
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

bool IsPositiveId(const std::string& s) {
  if (s.empty() || s.size() > 18) return false;
  if (!std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) return false;
  return std::stoll(s) > 0;
}

// Prometheus histogram buckets for request latency, in seconds.
constexpr std::array<double, 10> kBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025,
                                             0.05,  0.1,    0.25,  0.5,  1.0};

}  // namespace

struct Api::Impl {
  using Handler = HttpResponse (Impl::*)(Call&);
  struct Route {
    RouteInfo info;
    std::vector<std::string> segments;
    Handler handler;
  };

  ServiceContext& ctx;
  ApiOptions options;
  ApiHooks hooks;
  std::vector<Route> routes;

  std::mutex rate_mu;
  std::map<std::int64_t, std::deque<SteadyClock::time_point>> consent_calls;

  struct RouteMetrics {
    std::map<int, std::uint64_t> by_status;
    std::array<std::uint64_t, kBuckets.size()> buckets{};
    std::uint64_t count = 0;
    double sum = 0;
  };
  std::mutex metrics_mu;
  std::map<std::string, RouteMetrics> metrics;  // key "METHOD pattern"

  Impl(ServiceContext& c, ApiOptions o, ApiHooks h) : ctx(c), options(o), hooks(std::move(h)) {
    for (auto& [info, handler] : Table()) {
      routes.push_back({info, Segments(info.pattern), handler});
    }
  }

  static std::vector<std::pair<RouteInfo, Handler>> Table() {
    return {
        {{"GET", "/healthz", Access::kPublic}, &Impl::Healthz},
        {{"GET", "/metrics", Access::kPublic}, &Impl::Metrics},
        {{"GET", "/api/routes", Access::kAdmin}, &Impl::ListRoutes},
        {{"GET", "/api/me", Access::kUser}, &Impl::Me},
        {{"GET", "/api/challenges", Access::kUser}, &Impl::ListChallenges},
        {{"POST", "/api/challenges", Access::kAdmin}, &Impl::PostChallenge},
        {{"PATCH", "/api/challenges/{pk}", Access::kAdmin}, &Impl::PatchChallenge},
        {{"POST", "/api/challenges/{pk}/retention-consent/", Access::kHost}, &Impl::ProvideConsent},
        {{"GET", "/api/challenges/{pk}/retention-consent-status/", Access::kChallenge},
         &Impl::ConsentStatus},
        {{"POST", "/api/challenges/{pk}/update-retention-consent/", Access::kHost},
         &Impl::UpdateConsent},
        {{"GET", "/api/challenges/{pk}/retention-info/", Access::kChallenge}, &Impl::RetentionInfo},
        {{"GET", "/api/challenges/{pk}/forecast", Access::kHostOrAdmin}, &Impl::Forecast},
        {{"POST", "/api/challenges/{pk}/override", Access::kAdmin}, &Impl::Override},
        {{"POST", "/api/challenges/{pk}/hold", Access::kAdmin}, &Impl::ChallengeHold},
        {{"POST", "/api/challenges/{pk}/events", Access::kAdmin}, &Impl::ChallengeEvent},
        {{"POST", "/api/challenges/{pk}/phases", Access::kAdmin}, &Impl::PostPhase},
        {{"PATCH", "/api/phases/{id}", Access::kAdmin}, &Impl::PatchPhase},
        {{"POST", "/api/phases/{id}/policy", Access::kAdmin}, &Impl::PhasePolicyRoute},
        {{"POST", "/api/phases/{id}/submissions", Access::kAdmin}, &Impl::PostSubmission},
        {{"POST", "/api/submissions/{id}/artifacts", Access::kAdmin}, &Impl::PostArtifact},
        {{"PUT", "/api/submissions/{id}/artifacts/upload", Access::kAdmin},
         &Impl::UploadArtifactRoute},
        {{"POST", "/api/submissions/{id}/hold", Access::kAdmin}, &Impl::SubmissionHold},
        {{"POST", "/api/users", Access::kAdmin}, &Impl::PostUser},
        {{"PATCH", "/api/users/{name}", Access::kAdmin}, &Impl::PatchUser},
        {{"POST", "/api/users/{name}/tokens", Access::kAdmin}, &Impl::PostToken},
        {{"POST", "/api/host-teams", Access::kAdmin}, &Impl::PostHostTeam},
        {{"POST", "/api/host-teams/{id}/members", Access::kAdmin}, &Impl::PostMember},
        {{"GET", "/api/audit", Access::kUser}, &Impl::Audit},
        {{"GET", "/api/audit/verify", Access::kAdmin}, &Impl::AuditVerify},
        {{"GET", "/api/plan", Access::kAdmin}, &Impl::Plan},
        {{"GET", "/api/jobs", Access::kAdmin}, &Impl::Jobs},
        {{"GET", "/api/jobs/runs", Access::kAdmin}, &Impl::JobRuns},
        {{"POST", "/api/jobs/{name}/run", Access::kAdmin}, &Impl::RunJob},
        {{"GET", "/api/outbox", Access::kAdmin}, &Impl::Outbox},
        {{"POST", "/api/log-groups/{name}/lines", Access::kAdmin}, &Impl::IngestLines},
        {{"GET", "/api/log-groups/{name}/lines", Access::kAdmin}, &Impl::ReadLines},
    };
  }

  // ---- dispatch ----

  HttpResponse Handle(const HttpRequest& req) {
    const auto start = SteadyClock::now();
    std::string route_key = "static";
    HttpResponse resp = Dispatch(req, route_key);
    const double seconds = std::chrono::duration<double>(SteadyClock::now() - start).count();
    std::lock_guard<std::mutex> lock(metrics_mu);
    auto& m = metrics[route_key];
    ++m.by_status[resp.status];
    ++m.count;
    m.sum += seconds;
    for (std::size_t i = 0; i < kBuckets.size(); ++i) {
      if (seconds <= kBuckets[i]) ++m.buckets[i];
    }
    return resp;
  }

  HttpResponse Dispatch(const HttpRequest& req, std::string& route_key) {
    const auto segs = Segments(req.path);
    const bool api =
        !segs.empty() && (segs[0] == "api" || segs[0] == "healthz" || segs[0] == "metrics");
    if (!api) return Static(req);
    bool path_matched = false;
    for (const auto& r : routes) {
      if (r.segments.size() != segs.size()) continue;
      std::map<std::string, std::string> params;
      bool match = true;
      for (std::size_t i = 0; i < segs.size() && match; ++i) {
        const auto& p = r.segments[i];
        if (p.size() > 2 && p.front() == '{') {
          params[p.substr(1, p.size() - 2)] = segs[i];
        } else if (p != segs[i]) {
          match = false;
        }
      }
      if (!match) continue;
      path_matched = true;
      const bool head_as_get = req.method == "HEAD" && r.info.method == "GET";
      if (r.info.method != req.method && !head_as_get) continue;
      route_key = r.info.method + " " + r.info.pattern;
      for (const auto& [name, value] : params) {
        if (name != "name" && !IsPositiveId(value)) {
          return JsonError(400, "'" + value + "' is not a valid id");
        }
      }
      return Run(r, req, std::move(params));
    }
    route_key = "unmatched";
    if (path_matched) return JsonError(405, "method " + req.method + " not allowed here");
    return JsonError(404, "no such endpoint: " + req.path);
  }

  HttpResponse Run(const Route& r, const HttpRequest& req,
                   std::map<std::string, std::string> params) {
    Call call{req, {}, false, Role::kAnonymous, false, std::move(params), json::object()};
    if (r.info.access != Access::kPublic) {
      std::string auth = req.Header("authorization");
      const auto space = auth.find(' ');
      std::string scheme = space == std::string::npos ? auth : auth.substr(0, space);
      std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      if (auth.empty()) {
        return JsonError(401, "Authentication credentials were not provided.");
      }
      if ((scheme != "token" && scheme != "bearer") || space == std::string::npos) {
        return JsonError(401, "use 'Authorization: Token <key>' or 'Bearer <key>'");
      }
      auto user = Authenticate(ctx, auth.substr(space + 1));
      if (!user.ok()) return JsonError(401, "Invalid token.");
      call.user = *user;
      call.signed_in = true;
    }
    // Routes open to every user of a challenge resolve the role in their own query.
    if (call.params.contains("pk") && r.info.access != Access::kChallenge) {
      auto conn = ctx.db->LockRead();
      auto role = RoleFor(*conn, call.user, call.Id("pk"));
      if (!role.ok()) {
        if (role.status().code() == StatusCode::kNotFound) {
          return JsonError(404, "Challenge does not exist");
        }
        return FromStatus(role.status());
      }
      call.role = role->role;
      call.is_host = role->is_host;
    } else if (call.signed_in) {
      call.role = call.user.is_admin ? Role::kAdmin : Role::kParticipant;
    }
    switch (r.info.access) {
      case Access::kAdmin:
        if (!call.user.is_admin) return JsonError(403, "only admins may do this");
        break;
      case Access::kHost:
        if (!call.is_host) {
          return JsonError(403, "only hosts of this challenge may do this");
        }
        break;
      case Access::kHostOrAdmin:
        if (!call.is_host && call.role != Role::kAdmin) {
          return JsonError(403, "only hosts of this challenge and admins may see this");
        }
        break;
      default:
        break;
    }
    if (req.method == "POST" || req.method == "PATCH" || req.method == "PUT") {
      if (r.handler != &Impl::UploadArtifactRoute) {
        if (auto s = ParseBody(req, call.body); !s.ok()) {
          return JsonError(s.code() == StatusCode::kFailedPrecondition ? 415 : 400, s.message());
        }
      }
    }
    HttpResponse resp = (this->*r.handler)(call);
    if (call.signed_in) resp.headers.emplace_back(kAccessLogUserHeader, call.user.username);
    return resp;
  }

  static Status ParseBody(const HttpRequest& req, json& body) {
    const std::string type = req.Header("content-type");
    if (!req.body.empty() && !type.empty() && type.find("json") == std::string::npos) {
      return FailedPrecondition("the body must be JSON (Content-Type: application/json), not " +
                                type);
    }
    if (req.body.empty()) {
      body = json::object();
      return Status::Ok();
    }
    try {
      body = json::parse(req.body);
    } catch (const json::parse_error& e) {
      std::string what = e.what();
      if (auto p = what.find("] "); p != std::string::npos) what = what.substr(p + 2);
      return InvalidArgument("malformed JSON: " + what);
    }
    if (!body.is_object()) return InvalidArgument("the body must be a JSON object");
    return Status::Ok();
  }

  HttpResponse Static(const HttpRequest& req) {
    if (req.method != "GET" && req.method != "HEAD") return JsonError(405, "method not allowed");
    const WebAsset* asset = FindWebAsset(req.path);
    if (asset == nullptr) return JsonError(404, "no such page: " + req.path);
    HttpResponse r;
    r.content_type = std::string(asset->content_type);
    r.body = std::string(asset->body);
    r.headers.emplace_back("Cache-Control", "no-cache");
    r.headers.emplace_back("X-Content-Type-Options", "nosniff");
    r.headers.emplace_back("Content-Security-Policy",
                           "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'");
    return r;
  }

  bool RateLimited(std::int64_t user_id, int& retry_after) {
    const auto now = SteadyClock::now();
    std::lock_guard<std::mutex> lock(rate_mu);
    auto& q = consent_calls[user_id];
    while (!q.empty() && now - q.front() >= std::chrono::minutes(1)) q.pop_front();
    if (static_cast<int>(q.size()) >= options.consent_rate_per_minute) {
      retry_after = static_cast<int>(
          std::chrono::ceil<std::chrono::seconds>(q.front() + std::chrono::minutes(1) - now)
              .count());
      if (retry_after < 1) retry_after = 1;
      return true;
    }
    q.push_back(now);
    return false;
  }

  HttpResponse TooMany(int retry_after) {
    HttpResponse r = JsonError(
        429, "too many consent requests; try again in " + std::to_string(retry_after) + " s");
    r.headers.emplace_back("Retry-After", std::to_string(retry_after));
    return r;
  }

  // ---- public ----

  HttpResponse Healthz(Call&) {
    auto conn = ctx.db->LockRead();
    auto row = conn->QueryOne("SELECT 1");
    if (!row.ok()) return JsonError(503, "database unavailable: " + row.status().message());
    return Json(200, {{"status", "ok"}});
  }

  HttpResponse Metrics(Call&) {
    std::ostringstream out;
    out << "# HELP retention_http_requests_total HTTP requests by route and status.\n"
        << "# TYPE retention_http_requests_total counter\n";
    std::map<std::string, RouteMetrics> snapshot;
    {
      std::lock_guard<std::mutex> lock(metrics_mu);
      snapshot = metrics;
    }
    for (const auto& [route, m] : snapshot) {
      for (const auto& [status, n] : m.by_status) {
        out << "retention_http_requests_total{route=\"" << route << "\",status=\"" << status
            << "\"} " << n << "\n";
      }
    }
    out << "# HELP retention_http_request_duration_seconds Request latency.\n"
        << "# TYPE retention_http_request_duration_seconds histogram\n";
    for (const auto& [route, m] : snapshot) {
      for (std::size_t i = 0; i < kBuckets.size(); ++i) {
        out << "retention_http_request_duration_seconds_bucket{route=\"" << route << "\",le=\""
            << kBuckets[i] << "\"} " << m.buckets[i] << "\n";
      }
      out << "retention_http_request_duration_seconds_bucket{route=\"" << route
          << "\",le=\"+Inf\"} " << m.count << "\n"
          << "retention_http_request_duration_seconds_sum{route=\"" << route << "\"} " << m.sum
          << "\n"
          << "retention_http_request_duration_seconds_count{route=\"" << route << "\"} " << m.count
          << "\n";
    }
    const std::int64_t now = ToUnix(ctx.clock->Now());
    auto conn = ctx.db->LockRead();
    auto gauge = [&](const char* name, const char* help, const char* type, const char* sql,
                     const SqlParams& params) {
      auto row = conn->QueryOne(sql, params);
      out << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n"
          << name << " " << (row.ok() && *row ? (*row)->Int(0) : 0) << "\n";
    };
    gauge("retention_artifacts_deleted_total", "Artifacts deleted by sweeps.", "counter",
          "SELECT COUNT(*) FROM artifacts WHERE state = 'deleted'", {});
    gauge("retention_bytes_freed_total", "Bytes freed by sweeps.", "counter",
          "SELECT COALESCE(SUM(size_bytes), 0) FROM artifacts WHERE state = 'deleted'", {});
    gauge("retention_sweep_failures", "Artifacts whose last deletion attempt failed.", "gauge",
          "SELECT COUNT(*) FROM artifacts WHERE state = 'failed'", {});
    gauge("retention_backlog_submissions", "Submissions whose eligible date has passed.", "gauge",
          "SELECT COUNT(*) FROM submissions WHERE is_artifact_deleted = 0 AND "
          "retention_eligible_date <= ?",
          {now});
    gauge("retention_oldest_overdue_seconds",
          "Age of the oldest submission past its eligible date and not yet deleted.", "gauge",
          "SELECT COALESCE(? - MIN(retention_eligible_date), 0) FROM submissions WHERE "
          "is_artifact_deleted = 0 AND retention_eligible_date <= ?",
          {now, now});
    auto runs = conn->Query(
        "SELECT job, MAX(finished_at) FROM job_runs WHERE status = 'succeeded' GROUP BY job");
    out << "# HELP retention_job_last_success_timestamp_seconds Last successful run per job.\n"
        << "# TYPE retention_job_last_success_timestamp_seconds gauge\n";
    if (runs.ok()) {
      for (const auto& r : *runs) {
        out << "retention_job_last_success_timestamp_seconds{job=\"" << r.Text(0) << "\"} "
            << r.Int(1) << "\n";
      }
    }
    HttpResponse resp;
    resp.content_type = "text/plain; version=0.0.4";
    resp.body = out.str();
    return resp;
  }

  HttpResponse ListRoutes(Call&) {
    json arr = json::array();
    for (const auto& r : routes) {
      arr.push_back({{"method", r.info.method},
                     {"pattern", r.info.pattern},
                     {"access", AccessName(r.info.access)}});
    }
    return Json(200, {{"routes", arr}});
  }

  HttpResponse Me(Call& c) {
    return Json(
        200,
        {{"username", c.user.username}, {"email", c.user.email}, {"is_admin", c.user.is_admin}});
  }

  HttpResponse ListChallenges(Call& c) {
    auto conn = ctx.db->LockRead();
    auto rows = conn->Query(
        "SELECT c.id, c.title, c.retention_policy_consent, c.legal_hold, c.approved, m.status "
        "FROM challenges c LEFT JOIN host_team_members m ON m.host_team_id = c.host_team_id AND "
        "m.user_id = ? WHERE ? = 1 OR m.status IS NOT NULL OR EXISTS (SELECT 1 FROM submissions "
        "s WHERE s.challenge_id = c.id AND s.participant = ?) ORDER BY c.id",
        {c.user.id, std::int64_t{c.user.is_admin ? 1 : 0}, c.user.username});
    if (!rows.ok()) return FromStatus(rows.status());
    json arr = json::array();
    for (const auto& r : *rows) {
      const std::string member = r.Text(5);
      const char* role = c.user.is_admin        ? "admin"
                         : member == "accepted" ? "host"
                         : member == "pending"  ? "pending"
                                                : "participant";
      arr.push_back({{"id", r.Int(0)},
                     {"title", r.Text(1)},
                     {"has_consent", r.Bool(2)},
                     {"is_host", member == "accepted"},
                     {"role", role},
                     {"legal_hold", r.Bool(3)},
                     {"approved", r.Bool(4)}});
    }
    return Json(200, {{"challenges", arr}});
  }

  // ---- the seed's four endpoints ----

  HttpResponse ProvideConsent(Call& c) {
    if (auto s = CheckFields(c.body, {"notes"}); !s.ok()) return FromStatus(s);
    auto notes = OptString(c.body, "notes");
    if (!notes.ok()) return FromStatus(notes.status());
    int retry = 0;
    if (RateLimited(c.user.id, retry)) return TooMany(retry);
    auto r = GrantConsent(ctx, c.Id("pk"), c.user.username, *notes);
    if (!r.ok()) return FromStatus(r.status());
    return Json(r->changed ? 201 : 200,
                {{"message", r->changed ? "Retention consent recorded."
                                        : "Retention consent was already given."},
                 {"consent_date", JsonTime(r->consent_date)},
                 {"consent_by", r->consent_by},
                 {"challenge_id", r->challenge_id},
                 {"challenge_title", r->challenge_title}});
  }

  HttpResponse ConsentStatus(Call& c) {
    auto status = ConsentStatusView(ctx, c.Id("pk"), c.user);
    if (!status.ok()) return FromStatus(status.status());
    return Json(200, *status);
  }

  HttpResponse UpdateConsent(Call& c) {
    if (auto s = CheckFields(c.body, {"consent", "notes"}); !s.ok()) return FromStatus(s);
    auto consent = RequiredBool(c.body, "consent");
    if (!consent.ok()) return FromStatus(consent.status());
    auto notes = OptString(c.body, "notes");
    if (!notes.ok()) return FromStatus(notes.status());
    int retry = 0;
    if (RateLimited(c.user.id, retry)) return TooMany(retry);
    auto r = *consent ? GrantConsent(ctx, c.Id("pk"), c.user.username, *notes)
                      : WithdrawConsent(ctx, c.Id("pk"), c.user.username, *notes);
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

  HttpResponse RetentionInfo(Call& c) {
    Result<ChallengeRole> role = ChallengeRole{};
    {
      auto conn = ctx.db->LockRead();
      role = RoleFor(*conn, c.user, c.Id("pk"));
    }
    if (!role.ok()) return FromStatus(role.status());
    auto info = RetentionInfoView(ctx, c.Id("pk"), *role);
    if (!info.ok()) return FromStatus(info.status());
    return Json(200, *info);
  }

  HttpResponse Forecast(Call& c) {
    auto weeks = QueryInt(c.req, "weeks", 12, 1, 260);
    if (!weeks.ok()) return FromStatus(weeks.status());
    auto f = ForecastView(ctx, c.Id("pk"), *weeks);
    if (!f.ok()) return FromStatus(f.status());
    return Json(200, *f);
  }

  // ---- admin ----

  HttpResponse Override(Call& c) {
    if (auto s = CheckFields(c.body, {"days", "reason"}); !s.ok()) return FromStatus(s);
    std::optional<int> days;
    if (!c.body.contains("days")) return JsonError(400, "'days' is required (an integer or null)");
    if (!c.body["days"].is_null()) {
      if (!c.body["days"].is_number_integer()) {
        return JsonError(400, "'days' must be an integer 1-3653 or null");
      }
      const auto d = c.body["days"].get<std::int64_t>();
      if (d < kMinRetentionDays || d > kMaxRetentionDays) {
        return JsonError(400, "'days' " + std::to_string(d) + " is out of range 1-3653");
      }
      days = static_cast<int>(d);
    }
    auto reason = OptString(c.body, "reason");
    if (!reason.ok()) return FromStatus(reason.status());
    if (auto s = SetOverride(ctx, c.Id("pk"), days, reason->value_or(""), c.user.username);
        !s.ok()) {
      return FromStatus(s);
    }
    return Json(200, {{"challenge_id", c.Id("pk")},
                      {"log_retention_days_override", days ? json(*days) : json()},
                      {"reason", reason->value_or("")}});
  }

  // Body: exactly one of {"days": 1..3653}, {"keep": true}, {"clear": true}, and a "reason".
  HttpResponse PhasePolicyRoute(Call& c) {
    if (auto s = CheckFields(c.body, {"days", "keep", "clear", "reason"}); !s.ok()) {
      return FromStatus(s);
    }
    const int modes = (c.body.contains("days") ? 1 : 0) + (c.body.contains("keep") ? 1 : 0) +
                      (c.body.contains("clear") ? 1 : 0);
    if (modes != 1) return JsonError(400, "give exactly one of 'days', 'keep' or 'clear'");
    PhasePolicy policy;
    if (c.body.contains("days")) {
      if (!c.body["days"].is_number_integer()) {
        return JsonError(400, "'days' must be an integer 1-3653");
      }
      const auto d = c.body["days"].get<std::int64_t>();
      if (d < kMinRetentionDays || d > kMaxRetentionDays) {
        return JsonError(400, "'days' " + std::to_string(d) + " is out of range 1-3653");
      }
      policy.days = static_cast<int>(d);
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
    if (auto s = SetPhasePolicy(ctx, c.Id("id"), policy, **reason, c.user.username); !s.ok()) {
      return FromStatus(s);
    }
    return Json(200, {{"phase_id", c.Id("id")},
                      {"retention_days", policy.days ? json(*policy.days) : json()},
                      {"retention_policy", policy.keep ? json("keep") : json()},
                      {"reason", **reason}});
  }

  HttpResponse ChallengeHold(Call& c) {
    if (auto s = CheckFields(c.body, {"hold", "reason"}); !s.ok()) return FromStatus(s);
    auto hold = RequiredBool(c.body, "hold");
    if (!hold.ok()) return FromStatus(hold.status());
    auto reason = OptString(c.body, "reason");
    if (!reason.ok()) return FromStatus(reason.status());
    if (auto s = SetChallengeHold(ctx, c.Id("pk"), *hold, reason->value_or(""), c.user.username);
        !s.ok()) {
      return FromStatus(s);
    }
    return Json(
        200,
        {{"challenge_id", c.Id("pk")}, {"legal_hold", *hold}, {"reason", reason->value_or("")}});
  }

  HttpResponse SubmissionHold(Call& c) {
    if (auto s = CheckFields(c.body, {"hold", "reason"}); !s.ok()) return FromStatus(s);
    auto hold = RequiredBool(c.body, "hold");
    if (!hold.ok()) return FromStatus(hold.status());
    auto reason = OptString(c.body, "reason");
    if (!reason.ok()) return FromStatus(reason.status());
    if (auto s = SetSubmissionHold(ctx, c.Id("id"), *hold, reason->value_or(""), c.user.username);
        !s.ok()) {
      return FromStatus(s);
    }
    return Json(
        200,
        {{"submission_id", c.Id("id")}, {"legal_hold", *hold}, {"reason", reason->value_or("")}});
  }

  HttpResponse ChallengeEvent(Call& c) {
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
      if (auto s = UpdateChallenge(ctx, id, json{{"approved", true}}); !s.ok()) {
        return FromStatus(s);
      }
    }
    if (auto s = RecordAdminAction(ctx, id, c.user.username, "event_" + **event, ""); !s.ok()) {
      return FromStatus(s);
    }
    json result = {{"challenge_id", id}, {"event", **event}, {"recorded", true}};
    if (hooks.challenge_event) {
      auto r = hooks.challenge_event(id, **event);
      if (!r.ok()) return FromStatus(r.status());
      result["log_retention"] = *r;
    }
    return Json(202, result);
  }

  HttpResponse Created(const char* what, std::int64_t id) {
    return Json(201, {{"id", id}, {"created", what}});
  }

  HttpResponse PostChallenge(Call& c) {
    auto id = CreateChallenge(ctx, c.body);
    if (!id.ok()) return FromStatus(id.status());
    return Created("challenge", *id);
  }

  HttpResponse PatchChallenge(Call& c) {
    if (auto s = UpdateChallenge(ctx, c.Id("pk"), c.body); !s.ok()) return FromStatus(s);
    return Json(200, {{"id", c.Id("pk")}, {"updated", true}});
  }

  HttpResponse PostPhase(Call& c) {
    auto id = CreatePhase(ctx, c.Id("pk"), c.body);
    if (!id.ok()) return FromStatus(id.status());
    return Created("phase", *id);
  }

  HttpResponse PatchPhase(Call& c) {
    if (auto s = UpdatePhase(ctx, c.Id("id"), c.body); !s.ok()) return FromStatus(s);
    return Json(200, {{"id", c.Id("id")}, {"updated", true}});
  }

  HttpResponse PostSubmission(Call& c) {
    auto id = CreateSubmission(ctx, c.Id("id"), c.body);
    if (!id.ok()) return FromStatus(id.status());
    return Created("submission", *id);
  }

  HttpResponse PostArtifact(Call& c) {
    auto id = RegisterArtifact(ctx, c.Id("id"), c.body);
    if (!id.ok()) return FromStatus(id.status());
    return Created("artifact", *id);
  }

  HttpResponse UploadArtifactRoute(Call& c) {
    auto kind = c.req.query.find("kind");
    auto key = c.req.query.find("key");
    if (kind == c.req.query.end() || key == c.req.query.end()) {
      return JsonError(400, "query parameters 'kind' and 'key' are required");
    }
    auto id = UploadArtifact(ctx, c.Id("id"), kind->second, key->second, c.req.body);
    if (!id.ok()) return FromStatus(id.status());
    return Created("artifact", *id);
  }

  HttpResponse PostUser(Call& c) {
    if (auto s = CheckFields(c.body, {"username", "email", "is_admin"}); !s.ok()) {
      return FromStatus(s);
    }
    auto username = OptString(c.body, "username");
    auto email = OptString(c.body, "email");
    if (!username.ok()) return FromStatus(username.status());
    if (!email.ok()) return FromStatus(email.status());
    if (!*username || !*email) return JsonError(400, "'username' and 'email' are required");
    bool admin = false;
    if (c.body.contains("is_admin")) {
      auto a = RequiredBool(c.body, "is_admin");
      if (!a.ok()) return FromStatus(a.status());
      admin = *a;
    }
    auto u = AddUser(ctx, **username, **email, admin);
    if (!u.ok()) return FromStatus(u.status());
    return Json(
        201,
        {{"id", u->id}, {"username", u->username}, {"email", u->email}, {"is_admin", u->is_admin}});
  }

  HttpResponse PatchUser(Call& c) {
    if (auto s = UpdateUser(ctx, c.params.at("name"), c.body); !s.ok()) return FromStatus(s);
    return Json(200, {{"username", c.params.at("name")}, {"updated", true}});
  }

  HttpResponse PostToken(Call& c) {
    if (auto s = CheckFields(c.body, {}); !s.ok()) return FromStatus(s);
    auto t = CreateToken(ctx, c.params.at("name"), c.user.username);
    if (!t.ok()) return FromStatus(t.status());
    return Json(201, {{"username", c.params.at("name")}, {"token", *t}});
  }

  HttpResponse PostHostTeam(Call& c) {
    auto id = CreateHostTeam(ctx, c.body);
    if (!id.ok()) return FromStatus(id.status());
    return Created("host_team", *id);
  }

  HttpResponse PostMember(Call& c) {
    if (auto s = AddTeamMember(ctx, c.Id("id"), c.body); !s.ok()) return FromStatus(s);
    return Json(201, {{"host_team_id", c.Id("id")}, {"member", c.body.value("username", "")}});
  }

  HttpResponse Audit(Call& c) {
    auto challenge = QueryId(c.req, "challenge_id");
    if (!challenge.ok()) return FromStatus(challenge.status());
    auto limit = QueryInt(c.req, "limit", 1000, 1, 100000);
    if (!limit.ok()) return FromStatus(limit.status());
    auto format = c.req.query.contains("format") ? c.req.query.at("format") : "json";
    if (format != "json" && format != "csv") return JsonError(400, "format must be json or csv");
    auto conn = ctx.db->LockRead();
    if (!c.user.is_admin) {
      // Hosts may read their own challenge's ledger.
      if (!*challenge) return JsonError(403, "only admins may read the whole audit log");
      auto role = RoleFor(*conn, c.user, **challenge);
      if (!role.ok()) return JsonError(404, "Challenge does not exist");
      if (!role->is_host) return JsonError(403, "only hosts and admins may read this");
    }
    AuditFilter f;
    f.challenge_id = *challenge;
    f.limit = *limit;
    auto events = ListAuditEvents(*conn, f);
    if (!events.ok()) return FromStatus(events.status());
    if (format == "csv") {
      HttpResponse r;
      r.content_type = "text/csv; charset=utf-8";
      r.body = AuditCsv(*events);
      return r;
    }
    json arr = json::array();
    for (const auto& e : *events) arr.push_back(AuditEventJson(e));
    return Json(200, {{"events", arr}});
  }

  HttpResponse AuditVerify(Call&) {
    auto conn = ctx.db->LockRead();
    auto v = VerifyAuditChain(*conn);
    if (!v.ok()) return FromStatus(v.status());
    json out = {{"ok", v->ok}, {"count", v->count}};
    if (!v->ok) {
      out["error"] = v->error;
      out["bad_event_id"] = v->bad_event_id ? json(*v->bad_event_id) : json();
    }
    return Json(200, out);
  }

  HttpResponse Plan(Call& c) {
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
    // A page: at most `limit` deletable submissions (and skipped ones listed up to the same
    // count), from the cursor `after` ("DATE:ID", the `next` of the previous page).
    o.max_items = *limit;
    o.max_listed_problems = *limit;
    if (auto it = c.req.query.find("after"); it != c.req.query.end()) {
      auto cursor = ParseSweepCursor(it->second);
      if (!cursor.ok()) return FromStatus(cursor.status());
      o.after = *cursor;
    }
    auto r = RunSweep(ctx, o);
    if (!r.ok()) return FromStatus(r.status());
    return Json(200, SweepReportJson(*r));
  }

  HttpResponse Unconfigured(const char* what) {
    return JsonError(503, std::string(what) + " is not available in this process");
  }

  HttpResponse Jobs(Call&) {
    if (!hooks.list_jobs) return Unconfigured("the scheduler");
    auto r = hooks.list_jobs();
    if (!r.ok()) return FromStatus(r.status());
    return Json(200, *r);
  }

  HttpResponse JobRuns(Call& c) {
    if (!hooks.list_job_runs) return Unconfigured("the scheduler");
    auto limit = QueryInt(c.req, "limit", 50, 1, 1000);
    if (!limit.ok()) return FromStatus(limit.status());
    const std::string job = c.req.query.contains("job") ? c.req.query.at("job") : "";
    auto r = hooks.list_job_runs(job, *limit);
    if (!r.ok()) return FromStatus(r.status());
    return Json(200, *r);
  }

  HttpResponse RunJob(Call& c) {
    if (!hooks.run_job) return Unconfigured("the scheduler");
    auto r = hooks.run_job(c.params.at("name"), c.user.username);
    if (!r.ok()) return FromStatus(r.status());
    return Json(200, *r);
  }

  HttpResponse Outbox(Call& c) {
    auto limit = QueryInt(c.req, "limit", 100, 1, 10000);
    if (!limit.ok()) return FromStatus(limit.status());
    auto conn = ctx.db->LockRead();
    std::string sql =
        "SELECT id, challenge_id, recipient, subject, state, attempts, last_error, created_at, "
        "sent_at FROM mail_outbox";
    SqlParams params;
    if (auto it = c.req.query.find("state"); it != c.req.query.end()) {
      sql += " WHERE state = ?";
      params.emplace_back(it->second);
    }
    sql += " ORDER BY id DESC LIMIT ?";
    params.emplace_back(std::int64_t{*limit});
    auto rows = conn->Query(sql, params);
    if (!rows.ok()) return FromStatus(rows.status());
    json arr = json::array();
    for (const auto& r : *rows) {
      arr.push_back({{"id", r.Int(0)},
                     {"challenge_id", r.IsNull(1) ? json() : json(r.Int(1))},
                     {"recipient", r.Text(2)},
                     {"subject", r.Text(3)},
                     {"state", r.Text(4)},
                     {"attempts", r.Int(5)},
                     {"last_error", r.IsNull(6) ? json() : json(r.Text(6))},
                     {"created_at", FormatTime(FromUnix(r.Int(7)))},
                     {"sent_at", r.IsNull(8) ? json() : json(FormatTime(FromUnix(r.Int(8))))}});
    }
    return Json(200, {{"mail", arr}});
  }

  HttpResponse IngestLines(Call& c) {
    if (!hooks.ingest_log_lines) return Unconfigured("the local log store");
    if (auto s = CheckFields(c.body, {"lines"}); !s.ok()) return FromStatus(s);
    if (!c.body.contains("lines") || !c.body["lines"].is_array()) {
      return JsonError(400, "'lines' must be an array of {timestamp, message}");
    }
    auto r = hooks.ingest_log_lines(c.params.at("name"), c.body["lines"]);
    if (!r.ok()) return FromStatus(r.status());
    return Json(201, *r);
  }

  HttpResponse ReadLines(Call& c) {
    if (!hooks.read_log_lines) return Unconfigured("the local log store");
    auto limit = QueryInt(c.req, "limit", 1000, 1, 100000);
    if (!limit.ok()) return FromStatus(limit.status());
    auto get = [&](const char* k) {
      return c.req.query.contains(k) ? c.req.query.at(k) : std::string();
    };
    auto r = hooks.read_log_lines(c.params.at("name"), get("from"), get("to"), *limit);
    if (!r.ok()) return FromStatus(r.status());
    return Json(200, *r);
  }
};

Api::Api(ServiceContext& ctx, ApiOptions options, ApiHooks hooks)
    : impl_(std::make_unique<Impl>(ctx, options, std::move(hooks))) {}

Api::~Api() = default;

HttpResponse Api::Handle(const HttpRequest& request) { return impl_->Handle(request); }

std::vector<RouteInfo> Api::Routes() {
  std::vector<RouteInfo> out;
  for (auto& [info, handler] : Impl::Table()) out.push_back(info);
  return out;
}

}  // namespace retention
