#include "service/log_retention_sync.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "logs/local/local_log_store.h"
#include "service/audit_log.h"
#include "testing/database.h"
#include "testing/test_support.h"

namespace retention {
namespace {

using nlohmann::json;
using ::retention::testing::T;
using ::retention::testing::TempDir;

bool Allowed(int days) {
  return std::find(kAllowedRetentionDays.begin(), kAllowedRetentionDays.end(), days) !=
         kAllowedRetentionDays.end();
}

// A log backend in memory that records every call. Groups are created by tests (CloudWatch-like:
// writes to a missing group are NotFound) unless `creates_groups` is set.
class CountingLogRetention final : public LogRetention {
 public:
  explicit CountingLogRetention(bool creates_groups = false) : creates_groups_(creates_groups) {}

  Result<std::optional<LogGroupInfo>> Describe(const std::string& group) override {
    Gate();
    std::lock_guard<std::mutex> lock(mu_);
    calls_.push_back("Describe " + group);
    if (!fail_describe_.ok()) return fail_describe_;
    auto it = groups_.find(group);
    if (it == groups_.end()) return std::optional<LogGroupInfo>();
    return std::optional<LogGroupInfo>(LogGroupInfo{group, it->second});
  }
  Result<std::vector<LogGroupInfo>> List(const std::string& prefix) override {
    std::lock_guard<std::mutex> lock(mu_);
    calls_.push_back("List " + prefix);
    std::vector<LogGroupInfo> out;
    for (const auto& [name, days] : groups_) {
      if (name.rfind(prefix, 0) == 0) out.push_back({name, days});
    }
    return out;
  }
  Status SetPolicy(const std::string& group, int days) override {
    std::lock_guard<std::mutex> lock(mu_);
    calls_.push_back("SetPolicy " + group + " " + std::to_string(days));
    if (!fail_writes_.ok()) return fail_writes_;
    if (!Allowed(days)) return InvalidArgument("not allowed");
    if (!groups_.contains(group) && !creates_groups_) return NotFound("no group " + group);
    groups_[group] = days;
    return Status::Ok();
  }
  Status RemovePolicy(const std::string& group) override {
    std::lock_guard<std::mutex> lock(mu_);
    calls_.push_back("RemovePolicy " + group);
    if (!fail_writes_.ok()) return fail_writes_;
    if (!groups_.contains(group) && !creates_groups_) return NotFound("no group " + group);
    groups_[group] = std::nullopt;
    return Status::Ok();
  }
  std::string Url() const override { return "fake://"; }

  void CreateGroup(const std::string& name, std::optional<int> days = std::nullopt) {
    std::lock_guard<std::mutex> lock(mu_);
    groups_[name] = days;
  }
  // nullopt: no group; otherwise the group's policy (an inner nullopt: never expire).
  std::optional<std::optional<int>> Policy(const std::string& name) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = groups_.find(name);
    if (it == groups_.end()) return std::nullopt;
    return it->second;
  }
  std::vector<std::string> TakeCalls() {
    std::lock_guard<std::mutex> lock(mu_);
    return std::exchange(calls_, {});
  }
  int Writes(const std::vector<std::string>& calls) {
    return static_cast<int>(std::count_if(calls.begin(), calls.end(), [](const std::string& c) {
      return c.rfind("SetPolicy", 0) == 0 || c.rfind("RemovePolicy", 0) == 0;
    }));
  }
  void FailWrites(Status s) { fail_writes_ = std::move(s); }
  void FailDescribe(Status s) { fail_describe_ = std::move(s); }

  // While closed, Describe blocks (after signalling that it was entered).
  void CloseGate() {
    std::lock_guard<std::mutex> lock(gate_mu_);
    gate_open_ = false;
    entered_ = false;
  }
  void WaitEntered() {
    std::unique_lock<std::mutex> lock(gate_mu_);
    gate_cv_.wait(lock, [this] { return entered_; });
  }
  void OpenGate() {
    std::lock_guard<std::mutex> lock(gate_mu_);
    gate_open_ = true;
    gate_cv_.notify_all();
  }

 private:
  void Gate() {
    std::unique_lock<std::mutex> lock(gate_mu_);
    entered_ = true;
    gate_cv_.notify_all();
    gate_cv_.wait(lock, [this] { return gate_open_; });
  }

  const bool creates_groups_;
  std::mutex mu_;
  std::map<std::string, std::optional<int>> groups_;
  std::vector<std::string> calls_;
  Status fail_writes_;
  Status fail_describe_;

