#include "api/router.h"

#include <algorithm>

#include "api/auth.h"
#include "api/route_support.h"

namespace retention {
namespace {

using nlohmann::json;

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

// Parses a JSON object body: FailedPrecondition for a body that is not JSON by its type (415),
// InvalidArgument for malformed JSON or another JSON value (400). An empty body is {}.
Status ParseBody(const HttpRequest& req, json& body) {
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

}  // namespace

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

Router::Router(const ServiceContext& ctx, std::vector<Route> routes) : ctx_(ctx) {
  for (auto& r : routes) {
    auto segments = Segments(r.info.pattern);
    entries_.push_back({std::move(r), std::move(segments)});
  }
}

bool Router::IsApiPath(const std::string& path) {
  const auto segs = Segments(path);
  return !segs.empty() && (segs[0] == "api" || segs[0] == "healthz" || segs[0] == "metrics");
}

std::vector<RouteInfo> Router::Infos() const {
  std::vector<RouteInfo> out;
  for (const auto& e : entries_) out.push_back(e.route.info);
  return out;
}

HttpResponse Router::Dispatch(const HttpRequest& req, const RouteEnv& env,
                              std::string& route_key) const {
  const auto segs = Segments(req.path);
  bool path_matched = false;
  for (const auto& e : entries_) {
    if (e.segments.size() != segs.size()) continue;
    std::map<std::string, std::string> params;
    bool match = true;
    for (std::size_t i = 0; i < segs.size() && match; ++i) {
      const auto& p = e.segments[i];
      if (p.size() > 2 && p.front() == '{') {
        params[p.substr(1, p.size() - 2)] = segs[i];
      } else if (p != segs[i]) {
        match = false;
      }
    }
    if (!match) continue;
    path_matched = true;
    const auto& info = e.route.info;
    const bool head_as_get = req.method == "HEAD" && info.method == "GET";
    if (info.method != req.method && !head_as_get) continue;
    route_key = info.method + " " + info.pattern;
    for (const auto& [name, value] : params) {
      if (name != "name" && !IsPositiveId(value)) {
        return JsonError(400, "'" + value + "' is not a valid id");
      }
    }
    return Run(e, req, env, std::move(params));
  }
  route_key = "unmatched";
  if (path_matched) return JsonError(405, "method " + req.method + " not allowed here");
  return JsonError(404, "no such endpoint: " + req.path);
}

HttpResponse Router::Run(const Entry& e, const HttpRequest& req, const RouteEnv& env,
                         std::map<std::string, std::string> params) const {
  const Access access = e.route.info.access;
  Call call{req, {}, false, Role::kAnonymous, false, std::move(params), json::object()};
  if (access != Access::kPublic) {
    auto user = SignIn(ctx_, req.Header("authorization"));
    if (!user.ok()) return JsonError(401, user.status().message());
    call.user = *user;
    call.signed_in = true;
    if (call.user.platform && !e.route.info.platform) {
      return JsonError(403, "a platform token may only call the platform's routes");
    }
  }
  // Routes open to every user of a challenge resolve the role in their own query.
  if (call.params.contains("pk") && access != Access::kChallenge) {
    auto conn = ctx_.db->LockRead();
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
  switch (access) {
    case Access::kAdmin:
      if (!call.user.is_admin && !call.user.platform) {
        return JsonError(403, "only admins may do this");
      }
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
  if ((req.method == "POST" || req.method == "PATCH" || req.method == "PUT") &&
      e.route.body == BodyKind::kJson) {
    if (auto s = ParseBody(req, call.body); !s.ok()) {
      return JsonError(s.code() == StatusCode::kFailedPrecondition ? 415 : 400, s.message());
    }
  }
  HttpResponse resp = e.route.handler(env, call);
  if (call.signed_in) resp.headers.emplace_back(kAccessLogUserHeader, call.user.username);
  return resp;
}

}  // namespace retention
