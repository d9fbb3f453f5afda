#include "api/router.h"

#include <gtest/gtest.h>

#include "api/auth.h"
#include "api/routes/routes.h"
#include "testing/database.h"

namespace retention {
namespace {

// Answers 200 with the path parameters and body it received.
HttpResponse Echo(const RouteEnv&, Call& c) {
  nlohmann::json params = nlohmann::json::object();
  for (const auto& [k, v] : c.params) params[k] = v;
  HttpResponse r;
  r.body = nlohmann::json{{"params", params}, {"body", c.body}, {"user", c.user.username}}.dump();
  return r;
}

class RouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = testing::MigratedDatabase();
    ASSERT_NE(db_, nullptr);
    ctx_.db = db_.get();
    ctx_.clock = &clock_;
    ASSERT_TRUE(AddUser(ctx_, "alice", "a@example.org", false).ok());
    ASSERT_TRUE(AddUser(ctx_, "root", "r@example.org", true).ok());
    alice_ = *CreateToken(ctx_, "alice", "test");
    root_ = *CreateToken(ctx_, "root", "test");
  }

  HttpResponse Send(const std::string& method, const std::string& path,
                    const std::string& token = "", const std::string& body = "",
                    const std::string& type = "application/json") {
    HttpRequest req;
    req.method = method;
    req.path = path;
    req.body = body;
    if (!token.empty()) req.headers["authorization"] = "Token " + token;
    if (!type.empty()) req.headers["content-type"] = type;
    last_key_.clear();
    return router_.Dispatch(req, env_, last_key_);
  }

  static nlohmann::json Body(const HttpResponse& r) { return nlohmann::json::parse(r.body); }

  FakeClock clock_{FromUnix(1780000000)};
  std::unique_ptr<Database> db_;
  ServiceContext ctx_;
  std::string alice_, root_;
  Router router_{ctx_,
                 {
                     {{"GET", "/open/{id}", Access::kPublic}, &Echo},
                     {{"GET", "/users/{name}", Access::kUser}, &Echo},
                     {{"POST", "/users/{name}", Access::kAdmin}, &Echo},
                     {{"PUT", "/raw", Access::kUser}, &Echo, BodyKind::kRaw},
                     {{"POST", "/platform/{id}", Access::kAdmin, true}, &Echo},
                     {{"GET", "/platform", Access::kUser, true}, &Echo},
                 }};
  RouteEnv env_;
  std::string last_key_;
};

TEST_F(RouterTest, MatchesPatternsAndPassesParameters) {
  auto r = Send("GET", "/open/42/");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(Body(r)["params"]["id"], "42");
  EXPECT_EQ(last_key_, "GET /open/{id}");
}

TEST_F(RouterTest, HeadIsServedByTheGetRoute) { EXPECT_EQ(Send("HEAD", "/open/1").status, 200); }

TEST_F(RouterTest, UnknownPathIs404AndOtherMethodIs405) {
  EXPECT_EQ(Send("GET", "/nope").status, 404);
  EXPECT_EQ(last_key_, "unmatched");
  EXPECT_EQ(Send("DELETE", "/open/1").status, 405);
  EXPECT_EQ(last_key_, "unmatched");
}

TEST_F(RouterTest, PathIdsMustBePositiveIntegersButNamesMayBeAnything) {
  EXPECT_EQ(Send("GET", "/open/0").status, 400);
  EXPECT_EQ(Send("GET", "/open/x1").status, 400);
  EXPECT_EQ(Send("GET", "/users/x1", alice_).status, 200);
}

TEST_F(RouterTest, SignsTheCallerInAndNamesThemInTheAccessLog) {
  EXPECT_EQ(Send("GET", "/users/a").status, 401);
  EXPECT_EQ(Send("GET", "/users/a", "wrong").status, 401);
  auto r = Send("GET", "/users/a", alice_);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(Body(r)["user"], "alice");
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].first, kAccessLogUserHeader);
  EXPECT_EQ(r.headers[0].second, "alice");
}

TEST_F(RouterTest, SignInFindsTheTokensOwnerAndRefusesAnUnknownKey) {
  auto user = SignIn(ctx_, "Bearer " + alice_);
  ASSERT_TRUE(user.ok()) << user.status().message();
  EXPECT_EQ(user->username, "alice");
  auto unknown = SignIn(ctx_, "Bearer not-a-token");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(unknown.status().message(), "Invalid token.");
}

TEST_F(RouterTest, AdminRoutesRefuseOtherUsers) {
  EXPECT_EQ(Send("POST", "/users/a", alice_, "{}").status, 403);
  EXPECT_EQ(Send("POST", "/users/a", root_, "{}").status, 200);
}

// DESIGN section 6: a platform token calls the platform's routes with an admin's access, and
// nothing else; a revoked token is refused on the next request.
TEST_F(RouterTest, APlatformTokenCallsThePlatformsRoutesOnly) {
  auto platform = CreateToken(ctx_, "alice", "test", {TokenRole::kPlatform, std::nullopt});
  ASSERT_TRUE(platform.ok());
  EXPECT_EQ(Send("POST", "/platform/1", *platform, "{}").status, 200);
  EXPECT_EQ(Send("GET", "/platform", *platform).status, 200);
  EXPECT_EQ(Send("POST", "/platform/1", alice_, "{}").status, 403);  // alice is no admin
  EXPECT_EQ(Send("POST", "/platform/1", root_, "{}").status, 200);
  auto refused = Send("GET", "/users/alice", *platform);
  EXPECT_EQ(refused.status, 403);
  EXPECT_EQ(Body(refused)["error"], "a platform token may only call the platform's routes");
  EXPECT_EQ(Send("POST", "/users/alice", *platform, "{}").status, 403);
  EXPECT_EQ(Send("GET", "/open/1", *platform).status, 200);  // public routes stay public

  ASSERT_TRUE(RevokeToken(ctx_, platform->substr(0, kTokenPrefixLength), "test").ok());
  auto gone = Send("GET", "/platform", *platform);
  EXPECT_EQ(gone.status, 401);
  EXPECT_EQ(Body(gone)["error"], "Token has been revoked.");
}

TEST_F(RouterTest, JsonBodiesAreParsedAndOthersRefused) {
  auto ok = Send("POST", "/users/a", root_, R"({"x": 1})");
  ASSERT_EQ(ok.status, 200);
  EXPECT_EQ(Body(ok)["body"]["x"], 1);
  EXPECT_EQ(Send("POST", "/users/a", root_, "x=1", "text/plain").status, 415);
  EXPECT_EQ(Send("POST", "/users/a", root_, "{").status, 400);
  EXPECT_EQ(Send("POST", "/users/a", root_, "[1]").status, 400);
}

TEST_F(RouterTest, ARawBodyRouteGetsTheBytesUnparsed) {
  auto r = Send("PUT", "/raw", alice_, "not json", "application/octet-stream");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(Body(r)["body"], nlohmann::json::object());
}

TEST(RouterPathTest, ApiPathsAreApiHealthzAndMetrics) {
  EXPECT_TRUE(Router::IsApiPath("/api/me"));
  EXPECT_TRUE(Router::IsApiPath("/healthz"));
  EXPECT_TRUE(Router::IsApiPath("/metrics/"));
  EXPECT_FALSE(Router::IsApiPath("/"));
  EXPECT_FALSE(Router::IsApiPath("/app.js"));
}

}  // namespace
}  // namespace retention