  std::mutex gate_mu_;
  std::condition_variable gate_cv_;
  bool gate_open_ = true;
  bool entered_ = false;
};

// A backend that forwards to the local log store and runs `after_set_policy` once, right after
// the first SetPolicy of `group`: a stand-in for a change committed (by another process, or a
// request whose trigger has not run yet) while the daily reconcile is under way.
class HookedLocalBackend final : public LogRetention {
 public:
  explicit HookedLocalBackend(LocalLogStore* store) : store_(store) {}

  Result<std::optional<LogGroupInfo>> Describe(const std::string& group) override {
    return store_->Describe(group);
  }
  Result<std::vector<LogGroupInfo>> List(const std::string& prefix) override {
    return store_->List(prefix);
  }
  Status SetPolicy(const std::string& group, int days) override {
    Status s = store_->SetPolicy(group, days);
    if (s.ok() && group == hook_group_ && after_set_policy_) {
      std::exchange(after_set_policy_, nullptr)();
    }
    return s;
  }
  Status RemovePolicy(const std::string& group) override { return store_->RemovePolicy(group); }
  std::string Url() const override { return store_->Url(); }

  void OnFirstSetPolicy(std::string group, std::function<void()> hook) {
    hook_group_ = std::move(group);
    after_set_policy_ = std::move(hook);
  }

 private:
  LocalLogStore* store_;
  std::string hook_group_;
  std::function<void()> after_set_policy_;
};

// A clock the worker thread may read while the test sets it.
class LockedClock final : public Clock {
 public:
  explicit LockedClock(TimePoint t) : now_(t) {}
  TimePoint Now() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return now_;
  }
  void Set(TimePoint t) {
    std::lock_guard<std::mutex> lock(mu_);
    now_ = t;
  }

 private:
  mutable std::mutex mu_;
  TimePoint now_;
};

json Users() {
  return json::array({{{"username", "alice"}, {"email", "alice@example.org"}},
                      {{"username", "root"}, {"email", "root@example.org"}, {"is_admin", true}}});
}

json Teams() {
  return json::array(
      {{{"id", 1},
        {"name", "Lab"},
        {"members", json::array({{{"username", "alice"}, {"status", "accepted"}}})}}});
}

// A challenge starting 2026-01-01 with one private phase ending at `end` (null: no end date).
json Challenge(int id, bool consent, json end) {
  json c = {{"id", id},
            {"title", "C" + std::to_string(id)},
            {"description", ""},
            {"host_team", 1},
            {"approved", true},
            {"inform_hosts", true},
            {"start_date", "2026-01-01T00:00:00Z"},
            {"phases", json::array({{{"id", id * 10},
                                     {"name", "P"},
                                     {"start_date", "2026-01-01T00:00:00Z"},
                                     {"end_date", end},
                                     {"is_public", false},
                                     {"submissions", json::array()}}})}};
  if (consent) c["consent"] = {{"by", "alice"}, {"at", "2026-01-02T00:00:00Z"}, {"notes", ""}};
  return c;
}

class LogRetentionSyncTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(false); }

  // A fresh database and sync over `backend` (default: the counting fake) with `store` as its
  // log store (nullptr: a backend that keeps no lines). Triggers are unwired until WireTriggers().
  void Open(bool creates_groups, LogStore* store = nullptr, LogRetention* backend = nullptr) {
    ctx_.log_sync = nullptr;
    sync_.reset();
    imported_ = false;
    db_ = testing::MigratedDatabase();
    ASSERT_NE(db_, nullptr);
    fake_ = std::make_unique<CountingLogRetention>(creates_groups);
    ctx_.db = db_.get();
    ctx_.clock = &clock_;
    ctx_.settings.default_days = 30;
    ctx_.settings.environment = "test";
    LogRetentionSyncOptions o;
    o.backend_creates_groups = creates_groups;
    o.log_store = store;
    o.on_trigger_error = [this](const Status& s) { trigger_errors_.push_back(s.ToString()); };
    sync_ = std::make_unique<LogRetentionSync>(&ctx_, backend ? backend : fake_.get(), o);
  }

  // Imports `challenges` (with the users and the team the first time).
  void Import(const json& challenges) {
    ServiceContext quiet = ctx_;  // no triggers while loading
    quiet.log_sync = nullptr;
    json data = {{"challenges", challenges}};
    if (!imported_) {
      data["users"] = Users();
      data["host_teams"] = Teams();
    }
    imported_ = true;
    auto r = ImportData(quiet, data.dump());
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }

  void WireTriggers() { ctx_.log_sync = sync_.get(); }

  LogReconcileOutcome Reconcile(std::int64_t id) {
    auto o = sync_->ReconcileChallenge(id, clock_.Now());
    EXPECT_TRUE(o.ok()) << o.status().ToString();
    return o.ok() ? *o : LogReconcileOutcome{};
  }

  // {applied_days or -1 for NULL, applied_known, state, last_error}
  std::tuple<std::int64_t, bool, std::string, std::string> State(std::int64_t id) {
    auto conn = db_->Lock();
    auto row = conn->QueryOne(
        "SELECT applied_days, applied_known, state, last_error FROM log_retention_state WHERE "
        "challenge_id = ?",
        {id});
    EXPECT_TRUE(row.ok());
    if (!row.ok() || !row->has_value()) return {-2, false, "absent", ""};
    const auto& r = **row;
    return {r.IsNull(0) ? -1 : r.Int(0), r.Bool(1), r.Text(2), r.Text(3)};
  }

  std::vector<AuditEvent> Audits(const std::string& action) {
    auto conn = db_->Lock();
    auto events = ListAuditEvents(*conn, AuditFilter{});
    EXPECT_TRUE(events.ok());
    std::vector<AuditEvent> out;
    for (const auto& e : *events) {
      if (e.action == action) out.push_back(e);
    }
    return out;
  }

  static std::string Group(int id) {
    return "challenge-pk-" + std::to_string(id) + "-test-workers";
  }

  LockedClock clock_{T("2026-02-01T00:00:00Z")};
  std::unique_ptr<Database> db_;
  std::unique_ptr<CountingLogRetention> fake_;
  ServiceContext ctx_;
  std::unique_ptr<LogRetentionSync> sync_;
  std::vector<std::string> trigger_errors_;
  bool imported_ = false;
};

// R8 over the cases: before and after E = latest end + D, with and without consent, with an
// override, and without an end date. Challenges start 2026-01-01.
TEST_F(LogRetentionSyncTest, AppliesTheR8TableRoundedUpToAnAllowedValue) {
  struct Row {
    const char* name;
    bool consent;
    json end;
    std::optional<int> override_days;
    const char* now;
    std::optional<int> want;
  };
  const std::vector<Row> rows = {
      // E = 03-31; start..E = 89 days -> 90.
      {"consent before E", true, "2026-03-01T00:00:00Z", std::nullopt, "2026-02-01T00:00:00Z", 90},
      {"consent after E", true, "2026-03-01T00:00:00Z", std::nullopt, "2026-04-01T00:00:00Z", 30},
      {"consent at E", true, "2026-03-01T00:00:00Z", std::nullopt, "2026-03-31T00:00:00Z", 30},
      {"no consent before E", false, "2026-03-01T00:00:00Z", std::nullopt, "2026-02-01T00:00:00Z",
       std::nullopt},
      {"no consent after E", false, "2026-03-01T00:00:00Z", std::nullopt, "2026-06-01T00:00:00Z",
       std::nullopt},
      {"no end date", true, nullptr, std::nullopt, "2026-06-01T00:00:00Z", std::nullopt},
      // Override 25 after E (03-26): 25 rounds up to 30.
      {"override 25 after E", true, "2026-03-01T00:00:00Z", 25, "2026-04-10T00:00:00Z", 30},
      // Override 100 before E (06-09): 159 days from the start -> 180.
      {"override 100 before E", true, "2026-03-01T00:00:00Z", 100, "2026-04-10T00:00:00Z", 180},
      // Override 400 after E: 400 is allowed as is.
      {"override 400 after E", true, "2026-01-15T00:00:00Z", 400, "2027-03-01T00:00:00Z", 400},
      // Override 3653 before E: more than 3653 days from the start, capped at 3653.
      {"override 3653 before E", true, "2026-03-01T00:00:00Z", 3653, "2026-04-10T00:00:00Z", 3653},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.name);
    Open(false);
    Import(json::array({Challenge(1, row.consent, row.end)}));
    if (row.override_days) {
      ServiceContext quiet = ctx_;
      ASSERT_TRUE(SetOverride(quiet, 1, row.override_days, "test", "root").ok());
    }
    // A policy that is wrong for every row, so each row needs exactly one write.
    fake_->CreateGroup(Group(1), 7);
    clock_.Set(T(row.now));
    const auto o = Reconcile(1);
    EXPECT_EQ(o.state, "in_step");
    EXPECT_TRUE(o.changed);
    EXPECT_EQ(o.desired_days, row.want);
    EXPECT_EQ(o.applied_days, row.want);
    if (row.want) {
      EXPECT_TRUE(Allowed(*row.want));
    }
    EXPECT_EQ(fake_->Policy(Group(1)), std::optional<std::optional<int>>(row.want));
    EXPECT_EQ(State(1),
              std::make_tuple(row.want.value_or(-1), true, std::string("in_step"), std::string()));
  }
}

