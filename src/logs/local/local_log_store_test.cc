// What only the local log store shows: ingest, read, enforce, segments, group folders. The
// port's promises are in logs/log_retention_contract_test.cc.
#include "logs/local/local_log_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <thread>

namespace retention {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

TimePoint At(const char* rfc3339) { return *ParseTime(rfc3339); }

class LocalLogStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/local_log_store_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto store = LocalLogStore::Open("file://" + dir_.string());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::vector<LogLine> ReadAll(const std::string& group) {
    auto lines =
        store_->Read(group, At("1970-01-01T00:00:00Z"), At("2100-01-01T00:00:00Z"), 1'000'000);
    EXPECT_TRUE(lines.ok()) << lines.status().ToString();
    return lines.ok() ? *lines : std::vector<LogLine>();
  }

  static std::vector<std::string> Messages(const std::vector<LogLine>& lines) {
    std::vector<std::string> out;
    for (const auto& l : lines) out.push_back(l.message);
    return out;
  }

  std::vector<std::string> SegmentFiles(const std::string& group_folder) {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir_ / group_folder)) {
      if (e.path().extension() == ".jsonl") out.push_back(e.path().filename().string());
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  fs::path dir_;
  std::unique_ptr<LocalLogStore> store_;
};

TEST_F(LocalLogStoreTest, OpenRejectsOtherSchemesAndEmptyPaths) {
  for (const char* url : {"s3://bucket", "cloudwatch://us-east-1", "file://", "/var/logs"}) {
    auto store = LocalLogStore::Open(url);
    ASSERT_FALSE(store.ok()) << url;
    EXPECT_EQ(store.status().code(), StatusCode::kInvalidArgument) << url;
    EXPECT_THAT(store.status().message(), HasSubstr(url));
  }
}

TEST_F(LocalLogStoreTest, UrlIsTheOneOpened) {
  EXPECT_EQ(store_->Url(), "file://" + dir_.string());
}

TEST_F(LocalLogStoreTest, ReadsIngestedLinesByEventTimeRangeInOrder) {
  const TimePoint now = At("2026-03-10T12:00:00Z");
  ASSERT_TRUE(store_
                  ->Ingest("challenge-pk-1-production-workers",
                           {{At("2026-03-10T11:00:03Z"), "third"},
                            {At("2026-03-10T11:00:01Z"), "first"},
                            {At("2026-03-10T11:00:02Z"), "second"},
                            {At("2026-03-10T11:00:05Z"), "fifth"}},
                           now)
                  .ok());
  ASSERT_TRUE(store_
                  ->Ingest("challenge-pk-1-production-workers",
                           {{At("2026-03-10T11:00:04Z"), "fourth"}}, now + Days(1))
                  .ok());

  auto all = ReadAll("challenge-pk-1-production-workers");
  EXPECT_THAT(Messages(all), ElementsAre("first", "second", "third", "fourth", "fifth"));
  EXPECT_EQ(all[0].timestamp, At("2026-03-10T11:00:01Z"));

  // [from, to) by event timestamp, across both day segments.
  auto range = store_->Read("challenge-pk-1-production-workers", At("2026-03-10T11:00:02Z"),
                            At("2026-03-10T11:00:05Z"), 100);
  ASSERT_TRUE(range.ok());
  EXPECT_THAT(Messages(*range), ElementsAre("second", "third", "fourth"));

  auto limited = store_->Read("challenge-pk-1-production-workers", At("2026-03-10T00:00:00Z"),
                              At("2026-03-11T00:00:00Z"), 2);
  ASSERT_TRUE(limited.ok());
  EXPECT_THAT(Messages(*limited), ElementsAre("first", "second"));
}

