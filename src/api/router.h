// The API's route table and what every route shares before its handler runs: matching a path
// to a pattern ("/api/challenges/{pk}/hold"), checking the path's ids, signing the caller in
// (auth.h), resolving the caller's role for the route's challenge, enforcing the route's access
// level, and parsing the JSON body. Handlers live in api/routes/, one file per resource.
//
// Thread-safe: a Router is immutable after construction; Dispatch() runs concurrently.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "api/http_types.h"
#include "service/service.h"

namespace retention {

// Who may call a route.
enum class Access {
  kPublic,       // no token needed
  kUser,         // any signed-in user
  kChallenge,    // any signed-in user; the challenge must exist (404 otherwise)
  kHostOrAdmin,  // hosts of the challenge and admins
  kHost,         // hosts of the challenge only (consent writes)
  kAdmin,        // admins only
};

// "public", "user", "challenge", "host_or_admin", "host" or "admin" (GET /api/routes).
const char* AccessName(Access access);

struct RouteInfo {
  std::string method;
  std::string pattern;  // "/api/challenges/{pk}/retention-info/"
  Access access;        // for users' tokens
  // A platform token (DESIGN section 6) may call it, with an admin's access; a platform token is
  // refused with 403 on every route without it.
  bool platform = false;
};

// One request on its way through a route, as the handler receives it.
struct Call {
  const HttpRequest& req;
  User user;  // the signed-in user (empty for a public route)
  bool signed_in = false;
  Role role = Role::kAnonymous;
  bool is_host = false;  // an accepted member of the host team of the route's challenge
  std::map<std::string, std::string> params;  // path parameters; all but {name} are ids > 0
  nlohmann::json body;                        // the parsed JSON object ({} when empty or raw)
  // The path parameter `name` as an id. Precondition: the route has it and it is not {name}.
  std::int64_t Id(const char* name) const { return std::stoll(params.at(name)); }
};

struct RouteEnv;  // what handlers use besides the call (api/routes/routes.h)

// A handler: answers one call. Precondition: the call passed the route's access level.
using RouteHandler = HttpResponse (*)(const RouteEnv& env, Call& call);

enum class BodyKind {
  kJson,  // POST, PATCH and PUT bodies must be a JSON object (415 / 400 otherwise)
  kRaw,   // the handler reads req.body itself (artifact upload)
};

struct Route {
  RouteInfo info;
  RouteHandler handler;
  BodyKind body = BodyKind::kJson;
};

class Router {
 public:
  // `ctx` signs callers in and resolves roles; it must outlive the Router.
  Router(const ServiceContext& ctx, std::vector<Route> routes);

  // True for the paths the API owns (/api/..., /healthz, /metrics); the rest are static files.
  static bool IsApiPath(const std::string& path);

  // Finds the route for `req` and runs it with `env`. Sets `route_key` to "METHOD pattern" of the
  // matched route, or "unmatched". Answers 404 for an unknown path, 405 for a known path with
  // another method, 400 for a path id that is not a positive integer, 401 without a valid token,
  // 404 for an unknown challenge, 403 below the route's access level (and for a platform token on
  // a route that is not the platform's), 415 / 400 for a body that
  // is not a JSON object. A signed-in caller is named in kAccessLogUserHeader.
  HttpResponse Dispatch(const HttpRequest& req, const RouteEnv& env, std::string& route_key) const;

  // Every route in table order.
  std::vector<RouteInfo> Infos() const;

 private:
  struct Entry {
    Route route;
    std::vector<std::string> segments;
  };
  HttpResponse Run(const Entry& e, const HttpRequest& req, const RouteEnv& env,
                   std::map<std::string, std::string> params) const;

  const ServiceContext& ctx_;
  std::vector<Entry> entries_;
};

}  // namespace retention