TEST_F(LogRetentionSyncTest, MakesNoWriteCallWhenInStep) {
  Import(json::array({Challenge(1, true, "2026-03-01T00:00:00Z")}));
  fake_->CreateGroup(Group(1));
  ASSERT_TRUE(Reconcile(1).changed);
  const auto first = fake_->TakeCalls();
  EXPECT_EQ(first,
            (std::vector<std::string>{"Describe " + Group(1), "SetPolicy " + Group(1) + " 90"}));
  EXPECT_EQ(Audits("log_retention_applied").size(), 1u);

  const auto again = Reconcile(1);
  EXPECT_FALSE(again.changed);
  EXPECT_EQ(again.state, "in_step");
  EXPECT_EQ(fake_->TakeCalls(), std::vector<std::string>{"Describe " + Group(1)});
  EXPECT_EQ(Audits("log_retention_applied").size(), 1u) << "no change, no audit";

  auto all = sync_->ReconcileAll(clock_.Now());
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ((*all)["changed"], 0);
  EXPECT_EQ((*all)["in_step"], 1);
  EXPECT_EQ(fake_->TakeCalls(), std::vector<std::string>{"List challenge-pk-"});
}

TEST_F(LogRetentionSyncTest, AuditsEachChangeAsTheSystem) {
  Import(json::array({Challenge(1, true, "2026-03-01T00:00:00Z")}));
  fake_->CreateGroup(Group(1), 3);
  ASSERT_TRUE(Reconcile(1).changed);
  const auto events = Audits("log_retention_applied");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].actor, "system");
  EXPECT_EQ(events[0].ledger, "admin");
  EXPECT_EQ(events[0].challenge_id, std::optional<std::int64_t>(1));
  EXPECT_NE(events[0].notes.find("90 days (was 3 days)"), std::string::npos) << events[0].notes;
  auto conn = db_->Lock();
  auto verified = VerifyAuditChain(*conn);
  ASSERT_TRUE(verified.ok());
  EXPECT_TRUE(verified->ok) << verified->error;
}

TEST_F(LogRetentionSyncTest, MissingGroupIsPendingThenAppliedWhenItAppears) {
  Import(json::array({Challenge(1, true, "2026-03-01T00:00:00Z")}));
  WireTriggers();
  sync_->Trigger(1);
  EXPECT_TRUE(trigger_errors_.empty()) << "a missing group is not an error";
  EXPECT_EQ(fake_->Writes(fake_->TakeCalls()), 0) << "nothing is written to a missing group";
  EXPECT_EQ(std::get<2>(State(1)), "pending");
  EXPECT_FALSE(std::get<1>(State(1)));
  EXPECT_NE(std::get<3>(State(1)).find("does not exist yet"), std::string::npos);

  // Still missing: the daily reconcile counts it as pending and writes nothing.
  auto still = sync_->ReconcileAll(clock_.Now());
  ASSERT_TRUE(still.ok());
  EXPECT_EQ((*still)["pending"], 1);
  EXPECT_EQ((*still)["changed"], 0);
  EXPECT_EQ(fake_->Writes(fake_->TakeCalls()), 0);

  fake_->CreateGroup(Group(1));
  auto all = sync_->ReconcileAll(clock_.Now());
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ((*all)["checked"], 1);
  EXPECT_EQ((*all)["changed"], 1);
  EXPECT_EQ((*all)["pending"], 0);
  EXPECT_EQ((*all)["changes"][0]["to_days"], 90);
  EXPECT_EQ(fake_->Policy(Group(1)), std::optional<std::optional<int>>(90));
  EXPECT_EQ(State(1),
            std::make_tuple(std::int64_t{90}, true, std::string("in_step"), std::string()));
}

