// The LogStore contract (logs/log_store.h) as tests, run against every adapter in kStoreBackends
// (today the local log store; CloudWatch keeps no lines, so it is not a LogStore). Lines read back
// by event time in [from, to), the earliest `limit` with ties in ingestion order, a missing group
// read as empty, ingest creating a group without a policy, bad group names refused by every call
// with nothing stored, and enforcement: a line expires when its ingestion time + days <= now, a
// group without a policy (or whose policy was just removed) loses nothing, Enforce applies each
// group's own policy and EnforceGroup only that group's. What only one backend shows (segments,
// files, torn lines) stays in its own test. A new adapter plugs in with one entry in
// kStoreBackends.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "logs/local/local_log_store.h"
#include "logs/log_store.h"
#include "testing/contract.h"
#include "testing/test_support.h"

namespace retention {
namespace {

using ::retention::testing::T;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

// One adapter under test, fresh and empty for each test.
class StoreBackend {
 public:
  virtual ~StoreBackend() = default;
  // Empty unless the backend could not be set up (the message says why).
  virtual std::string error() const = 0;
  virtual LogStore& port() = 0;
};

class LocalStoreBackend final : public StoreBackend {
 public:
  LocalStoreBackend() {
    testing::TakeOrKeepError(LocalLogStore::Open("file://" + (dir_.path() / "logs").string()),
                             store_, error_);
  }
  std::string error() const override { return error_; }
  LogStore& port() override { return *store_; }

 private:
  testing::TempDir dir_;
  std::string error_;
  std::unique_ptr<LocalLogStore> store_;
};

const testing::AdapterFactory<StoreBackend> kStoreBackends[] = {
    {"local", testing::MakeHarness<StoreBackend, LocalStoreBackend>},
};

class LogStoreContract : public testing::AdapterContract<StoreBackend> {
 protected:
  LogStore& port() { return harness_->port(); }

  void Ingest(const std::string& group, const std::vector<LogLine>& lines, const char* now) {
    const Status s = port().Ingest(group, lines, T(now));
    ASSERT_TRUE(s.ok()) << group << ": " << s.ToString();
  }

  // The messages of the group's lines in [from, to), at most `limit`.
  std::vector<std::string> Messages(const std::string& group,
                                    const char* from = "2000-01-01T00:00:00Z",
                                    const char* to = "2100-01-01T00:00:00Z",
                                    std::size_t limit = 1000) {
    auto lines = port().Read(group, T(from), T(to), limit);
    EXPECT_TRUE(lines.ok()) << lines.status().ToString();
    std::vector<std::string> out;
    if (lines.ok()) {
      for (const auto& l : *lines) out.push_back(l.message);
    }
    return out;
  }

