// CloudWatchLogs against tests/integration/fake_cloudwatch.py (testing/fake_cloudwatch.h, on a
// free port with Debian's /usr/bin/python3, which verifies every SigV4 signature with botocore):
// what is particular to this adapter (signing, paging, retries, the rate limit, URLs and
// credentials). The port's promises are in logs/log_retention_contract_test.cc.
#include "logs/cloudwatch/cloudwatch_logs.h"

#include <curl/curl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "logs/cloudwatch/aws_error.h"
#include "logs/cloudwatch/rate_limiter.h"
#include "testing/fake_cloudwatch.h"

namespace retention {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

using testing::FakeCloudWatch;
constexpr const char* kAccessKey = testing::kFakeAccessKey;
constexpr const char* kSecretKey = testing::kFakeSecretKey;

CloudWatchOptions FastOptions() {
  CloudWatchOptions options;
  options.credentials = AwsCredentials{kAccessKey, kSecretKey, ""};
  options.base_delay = 1ms;
  options.max_delay = 4ms;
  options.calls_per_second = 1000;  // the rate limit has its own test
  return options;
}

class CloudWatchLogsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    fake_ = new FakeCloudWatch();
  }
  static void TearDownTestSuite() {
    delete fake_;
    fake_ = nullptr;
  }
  void SetUp() override {
    ASSERT_TRUE(fake_->error().empty()) << fake_->error();
    fake_->Control("/_fake/reset", json::object());
  }

  std::unique_ptr<CloudWatchLogs> Client(CloudWatchOptions options = FastOptions()) {
    auto client = CloudWatchLogs::Open(fake_->Url(), std::move(options));
    EXPECT_TRUE(client.ok()) << client.status().ToString();
    return client.ok() ? std::move(client).value() : nullptr;
  }

  static FakeCloudWatch* fake_;
};

FakeCloudWatch* CloudWatchLogsTest::fake_ = nullptr;

TEST_F(CloudWatchLogsTest, SetsDescribesAndRemovesPoliciesWithVerifiedSignatures) {
  fake_->CreateGroup("challenge-pk-7-production-workers");
  auto client = Client();
  ASSERT_NE(client, nullptr);
  const std::string group = "challenge-pk-7-production-workers";

  auto before = client->Describe(group);
  ASSERT_TRUE(before.ok()) << before.status().ToString();
  EXPECT_EQ(*before, (LogGroupInfo{group, std::nullopt}));

  ASSERT_TRUE(client->SetPolicy(group, 30).ok());
  EXPECT_EQ(fake_->StoredDays(group), 30);
  EXPECT_EQ(client->Describe(group)->value(), (LogGroupInfo{group, 30}));

  ASSERT_TRUE(client->RemovePolicy(group).ok());
  EXPECT_EQ(fake_->StoredDays(group), std::nullopt);
  EXPECT_EQ(client->Describe(group)->value(), (LogGroupInfo{group, std::nullopt}));
  EXPECT_TRUE(client->RemovePolicy(group).ok()) << "removing an absent policy is fine";

  auto missing = client->Describe("challenge-pk-8-production-workers");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());

  // Every call passed the fake's botocore signature check.
  const json calls = fake_->Calls()["calls"];
  ASSERT_EQ(calls.size(), 7u);
  for (const json& c : calls) EXPECT_EQ(c["status"], 200) << c.dump();
  EXPECT_EQ(calls[1]["operation"], "PutRetentionPolicy");
  EXPECT_EQ(calls[1]["group"], group);
}