TEST_F(LogRetentionSyncTest, WithdrawalRemovesThePolicyAndConsentAgainRestoresIt) {
  Import(json::array({Challenge(1, true, "2026-03-01T00:00:00Z")}));
  fake_->CreateGroup(Group(1));
  WireTriggers();
  clock_.Set(T("2026-05-01T00:00:00Z"));  // after E: 30
  sync_->Trigger(1);
  ASSERT_EQ(fake_->Policy(Group(1)), std::optional<std::optional<int>>(30));

  ASSERT_TRUE(WithdrawConsent(ctx_, 1, "alice", std::nullopt).ok());
  EXPECT_EQ(fake_->Policy(Group(1)), std::optional<std::optional<int>>(std::optional<int>()));
  EXPECT_EQ(State(1),
            std::make_tuple(std::int64_t{-1}, true, std::string("in_step"), std::string()));
  const auto withdrawn = fake_->TakeCalls();
  EXPECT_NE(std::find(withdrawn.begin(), withdrawn.end(), "RemovePolicy " + Group(1)),
            withdrawn.end());

  ASSERT_TRUE(GrantConsent(ctx_, 1, "alice", std::nullopt).ok());
  EXPECT_EQ(fake_->Policy(Group(1)), std::optional<std::optional<int>>(30));
  EXPECT_EQ(State(1),
            std::make_tuple(std::int64_t{30}, true, std::string("in_step"), std::string()));
  EXPECT_EQ(Audits("log_retention_applied").size(), 3u);
  EXPECT_TRUE(trigger_errors_.empty());
}

TEST_F(LogRetentionSyncTest, OverrideTriggerAppliesTheNewValue) {
  Import(json::array({Challenge(1, true, "2026-03-01T00:00:00Z")}));
  fake_->CreateGroup(Group(1));
  WireTriggers();
  clock_.Set(T("2026-05-01T00:00:00Z"));
  ASSERT_TRUE(SetOverride(ctx_, 1, 25, "legal asked", "root").ok());
  EXPECT_EQ(fake_->Policy(Group(1)), std::optional<std::optional<int>>(30));
  ASSERT_TRUE(SetOverride(ctx_, 1, 61, "longer", "root").ok());
  EXPECT_EQ(fake_->Policy(Group(1)), std::optional<std::optional<int>>(90));
}

TEST_F(LogRetentionSyncTest, ReconcileAllListsOnceAndWritesOnlyWhereDifferent) {
  Import(json::array({Challenge(1, true, "2026-03-01T00:00:00Z"),
                      Challenge(2, false, "2026-03-01T00:00:00Z"), Challenge(3, true, nullptr),
                      Challenge(4, true, "2026-03-01T00:00:00Z")}));
  clock_.Set(T("2026-05-01T00:00:00Z"));
  fake_->CreateGroup(Group(1), 30);                       // in step
  fake_->CreateGroup(Group(2), 14);                       // no consent: remove
  fake_->CreateGroup(Group(3));                           // no end date, no policy: in step
  fake_->CreateGroup("challenge-pk-4-other-workers", 1);  // another environment: ignored
  auto all = sync_->ReconcileAll(clock_.Now());
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ((*all)["checked"], 4);
  EXPECT_EQ((*all)["changed"], 1);
  EXPECT_EQ((*all)["in_step"], 3);  // after the run: 1 and 3 were, 2 now is
  EXPECT_EQ((*all)["pending"], 1);  // challenge 4's group does not exist
  EXPECT_EQ((*all)["failed"], 0);
  EXPECT_EQ((*all)["changes"], json::array({{{"challenge_id", 2},
                                             {"log_group", Group(2)},
                                             {"from_days", 14},
                                             {"to_days", nullptr}}}));
  EXPECT_EQ(fake_->TakeCalls(),
            (std::vector<std::string>{"List challenge-pk-", "RemovePolicy " + Group(2)}));
  EXPECT_EQ(fake_->Policy("challenge-pk-4-other-workers"), std::optional<std::optional<int>>(1));
}

