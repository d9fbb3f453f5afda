// The scheduler's jobs (through ApiHooks: answered 503 outside `serve`) and the mail outbox.
#include "api/api.h"
#include "api/route_support.h"
#include "api/routes/routes.h"
#include "service/views.h"

namespace retention {
namespace {

HttpResponse Unconfigured(const char* what) {
  return JsonError(503, std::string(what) + " is not available in this process");
}

HttpResponse Jobs(const RouteEnv& env, Call&) {
  if (!env.hooks->list_jobs) return Unconfigured("the scheduler");
  return JsonOr(200, env.hooks->list_jobs());
}

// ?job (all when absent), ?limit (1..1000, default 50).
HttpResponse JobRuns(const RouteEnv& env, Call& c) {
  if (!env.hooks->list_job_runs) return Unconfigured("the scheduler");
  auto limit = QueryInt(c.req, "limit", 50, 1, 1000);
  if (!limit.ok()) return FromStatus(limit.status());
  return JsonOr(200, env.hooks->list_job_runs(QueryText(c.req, "job"), *limit));
}

HttpResponse RunJob(const RouteEnv& env, Call& c) {
  if (!env.hooks->run_job) return Unconfigured("the scheduler");
  return JsonOr(200, env.hooks->run_job(c.params.at("name"), c.user.username));
}

// ?state (one of the outbox states), ?limit (1..10000, default 100).
HttpResponse Outbox(const RouteEnv& env, Call& c) {
  auto limit = QueryInt(c.req, "limit", 100, 1, 10000);
  if (!limit.ok()) return FromStatus(limit.status());
  std::optional<std::string> state;
  if (auto it = c.req.query.find("state"); it != c.req.query.end()) state = it->second;
  return JsonOr(200, OutboxView(*env.ctx, state, *limit));
}

}  // namespace

std::vector<Route> JobsRoutes() {
  return {
      {{"GET", "/api/jobs", Access::kAdmin}, &Jobs},
      {{"GET", "/api/jobs/runs", Access::kAdmin}, &JobRuns},
      {{"POST", "/api/jobs/{name}/run", Access::kAdmin}, &RunJob},
      {{"GET", "/api/outbox", Access::kAdmin}, &Outbox},
  };
}

}  // namespace retention