// Issue 8 defect 13: a bounded Read returns exactly what sorting the whole range and keeping the
// first `limit` lines returns: ordered by event timestamp, ties in ingestion order (earlier
// segment first, then file order), for limits below, at and above the number of lines in range.
TEST_F(LocalLogStoreTest, Issue8Defect13BoundedReadKeepsTheEarliestLinesAndTheirTieOrder) {
  const std::string group = "challenge-pk-2-production-workers";
  const TimePoint base = At("2026-03-10T00:00:00Z");
  std::vector<std::pair<TimePoint, std::string>> all;  // in ingestion order
  for (int day = 0; day < 3; ++day) {
    std::vector<LogLine> lines;
    for (int i = 0; i < 40; ++i) {
      // Event times repeat across lines and days (only 7 distinct seconds), out of order.
      const TimePoint t = base + std::chrono::seconds((i * 5 + day * 3) % 7);
      const std::string message = "d" + std::to_string(day) + "-" + std::to_string(i);
      lines.push_back({t, message});
      all.emplace_back(t, message);
    }
    ASSERT_TRUE(store_->Ingest(group, lines, base + Days(day)).ok());
  }
  const TimePoint from = base + std::chrono::seconds(1);
  const TimePoint to = base + std::chrono::seconds(6);
  std::vector<std::pair<TimePoint, std::string>> in_range;
  for (const auto& l : all) {
    if (l.first >= from && l.first < to) in_range.push_back(l);
  }
  std::stable_sort(in_range.begin(), in_range.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (std::size_t limit :
       {std::size_t{1}, std::size_t{7}, std::size_t{40}, in_range.size(), in_range.size() + 5}) {
    SCOPED_TRACE("limit " + std::to_string(limit));
    auto read = store_->Read(group, from, to, limit);
    ASSERT_TRUE(read.ok()) << read.status().ToString();
    std::vector<std::string> want;
    for (std::size_t i = 0; i < std::min(limit, in_range.size()); ++i) {
      want.push_back(in_range[i].second);
    }
    EXPECT_EQ(Messages(*read), want);
  }
}

TEST_F(LocalLogStoreTest, StoresMessagesVerbatimIncludingNewlinesAndQuotes) {
  const std::string message = "line one\nline \"two\"\t\\ end";
  ASSERT_TRUE(
      store_->Ingest("g", {{At("2026-03-10T00:00:00Z"), message}}, At("2026-03-10T00:00:00Z"))
          .ok());
  auto lines = ReadAll("g");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].message, message);
}

TEST_F(LocalLogStoreTest, ReadOfUnknownGroupIsEmpty) { EXPECT_THAT(ReadAll("nobody"), IsEmpty()); }

TEST_F(LocalLogStoreTest, WritesOneSegmentPerIngestionDay) {
  ASSERT_TRUE(
      store_->Ingest("g", {{At("2026-01-01T00:00:00Z"), "a"}}, At("2026-03-10T23:59:59Z")).ok());
  ASSERT_TRUE(
      store_->Ingest("g", {{At("2026-01-01T00:00:00Z"), "b"}}, At("2026-03-11T00:00:00Z")).ok());
  EXPECT_THAT(SegmentFiles("g"), ElementsAre("2026-03-10.jsonl", "2026-03-11.jsonl"));
}

TEST_F(LocalLogStoreTest, ListsGroupsByPrefixInNameOrderIncludingSlashes) {
  ASSERT_TRUE(store_->SetPolicy("challenge-pk-2-production-workers", 60).ok());
  ASSERT_TRUE(store_->RemovePolicy("challenge-pk-1-production-workers").ok());
  ASSERT_TRUE(store_->Ingest("/aws/ecs/worker", {}, At("2026-03-10T00:00:00Z")).ok());
  ASSERT_TRUE(store_->SetPolicy(".hidden#1", 1).ok());

  auto challenges = store_->List("challenge-pk-");
  ASSERT_TRUE(challenges.ok());
  EXPECT_THAT(*challenges, ElementsAre(LogGroupInfo{"challenge-pk-1-production-workers", {}},
                                       LogGroupInfo{"challenge-pk-2-production-workers", 60}));

  auto all = store_->List("");
  ASSERT_TRUE(all.ok());
  EXPECT_THAT(*all, ElementsAre(LogGroupInfo{".hidden#1", 1}, LogGroupInfo{"/aws/ecs/worker", {}},
                                LogGroupInfo{"challenge-pk-1-production-workers", {}},
                                LogGroupInfo{"challenge-pk-2-production-workers", 60}));
  EXPECT_EQ(store_->Describe("/aws/ecs/worker")->value().name, "/aws/ecs/worker");
  // One folder per group, whatever its name.
  EXPECT_TRUE(fs::is_directory(dir_ / "%2Faws%2Fecs%2Fworker"));
  EXPECT_TRUE(fs::is_directory(dir_ / "%2Ehidden#1"));
}

// The port's operations refuse these names in logs/log_retention_contract_test.cc; the local
// store's own Ingest and Read refuse them too.
TEST_F(LocalLogStoreTest, RejectsInvalidGroupNamesInIngestAndRead) {
  const std::string too_long(513, 'a');
  for (const std::string& bad :
       {std::string(), std::string(".."), std::string("a/../b"), std::string("space here"),
        std::string("semi;colon"), std::string("star*"), std::string("uni\xc3\xa9"), too_long}) {
    EXPECT_EQ(
        store_->Ingest(bad, {{At("2026-01-01T00:00:00Z"), "x"}}, At("2026-01-01T00:00:00Z")).code(),
        StatusCode::kInvalidArgument)
        << bad;
    EXPECT_EQ(store_->Read(bad, At("2026-01-01T00:00:00Z"), At("2027-01-01T00:00:00Z"), 10)
                  .status()
                  .code(),
              StatusCode::kInvalidArgument)
        << bad;
  }
  EXPECT_THAT(*store_->List(""), IsEmpty()) << "nothing may be written for a bad name";
  EXPECT_TRUE(store_->SetPolicy("A-z_0.9/#-", 30).ok());
}

