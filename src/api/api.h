// The HTTP API of DESIGN.md section 6 and the browser UI's static files, as one HttpHandler.
// Composes the router (router.h: matching, sign-in, access levels, bodies), the handlers by
// resource (routes/), the consent rate limit and the request metrics. Routes are thin: parse and
// check input, authorise, call the service functions, and render JSON. No retention rule and no
// SQL is implemented here.
//
// Thread-safe: Handle() runs concurrently on the server's threads.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "api/http_types.h"
#include "api/router.h"
#include "service/service.h"

namespace retention {

// Hooks into the parts of `serve` that are not service functions (the scheduler's jobs). R8's
// challenge events and the log store's lines go to the context's LogRetentionSync
// (ServiceContext::log_sync): without one an event is only recorded and the log-line routes
// answer 503.
struct ApiHooks {
  std::function<Result<nlohmann::json>()> list_jobs;
  std::function<Result<nlohmann::json>(const std::string& name, const std::string& actor)> run_job;
  std::function<Result<nlohmann::json>(const std::string& job, int limit)> list_job_runs;
};

struct ApiOptions {
  int consent_rate_per_minute = 60;
};

class Api {
 public:
  Api(ServiceContext& ctx, ApiOptions options, ApiHooks hooks);
  ~Api();
  Api(const Api&) = delete;
  Api& operator=(const Api&) = delete;

  HttpResponse Handle(const HttpRequest& request);

  // Every route with its access rule (for the authorization matrix test and docs).
  static std::vector<RouteInfo> Routes();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace retention