TEST_F(CloudWatchLogsTest, WrongSecretKeyFailsTheSignatureCheck) {
  fake_->CreateGroup("g");
  CloudWatchOptions options = FastOptions();
  options.credentials->secret_access_key = "not-the-secret";
  auto client = Client(options);
  ASSERT_NE(client, nullptr);
  Status s = client->SetPolicy("g", 30);
  EXPECT_EQ(s.code(), StatusCode::kUnauthenticated) << s.ToString();
  EXPECT_THAT(s.message(), HasSubstr("InvalidSignatureException"));
  EXPECT_THAT(s.message(), HasSubstr("log group 'g'"));
  EXPECT_EQ(fake_->StoredDays("g"), std::nullopt);
  const json calls = fake_->Calls()["calls"];
  ASSERT_EQ(calls.size(), 1u) << "an authentication failure is not retried";
  EXPECT_EQ(calls[0]["error"], "InvalidSignatureException");
}

TEST_F(CloudWatchLogsTest, UnknownAccessKeyIsUnauthenticated) {
  CloudWatchOptions options = FastOptions();
  options.credentials->access_key_id = "AKIDUNKNOWN";
  auto client = Client(options);
  ASSERT_NE(client, nullptr);
  auto r = client->List("");
  EXPECT_EQ(r.status().code(), StatusCode::kUnauthenticated) << r.status().ToString();
  EXPECT_THAT(r.status().message(), HasSubstr("UnrecognizedClientException"));
}

TEST_F(CloudWatchLogsTest, SendsAndSignsTheSessionToken) {
  FakeCloudWatch fake({"--session-token", "TOKEN/with+chars="});
  ASSERT_TRUE(fake.error().empty()) << fake.error();
  fake.CreateGroup("g");
  CloudWatchOptions options = FastOptions();
  options.credentials->session_token = "TOKEN/with+chars=";
  auto with_token = CloudWatchLogs::Open(fake.Url(), options);
  ASSERT_TRUE(with_token.ok());
  EXPECT_TRUE((*with_token)->SetPolicy("g", 14).ok());
  EXPECT_EQ(fake.StoredDays("g"), 14);

  auto without_token = CloudWatchLogs::Open(fake.Url(), FastOptions());
  ASSERT_TRUE(without_token.ok());
  EXPECT_EQ((*without_token)->SetPolicy("g", 30).code(), StatusCode::kUnauthenticated);
}

TEST_F(CloudWatchLogsTest, ListFollowsEveryPage) {
  std::vector<LogGroupInfo> want;
  for (int i = 0; i < 120; ++i) {
    char name[64];
    std::snprintf(name, sizeof name, "challenge-pk-%03d-production-workers", i);
    fake_->CreateGroup(name);
    want.push_back({name, std::nullopt});
  }
  fake_->CreateGroup("other-group");
  auto client = Client();
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->SetPolicy("challenge-pk-077-production-workers", 90).ok());
  want[77].retention_days = 90;

  auto listed = client->List("challenge-pk-");
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  EXPECT_EQ(*listed, want);
  int describes = 0;
  const json calls = fake_->Calls()["calls"];
  for (const json& c : calls) describes += c["operation"] == "DescribeLogGroups";
  EXPECT_EQ(describes, 3) << "120 groups are three pages of 50";

  auto all = client->List("");
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ(all->size(), 121u);
}

TEST_F(CloudWatchLogsTest, MissingGroupIsNotFound) {
  auto client = Client();
  ASSERT_NE(client, nullptr);
  Status put = client->SetPolicy("challenge-pk-9-production-workers", 30);
  EXPECT_EQ(put.code(), StatusCode::kNotFound) << put.ToString();
  EXPECT_THAT(put.message(), HasSubstr("challenge-pk-9-production-workers"));
  EXPECT_THAT(put.message(), HasSubstr("ResourceNotFoundException"));
  EXPECT_EQ(client->RemovePolicy("challenge-pk-9-production-workers").code(),
            StatusCode::kNotFound);
  EXPECT_EQ(fake_->Calls()["calls"].size(), 2u) << "NotFound is final, not retried";
}