TEST_F(LocalLogStoreTest, KeepsGroupsWithNamesLongerThanAFileNameAllows) {
  const std::string longest(512, 'a');
  const std::string slashes = std::string(200, '/') + "x";  // escapes to 601 bytes
  ASSERT_TRUE(store_->SetPolicy(longest, 30).ok());
  ASSERT_TRUE(
      store_->Ingest(slashes, {{At("2026-01-01T00:00:00Z"), "m"}}, At("2026-01-01T00:00:00Z"))
          .ok());
  EXPECT_EQ(store_->Describe(longest)->value(), (LogGroupInfo{longest, 30}));
  EXPECT_THAT(*store_->List(""), ElementsAre(LogGroupInfo{slashes, {}}, LogGroupInfo{longest, 30}));
  EXPECT_THAT(Messages(ReadAll(slashes)), ElementsAre("m"));
  EXPECT_FALSE(store_->Describe(std::string(511, 'a'))->has_value());
}

TEST_F(LocalLogStoreTest, EnforceRemovesLinesOlderThanThePolicyAndKeepsNewerOnes) {
  // Three ingestion days; the policy is 7 days.
  const TimePoint day1 = At("2026-03-01T10:00:00Z");
  const TimePoint day2 = At("2026-03-02T10:00:00Z");
  const TimePoint day3 = At("2026-03-03T10:00:00Z");
  ASSERT_TRUE(store_->Ingest("g", {{day1, "d1"}}, day1).ok());
  ASSERT_TRUE(store_->Ingest("g", {{day2, "d2"}}, day2).ok());
  ASSERT_TRUE(store_->Ingest("g", {{day3, "d3"}}, day3).ok());
  ASSERT_TRUE(store_->SetPolicy("g", 7).ok());

  // Just before day1 + 7 days nothing goes.
  auto none = store_->Enforce(day1 + Days(7) - std::chrono::seconds(1));
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_EQ(none->lines_removed, 0);
  EXPECT_EQ(none->groups_with_policy, 1);
  EXPECT_THAT(Messages(ReadAll("g")), ElementsAre("d1", "d2", "d3"));

  // At day2's ingestion + 7 days, d1 and d2 have expired; d3 stays.
  auto report = store_->Enforce(day2 + Days(7));
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->lines_removed, 2);
  EXPECT_GT(report->bytes_freed, 0);
  EXPECT_THAT(Messages(ReadAll("g")), ElementsAre("d3"));
}

// Issue 8 defect 9: one group can be enforced alone, under its policy as stored at that moment.
TEST_F(LocalLogStoreTest, Issue8Defect9EnforceGroupTouchesOnlyThatGroupUnderItsStoredPolicy) {
  const TimePoint old_day = At("2026-02-01T12:00:00Z");
  const TimePoint now = At("2026-06-01T00:00:00Z");
  for (const char* g : {"a", "b"}) {
    ASSERT_TRUE(store_->Ingest(g, {{old_day, std::string("old ") + g}}, old_day).ok());
    ASSERT_TRUE(store_->SetPolicy(g, 30).ok());
  }
  auto a = store_->EnforceGroup("a", now);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->groups_with_policy, 1);
  EXPECT_EQ(a->lines_removed, 1);
  EXPECT_THAT(ReadAll("a"), IsEmpty());
  EXPECT_THAT(Messages(ReadAll("b")), ElementsAre("old b")) << "another group is not enforced";

  // A policy removed just before protects the lines.
  ASSERT_TRUE(store_->RemovePolicy("b").ok());
  auto b = store_->EnforceGroup("b", now);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->groups_with_policy, 0);
  EXPECT_EQ(b->lines_removed, 0);
  EXPECT_THAT(Messages(ReadAll("b")), ElementsAre("old b"));

  auto missing = store_->EnforceGroup("nobody", now);
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->groups_with_policy, 0);
  auto bad = store_->EnforceGroup("../x", now);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
}

TEST_F(LocalLogStoreTest, EnforceKeepsEverythingInAGroupWithoutPolicy) {
  const TimePoint old = At("2020-01-01T00:00:00Z");
  ASSERT_TRUE(store_->Ingest("kept", {{old, "ancient"}}, old).ok());
  ASSERT_TRUE(store_->Ingest("purged", {{old, "ancient"}}, old).ok());
  ASSERT_TRUE(store_->SetPolicy("purged", 1).ok());
  ASSERT_TRUE(store_->SetPolicy("kept", 1).ok());
  ASSERT_TRUE(store_->RemovePolicy("kept").ok());

  auto report = store_->Enforce(At("2026-01-01T00:00:00Z"));
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->groups_with_policy, 1);
  EXPECT_EQ(report->lines_removed, 1);
  EXPECT_THAT(Messages(ReadAll("kept")), ElementsAre("ancient"));
  EXPECT_THAT(ReadAll("purged"), IsEmpty());
  EXPECT_THAT(SegmentFiles("kept"), ElementsAre("2020-01-01.jsonl"));
}