TEST_F(LogRetentionSyncTest, BackendFailureIsRecordedAndReportedNotThrown) {
  Import(json::array(
      {Challenge(1, true, "2026-03-01T00:00:00Z"), Challenge(2, true, "2026-03-01T00:00:00Z")}));
  fake_->CreateGroup(Group(1), 7);
  fake_->CreateGroup(Group(2), 7);
  WireTriggers();
  fake_->FailWrites(Unavailable("throttled too long"));
  sync_->Trigger(1);
  ASSERT_EQ(trigger_errors_.size(), 1u);
  EXPECT_NE(trigger_errors_[0].find("throttled too long"), std::string::npos);
  EXPECT_EQ(State(1), std::make_tuple(std::int64_t{7}, true, std::string("error"),
                                      std::string("unavailable: set log retention of ") + Group(1) +
                                          ": throttled too long"));

  auto all = sync_->ReconcileAll(clock_.Now());
  ASSERT_TRUE(all.ok());
  EXPECT_EQ((*all)["failed"], 2);
  EXPECT_EQ((*all)["errors"].size(), 2u);
  EXPECT_EQ((*all)["changed"], 0);

  fake_->FailWrites(Status::Ok());
  fake_->FailDescribe(Unavailable("no network"));
  auto o = Reconcile(1);
  EXPECT_EQ(o.state, "error");
  // The last known applied policy is kept when the backend cannot be asked.
  EXPECT_EQ(std::get<0>(State(1)), 7);
  EXPECT_TRUE(std::get<1>(State(1)));
  EXPECT_NE(std::get<3>(State(1)).find("no network"), std::string::npos);
}

TEST_F(LogRetentionSyncTest, UnknownChallengeIsNotFound) {
  auto o = sync_->ReconcileChallenge(99, clock_.Now());
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.status().code(), StatusCode::kNotFound);
  auto e = sync_->ChallengeEvent(99, "approved");
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kNotFound);
  auto bad = sync_->ChallengeEvent(99, "exploded");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
}

TEST_F(LogRetentionSyncTest, WorkerQueuesTriggersWithoutBlockingAndDeduplicates) {
  Import(json::array(
      {Challenge(1, true, "2026-03-01T00:00:00Z"), Challenge(2, true, "2026-03-01T00:00:00Z")}));
  fake_->CreateGroup(Group(1));
  fake_->CreateGroup(Group(2));
  sync_->StartWorker();
  fake_->CloseGate();
  sync_->Trigger(1);
  fake_->WaitEntered();  // the worker is inside challenge 1's Describe
  // These return at once although the backend is blocked, and queue challenge 2 once.
  sync_->Trigger(2);
  sync_->Trigger(2);
  auto event = sync_->ChallengeEvent(2, "worker_restarted");
  ASSERT_TRUE(event.ok()) << event.status().ToString();
  EXPECT_EQ((*event)["queued"], true);
  EXPECT_EQ((*event)["log_group"], Group(2));
  fake_->OpenGate();
  sync_->WaitIdle();
  const auto calls = fake_->TakeCalls();
  EXPECT_EQ(std::count(calls.begin(), calls.end(), "Describe " + Group(2)), 1);
  EXPECT_EQ(fake_->Policy(Group(1)), std::optional<std::optional<int>>(90));
  EXPECT_EQ(fake_->Policy(Group(2)), std::optional<std::optional<int>>(90));
  sync_->StopWorker();
  // Without the worker a trigger reconciles inline again.
  fake_->CreateGroup(Group(2), 1);
  sync_->Trigger(2);
  EXPECT_EQ(fake_->Policy(Group(2)), std::optional<std::optional<int>>(90));
}

TEST_F(LogRetentionSyncTest, StopWorkerFinishesQueuedChallenges) {
  Import(json::array(
      {Challenge(1, true, "2026-03-01T00:00:00Z"), Challenge(2, true, "2026-03-01T00:00:00Z")}));
  fake_->CreateGroup(Group(1));
  fake_->CreateGroup(Group(2));
  sync_->StartWorker();
  fake_->CloseGate();
  sync_->Trigger(1);
  fake_->WaitEntered();
  sync_->Trigger(2);
  fake_->OpenGate();
  sync_->StopWorker();
  EXPECT_EQ(fake_->Policy(Group(2)), std::optional<std::optional<int>>(90));
}

