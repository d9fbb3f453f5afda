// Log-line ingestion and reading for the local log store (through ApiHooks: answered 503 when
// the log backend is not the local store).
#include "api/api.h"
#include "api/route_support.h"
#include "api/routes/routes.h"

namespace retention {
namespace {

HttpResponse NoLocalStore() {
  return JsonError(503, "the local log store is not available in this process");
}

// Body: {"lines": [{timestamp, message}, ...]}.
HttpResponse IngestLines(const RouteEnv& env, Call& c) {
  if (!env.hooks->ingest_log_lines) return NoLocalStore();
  if (auto s = CheckFields(c.body, {"lines"}); !s.ok()) return FromStatus(s);
  if (!c.body.contains("lines") || !c.body["lines"].is_array()) {
    return JsonError(400, "'lines' must be an array of {timestamp, message}");
  }
  return JsonOr(201, env.hooks->ingest_log_lines(c.params.at("name"), c.body["lines"]));
}

// ?from, ?to (RFC 3339, optional), ?limit (1..100000, default 1000).
HttpResponse ReadLines(const RouteEnv& env, Call& c) {
  if (!env.hooks->read_log_lines) return NoLocalStore();
  auto limit = QueryInt(c.req, "limit", 1000, 1, 100000);
  if (!limit.ok()) return FromStatus(limit.status());
  return JsonOr(200, env.hooks->read_log_lines(c.params.at("name"), QueryText(c.req, "from"),
                                               QueryText(c.req, "to"), *limit));
}

}  // namespace

std::vector<Route> LogsRoutes() {
  return {
      {{"POST", "/api/log-groups/{name}/lines", Access::kAdmin}, &IngestLines},
      {{"GET", "/api/log-groups/{name}/lines", Access::kAdmin}, &ReadLines},
  };
}

}  // namespace retention
