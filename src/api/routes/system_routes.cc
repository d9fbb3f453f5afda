// /healthz, /metrics, /api/routes and /api/me.
#include "api/metrics.h"
#include "api/route_support.h"
#include "api/routes/routes.h"
#include "service/views.h"

namespace retention {
namespace {

using nlohmann::json;

HttpResponse Healthz(const RouteEnv& env, Call&) {
  if (auto s = CheckDatabase(*env.ctx); !s.ok()) {
    return JsonError(503, "database unavailable: " + s.message());
  }
  return Json(200, {{"status", "ok"}});
}

HttpResponse Metrics(const RouteEnv& env, Call&) {
  HttpResponse resp;
  resp.content_type = "text/plain; version=0.0.4";
  resp.body = env.metrics->Prometheus(ReadRetentionGauges(*env.ctx));
  return resp;
}

HttpResponse ListRoutes(const RouteEnv& env, Call&) {
  json arr = json::array();
  for (const auto& r : env.router->Infos()) {
    arr.push_back({{"method", r.method},
                   {"pattern", r.pattern},
                   {"access", AccessName(r.access)},
                   {"platform", r.platform}});
  }
  return Json(200, {{"routes", arr}});
}

HttpResponse Me(const RouteEnv&, Call& c) {
  return Json(
      200, {{"username", c.user.username}, {"email", c.user.email}, {"is_admin", c.user.is_admin}});
}

}  // namespace

std::vector<Route> SystemRoutes() {
  return {
      {{"GET", "/healthz", Access::kPublic}, &Healthz},
      {{"GET", "/metrics", Access::kPublic}, &Metrics},
      {{"GET", "/api/routes", Access::kAdmin}, &ListRoutes},
      {{"GET", "/api/me", Access::kUser}, &Me},
  };
}

}  // namespace retention
