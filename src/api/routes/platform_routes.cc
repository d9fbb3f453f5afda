// The platform's writes (users, tokens, host teams, challenges, phases, submissions, artifacts)
// and GET /api/challenges.
#include "api/route_support.h"
#include "api/routes/routes.h"
#include "service/views.h"

namespace retention {
namespace {

using nlohmann::json;

HttpResponse Updated(const char* key, const json& value) {
  return Json(200, {{key, value}, {"updated", true}});
}

// A create route's answer: the created id, or the error.
HttpResponse CreatedOr(const char* what, const Result<std::int64_t>& id) {
  if (!id.ok()) return FromStatus(id.status());
  return Created(what, *id);
}

HttpResponse ListChallenges(const RouteEnv& env, Call& c) {
  User viewer = c.user;
  if (viewer.platform) viewer.is_admin = true;  // the platform reads every challenge
  return JsonOr(200, ChallengeListView(*env.ctx, viewer));
}

HttpResponse PostChallenge(const RouteEnv& env, Call& c) {
  return CreatedOr("challenge", CreateChallenge(*env.ctx, c.body));
}

HttpResponse PatchChallenge(const RouteEnv& env, Call& c) {
  if (auto s = UpdateChallenge(*env.ctx, c.Id("pk"), c.body); !s.ok()) return FromStatus(s);
  return Updated("id", c.Id("pk"));
}

HttpResponse PostPhase(const RouteEnv& env, Call& c) {
  return CreatedOr("phase", CreatePhase(*env.ctx, c.Id("pk"), c.body));
}

HttpResponse PatchPhase(const RouteEnv& env, Call& c) {
  if (auto s = UpdatePhase(*env.ctx, c.Id("id"), c.body); !s.ok()) return FromStatus(s);
  return Updated("id", c.Id("id"));
}

HttpResponse PostSubmission(const RouteEnv& env, Call& c) {
  return CreatedOr("submission", CreateSubmission(*env.ctx, c.Id("id"), c.body));
}

HttpResponse PatchSubmission(const RouteEnv& env, Call& c) {
  if (auto s = UpdateSubmission(*env.ctx, c.Id("id"), c.body); !s.ok()) return FromStatus(s);
  return Updated("id", c.Id("id"));
}

HttpResponse PostArtifact(const RouteEnv& env, Call& c) {
  return CreatedOr("artifact", RegisterArtifact(*env.ctx, c.Id("id"), c.body));
}

// PUT with the file as the raw body; ?kind=...&key=... name it.
HttpResponse UploadArtifactRoute(const RouteEnv& env, Call& c) {
  auto kind = c.req.query.find("kind");
  auto key = c.req.query.find("key");
  if (kind == c.req.query.end() || key == c.req.query.end()) {
    return JsonError(400, "query parameters 'kind' and 'key' are required");
  }
  return CreatedOr("artifact",
                   UploadArtifact(*env.ctx, c.Id("id"), kind->second, key->second, c.req.body));
}

// A platform token writes users, but never who is an admin (DESIGN section 6: the platform may
// not do an admin's work, so it may not make one either).
HttpResponse RefuseAdminFlagFromPlatform() {
  return JsonError(403, "a platform token may not set 'is_admin'");
}

HttpResponse PostUser(const RouteEnv& env, Call& c) {
  if (auto s = CheckFields(c.body, {"username", "email", "is_admin"}); !s.ok()) {
    return FromStatus(s);
  }
  if (c.user.platform && c.body.contains("is_admin")) return RefuseAdminFlagFromPlatform();
  auto username = OptString(c.body, "username");
  auto email = OptString(c.body, "email");
  if (!username.ok()) return FromStatus(username.status());
  if (!email.ok()) return FromStatus(email.status());
  if (!*username || !*email) return JsonError(400, "'username' and 'email' are required");
  bool admin = false;
  if (c.body.contains("is_admin")) {
    auto a = RequiredBool(c.body, "is_admin");
    if (!a.ok()) return FromStatus(a.status());
    admin = *a;
  }
  auto u = AddUser(*env.ctx, **username, **email, admin);
  if (!u.ok()) return FromStatus(u.status());
  return Json(
      201,
      {{"id", u->id}, {"username", u->username}, {"email", u->email}, {"is_admin", u->is_admin}});
}

HttpResponse PatchUser(const RouteEnv& env, Call& c) {
  if (c.user.platform && c.body.is_object() && c.body.contains("is_admin")) {
    return RefuseAdminFlagFromPlatform();
  }
  if (auto s = UpdateUser(*env.ctx, c.params.at("name"), c.body); !s.ok()) return FromStatus(s);
  return Updated("username", c.params.at("name"));
}

// Body {"role"?: "user" | "platform", "expires_in_days"?: N}.
HttpResponse PostToken(const RouteEnv& env, Call& c) {
  if (auto s = CheckFields(c.body, {"role", "expires_in_days"}); !s.ok()) return FromStatus(s);
  TokenOptions options;
  auto role = OptString(c.body, "role");
  if (!role.ok()) return FromStatus(role.status());
  if (*role && **role == "platform") {
    options.role = TokenRole::kPlatform;
  } else if (*role && **role != "user") {
    return JsonError(400, "'role' must be \"user\" or \"platform\"");
  }
  if (c.body.contains("expires_in_days")) {
    const auto& days = c.body["expires_in_days"];
    if (!days.is_number_integer()) return JsonError(400, "'expires_in_days' must be an integer");
    const auto n = days.get<std::int64_t>();
    if (n < 1 || n > kMaxTokenDays) {
      return JsonError(400,
                       "'expires_in_days' must be between 1 and " + std::to_string(kMaxTokenDays));
    }
    options.expires_in_days = static_cast<int>(n);
  }
  auto t = CreateToken(*env.ctx, c.params.at("name"), c.user.username, options);
  if (!t.ok()) return FromStatus(t.status());
  return Json(201, {{"username", c.params.at("name")},
                    {"token", *t},
                    {"prefix", t->substr(0, kTokenPrefixLength)},
                    {"role", TokenRoleName(options.role)}});
}

HttpResponse PostHostTeam(const RouteEnv& env, Call& c) {
  return CreatedOr("host_team", CreateHostTeam(*env.ctx, c.body));
}

HttpResponse PostMember(const RouteEnv& env, Call& c) {
  if (auto s = AddTeamMember(*env.ctx, c.Id("id"), c.body); !s.ok()) return FromStatus(s);
  return Json(201, {{"host_team_id", c.Id("id")}, {"member", c.body.value("username", "")}});
}

}  // namespace

std::vector<Route> PlatformRoutes() {
  return {
      {{"GET", "/api/challenges", Access::kUser, true}, &ListChallenges},
      {{"POST", "/api/challenges", Access::kAdmin, true}, &PostChallenge},
      {{"PATCH", "/api/challenges/{pk}", Access::kAdmin, true}, &PatchChallenge},
      {{"POST", "/api/challenges/{pk}/phases", Access::kAdmin, true}, &PostPhase},
      {{"PATCH", "/api/phases/{id}", Access::kAdmin, true}, &PatchPhase},
      {{"POST", "/api/phases/{id}/submissions", Access::kAdmin, true}, &PostSubmission},
      {{"PATCH", "/api/submissions/{id}", Access::kAdmin, true}, &PatchSubmission},
      {{"POST", "/api/submissions/{id}/artifacts", Access::kAdmin, true}, &PostArtifact},
      {{"PUT", "/api/submissions/{id}/artifacts/upload", Access::kAdmin, true},
       &UploadArtifactRoute,
       BodyKind::kRaw},
      {{"POST", "/api/users", Access::kAdmin, true}, &PostUser},
      {{"PATCH", "/api/users/{name}", Access::kAdmin, true}, &PatchUser},
      {{"POST", "/api/users/{name}/tokens", Access::kAdmin}, &PostToken},
      {{"POST", "/api/host-teams", Access::kAdmin, true}, &PostHostTeam},
      {{"POST", "/api/host-teams/{id}/members", Access::kAdmin, true}, &PostMember},
  };
}

}  // namespace retention
