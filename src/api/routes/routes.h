// The API's handlers, one file per resource, each listing its routes with their access levels.
// Handlers are thin: read and check input (api/route_support.h), call the service functions, and
// render JSON. No retention rule and no SQL is here.
//
// Thread-safe: handlers run concurrently; RouteEnv's members are thread-safe.
#pragma once

#include <vector>

#include "api/router.h"

namespace retention {

struct ApiHooks;
class ConsentRateLimiter;
class RequestMetrics;

// What handlers use besides the call. Every pointer is set and outlives the Api.
struct RouteEnv {
  const ServiceContext* ctx = nullptr;
  const ApiHooks* hooks = nullptr;  // empty hooks answer 503
  ConsentRateLimiter* consent_limit = nullptr;
  const RequestMetrics* metrics = nullptr;  // for GET /metrics
  const Router* router = nullptr;           // for GET /api/routes
};

// /healthz, /metrics, /api/routes, /api/me.
std::vector<Route> SystemRoutes();
// Users, tokens, host teams, challenges, phases, submissions and artifacts (the platform's
// writes), and the caller's challenge list.
std::vector<Route> PlatformRoutes();
// The seed's consent endpoints, retention info and the forecast.
std::vector<Route> ConsentRoutes();
// Override, phase policy, holds, challenge events, the dry-run plan.
std::vector<Route> AdminRoutes();
// Keep (R10): the hosts' search of a challenge's submissions, keep and release.
std::vector<Route> KeepRoutes();
// The audit ledger and its verification.
std::vector<Route> AuditRoutes();
// Jobs, their runs, a manual run, and the mail outbox.
std::vector<Route> JobsRoutes();
// Log-line ingestion and reading for the local log store.
std::vector<Route> LogsRoutes();

}  // namespace retention
