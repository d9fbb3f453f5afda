// The LogRetention contract (logs/log_retention.h) as tests, run against every adapter in
// kLogBackends: the local log store, and the CloudWatch Logs adapter against the strict fake
// CloudWatch server (testing/fake_cloudwatch.h, which checks every SigV4 signature). Describe of a
// missing group, set/describe/remove (removing twice is fine), the error codes for bad days and bad
// names (nothing written), what a missing group does (the local store creates it, CloudWatch says
// NotFound), listing by prefix in name order, and a URL without credentials. Ingest, read and
// enforce are the LogStore contract (log_store_contract_test.cc); what only one backend shows
// (signing, paging, retries) stays in its own test. A new adapter plugs in with one entry in
// kLogBackends.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "logs/cloudwatch/cloudwatch_logs.h"
#include "logs/local/local_log_store.h"
#include "logs/log_retention.h"
#include "testing/contract.h"
#include "testing/fake_cloudwatch.h"
#include "testing/test_support.h"

namespace retention {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// One adapter under test, fresh for each test: an empty backend and a client of it.
class LogBackend {
 public:
  virtual ~LogBackend() = default;
  // Empty unless the backend could not be set up (the message says why).
  virtual std::string error() const = 0;
  virtual LogRetention& port() = 0;
  // Makes `group` exist without a policy, the way the backend's own writers would.
  virtual void CreateGroup(const std::string& group) = 0;
  // True when SetPolicy and RemovePolicy create a missing group; false when they answer NotFound.
  virtual bool CreatesGroupsOnFirstUse() const = 0;
};

class LocalBackend final : public LogBackend {
 public:
  LocalBackend() {
    testing::TakeOrKeepError(LocalLogStore::Open("file://" + (dir_.path() / "logs").string()),
                             store_, error_);
  }
  std::string error() const override { return error_; }
  LogRetention& port() override { return *store_; }
  void CreateGroup(const std::string& group) override {
    ASSERT_TRUE(store_->Ingest(group, {}, testing::T("2026-03-10T00:00:00Z")).ok()) << group;
  }
  bool CreatesGroupsOnFirstUse() const override { return true; }

 private:
  testing::TempDir dir_;
  std::string error_;
  std::unique_ptr<LocalLogStore> store_;
};

class CloudWatchBackend final : public LogBackend {
 public:
  CloudWatchBackend() {
    // One fake server for the whole test binary (starting Python with botocore takes a while),
    // emptied for each test and stopped when the binary exits.
    static testing::FakeCloudWatch fake;
    fake_ = &fake;
    if (!fake_->error().empty()) {
      error_ = fake_->error();
      return;
    }
    fake_->Control("/_fake/reset", nlohmann::json::object());
    CloudWatchOptions options;
    options.credentials = AwsCredentials{testing::kFakeAccessKey, testing::kFakeSecretKey, ""};
    options.base_delay = std::chrono::milliseconds(1);
    options.max_delay = std::chrono::milliseconds(4);
    options.calls_per_second = 1000;  // the rate limit has its own test
    testing::TakeOrKeepError(CloudWatchLogs::Open(fake_->Url(), options), client_, error_);
  }
  std::string error() const override { return error_; }
  LogRetention& port() override { return *client_; }
  void CreateGroup(const std::string& group) override { fake_->CreateGroup(group); }
  bool CreatesGroupsOnFirstUse() const override { return false; }