TEST_F(LocalLogStoreTest, EnforceRemovesASegmentOnlyWhenAllItsLinesExpired) {
  // One ingestion day, two batches: early morning and late evening. Policy 1 day.
  const TimePoint morning = At("2026-03-01T01:00:00Z");
  const TimePoint evening = At("2026-03-01T23:00:00Z");
  ASSERT_TRUE(store_->Ingest("g", {{morning, "morning"}}, morning).ok());
  ASSERT_TRUE(store_->Ingest("g", {{evening, "evening"}}, evening).ok());
  ASSERT_TRUE(store_->SetPolicy("g", 1).ok());

  // Morning line expired, evening not: the segment is rewritten, not removed.
  auto partial = store_->Enforce(morning + Days(1));
  ASSERT_TRUE(partial.ok());
  EXPECT_EQ(partial->segments_removed, 0);
  EXPECT_EQ(partial->segments_rewritten, 1);
  EXPECT_EQ(partial->lines_removed, 1);
  EXPECT_THAT(SegmentFiles("g"), ElementsAre("2026-03-01.jsonl"));
  EXPECT_THAT(Messages(ReadAll("g")), ElementsAre("evening"));

  // Once the evening line expires too, the file goes.
  auto full = store_->Enforce(evening + Days(1));
  ASSERT_TRUE(full.ok());
  EXPECT_EQ(full->segments_removed, 1);
  EXPECT_EQ(full->lines_removed, 1);
  EXPECT_THAT(SegmentFiles("g"), IsEmpty());
  // The group and its policy stay.
  EXPECT_EQ(store_->Describe("g")->value(), (LogGroupInfo{"g", 1}));
}

TEST_F(LocalLogStoreTest, EnforceDeletesAWholeExpiredDayAtItsEndPlusDays) {
  const TimePoint ingested = At("2026-03-01T12:00:00Z");
  ASSERT_TRUE(store_->Ingest("g", {{ingested, "a"}, {ingested, "b"}}, ingested).ok());
  ASSERT_TRUE(store_->SetPolicy("g", 3).ok());
  auto report = store_->Enforce(At("2026-03-05T00:00:00Z"));  // day end (03-02) + 3 days
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->segments_removed, 1);
  EXPECT_EQ(report->lines_removed, 2);
  EXPECT_THAT(SegmentFiles("g"), IsEmpty());
}

TEST_F(LocalLogStoreTest, IgnoresATornLastLineAndRepairsItOnTheNextIngest) {
  const TimePoint now = At("2026-03-01T12:00:00Z");
  ASSERT_TRUE(store_->Ingest("g", {{now, "whole"}}, now).ok());
  {
    std::ofstream out(dir_ / "g" / "2026-03-01.jsonl", std::ios::app);
    out << "{\"ingestion_time\":\"2026-03-01T12:";  // a crash mid-write
  }
  EXPECT_THAT(Messages(ReadAll("g")), ElementsAre("whole"));
  ASSERT_TRUE(store_->Ingest("g", {{now, "after"}}, now).ok());
  EXPECT_THAT(Messages(ReadAll("g")), ElementsAre("whole", "after"));
}

TEST_F(LocalLogStoreTest, ReportsACorruptSegmentNamingTheFile) {
  const TimePoint now = At("2026-03-01T12:00:00Z");
  ASSERT_TRUE(store_->Ingest("g", {{now, "whole"}}, now).ok());
  {
    std::ofstream out(dir_ / "g" / "2026-03-01.jsonl", std::ios::app);
    out << "not json\n";
  }
  auto lines = store_->Read("g", now - Days(1), now + Days(1), 10);
  ASSERT_FALSE(lines.ok());
  EXPECT_EQ(lines.status().code(), StatusCode::kInternal);
  EXPECT_THAT(lines.status().message(), HasSubstr("2026-03-01.jsonl line 2"));
}

TEST_F(LocalLogStoreTest, ConcurrentIngestsLoseNoLines) {
  const TimePoint now = At("2026-03-01T12:00:00Z");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        ASSERT_TRUE(
            store_->Ingest("g", {{now, std::to_string(t) + "-" + std::to_string(i)}}, now).ok());
        ASSERT_TRUE(store_->SetPolicy("g", t % 2 == 0 ? 30 : 60).ok());
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ReadAll("g").size(), 200u);
}

}  // namespace
}  // namespace retention