TEST_F(CloudWatchLogsTest, RetriesThrottlingAndOperationAbortedUntilItSucceeds) {
  fake_->CreateGroup("g");
  fake_->InjectErrors("PutRetentionPolicy", "ThrottlingException", 2);
  fake_->InjectErrors("PutRetentionPolicy", "OperationAbortedException", 2);
  auto client = Client();
  ASSERT_NE(client, nullptr);
  Status s = client->SetPolicy("g", 60);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(fake_->StoredDays("g"), 60);
  std::vector<std::string> errors;
  const json calls = fake_->Calls()["calls"];
  for (const json& c : calls) {
    errors.push_back(c["error"].is_null() ? "ok" : c["error"].get<std::string>());
  }
  EXPECT_THAT(errors, ElementsAre("ThrottlingException", "ThrottlingException",
                                  "OperationAbortedException", "OperationAbortedException", "ok"));
}

TEST_F(CloudWatchLogsTest, PersistentServiceUnavailableEndsUnavailableAfterMaxAttempts) {
  fake_->CreateGroup("g");
  fake_->InjectErrors("DeleteRetentionPolicy", "ServiceUnavailableException", 100);
  CloudWatchOptions options = FastOptions();
  options.max_attempts = 4;
  auto client = Client(options);
  ASSERT_NE(client, nullptr);
  Status s = client->RemovePolicy("g");
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
  EXPECT_THAT(s.message(), HasSubstr("after 4 attempts"));
  EXPECT_THAT(s.message(), HasSubstr("ServiceUnavailableException"));
  EXPECT_EQ(fake_->Calls()["calls"].size(), 4u);
}

TEST_F(CloudWatchLogsTest, InvalidParameterAndUnknownErrorsAreFinal) {
  fake_->CreateGroup("g");
  fake_->InjectErrors("PutRetentionPolicy", "InvalidParameterException", 1);
  fake_->InjectErrors("PutRetentionPolicy", "LimitExceededException", 1);
  auto client = Client();
  ASSERT_NE(client, nullptr);
  EXPECT_EQ(client->SetPolicy("g", 30).code(), StatusCode::kInvalidArgument);
  Status other = client->SetPolicy("g", 30);
  EXPECT_EQ(other.code(), StatusCode::kInternal);
  EXPECT_THAT(other.message(), HasSubstr("LimitExceededException: injected"));
  EXPECT_EQ(fake_->Calls()["calls"].size(), 2u);
}

