// Job fixtures shared by the jobs and scheduler tests: a SQLite database in a temp file (one Node
// per simulated process), the seed's schedule, an import helper and the seed-like data builders.
// Header-only; part of retention::testing, used only by *_test.cc files.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "artifacts/local/local_artifact_store.h"
#include "config/config.h"
#include "core/time.h"
#include "jobs/jobs.h"
#include "notify/mail.h"
#include "service/service.h"
#include "store/migrations.h"
#include "store/sqlite/sqlite_connection.h"
#include "testing/database.h"
#include "testing/fake_mail_sender.h"
#include "testing/test_support.h"

namespace retention::testing {

// One process's view of the shared database: its own connection and service context.
struct Node {
  std::unique_ptr<Database> db;
  ServiceContext ctx;
};

inline std::unique_ptr<Node> OpenNode(const std::filesystem::path& db_path, ArtifactStore* store,
                                      const Clock* clock, int notice_days) {
  auto db = MigratedDatabase(db_path.string());
  if (db == nullptr) return nullptr;
  auto node = std::make_unique<Node>();
  node->db = std::move(db);
  node->ctx.db = node->db.get();
  node->ctx.artifacts = store;
  node->ctx.clock = clock;
  node->ctx.settings.default_days = 30;
  node->ctx.settings.notice_days = notice_days;
  return node;
}

// The fixture of the jobs and scheduler tests: one node on a fresh SQLite file in a temp folder,
// a local artifact store beside it, and a fake clock at `start`.
class JobTest : public ::testing::Test {
 protected:
  JobTest(TimePoint start, int notice_days) : clock_(start), notice_days_(notice_days) {}
  void SetUp() override {
    auto store = LocalArtifactStore::Open(dir_.path() / "artifacts");
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
    node_ = OpenNode(dir_.path() / "retention.db", store_.get(), &clock_, notice_days_);
    ASSERT_NE(node_, nullptr);
  }

  TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<ArtifactStore> store_;
  std::unique_ptr<Node> node_;

 private:
  int notice_days_;
};

// The seed's schedule (DESIGN.md section 4), or `overrides` on top of it.
inline JobEnvironment SeedEnvironment(ServiceContext* ctx, MailSender* mail,
                                      std::map<std::string, std::string> overrides = {}) {
  Config config;
  for (auto& [job, cron] : overrides) config.schedule[job] = cron;
  auto env = MakeJobEnvironment(ctx, config, mail);
  EXPECT_TRUE(env.ok()) << env.status().ToString();
  return env.ok() ? *env : JobEnvironment{};
}

// Writes every artifact of `data` into `store` (import checks that they exist), then imports.
inline void Import(ServiceContext& ctx, ArtifactStore& store, const nlohmann::json& data) {
  for (const auto& c : data["challenges"]) {
    for (const auto& p : c["phases"]) {
      for (const auto& s : p["submissions"]) {
        for (const auto& a : s["artifacts"]) {
          ASSERT_TRUE(
              store.Put(a["key"].get<std::string>(), std::string(a["size"].get<std::size_t>(), 'x'))
                  .ok());
        }
      }
    }
  }
  auto r = ImportData(ctx, data.dump());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
}

// Users alice and dave (accepted hosts of team 1), carol (pending), bob (participant).
inline nlohmann::json BaseData() {
  using nlohmann::json;
  return json{
      {"users", json::array({{{"username", "alice"}, {"email", "alice@example.org"}},
                             {{"username", "dave"}, {"email", "dave@example.org"}},
                             {{"username", "carol"}, {"email", "carol@example.org"}},
                             {{"username", "bob"}, {"email", "bob@example.org"}}})},
      {"host_teams",
       json::array({{{"id", 1},
                     {"name", "Vision Lab"},
                     {"members", json::array({{{"username", "alice"}, {"status", "accepted"}},
                                              {{"username", "dave"}, {"status", "accepted"}},
                                              {{"username", "carol"}, {"status", "pending"}}})}}})},
      {"challenges", json::array()}};
}

// Adds challenge `id` with consent given at `consent_at`, and one private phase per end date with
// `per_phase` submissions of two artifacts each. Ids: phase id*100+k, submission id*10000+...
inline void AddChallenge(nlohmann::json& data, int id, const std::string& consent_at,
                         const std::vector<std::string>& phase_ends, int per_phase,
                         bool inform_hosts = true) {
  using nlohmann::json;
  json c{{"id", id},
         {"title", "Challenge " + std::to_string(id)},
         {"description", ""},
         {"host_team", 1},
         {"approved", true},
         {"inform_hosts", inform_hosts},
         {"start_date", "2026-06-01T00:00:00Z"},
         {"consent", {{"by", "alice"}, {"at", consent_at}, {"notes", "ok"}}},
         {"phases", json::array()}};
  int sub = id * 10000;
  for (std::size_t k = 0; k < phase_ends.size(); ++k) {
    json p{{"id", id * 100 + static_cast<int>(k)},
           {"name", "Phase " + std::to_string(k)},
           {"start_date", "2026-06-01T00:00:00Z"},
           {"end_date", phase_ends[k]},
           {"is_public", false},
           {"submissions", json::array()}};
    for (int i = 0; i < per_phase; ++i, ++sub) {
      const std::string base = "submissions/" + std::to_string(sub) + "/";
      p["submissions"].push_back(
          {{"id", sub},
           {"participant", "bob"},
           {"submitted_at", "2026-07-01T00:00:00Z"},
           {"status", "finished"},
           {"artifacts",
            json::array({{{"kind", "input_file"}, {"key", base + "input.zip"}, {"size", 100}},
                         {{"kind", "stdout_file"}, {"key", base + "stdout.txt"}, {"size", 10}}})}});
    }
    c["phases"].push_back(p);
  }
  data["challenges"].push_back(c);
}

}  // namespace retention::testing
