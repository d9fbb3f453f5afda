// Log-line ingestion and reading, for a log backend that keeps the lines (the local log store),
// through the context's LogRetentionSync; answered 503 when there is none or the backend keeps no
// lines (CloudWatch receives them directly).
#include "api/route_support.h"
#include "api/routes/routes.h"
#include "service/log_retention_sync.h"

namespace retention {
namespace {

HttpResponse NoLocalStore() {
  return JsonError(503, "the local log store is not available in this process");
}

// The sync when the backend keeps the lines; nullptr otherwise.
LogRetentionSync* LineKeeper(const RouteEnv& env) {
  LogRetentionSync* sync = env.ctx->log_sync;
  return sync != nullptr && sync->keeps_lines() ? sync : nullptr;
}

// Body: {"lines": [{timestamp, message}, ...]}.
HttpResponse IngestLines(const RouteEnv& env, Call& c) {
  LogRetentionSync* sync = LineKeeper(env);
  if (sync == nullptr) return NoLocalStore();
  if (auto s = CheckFields(c.body, {"lines"}); !s.ok()) return FromStatus(s);
  if (!c.body.contains("lines") || !c.body["lines"].is_array()) {
    return JsonError(400, "'lines' must be an array of {timestamp, message}");
  }
  return JsonOr(201, sync->IngestLogLines(c.params.at("name"), c.body["lines"]));
}

// ?from, ?to (RFC 3339, optional), ?limit (1..100000, default 1000).
HttpResponse ReadLines(const RouteEnv& env, Call& c) {
  LogRetentionSync* sync = LineKeeper(env);
  if (sync == nullptr) return NoLocalStore();
  auto limit = QueryInt(c.req, "limit", 1000, 1, 100000);
  if (!limit.ok()) return FromStatus(limit.status());
  return JsonOr(200, sync->ReadLogLines(c.params.at("name"), QueryText(c.req, "from"),
                                        QueryText(c.req, "to"), *limit));
}

}  // namespace

std::vector<Route> LogsRoutes() {
  return {
      {{"POST", "/api/log-groups/{name}/lines", Access::kAdmin, true}, &IngestLines},
      {{"GET", "/api/log-groups/{name}/lines", Access::kAdmin, true}, &ReadLines},
  };
}

}  // namespace retention