TEST_F(CloudWatchLogsTest, RejectsBadInputBeforeCalling) {
  fake_->CreateGroup("g");
  auto client = Client();
  ASSERT_NE(client, nullptr);
  Status days = client->SetPolicy("g", 31);
  EXPECT_EQ(days.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(days.message(), HasSubstr("31"));
  EXPECT_EQ(client->SetPolicy("bad name", 30).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(client->Describe("").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(fake_->Calls()["calls"].size(), 0u);
}

TEST_F(CloudWatchLogsTest, NeverStartsMoreThanFiveCallsInAnySecond) {
  fake_->CreateGroup("g");
  CloudWatchOptions options = FastOptions();
  options.calls_per_second = 5;
  auto client = Client(options);
  ASSERT_NE(client, nullptr);
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 5; ++i) {
        if (!client->SetPolicy("g", 30).ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures, 0);
  const json log = fake_->Calls();
  EXPECT_EQ(log["calls"].size(), 20u);
  EXPECT_LE(log["max_in_any_second"].get<int>(), 5) << log.dump();
  // 20 calls at 5 per second need at least three full windows after the first five.
  EXPECT_GE(std::chrono::steady_clock::now() - start, 3s);
}

TEST_F(CloudWatchLogsTest, ConnectionFailureIsUnavailableAfterRetries) {
  CloudWatchOptions options = FastOptions();
  options.max_attempts = 2;
  // Port 1 on loopback refuses connections.
  auto client = CloudWatchLogs::Open("cloudwatch://us-east-1?endpoint=http://127.0.0.1:1", options);
  ASSERT_TRUE(client.ok());
  Status s = (*client)->SetPolicy("g", 30);
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
  EXPECT_THAT(s.message(), HasSubstr("cannot reach CloudWatch Logs"));
}

TEST_F(CloudWatchLogsTest, ReadsCredentialsFromTheEnvironment) {
  fake_->CreateGroup("g");
  setenv("AWS_ACCESS_KEY_ID", kAccessKey, 1);
  setenv("AWS_SECRET_ACCESS_KEY", kSecretKey, 1);
  unsetenv("AWS_SESSION_TOKEN");
  CloudWatchOptions options = FastOptions();
  options.credentials.reset();
  auto client = CloudWatchLogs::Open(fake_->Url(), options);
  unsetenv("AWS_ACCESS_KEY_ID");
  unsetenv("AWS_SECRET_ACCESS_KEY");
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  EXPECT_TRUE((*client)->SetPolicy("g", 7).ok());
  EXPECT_EQ((*client)->Url(), fake_->Url());
}

TEST(CloudWatchLogsOpenTest, RejectsBadUrlsSayingWhatIsWrong) {
  struct Case {
    const char* url;
    const char* message;
  };
  const Case cases[] = {
      {"s3://bucket", "must look like cloudwatch://REGION"},
      {"cloudwatch://", "must name a region"},
      {"cloudwatch://US_EAST_1", "must name a region"},
      {"cloudwatch://?endpoint=http://x", "must name a region"},
      {"cloudwatch://us-east-1?endpoint=ftp://x", "endpoint must be an http:// or https:// URL"},
      {"cloudwatch://us-east-1?endpoint=", "endpoint must be an http:// or https:// URL"},
      {"cloudwatch://us-east-1?endpoint=http%zz", "endpoint must be an http:// or https:// URL"},
      {"cloudwatch://us-east-1?region=eu-west-1", "unknown parameter 'region'"},
  };
  for (const Case& c : cases) {
    auto client = CloudWatchLogs::Open(c.url, FastOptions());
    ASSERT_FALSE(client.ok()) << c.url;
    EXPECT_EQ(client.status().code(), StatusCode::kInvalidArgument) << c.url;
    EXPECT_THAT(client.status().message(), HasSubstr(c.message)) << c.url;
    EXPECT_THAT(client.status().message(), HasSubstr(c.url)) << c.url;
  }
  auto ok = CloudWatchLogs::Open("cloudwatch://eu-west-1", FastOptions());
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ((*ok)->Url(), "cloudwatch://eu-west-1");
  EXPECT_TRUE(CloudWatchLogs::Open("cloudwatch://us-east-1?endpoint=http%3A%2F%2F127.0.0.1%3A9",
                                   FastOptions())
                  .ok());
}

TEST(CloudWatchLogsOpenTest, NamesEveryMissingCredential) {
  unsetenv("AWS_ACCESS_KEY_ID");
  unsetenv("AWS_SECRET_ACCESS_KEY");
  CloudWatchOptions options;
  auto none = CloudWatchLogs::Open("cloudwatch://us-east-1", options);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(none.status().message(),
              HasSubstr("set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"));

  options.credentials = AwsCredentials{"AKID", "", ""};
  auto no_secret = CloudWatchLogs::Open("cloudwatch://us-east-1", options);
  ASSERT_FALSE(no_secret.ok());
  EXPECT_THAT(no_secret.status().message(), HasSubstr("set AWS_SECRET_ACCESS_KEY"));
  EXPECT_THAT(no_secret.status().message(), Not(HasSubstr("AWS_ACCESS_KEY_ID")));
}

TEST(AwsErrorTest, ReadsTheTypeFromHeaderOrBody) {
  using cloudwatch_internal::AwsErrorType;
  struct Case {
    const char* header;
    const char* body;
    const char* want;
  };
  const Case cases[] = {
      {"ThrottlingException", "", "ThrottlingException"},
      {"InvalidSignatureException:http://internal.amazon.com/coral/com.amazon.coral.service/", "",
       "InvalidSignatureException"},
      {"", R"({"__type":"com.amazonaws.logs#ResourceNotFoundException","message":"m"})",
       "ResourceNotFoundException"},
      {"", R"({"__type":"ns#OperationAbortedException:extra"})", "OperationAbortedException"},
      {"ResourceNotFoundException", R"({"__type":"Other"})", "ResourceNotFoundException"},
      {"", "<html>bad gateway</html>", ""},
      {"", "", ""},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(AwsErrorType(c.header, c.body), c.want) << c.header << " | " << c.body;
  }
  EXPECT_EQ(cloudwatch_internal::AwsErrorMessage(R"({"message":"The log group"})"),
            "The log group");
  EXPECT_EQ(cloudwatch_internal::AwsErrorMessage(R"({"Message":"Cap"})"), "Cap");
}

TEST(AwsErrorTest, MapsTypesToWhatTheCallerShouldDo) {
  using cloudwatch_internal::IsRetryableAwsError;
  using cloudwatch_internal::StatusForAwsError;
  struct Case {
    const char* type;
    int http;
    StatusCode code;
    bool retry;
  };
  const Case cases[] = {
      {"ResourceNotFoundException", 400, StatusCode::kNotFound, false},
      {"InvalidParameterException", 400, StatusCode::kInvalidArgument, false},
      {"ThrottlingException", 400, StatusCode::kUnavailable, true},
      {"OperationAbortedException", 400, StatusCode::kUnavailable, true},
      {"ServiceUnavailableException", 503, StatusCode::kUnavailable, true},
      {"", 502, StatusCode::kUnavailable, true},
      {"InvalidSignatureException", 400, StatusCode::kUnauthenticated, false},
      {"UnrecognizedClientException", 400, StatusCode::kUnauthenticated, false},
      {"AccessDeniedException", 400, StatusCode::kPermissionDenied, false},
      {"LimitExceededException", 400, StatusCode::kInternal, false},
      {"", 404, StatusCode::kInternal, false},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(StatusForAwsError(c.type, c.http, "msg").code(), c.code) << c.type << c.http;
    EXPECT_EQ(IsRetryableAwsError(c.type, c.http), c.retry) << c.type << c.http;
  }
  EXPECT_EQ(StatusForAwsError("", 502, "").message(), "HTTP 502");
  EXPECT_EQ(StatusForAwsError("ResourceNotFoundException", 400, "gone").message(),
            "ResourceNotFoundException: gone");
}

TEST(RateLimiterTest, ReservesNoMoreThanTheLimitInAnyWindow) {
  cloudwatch_internal::RateLimiter limiter(5, 1s);
  const auto t0 = std::chrono::steady_clock::time_point() + 100s;
  std::vector<std::chrono::steady_clock::duration> slots;
  for (int i = 0; i < 12; ++i) slots.push_back(limiter.Reserve(t0) - t0);
  EXPECT_THAT(slots, ElementsAre(0s, 0s, 0s, 0s, 0s, 1s, 1s, 1s, 1s, 1s, 2s, 2s));
  // After a quiet spell, calls start at once again.
  EXPECT_EQ(limiter.Reserve(t0 + 10s), t0 + 10s);
}

TEST(RateLimiterTest, SpacesCallsThatArriveSpreadOut) {
  cloudwatch_internal::RateLimiter limiter(2, 1s);
  const auto t0 = std::chrono::steady_clock::time_point() + 100s;
  EXPECT_EQ(limiter.Reserve(t0), t0);
  EXPECT_EQ(limiter.Reserve(t0 + 300ms), t0 + 300ms);
  EXPECT_EQ(limiter.Reserve(t0 + 400ms), t0 + 1s);
  EXPECT_EQ(limiter.Reserve(t0 + 500ms), t0 + 1300ms);
  EXPECT_EQ(limiter.Reserve(t0 + 2500ms), t0 + 2500ms);
}

}  // namespace
}  // namespace retention
