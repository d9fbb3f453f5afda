#include "api/api.h"

#include <chrono>

#include "api/consent_rate_limiter.h"
#include "api/metrics.h"
#include "api/routes/routes.h"
#include "web/web_assets.h"

namespace retention {
namespace {

// Every route, in the order GET /api/routes lists them.
std::vector<Route> AllRoutes() {
  std::vector<Route> all;
  for (auto part : {SystemRoutes(), PlatformRoutes(), ConsentRoutes(), AdminRoutes(), KeepRoutes(),
                    AuditRoutes(), JobsRoutes(), LogsRoutes()}) {
    all.insert(all.end(), part.begin(), part.end());
  }
  return all;
}

// The browser UI's files, for GET and HEAD only.
HttpResponse StaticFile(const HttpRequest& req) {
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

}  // namespace

struct Api::Impl {
  Impl(ServiceContext& ctx, ApiOptions options, ApiHooks h)
      : hooks(std::move(h)),
        consent_limit(options.consent_rate_per_minute),
        router(ctx, AllRoutes()),
        env{&ctx, &hooks, &consent_limit, &metrics, &router} {}

  ApiHooks hooks;
  ConsentRateLimiter consent_limit;
  RequestMetrics metrics;
  Router router;
  RouteEnv env;
};

Api::Api(ServiceContext& ctx, ApiOptions options, ApiHooks hooks)
    : impl_(std::make_unique<Impl>(ctx, options, std::move(hooks))) {}

Api::~Api() = default;

HttpResponse Api::Handle(const HttpRequest& request) {
  using SteadyClock = std::chrono::steady_clock;
  const auto start = SteadyClock::now();
  std::string route_key = "static";
  HttpResponse resp = Router::IsApiPath(request.path)
                          ? impl_->router.Dispatch(request, impl_->env, route_key)
                          : StaticFile(request);
  const double seconds = std::chrono::duration<double>(SteadyClock::now() - start).count();
  impl_->metrics.Record(route_key, resp.status, seconds);
  return resp;
}

std::vector<RouteInfo> Api::Routes() {
  std::vector<RouteInfo> out;
  for (const auto& r : AllRoutes()) out.push_back(r.info);
  return out;
}

}  // namespace retention