TEST_F(LogRetentionSyncTest, LocalStoreCreatesGroupsAndTheJobEnforcesPolicies) {
  TempDir dir;
  auto store = LocalLogStore::Open("file://" + dir.path().string());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  Open(true, store->get(), store->get());
  // Challenge 1: consent, phase ended 2026-03-01, D = 30, so from 03-31 on the policy is 30.
  // Challenge 2: no consent: its lines are never deleted.
  Import(json::array(
      {Challenge(1, true, "2026-03-01T00:00:00Z"), Challenge(2, false, "2026-03-01T00:00:00Z")}));
  const std::vector<LogLine> lines = {{T("2026-02-01T00:00:00Z"), "old"}};
  ASSERT_TRUE((*store)->Ingest(Group(1), lines, T("2026-02-01T00:00:00Z")).ok());
  ASSERT_TRUE((*store)->Ingest(Group(2), lines, T("2026-02-01T00:00:00Z")).ok());
  ASSERT_TRUE(
      (*store)
          ->Ingest(Group(1), {{T("2026-05-20T00:00:00Z"), "new"}}, T("2026-05-20T00:00:00Z"))
          .ok());
  clock_.Set(T("2026-06-01T00:00:00Z"));
  auto all = sync_->ReconcileAll(clock_.Now());
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ((*all)["changed"], 1);
  EXPECT_EQ((*all)["pending"], 0);
  EXPECT_EQ((*all)["deleted"], 1);
  EXPECT_EQ((*all)["enforcement"]["lines_removed"], 1);
  EXPECT_EQ((*all)["enforcement"]["segments_removed"], 1);

  auto read1 = sync_->ReadLogLines(Group(1), "", "", 100);
  ASSERT_TRUE(read1.ok()) << read1.status().ToString();
  EXPECT_EQ((*read1)["lines"],
            json::array({{{"timestamp", "2026-05-20T00:00:00Z"}, {"message", "new"}}}));
  auto read2 = sync_->ReadLogLines(Group(2), "", "", 100);
  ASSERT_TRUE(read2.ok());
  EXPECT_EQ((*read2)["count"], 1) << "a group without a policy keeps its lines";

  // A challenge without a group and without a policy to apply gets no folder.
  Import(json::array({Challenge(3, false, nullptr)}));
  auto d = (*store)->Describe(Group(3));
  ASSERT_TRUE(d.ok());
  auto o = Reconcile(3);
  EXPECT_EQ(o.state, "in_step");
  EXPECT_FALSE(o.changed);
  d = (*store)->Describe(Group(3));
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->has_value());
  // One with a policy to apply creates its group on first use.
  Import(json::array({Challenge(4, true, "2026-03-01T00:00:00Z")}));
  o = Reconcile(4);
  EXPECT_EQ(o.state, "in_step");
  EXPECT_TRUE(o.changed);
  d = (*store)->Describe(Group(4));
  ASSERT_TRUE(d.ok());
  ASSERT_TRUE(d->has_value());
  EXPECT_EQ((*d)->retention_days, std::optional<int>(30));
}

TEST_F(LogRetentionSyncTest, IngestHookValidatesLines) {
  TempDir dir;
  auto store = LocalLogStore::Open("file://" + dir.path().string());
  ASSERT_TRUE(store.ok());
  Open(true, store->get(), store->get());
  auto ok = sync_->IngestLogLines(
      Group(1), json::array({{{"timestamp", "2026-01-05T10:00:00Z"}, {"message", "hello"}}}));
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ((*ok)["ingested"], 1);
  auto bad = sync_->IngestLogLines(Group(1),
                                   json::array({{{"timestamp", "yesterday"}, {"message", "x"}}}));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("lines[0].timestamp"), std::string::npos);
  auto range = sync_->ReadLogLines(Group(1), "2026-01-06T00:00:00Z", "", 10);
  ASSERT_TRUE(range.ok());
  EXPECT_EQ((*range)["count"], 0);
  EXPECT_TRUE(sync_->keeps_lines());
  // Without a log store (CloudWatch) both refuse, and the API answers 503 before calling them.
  Open(false);
  EXPECT_FALSE(sync_->keeps_lines());
  auto refused = sync_->IngestLogLines(Group(1), json::array());
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  auto unread = sync_->ReadLogLines(Group(1), "", "", 10);
  ASSERT_FALSE(unread.ok());
  EXPECT_EQ(unread.status().code(), StatusCode::kFailedPrecondition);
}