  EnforceReport EnforceGroup(const std::string& group, const char* now) {
    auto report = port().EnforceGroup(group, T(now));
    EXPECT_TRUE(report.ok()) << report.status().ToString();
    return report.ok() ? *report : EnforceReport{-1, -1, -1, -1, -1};
  }
};

TEST_P(LogStoreContract, ReadsLinesByEventTimeInAHalfOpenRangeInTimestampOrder) {
  Ingest("g",
         {{T("2026-03-03T00:00:00Z"), "third"},
          {T("2026-03-01T00:00:00Z"), "first"},
          {T("2026-03-02T00:00:00Z"), "second"}},
         "2026-03-05T00:00:00Z");
  EXPECT_THAT(Messages("g"), ElementsAre("first", "second", "third"));
  EXPECT_THAT(Messages("g", "2026-03-01T00:00:00Z", "2026-03-03T00:00:00Z"),
              ElementsAre("first", "second"));
  EXPECT_THAT(Messages("g", "2026-03-02T00:00:00Z", "2026-03-04T00:00:00Z"),
              ElementsAre("second", "third"));
  auto lines = port().Read("g", T("2026-03-02T00:00:00Z"), T("2026-03-02T00:00:01Z"), 10);
  ASSERT_TRUE(lines.ok()) << lines.status().ToString();
  EXPECT_THAT(*lines, ElementsAre(LogLine{T("2026-03-02T00:00:00Z"), "second"}));
}

TEST_P(LogStoreContract, ReadKeepsTheEarliestLimitLinesWithTiesInIngestionOrder) {
  Ingest("g", {{T("2026-03-02T00:00:00Z"), "tie a"}}, "2026-03-05T00:00:00Z");
  Ingest("g", {{T("2026-03-02T00:00:00Z"), "tie b"}}, "2026-03-06T00:00:00Z");
  Ingest("g", {{T("2026-03-01T00:00:00Z"), "earliest"}}, "2026-03-07T00:00:00Z");
  EXPECT_THAT(Messages("g", "2000-01-01T00:00:00Z", "2100-01-01T00:00:00Z", 2),
              ElementsAre("earliest", "tie a"));
  EXPECT_THAT(Messages("g", "2000-01-01T00:00:00Z", "2100-01-01T00:00:00Z", 3),
              ElementsAre("earliest", "tie a", "tie b"));
}

TEST_P(LogStoreContract, ReadOfAGroupThatDoesNotExistIsEmpty) {
  EXPECT_THAT(Messages("challenge-pk-9-production-workers"), IsEmpty());
  auto described = port().Describe("challenge-pk-9-production-workers");
  ASSERT_TRUE(described.ok());
  EXPECT_FALSE(described->has_value()) << "reading does not create the group";
}

TEST_P(LogStoreContract, IngestCreatesTheGroupWithoutAPolicy) {
  Ingest("challenge-pk-1-production-workers", {{T("2026-03-01T00:00:00Z"), "x"}},
         "2026-03-01T00:00:00Z");
  auto described = port().Describe("challenge-pk-1-production-workers");
  ASSERT_TRUE(described.ok()) << described.status().ToString();
  ASSERT_TRUE(described->has_value());
  EXPECT_EQ(**described, (LogGroupInfo{"challenge-pk-1-production-workers", std::nullopt}));
}

TEST_P(LogStoreContract, BadGroupNamesAreRefusedByEveryCallAndNothingIsStored) {
  const std::vector<std::string> bad_names = {"", "a..b", "has space", std::string(513, 'g')};
  for (const std::string& bad : bad_names) {
    SCOPED_TRACE(bad.size() > 20 ? bad.substr(0, 20) + "..." : bad);
    EXPECT_EQ(
        port().Ingest(bad, {{T("2026-03-01T00:00:00Z"), "x"}}, T("2026-03-01T00:00:00Z")).code(),
        StatusCode::kInvalidArgument);
    EXPECT_EQ(
        port().Read(bad, T("2000-01-01T00:00:00Z"), T("2100-01-01T00:00:00Z"), 10).status().code(),
        StatusCode::kInvalidArgument);
    EXPECT_EQ(port().EnforceGroup(bad, T("2027-01-01T00:00:00Z")).status().code(),
              StatusCode::kInvalidArgument);
  }
  auto listed = port().List("");
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  EXPECT_THAT(*listed, IsEmpty());
}

// Ingested 2026-03-01 and 2026-03-21 under a 30-day policy: the first line expires at
// 2026-03-31T00:00:00Z exactly, the second at 2026-04-20.
TEST_P(LogStoreContract, ALineExpiresWhenItsIngestionTimePlusDaysHasCome) {
  Ingest("g", {{T("2026-02-01T00:00:00Z"), "old"}}, "2026-03-01T00:00:00Z");
  Ingest("g", {{T("2026-02-02T00:00:00Z"), "new"}}, "2026-03-21T00:00:00Z");
  ASSERT_TRUE(port().SetPolicy("g", 30).ok());

  EnforceReport early = EnforceGroup("g", "2026-03-30T23:59:59Z");
  EXPECT_EQ(early.groups_with_policy, 1);
  EXPECT_EQ(early.lines_removed, 0);
  EXPECT_THAT(Messages("g"), ElementsAre("old", "new"));

  EnforceReport due = EnforceGroup("g", "2026-03-31T00:00:00Z");
  EXPECT_EQ(due.groups_with_policy, 1);
  EXPECT_EQ(due.lines_removed, 1);
  EXPECT_GT(due.bytes_freed, 0);
  EXPECT_THAT(Messages("g"), ElementsAre("new")) << "retention counts from ingestion, not from "
                                                    "the event's timestamp";

  EnforceReport again = EnforceGroup("g", "2026-03-31T00:00:00Z");
  EXPECT_EQ(again.lines_removed, 0) << "enforcing twice removes nothing more";
}

TEST_P(LogStoreContract, AGroupWithoutAPolicyLosesNothing) {
  Ingest("kept", {{T("2026-03-01T00:00:00Z"), "x"}}, "2026-03-01T00:00:00Z");
  Ingest("removed", {{T("2026-03-01T00:00:00Z"), "y"}}, "2026-03-01T00:00:00Z");
  // A policy removed just before enforcement protects the lines (the policy is read as stored).
  ASSERT_TRUE(port().SetPolicy("removed", 1).ok());
  ASSERT_TRUE(port().RemovePolicy("removed").ok());
  for (const char* group : {"kept", "removed"}) {
    SCOPED_TRACE(group);
    EnforceReport r = EnforceGroup(group, "2030-01-01T00:00:00Z");
    EXPECT_EQ(r.groups_with_policy, 0);
    EXPECT_EQ(r.lines_removed, 0);
    EXPECT_EQ(Messages(group).size(), 1u);
  }
  EnforceReport missing = EnforceGroup("no-such-group", "2030-01-01T00:00:00Z");
  EXPECT_EQ(missing.groups_with_policy, 0);
  EXPECT_EQ(missing.lines_removed, 0);
}

TEST_P(LogStoreContract, EnforceAppliesEachGroupsOwnPolicyAndEnforceGroupOnlyThatGroup) {
  for (const char* group : {"one-day", "month", "no-policy", "other-one-day"}) {
    Ingest(group, {{T("2026-03-01T00:00:00Z"), group}}, "2026-03-01T00:00:00Z");
  }
  ASSERT_TRUE(port().SetPolicy("one-day", 1).ok());
  ASSERT_TRUE(port().SetPolicy("other-one-day", 1).ok());
  ASSERT_TRUE(port().SetPolicy("month", 30).ok());

  EnforceReport only = EnforceGroup("one-day", "2026-03-05T00:00:00Z");
  EXPECT_EQ(only.groups_with_policy, 1);
  EXPECT_EQ(only.lines_removed, 1);
  EXPECT_THAT(Messages("one-day"), IsEmpty());
  EXPECT_THAT(Messages("other-one-day"), ElementsAre("other-one-day"))
      << "EnforceGroup touched another group";

  auto all = port().Enforce(T("2026-03-05T00:00:00Z"));
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ(all->groups_with_policy, 3);
  EXPECT_EQ(all->lines_removed, 1);
  EXPECT_THAT(Messages("other-one-day"), IsEmpty());
  EXPECT_THAT(Messages("month"), ElementsAre("month"));
  EXPECT_THAT(Messages("no-policy"), ElementsAre("no-policy"));
}

INSTANTIATE_TEST_SUITE_P(Adapters, LogStoreContract, ::testing::ValuesIn(kStoreBackends),
                         testing::AdapterName());

}  // namespace
}  // namespace retention