 private:
  testing::FakeCloudWatch* fake_ = nullptr;
  std::string error_;
  std::unique_ptr<CloudWatchLogs> client_;
};

const testing::AdapterFactory<LogBackend> kLogBackends[] = {
    {"local", testing::MakeHarness<LogBackend, LocalBackend>},
    {"cloudwatch", testing::MakeHarness<LogBackend, CloudWatchBackend>},
};

class LogRetentionContract : public testing::AdapterContract<LogBackend> {
 protected:
  LogRetention& port() { return harness_->port(); }
  std::vector<LogGroupInfo> ListOf(const std::string& prefix) {
    auto listed = port().List(prefix);
    EXPECT_TRUE(listed.ok()) << listed.status().ToString();
    return listed.ok() ? *listed : std::vector<LogGroupInfo>{};
  }
};

TEST_P(LogRetentionContract, DescribeOfAMissingGroupIsNullopt) {
  auto missing = port().Describe("challenge-pk-8-production-workers");
  ASSERT_TRUE(missing.ok()) << missing.status().ToString();
  EXPECT_FALSE(missing->has_value());
}

TEST_P(LogRetentionContract, SetsReadsAndRemovesPolicy) {
  harness_->CreateGroup("g");
  EXPECT_EQ(port().Describe("g")->value(), (LogGroupInfo{"g", std::nullopt}));

  ASSERT_TRUE(port().SetPolicy("g", 30).ok());
  auto set = port().Describe("g");
  ASSERT_TRUE(set.ok());
  ASSERT_TRUE(set->has_value());
  EXPECT_EQ(**set, (LogGroupInfo{"g", 30}));

  ASSERT_TRUE(port().SetPolicy("g", 3653).ok());
  EXPECT_EQ(port().Describe("g")->value().retention_days, 3653);

  ASSERT_TRUE(port().RemovePolicy("g").ok());
  EXPECT_EQ(port().Describe("g")->value(), (LogGroupInfo{"g", std::nullopt}));
  // Removing again is fine: there is no policy.
  EXPECT_TRUE(port().RemovePolicy("g").ok());
}

TEST_P(LogRetentionContract, AMissingGroupIsCreatedOrNotFoundAsTheBackendSays) {
  const std::string set_group = "challenge-pk-9-production-workers";
  const std::string remove_group = "new-group";
  const Status set = port().SetPolicy(set_group, 30);
  const Status removed = port().RemovePolicy(remove_group);
  if (harness_->CreatesGroupsOnFirstUse()) {
    EXPECT_TRUE(set.ok()) << set.ToString();
    EXPECT_TRUE(removed.ok()) << removed.ToString();
    EXPECT_EQ(port().Describe(set_group)->value(), (LogGroupInfo{set_group, 30}));
    EXPECT_EQ(port().Describe(remove_group)->value(), (LogGroupInfo{remove_group, std::nullopt}));
  } else {
    EXPECT_EQ(set.code(), StatusCode::kNotFound) << set.ToString();
    EXPECT_THAT(set.message(), HasSubstr(set_group));
    EXPECT_EQ(removed.code(), StatusCode::kNotFound) << removed.ToString();
    EXPECT_FALSE(port().Describe(set_group)->has_value());
  }
}

TEST_P(LogRetentionContract, RejectsRetentionDaysOutsideTheAllowedValues) {
  for (int days : {0, 2, 31, 366, 3654, -1}) {
    Status s = port().SetPolicy("g", days);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << days;
    EXPECT_THAT(s.message(), HasSubstr(std::to_string(days))) << days;
  }
  EXPECT_FALSE(port().Describe("g")->has_value()) << "a refused policy must not create the group";
  harness_->CreateGroup("h");
  EXPECT_EQ(port().SetPolicy("h", 31).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(port().Describe("h")->value(), (LogGroupInfo{"h", std::nullopt}));
}

TEST_P(LogRetentionContract, RejectsInvalidGroupNamesInEveryOperation) {
  const std::string too_long(513, 'a');
  for (const std::string& bad :
       {std::string(), std::string(".."), std::string("a/../b"), std::string("space here"),
        std::string("semi;colon"), std::string("star*"), std::string("uni\xc3\xa9"), too_long}) {
    EXPECT_EQ(port().SetPolicy(bad, 30).code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(port().RemovePolicy(bad).code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(port().Describe(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_THAT(ListOf(""), IsEmpty()) << "nothing may be written for a bad name";
  harness_->CreateGroup("A-z_0.9/#-");
  EXPECT_TRUE(port().SetPolicy("A-z_0.9/#-", 30).ok());
}

TEST_P(LogRetentionContract, ListsByPrefixInNameOrder) {
  for (const char* name : {"b-2", "a-1", "b-10", "c", "/aws/ecs/worker"}) {
    harness_->CreateGroup(name);
  }
  ASSERT_TRUE(port().SetPolicy("b-2", 60).ok());
  EXPECT_THAT(ListOf("b-"), ElementsAre(LogGroupInfo{"b-10", {}}, LogGroupInfo{"b-2", 60}));
  EXPECT_THAT(ListOf(""), ElementsAre(LogGroupInfo{"/aws/ecs/worker", {}}, LogGroupInfo{"a-1", {}},
                                      LogGroupInfo{"b-10", {}}, LogGroupInfo{"b-2", 60},
                                      LogGroupInfo{"c", {}}));
  EXPECT_THAT(ListOf("/aws/"), ElementsAre(LogGroupInfo{"/aws/ecs/worker", {}}));
  EXPECT_THAT(ListOf("zzz"), IsEmpty());
}

TEST_P(LogRetentionContract, DescribePicksTheExactNameAmongPrefixSiblings) {
  for (const char* name : {"g-1", "g-10", "g-100", "g-2"}) harness_->CreateGroup(name);
  ASSERT_TRUE(port().SetPolicy("g-10", 5).ok());
  EXPECT_EQ(port().Describe("g-10")->value(), (LogGroupInfo{"g-10", 5}));
  EXPECT_EQ(port().Describe("g-1")->value(), (LogGroupInfo{"g-1", std::nullopt}));
  EXPECT_FALSE(port().Describe("g-")->has_value());
}

TEST_P(LogRetentionContract, UrlNamesTheBackendWithoutCredentials) {
  const std::string url = port().Url();
  EXPECT_NE(url.find("://"), std::string::npos) << url;
  EXPECT_EQ(url.find(testing::kFakeSecretKey), std::string::npos) << url;
  EXPECT_EQ(url.find(testing::kFakeAccessKey), std::string::npos) << url;
}

INSTANTIATE_TEST_SUITE_P(Adapters, LogRetentionContract, ::testing::ValuesIn(kLogBackends),
                         testing::AdapterName());

// Port-level code: the allowed values are CloudWatch's 22.
TEST(LogRetentionTest, AllowedDaysAreCloudWatchs22Values) {
  EXPECT_EQ(kAllowedRetentionDays.size(), 22u);
  EXPECT_TRUE(std::is_sorted(kAllowedRetentionDays.begin(), kAllowedRetentionDays.end()));
  for (int days : kAllowedRetentionDays) EXPECT_TRUE(IsAllowedRetentionDays(days)) << days;
  for (int days : {0, 2, 4, 29, 31, 364, 3652, 3654}) {
    EXPECT_FALSE(IsAllowedRetentionDays(days)) << days;
  }
}

}  // namespace
}  // namespace retention