// Issue 8 defect 9: a withdrawal committed while the daily reconcile runs (after it started, before
// the local store enforces) protects the challenge's lines. Both challenges have consent and E
// (2026-03-31) has passed, so their policy is 30 days and the lines ingested 2026-02-01 are due.
// The hook withdraws challenge 2 right after challenge 1's policy is written (case "other"), or
// challenge 1 itself (case "same"); the withdrawn challenge's lines survive.
TEST_F(LogRetentionSyncTest, Issue8Defect9WithdrawalDuringTheDailyReconcileKeepsTheLines) {
  for (const int withdrawn : {2, 1}) {
    SCOPED_TRACE(withdrawn == 2 ? "other challenge withdrawn" : "same challenge withdrawn");
    TempDir dir;
    auto store = LocalLogStore::Open("file://" + dir.path().string());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    HookedLocalBackend backend(store->get());
    Open(true, store->get(), &backend);
    Import(json::array(
        {Challenge(1, true, "2026-03-01T00:00:00Z"), Challenge(2, true, "2026-03-01T00:00:00Z")}));
    for (int id : {1, 2}) {
      ASSERT_TRUE((*store)
                      ->Ingest(Group(id),
                               {{T("2026-02-01T00:00:00Z"), "line " + std::to_string(id)}},
                               T("2026-02-01T00:00:00Z"))
                      .ok());
    }
    // The withdrawal's own trigger would wait for the reconcile; it is not wired here, as in
    // another process whose trigger has not arrived yet.
    ServiceContext quiet = ctx_;
    quiet.log_sync = nullptr;
    backend.OnFirstSetPolicy(Group(1), [&quiet, withdrawn] {
      ASSERT_TRUE(WithdrawConsent(quiet, withdrawn, "alice", std::nullopt).ok());
    });
    clock_.Set(T("2026-06-01T00:00:00Z"));
    auto all = sync_->ReconcileAll(clock_.Now());
    ASSERT_TRUE(all.ok()) << all.status().ToString();

    const int kept = withdrawn;
    const int purged = 3 - withdrawn;
    auto read_kept =
        (*store)->Read(Group(kept), T("2026-01-01T00:00:00Z"), T("2027-01-01T00:00:00Z"), 10);
    ASSERT_TRUE(read_kept.ok());
    EXPECT_EQ(read_kept->size(), 1u)
        << "the line of withdrawn challenge " << kept << " was purged: " << all->dump();
    if (!read_kept->empty()) {
      EXPECT_EQ((*read_kept)[0].message, "line " + std::to_string(kept));
    }
    auto read_purged =
        (*store)->Read(Group(purged), T("2026-01-01T00:00:00Z"), T("2027-01-01T00:00:00Z"), 10);
    ASSERT_TRUE(read_purged.ok());
    EXPECT_TRUE(read_purged->empty()) << "challenge " << purged << " still has consent";
    EXPECT_EQ((*all)["deleted"], 1) << all->dump();
    auto policy = (*store)->Describe(Group(kept));
    ASSERT_TRUE(policy.ok());
    ASSERT_TRUE(policy->has_value());
    EXPECT_EQ((*policy)->retention_days, std::nullopt) << "withdrawn: never expire";
  }
}

// Issue 8 defect 1: without a start date, the first ingested line is the group's origin, so the
// first reconcile (here long after it) keeps that line until E = 2026-07-01, and the value stays
// there on the following days instead of shrinking towards E.
TEST_F(LogRetentionSyncTest, Issue8Defect1TheFirstIngestedLineAnchorsThePolicyBeforeE) {
  TempDir dir;
  auto store = LocalLogStore::Open("file://" + dir.path().string());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  Open(true, store->get(), store->get());
  json c = Challenge(1, true, "2026-06-01T00:00:00Z");
  c["start_date"] = nullptr;
  Import(json::array({c}));
  clock_.Set(T("2026-03-01T00:00:00Z"));
  auto ingested = sync_->IngestLogLines(
      Group(1), json::array({{{"timestamp", "2026-03-01T00:00:00Z"}, {"message", "early"}}}));
  ASSERT_TRUE(ingested.ok()) << ingested.status().ToString();

  for (const char* day : {"2026-05-15T00:00:00Z", "2026-06-20T00:00:00Z"}) {
    SCOPED_TRACE(day);
    clock_.Set(T(day));
    auto all = sync_->ReconcileAll(clock_.Now());
    ASSERT_TRUE(all.ok()) << all.status().ToString();
    // 122 days from 2026-03-01 to E.
    EXPECT_EQ(std::get<0>(State(1)), 150) << all->dump();
    auto read = sync_->ReadLogLines(Group(1), "", "", 10);
    ASSERT_TRUE(read.ok());
    EXPECT_EQ((*read)["count"], 1) << all->dump();
  }
}

}  // namespace
}  // namespace retention
