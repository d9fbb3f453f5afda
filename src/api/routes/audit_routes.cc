// The audit ledger (R7): listing (admins; hosts for their own challenge) and verification.
#include "api/route_support.h"
#include "api/routes/routes.h"
#include "service/audit_log.h"
#include "service/views.h"

namespace retention {
namespace {

using nlohmann::json;

// ?challenge_id, ?limit (1..100000, default 1000), ?format=json|csv.
HttpResponse Audit(const RouteEnv& env, Call& c) {
  auto challenge = QueryId(c.req, "challenge_id");
  if (!challenge.ok()) return FromStatus(challenge.status());
  auto limit = QueryInt(c.req, "limit", 1000, 1, 100000);
  if (!limit.ok()) return FromStatus(limit.status());
  auto format = c.req.query.contains("format") ? c.req.query.at("format") : "json";
  if (format != "json" && format != "csv") return JsonError(400, "format must be json or csv");
  auto conn = env.ctx->db->LockRead();
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

HttpResponse AuditVerify(const RouteEnv& env, Call&) {
  auto conn = env.ctx->db->LockRead();
  auto v = VerifyAuditChain(*conn);
  if (!v.ok()) return FromStatus(v.status());
  json out = {{"ok", v->ok}, {"count", v->count}};
  if (!v->ok) {
    out["error"] = v->error;
    out["bad_event_id"] = v->bad_event_id ? json(*v->bad_event_id) : json();
  }
  return Json(200, out);
}

}  // namespace

std::vector<Route> AuditRoutes() {
  return {
      {{"GET", "/api/audit", Access::kUser}, &Audit},
      {{"GET", "/api/audit/verify", Access::kAdmin}, &AuditVerify},
  };
}

}  // namespace retention
