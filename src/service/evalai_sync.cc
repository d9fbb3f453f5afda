#include "service/evalai_sync.h"

#include <algorithm>
#include <set>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "artifacts/artifact_store.h"
#include "service/audit_log.h"
#include "service/log_retention_sync.h"

namespace retention {

Status EvalaiSource::WithConnection(bool read_only,
                                    const std::function<Status(SqlConnection&)>& fn) {
  std::lock_guard<std::mutex> lock(mu_);
  std::unique_ptr<SqlConnection>& conn = read_only ? reader_ : writer_;
  if (!conn) {
    auto opened = open_(read_only);
    if (!opened.ok()) return opened.status().WithContext("evalai database");
    conn = std::move(opened).value();
  }
  Status s = fn(*conn);
  // A failed call may leave a broken session or a transaction open: start afresh next time.
  if (!s.ok()) conn.reset();
  return s;
}

bool EvalaiSyncReport::NothingChanged() const {
  for (const auto& [name, c] : tables) {
    if (c.added > 0 || c.changed > 0) return false;
  }
  return consents_imported == 0 && overrides_imported == 0 && sizes_filled == 0;
}

namespace {

using nlohmann::json;

// ---- EvalAI's schema (DESIGN.md section 7b) ----

enum class Kind { kInt, kText, kBool, kTime };

const char* KindName(Kind k) {
  switch (k) {
    case Kind::kInt:
      return "an integer";
    case Kind::kText:
      return "text";
    case Kind::kBool:
      return "a boolean";
    case Kind::kTime:
      return "a timestamp";
  }
  return "?";
}

bool KindAccepts(Kind k, const std::string& data_type) {
  switch (k) {
    case Kind::kInt:
      return data_type == "integer" || data_type == "bigint" || data_type == "smallint";
    case Kind::kText:
      return data_type == "character varying" || data_type == "text" || data_type == "character";
    case Kind::kBool:
      return data_type == "boolean";
    case Kind::kTime:
      return data_type == "timestamp with time zone" || data_type == "timestamp without time zone";
  }
  return false;
}

struct ColumnSpec {
  const char* name;
  Kind kind;
  bool required;
};
struct TableSpec {
  const char* table;
  std::vector<ColumnSpec> columns;
};

// EvalAI's file columns of `submission`: our artifact kinds, by the same names.
constexpr const auto& kFileColumns = kArtifactKinds;

const std::vector<TableSpec>& Specs() {
  static const std::vector<TableSpec> kSpecs = [] {
    std::vector<TableSpec> specs = {
        {"auth_user",
         {{"id", Kind::kInt, true}, {"username", Kind::kText, true}, {"email", Kind::kText, true}}},
        {"challenge_host_teams",
         {{"id", Kind::kInt, true},
          {"team_name", Kind::kText, true},
          {"modified_at", Kind::kTime, false}}},
        {"challenge_host",
         {{"id", Kind::kInt, true},
          {"user_id", Kind::kInt, true},
          {"team_name_id", Kind::kInt, true},
          {"status", Kind::kText, true},
          {"modified_at", Kind::kTime, false}}},
        {"challenge",
         {{"id", Kind::kInt, true},
          {"title", Kind::kText, true},
          {"description", Kind::kText, true},
          {"creator_id", Kind::kInt, true},
          {"approved_by_admin", Kind::kBool, true},
          {"inform_hosts", Kind::kBool, true},
          {"start_date", Kind::kTime, true},
          {"end_date", Kind::kTime, true},
          {"modified_at", Kind::kTime, false},
          {"retention_policy_consent", Kind::kBool, false},
          {"retention_policy_consent_date", Kind::kTime, false},
          {"retention_policy_consent_by_id", Kind::kInt, false},
          {"retention_policy_notes", Kind::kText, false},
          {"log_retention_days_override", Kind::kInt, false}}},
        {"challenge_phase",
         {{"id", Kind::kInt, true},
          {"challenge_id", Kind::kInt, true},
          {"name", Kind::kText, true},
          {"start_date", Kind::kTime, true},
          {"end_date", Kind::kTime, true},
          {"is_public", Kind::kBool, true},
          {"modified_at", Kind::kTime, false}}},
        {"submission",
         {{"id", Kind::kInt, true},
          {"challenge_phase_id", Kind::kInt, true},
          {"created_by_id", Kind::kInt, true},
          {"status", Kind::kText, true},
          {"submitted_at", Kind::kTime, true},
          {"is_baseline", Kind::kBool, true},
          {"modified_at", Kind::kTime, false},
          {"is_artifact_deleted", Kind::kBool, false},
          {"artifact_deletion_date", Kind::kTime, false}}},
    };
    for (const char* f : kFileColumns) specs.back().columns.push_back({f, Kind::kText, true});
    return specs;
  }();
  return kSpecs;
}

// The optional columns found, by "table.column".
using Present = std::set<std::string>;

// Checks every table and column of Specs() against information_schema. Internal naming the first
// missing table, missing required column or column of another type.
Result<Present> CheckSchema(SqlConnection& evalai) {
  std::string in;
  for (const TableSpec& t : Specs()) in += std::string(in.empty() ? "'" : ", '") + t.table + "'";
  ASSIGN_OR_RETURN(auto rows, evalai.Query("SELECT table_name::text, column_name::text, "
                                           "data_type::text FROM information_schema.columns "
                                           "WHERE table_schema = current_schema() AND "
                                           "table_name IN (" +
                                           in + ")"));
  std::map<std::string, std::map<std::string, std::string>> found;
  for (const SqlRow& r : rows) found[r.Text(0)][r.Text(1)] = r.Text(2);
  Present present;
  for (const TableSpec& t : Specs()) {
    auto table = found.find(t.table);
    if (table == found.end()) {
      return Internal("evalai database: table " + std::string(t.table) +
                      " is missing (is evalai.url EvalAI's database?)");
    }
    for (const ColumnSpec& c : t.columns) {
      auto col = table->second.find(c.name);
      if (col == table->second.end()) {
        if (c.required) {
          return Internal("evalai table " + std::string(t.table) + ": column " + c.name +
                          " is missing");
        }
        continue;
      }
      if (!KindAccepts(c.kind, col->second)) {
        return Internal("evalai table " + std::string(t.table) + ": column " + c.name + " is " +
                        col->second + ", expected " + KindName(c.kind));
      }
      present.insert(std::string(t.table) + "." + c.name);
    }
  }
  return present;
}

// EvalAI's timestamp as Unix seconds (NULL stays NULL).
std::string Epoch(const std::string& column) {
  return "floor(extract(epoch from " + column + "))::bigint";
}

// EvalAI's host status as ours (DESIGN.md 7b): Accepted and Self are accepted hosts, Pending is
// pending; anything else (Denied, Unknown) is no membership.
std::optional<std::string> MemberStatus(const std::string& evalai_status) {
  if (evalai_status == "Accepted" || evalai_status == "Self") return std::string("accepted");
  if (evalai_status == "Pending") return std::string("pending");
  return std::nullopt;
}

int MemberRank(const std::optional<std::string>& s) {
  if (!s) return 0;
  return *s == "accepted" ? 2 : 1;
}

std::string Placeholders(std::size_t n) {
  std::string s;
  for (std::size_t i = 0; i < n; ++i) s += i == 0 ? "?" : ", ?";
  return s;
}

// One sync run: the state shared by the table passes.
class Syncer {
 public:
  Syncer(const ServiceContext& ctx, const EvalaiSettings& settings, const EvalaiSyncOptions& opts,
         SqlConnection& evalai, const Present& present, EvalaiSyncReport& report)
      : ctx_(ctx),
        settings_(settings),
        opts_(opts),
        evalai_(evalai),
        present_(present),
        report_(report) {}

  Status Run() {
    RETURN_IF_ERROR(LoadState());
    const std::int64_t now = ToUnix(ctx_.clock->Now());
    auto full_at = state_.find("full_pass_at");
    report_.full = opts_.full || full_at == state_.end() || now - full_at->second >= 86400;
    report_.dry_run = opts_.dry_run;
    for (const char* t : {"users", "host_teams", "host_team_members", "challenges", "phases",
                          "submissions", "artifacts"}) {
      report_.tables[t];
    }
    RETURN_IF_ERROR(evalai_.Begin(TxMode::kRead));  // one snapshot of EvalAI for the whole run
    Status s = Passes();
    (void)evalai_.Rollback();
    RETURN_IF_ERROR(s);
    if (!opts_.dry_run) RETURN_IF_ERROR(FillPendingSizes());
    if (!opts_.dry_run) {
      auto conn = ctx_.db->Lock();
      ASSIGN_OR_RETURN(auto tx, Transaction::Start(*conn, TxMode::kWrite));
      for (const auto& [name, value] : new_state_) RETURN_IF_ERROR(PutState(*conn, name, value));
      if (report_.full) RETURN_IF_ERROR(PutState(*conn, "full_pass_at", now));
      RETURN_IF_ERROR(tx.Commit());
    }
    if (!opts_.dry_run && ctx_.log_sync != nullptr) {
      for (std::int64_t id : log_inputs_changed_) ctx_.log_sync->Trigger(id);
    }
    return Status::Ok();
  }

 private:
  Status Passes() {
    RETURN_IF_ERROR(UsersPass());
    RETURN_IF_ERROR(TeamsPass());
    RETURN_IF_ERROR(MembersPass());
    RETURN_IF_ERROR(ChallengesPass());
    RETURN_IF_ERROR(PhasesPass());
    return SubmissionsPass();
  }

  bool Has(const std::string& table_column) const { return present_.contains(table_column); }

  Status LoadState() {
    auto conn = ctx_.db->LockRead();
    ASSIGN_OR_RETURN(auto rows, conn->Query("SELECT name, value FROM evalai_sync_state"));
    for (const SqlRow& r : rows) state_[r.Text(0)] = r.Int(1);
    return Status::Ok();
  }

  static Status PutState(SqlConnection& conn, const std::string& name, std::int64_t value) {
    return conn
        .Exec(
            "INSERT INTO evalai_sync_state (name, value) VALUES (?, ?) ON CONFLICT (name) DO "
            "UPDATE SET value = excluded.value",
            {name, value})
        .status();
  }

  // Reads `table` (alias a) in batches of ids: `select` lists the columns, `from` the table and
  // its joins. With modified_at, the last column read is its Unix seconds, and an incremental
  // pass reads only the rows modified at or after the table's watermark. `batch` gets each
  // batch's rows in id order (column 0 is the id).
  Status Walk(const std::string& table, const std::string& select, const std::string& from,
              const std::function<Status(const std::vector<SqlRow>&)>& batch) {
    const bool modified = Has(table + ".modified_at");
    const std::string mark = "watermark:" + table;
    std::optional<std::int64_t> since;
    if (!report_.full && modified && state_.contains(mark)) since = state_[mark];
    std::string sql = "SELECT " + select + (modified ? ", " + Epoch("a.modified_at") : "") +
                      " FROM " + from + " WHERE a.id > ?" +
                      (since ? " AND a.modified_at >= to_timestamp(?)" : "") +
                      " ORDER BY a.id LIMIT ?";
    std::int64_t after = 0;
    std::int64_t newest = since.value_or(0);
    std::int64_t read = 0;
    for (;;) {
      SqlParams params{after};
      if (since) params.emplace_back(*since);
      params.emplace_back(opts_.batch_size);
      ASSIGN_OR_RETURN(auto rows, evalai_.Query(sql, params));
      if (rows.empty()) break;
      if (modified) {
        for (const SqlRow& r : rows) newest = std::max(newest, r.Int(r.size() - 1));
      }
      RETURN_IF_ERROR(batch(rows).WithContext("evalai table " + table));
      read += static_cast<std::int64_t>(rows.size());
      after = rows.back().Int(0);
      if (opts_.progress) opts_.progress(table, read);
      if (static_cast<std::int64_t>(rows.size()) < opts_.batch_size) break;
    }
    if (modified) new_state_[mark] = newest;
    if (report_.full) last_id_[table] = after;
    return Status::Ok();
  }

  // Runs `fn` on our store in one transaction (a write transaction unless dry_run).
  Status InOurs(const std::function<Status(SqlConnection&)>& fn) {
    auto conn = ctx_.db->Lock();
    ASSIGN_OR_RETURN(auto tx,
                     Transaction::Start(*conn, opts_.dry_run ? TxMode::kRead : TxMode::kWrite));
    RETURN_IF_ERROR(fn(*conn));
    if (opts_.dry_run) return Status::Ok();  // rolled back by tx
    return tx.Commit();
  }

  // Full passes: counts (and lists the first) rows of our `table` with ids in (lo, hi] (hi
  // nullopt: no bound) that the batch did not read from EvalAI; `seen` are the ids it read.
  Status CountGone(SqlConnection& conn, const std::string& table, std::int64_t lo,
                   std::optional<std::int64_t> hi, const std::unordered_set<std::int64_t>& seen,
                   EvalaiTableCounts& counts) {
    if (!report_.full) return Status::Ok();
    const std::string range = " FROM " + table + " WHERE id > ?" + (hi ? " AND id <= ?" : "");
    SqlParams params{lo};
    if (hi) params.emplace_back(*hi);
    ASSIGN_OR_RETURN(auto n, conn.QueryOne("SELECT COUNT(*)" + range, params));
    std::int64_t ours = n ? n->Int(0) : 0;
    std::int64_t found = 0;
    // seen ids within the range that exist in ours are counted by the caller's compare; count
    // them here again in one query to stay independent of it.
    if (!seen.empty() && ours > 0) {
      std::vector<std::int64_t> ids(seen.begin(), seen.end());
      ASSIGN_OR_RETURN(auto rows,
                       QueryForIds(conn, "SELECT COUNT(*) FROM " + table + " WHERE id", {}, ids));
      for (const SqlRow& r : rows) found += r.Int(0);
    }
    const std::int64_t gone = ours - found;
    if (gone <= 0) return Status::Ok();
    counts.gone += gone;
    if (counts.gone_ids.size() < kMaxListedGone) {
      params.emplace_back(static_cast<std::int64_t>(seen.size() + kMaxListedGone));
      ASSIGN_OR_RETURN(auto rows, conn.Query("SELECT id" + range + " ORDER BY id LIMIT ?", params));
      for (const SqlRow& r : rows) {
        if (!seen.contains(r.Int(0)) && counts.gone_ids.size() < kMaxListedGone) {
          counts.gone_ids.push_back(r.Int(0));
        }
      }
    }
    return Status::Ok();
  }

  // After a table's last batch: the rows of ours past EvalAI's last id are gone too.
  Status CountGoneTail(const std::string& evalai_table, const std::string& table,
                       EvalaiTableCounts& counts) {
    if (!report_.full) return Status::Ok();
    const std::int64_t last = last_id_[evalai_table];
    auto conn = ctx_.db->LockRead();
    return CountGone(*conn, table, last, std::nullopt, {}, counts);
  }

  Status UsersPass() {
    EvalaiTableCounts& c = report_.tables["users"];
    return Walk(
        "auth_user", "a.id, a.username, COALESCE(a.email, '')", "auth_user a",
        [&](const std::vector<SqlRow>& rows) {
          return InOurs([&](SqlConnection& conn) -> Status {
            std::vector<SqlValue> names;
            names.reserve(rows.size());
            for (const SqlRow& r : rows) names.emplace_back(r.Text(1));
            std::unordered_map<std::string, std::string> ours;
            for (std::size_t i = 0; i < names.size(); i += kIdChunk) {
              SqlParams chunk(names.begin() + static_cast<std::ptrdiff_t>(i),
                              names.begin() + static_cast<std::ptrdiff_t>(
                                                  std::min(names.size(), i + kIdChunk)));
              ASSIGN_OR_RETURN(auto found,
                               conn.Query("SELECT username, email FROM users WHERE username IN (" +
                                              Placeholders(chunk.size()) + ")",
                                          chunk));
              for (const SqlRow& f : found) ours[f.Text(0)] = f.Text(1);
            }
            for (const SqlRow& r : rows) {
              ++c.read;
              const std::string name = r.Text(1);
              const std::string email = r.Text(2);
              if (name.empty()) {
                Warn("auth_user " + std::to_string(r.Int(0)) + ": empty username");
                continue;
              }
              auto it = ours.find(name);
              if (it == ours.end()) {
                ++c.added;
                ours[name] = email;  // a repeated name within the batch counts once
                if (opts_.dry_run) continue;
                RETURN_IF_ERROR(conn.Exec("INSERT INTO users (username, email, is_admin, "
                                          "created_at) VALUES (?, ?, 0, ?)",
                                          {name, email, ToUnix(ctx_.clock->Now())})
                                    .status());
              } else if (it->second != email) {
                ++c.changed;
                it->second = email;
                if (opts_.dry_run) continue;
                RETURN_IF_ERROR(
                    conn.Exec("UPDATE users SET email = ? WHERE username = ?", {email, name})
                        .status());
              } else {
                ++c.unchanged;
              }
            }
            return Status::Ok();
          });
        });
  }

  Status TeamsPass() {
    EvalaiTableCounts& c = report_.tables["host_teams"];
    std::int64_t lo = 0;
    RETURN_IF_ERROR(Walk(
        "challenge_host_teams", "a.id, COALESCE(a.team_name, '')", "challenge_host_teams a",
        [&](const std::vector<SqlRow>& rows) {
          return InOurs([&](SqlConnection& conn) -> Status {
            std::vector<std::int64_t> ids;
            ids.reserve(rows.size());
            for (const SqlRow& r : rows) ids.push_back(r.Int(0));
            ASSIGN_OR_RETURN(
                auto found, QueryForIds(conn, "SELECT id, name FROM host_teams WHERE id", {}, ids));
            std::unordered_map<std::int64_t, std::string> ours;
            for (const SqlRow& f : found) ours[f.Int(0)] = f.Text(1);
            for (const SqlRow& r : rows) {
              ++c.read;
              const std::int64_t id = r.Int(0);
              const std::string name = r.Text(1);
              auto it = ours.find(id);
              if (it == ours.end()) {
                ++c.added;
                if (!opts_.dry_run) {
                  RETURN_IF_ERROR(
                      conn.Exec("INSERT INTO host_teams (id, name) VALUES (?, ?)", {id, name})
                          .status());
                }
              } else if (it->second != name) {
                ++c.changed;
                if (!opts_.dry_run) {
                  RETURN_IF_ERROR(
                      conn.Exec("UPDATE host_teams SET name = ? WHERE id = ?", {name, id})
                          .status());
                }
              } else {
                ++c.unchanged;
              }
            }
            std::unordered_set<std::int64_t> seen(ids.begin(), ids.end());
            RETURN_IF_ERROR(CountGone(conn, "host_teams", lo, ids.back(), seen, c));
            lo = ids.back();
            return Status::Ok();
          });
        }));
    return CountGoneTail("challenge_host_teams", "host_teams", c);
  }

  Status MembersPass() {
    EvalaiTableCounts& c = report_.tables["host_team_members"];
    RETURN_IF_ERROR(Walk(
        "challenge_host", "a.id, a.team_name_id, COALESCE(u.username, ''), COALESCE(a.status, '')",
        "challenge_host a LEFT JOIN auth_user u ON u.id = a.user_id",
        [&](const std::vector<SqlRow>& rows) {
          return InOurs([&](SqlConnection& conn) -> Status {
            // The strongest status per (team, user) of the batch.
            std::map<std::pair<std::int64_t, std::string>, std::optional<std::string>> want;
            std::set<std::int64_t> team_set;
            for (const SqlRow& r : rows) {
              ++c.read;
              auto key = std::make_pair(r.Int(1), r.Text(2));
              if (key.second.empty()) {
                Warn("challenge_host " + std::to_string(r.Int(0)) + ": unknown user");
                continue;
              }
              auto status = MemberStatus(r.Text(3));
              auto it = want.find(key);
              if (it == want.end() || MemberRank(status) > MemberRank(it->second)) {
                want[key] = status;
              }
              team_set.insert(key.first);
              if (report_.full && status) members_seen_.insert(key);
            }
            std::vector<std::int64_t> teams(team_set.begin(), team_set.end());
            ASSIGN_OR_RETURN(auto found,
                             QueryForIds(conn,
                                         "SELECT m.host_team_id, u.username, m.status FROM "
                                         "host_team_members m JOIN users u ON u.id = m.user_id "
                                         "WHERE m.host_team_id",
                                         {}, teams));
            std::map<std::pair<std::int64_t, std::string>, std::string> ours;
            for (const SqlRow& f : found) ours[{f.Int(0), f.Text(1)}] = f.Text(2);
            for (const auto& [key, status] : want) {
              auto it = ours.find(key);
              const std::optional<std::string> have =
                  it == ours.end() ? std::nullopt : std::optional<std::string>(it->second);
              if (have == status) {
                ++c.unchanged;
                continue;
              }
              if (!have) {
                ++c.added;
              } else {
                ++c.changed;
              }
              if (opts_.dry_run) continue;
              const SqlValue team = key.first;
              const SqlValue user = key.second;
              if (!status) {
                RETURN_IF_ERROR(conn.Exec("DELETE FROM host_team_members WHERE host_team_id = ? "
                                          "AND user_id = (SELECT id FROM users WHERE username = ?)",
                                          {team, user})
                                    .status());
              } else if (have) {
                RETURN_IF_ERROR(
                    conn.Exec("UPDATE host_team_members SET status = ? WHERE host_team_id = ? AND "
                              "user_id = (SELECT id FROM users WHERE username = ?)",
                              {*status, team, user})
                        .status());
              } else {
                auto inserted = conn.Exec(
                    "INSERT INTO host_team_members (host_team_id, user_id, status) SELECT ?, id, ? "
                    "FROM users WHERE username = ?",
                    {team, *status, user});
                if (!inserted.ok() && inserted.status().code() == StatusCode::kFailedPrecondition) {
                  --c.added;
                  Warn("challenge_host of team " + std::to_string(key.first) +
                       ": the host team is not known");
                  continue;
                }
                RETURN_IF_ERROR(inserted.status());
              }
            }
            return Status::Ok();
          });
        }));
    return CountMembersGone(c);
  }

  // Full passes: our memberships that no EvalAI row of the pass grants (its challenge_host row
  // deleted) are kept and counted. Walks ours in key order, a batch at a time; the pairs seen are
  // the hosts of EvalAI (a few per team), not its participants.
  Status CountMembersGone(EvalaiTableCounts& c) {
    if (!report_.full) return Status::Ok();
    std::int64_t team = -1;
    std::string user;
    for (;;) {
      std::vector<SqlRow> rows;
      {
        auto conn = ctx_.db->LockRead();
        ASSIGN_OR_RETURN(rows, conn->Query("SELECT m.host_team_id, u.username FROM "
                                           "host_team_members m JOIN users u ON u.id = "
                                           "m.user_id WHERE m.host_team_id > ? OR "
                                           "(m.host_team_id = ? AND u.username > ?) ORDER BY "
                                           "m.host_team_id, u.username LIMIT ?",
                                           {team, team, user, opts_.batch_size}));
      }
      for (const SqlRow& r : rows) {
        if (!members_seen_.contains({r.Int(0), r.Text(1)})) ++c.gone;
      }
      if (static_cast<std::int64_t>(rows.size()) < opts_.batch_size) break;
      team = rows.back().Int(0);
      user = rows.back().Text(1);
    }
    members_seen_.clear();
    return Status::Ok();
  }

  Status ChallengesPass() {
    EvalaiTableCounts& c = report_.tables["challenges"];
    const bool consent_cols = Has("challenge.retention_policy_consent") &&
                              Has("challenge.retention_policy_consent_date") &&
                              Has("challenge.retention_policy_consent_by_id") &&
                              Has("challenge.retention_policy_notes");
    const bool override_col = Has("challenge.log_retention_days_override");
    report_.retention_columns = consent_cols && override_col;
    std::string select =
        "a.id, COALESCE(a.title, ''), COALESCE(a.description, ''), a.creator_id, "
        "COALESCE(a.approved_by_admin::int, 0), COALESCE(a.inform_hosts::int, 1), " +
        Epoch("a.start_date");
    std::string from = "challenge a";
    if (consent_cols) {
      select += ", COALESCE(a.retention_policy_consent::int, 0), " +
                Epoch("a.retention_policy_consent_date") +
                ", cu.username, COALESCE(a.retention_policy_notes, '')";
      from += " LEFT JOIN auth_user cu ON cu.id = a.retention_policy_consent_by_id";
    } else {
      select += ", 0, NULL, NULL, ''";
    }
    select += override_col ? ", a.log_retention_days_override" : ", NULL";
    std::int64_t lo = 0;
    RETURN_IF_ERROR(Walk("challenge", select, from, [&](const std::vector<SqlRow>& rows) {
      return InOurs([&](SqlConnection& conn) -> Status {
        std::vector<std::int64_t> ids;
        ids.reserve(rows.size());
        for (const SqlRow& r : rows) ids.push_back(r.Int(0));
        ASSIGN_OR_RETURN(
            auto found,
            QueryForIds(conn,
                        "SELECT c.id, c.title, c.description, c.host_team_id, c.approved, "
                        "c.inform_hosts, c.start_date, c.retention_policy_consent, "
                        "c.log_retention_days_override, i.consent_imported_at, "
                        "i.override_imported_at FROM challenges c LEFT JOIN evalai_imports i ON "
                        "i.challenge_id = c.id WHERE c.id",
                        {}, ids));
        std::unordered_map<std::int64_t, const SqlRow*> ours;
        for (const SqlRow& f : found) ours[f.Int(0)] = &f;
        std::set<std::int64_t> recompute;
        for (const SqlRow& r : rows) {
          ++c.read;
          const std::int64_t id = r.Int(0);
          const SqlParams values{r.Text(1), r.Text(2), r.Int(3),
                                 r.Int(4),  r.Int(5),  SqlOpt(r.OptInt(6))};
          auto it = ours.find(id);
          bool row_changed = false;
          if (it == ours.end()) {
            ++c.added;
            if (!opts_.dry_run) {
              SqlParams p{id};
              p.insert(p.end(), values.begin(), values.end());
              p.emplace_back(ToUnix(ctx_.clock->Now()));
              auto inserted = conn.Exec(
                  "INSERT INTO challenges (id, title, description, host_team_id, approved, "
                  "inform_hosts, start_date, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                  p);
              if (!inserted.ok() && inserted.status().code() == StatusCode::kFailedPrecondition) {
                --c.added;
                Warn("challenge " + std::to_string(id) + ": host team " + std::to_string(r.Int(3)) +
                     " is not known");
                continue;
              }
              RETURN_IF_ERROR(inserted.status());
              log_inputs_changed_.insert(id);
            }
          } else {
            const SqlRow& o = *it->second;
            row_changed = o.Text(1) != r.Text(1) || o.Text(2) != r.Text(2) ||
                          o.Int(3) != r.Int(3) || o.Int(4) != r.Int(4) || o.Int(5) != r.Int(5) ||
                          o.OptInt(6) != r.OptInt(6);
            if (row_changed && !opts_.dry_run) {
              SqlParams p = values;
              p.emplace_back(id);
              RETURN_IF_ERROR(conn.Exec("UPDATE challenges SET title = ?, description = ?, "
                                        "host_team_id = ?, approved = ?, inform_hosts = ?, "
                                        "start_date = ? WHERE id = ?",
                                        p)
                                  .status());
              log_inputs_changed_.insert(id);
            }
          }
          // EvalAI's own retention fields, imported once (afterwards ours rule).
          const SqlRow* o = it == ours.end() ? nullptr : it->second;
          bool imported = false;
          if (consent_cols && r.Int(7) != 0 && (o == nullptr || o->IsNull(9))) {
            ASSIGN_OR_RETURN(bool took, ImportConsent(conn, r, o));
            imported = imported || took;
          }
          if (override_col && !r.IsNull(11) && (o == nullptr || o->IsNull(10))) {
            ASSIGN_OR_RETURN(bool took, ImportOverride(conn, r, o));
            imported = imported || took;
          }
          if (imported) recompute.insert(id);
          if (it != ours.end()) {
            if (row_changed || imported) {
              ++c.changed;
            } else {
              ++c.unchanged;
            }
          }
        }
        if (!opts_.dry_run) {
          for (std::int64_t id : recompute) {
            RETURN_IF_ERROR(RecomputeEligibleDates(conn, ctx_.settings, id).status());
            log_inputs_changed_.insert(id);
          }
        }
        std::unordered_set<std::int64_t> seen(ids.begin(), ids.end());
        RETURN_IF_ERROR(CountGone(conn, "challenges", lo, ids.back(), seen, c));
        lo = ids.back();
        return Status::Ok();
      });
    }));
    return CountGoneTail("challenge", "challenges", c);
  }

  // EvalAI's consent of challenge r (columns 7-10) as one `imported` grant in our ledger, unless
  // ours already has consent (then ours stands and it is only marked imported). Returns whether
  // a grant was written. A consent by someone who is not an accepted host is not taken (warned).
  Result<bool> ImportConsent(SqlConnection& conn, const SqlRow& r, const SqlRow* ours) {
    const std::int64_t id = r.Int(0);
    const std::int64_t now = ToUnix(ctx_.clock->Now());
    if (ours != nullptr && ours->Int(7) != 0) {
      if (!opts_.dry_run) RETURN_IF_ERROR(MarkImported(conn, id, "consent_imported_at", now));
      return false;
    }
    const std::string by = r.IsNull(9) ? std::string() : r.Text(9);
    ASSIGN_OR_RETURN(auto host,
                     conn.QueryOne("SELECT u.id FROM users u JOIN host_team_members m ON "
                                   "m.user_id = u.id WHERE u.username = ? AND m.host_team_id = ? "
                                   "AND m.status = 'accepted'",
                                   {by, r.Int(3)}));
    if (!host) {
      if (!opts_.dry_run || ours != nullptr) {
        Warn("challenge " + std::to_string(id) + ": EvalAI's consent by '" + by +
             "' not imported: not an accepted host");
        return false;
      }
      // A dry run has not added the hosts of a new challenge: count the grant it would make.
    }
    ++report_.consents_imported;
    if (opts_.dry_run) return true;
    const std::int64_t at = r.IsNull(8) ? now : r.Int(8);
    const std::string notes = r.Text(10);
    RETURN_IF_ERROR(conn.Exec("UPDATE challenges SET retention_policy_consent = 1, "
                              "retention_policy_consent_date = ?, retention_policy_consent_by = ?, "
                              "retention_policy_notes = ? WHERE id = ?",
                              {at, host->Int(0), notes, id})
                        .status());
    RETURN_IF_ERROR(
        AppendEvent(conn, "consent", id, std::nullopt, by, "imported", notes, FromUnix(at)));
    RETURN_IF_ERROR(MarkImported(conn, id, "consent_imported_at", now));
    return true;
  }

  // EvalAI's log_retention_days_override (column 11) as our override, audited, unless ours has
  // one already.
  Result<bool> ImportOverride(SqlConnection& conn, const SqlRow& r, const SqlRow* ours) {
    const std::int64_t id = r.Int(0);
    const std::int64_t now = ToUnix(ctx_.clock->Now());
    const std::int64_t days = r.Int(11);
    if (ours != nullptr && !ours->IsNull(8)) {
      if (!opts_.dry_run) RETURN_IF_ERROR(MarkImported(conn, id, "override_imported_at", now));
      return false;
    }
    if (days < 1 || days > 3653) {
      Warn("challenge " + std::to_string(id) + ": EvalAI's log_retention_days_override " +
           std::to_string(days) + " not imported: outside 1-3653");
      if (!opts_.dry_run) RETURN_IF_ERROR(MarkImported(conn, id, "override_imported_at", now));
      return false;
    }
    ++report_.overrides_imported;
    if (opts_.dry_run) return true;
    const std::string reason = "imported from EvalAI";
    RETURN_IF_ERROR(conn.Exec("UPDATE challenges SET log_retention_days_override = ?, "
                              "log_retention_override_reason = ? WHERE id = ?",
                              {days, reason, id})
                        .status());
    AuditEvent e;
    e.ledger = "admin";
    e.challenge_id = id;
    e.actor = "evalai";
    e.action = "override_set";
    e.notes = std::to_string(days) + " days: " + reason;
    e.at = ctx_.clock->Now();
    RETURN_IF_ERROR(AppendAuditEvent(conn, std::move(e)).status());
    RETURN_IF_ERROR(MarkImported(conn, id, "override_imported_at", now));
    return true;
  }

  static Status MarkImported(SqlConnection& conn, std::int64_t challenge_id,
                             const std::string& column, std::int64_t now) {
    return conn
        .Exec("INSERT INTO evalai_imports (challenge_id, " + column +
                  ") VALUES (?, ?) ON "
                  "CONFLICT (challenge_id) DO UPDATE SET " +
                  column + " = excluded." + column,
              {challenge_id, now})
        .status();
  }

  Status PhasesPass() {
    EvalaiTableCounts& c = report_.tables["phases"];
    std::int64_t lo = 0;
    RETURN_IF_ERROR(Walk(
        "challenge_phase",
        "a.id, a.challenge_id, COALESCE(a.name, ''), " + Epoch("a.start_date") + ", " +
            Epoch("a.end_date") + ", COALESCE(a.is_public::int, 0)",
        "challenge_phase a", [&](const std::vector<SqlRow>& rows) {
          return InOurs([&](SqlConnection& conn) -> Status {
            std::vector<std::int64_t> ids;
            ids.reserve(rows.size());
            for (const SqlRow& r : rows) ids.push_back(r.Int(0));
            ASSIGN_OR_RETURN(auto found,
                             QueryForIds(conn,
                                         "SELECT id, challenge_id, name, start_date, end_date, "
                                         "is_public FROM phases WHERE id",
                                         {}, ids));
            std::unordered_map<std::int64_t, const SqlRow*> ours;
            for (const SqlRow& f : found) ours[f.Int(0)] = &f;
            std::set<std::int64_t> recompute;
            for (const SqlRow& r : rows) {
              ++c.read;
              const std::int64_t id = r.Int(0);
              const SqlParams values{r.Int(1), r.Text(2), SqlOpt(r.OptInt(3)), SqlOpt(r.OptInt(4)),
                                     r.Int(5)};
              auto it = ours.find(id);
              if (it == ours.end()) {
                ++c.added;
                if (opts_.dry_run) continue;
                SqlParams p{id};
                p.insert(p.end(), values.begin(), values.end());
                auto inserted = conn.Exec(
                    "INSERT INTO phases (id, challenge_id, name, start_date, end_date, is_public) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    p);
                if (!inserted.ok() && inserted.status().code() == StatusCode::kFailedPrecondition) {
                  --c.added;
                  Warn("challenge_phase " + std::to_string(id) + ": challenge " +
                       std::to_string(r.Int(1)) + " is not known");
                  continue;
                }
                RETURN_IF_ERROR(inserted.status());
                recompute.insert(r.Int(1));
                continue;
              }
              const SqlRow& o = *it->second;
              if (o.Int(1) == r.Int(1) && o.Text(2) == r.Text(2) && o.OptInt(3) == r.OptInt(3) &&
                  o.OptInt(4) == r.OptInt(4) && o.Int(5) == r.Int(5)) {
                ++c.unchanged;
                continue;
              }
              ++c.changed;
              if (opts_.dry_run) continue;
              SqlParams p = values;
              p.emplace_back(id);
              RETURN_IF_ERROR(conn.Exec("UPDATE phases SET challenge_id = ?, name = ?, "
                                        "start_date = ?, end_date = ?, is_public = ? WHERE id = ?",
                                        p)
                                  .status());
              recompute.insert(r.Int(1));
              recompute.insert(o.Int(1));
            }
            for (std::int64_t id : recompute) {
              RETURN_IF_ERROR(RecomputeEligibleDates(conn, ctx_.settings, id).status());
              log_inputs_changed_.insert(id);
            }
            std::unordered_set<std::int64_t> seen(ids.begin(), ids.end());
            RETURN_IF_ERROR(CountGone(conn, "phases", lo, ids.back(), seen, c));
            lo = ids.back();
            return Status::Ok();
          });
        }));
    return CountGoneTail("challenge_phase", "phases", c);
  }

  struct WantedArtifact {
    std::int64_t submission_id;
    std::int64_t challenge_id;
    std::string kind;
    std::string key;
    std::optional<std::int64_t> size;  // from storage; nullopt: unknown yet
  };

  Status SubmissionsPass() {
    EvalaiTableCounts& c = report_.tables["submissions"];
    EvalaiTableCounts& ac = report_.tables["artifacts"];
    std::string select =
        "a.id, a.challenge_phase_id, p.challenge_id, COALESCE(u.username, ''), "
        "COALESCE(" +
        Epoch("a.submitted_at") + ", 0), COALESCE(a.status, ''), COALESCE(a.is_baseline::int, 0)";
    for (const char* f : kFileColumns) select += std::string(", a.") + f;
    std::int64_t lo = 0;
    RETURN_IF_ERROR(Walk(
        "submission", select,
        "submission a JOIN challenge_phase p ON p.id = a.challenge_phase_id LEFT JOIN auth_user u "
        "ON u.id = a.created_by_id",
        [&](const std::vector<SqlRow>& rows) -> Status {
          std::vector<std::int64_t> ids;
          ids.reserve(rows.size());
          for (const SqlRow& r : rows) ids.push_back(r.Int(0));
          // Our rows and artifacts first (a read), then sizes from storage for the new files
          // without holding our write lock, then the writes.
          std::unordered_map<std::int64_t, SqlRow> ours;
          std::set<std::pair<std::int64_t, std::string>> our_keys;  // (submission, key)
          std::int64_t our_artifacts = 0;
          {
            auto conn = ctx_.db->LockRead();
            ASSIGN_OR_RETURN(auto found, QueryForIds(*conn,
                                                     "SELECT id, phase_id, challenge_id, "
                                                     "participant, submitted_at, status, "
                                                     "is_baseline FROM submissions WHERE id",
                                                     {}, ids));
            for (SqlRow& f : found) ours.emplace(f.Int(0), std::move(f));
            ASSIGN_OR_RETURN(auto arts,
                             QueryForIds(*conn,
                                         "SELECT submission_id, storage_key FROM artifacts WHERE "
                                         "submission_id",
                                         {}, ids));
            for (const SqlRow& a : arts) our_keys.insert({a.Int(0), a.Text(1)});
            our_artifacts = static_cast<std::int64_t>(arts.size());
          }
          std::vector<WantedArtifact> new_artifacts;
          std::int64_t wanted_present = 0;
          for (const SqlRow& r : rows) {
            for (std::size_t k = 0; k < std::size(kFileColumns); ++k) {
              const std::size_t col = 7 + k;
              if (r.IsNull(col) || r.Text(col).empty()) continue;
              const std::string key = settings_.media_prefix + r.Text(col);
              ++ac.read;
              if (our_keys.contains({r.Int(0), key})) {
                ++ac.unchanged;
                ++wanted_present;
                continue;
              }
              if (Status v = ValidateArtifactKey(key); !v.ok()) {
                Warn("submission " + std::to_string(r.Int(0)) + ": " + kFileColumns[k] + ": " +
                     v.message());
                continue;
              }
              new_artifacts.push_back({r.Int(0), r.Int(2), kFileColumns[k], key, std::nullopt});
            }
          }
          // Artifacts of ours that EvalAI no longer names (a replaced file): kept, counted.
          if (our_artifacts > wanted_present) ac.gone += our_artifacts - wanted_present;
          if (!opts_.dry_run && !new_artifacts.empty() && ctx_.artifacts != nullptr) {
            std::vector<std::string> keys;
            keys.reserve(new_artifacts.size());
            for (const WantedArtifact& w : new_artifacts) keys.push_back(w.key);
            const auto sizes = ctx_.artifacts->SizeMany(keys);
            for (std::size_t i = 0; i < new_artifacts.size() && i < sizes.size(); ++i) {
              if (sizes[i].ok() && sizes[i]->has_value()) new_artifacts[i].size = **sizes[i];
            }
          }
          return InOurs([&](SqlConnection& conn) -> Status {
            std::set<std::int64_t> recompute;
            for (const SqlRow& r : rows) {
              ++c.read;
              const std::int64_t id = r.Int(0);
              // is_baseline (R10): a baseline is kept unless an admin released it.
              const SqlParams values{r.Int(1),
                                     r.Int(2),
                                     r.Text(3),
                                     r.Int(4),
                                     r.Text(5).empty() ? std::string("submitted") : r.Text(5),
                                     std::int64_t{r.Int(6) != 0 ? 1 : 0}};
              auto it = ours.find(id);
              if (it == ours.end()) {
                ++c.added;
                if (opts_.dry_run) continue;
                SqlParams p{id};
                p.insert(p.end(), values.begin(), values.end());
                auto inserted = conn.Exec(
                    "INSERT INTO submissions (id, phase_id, challenge_id, participant, "
                    "submitted_at, status, is_baseline) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    p);
                if (!inserted.ok() && inserted.status().code() == StatusCode::kFailedPrecondition) {
                  --c.added;
                  Warn("submission " + std::to_string(id) + ": phase " + std::to_string(r.Int(1)) +
                       " is not known");
                  skipped_.insert(id);
                  continue;
                }
                RETURN_IF_ERROR(inserted.status());
                recompute.insert(r.Int(2));
                continue;
              }
              const SqlRow& o = it->second;
              if (o.Int(1) == r.Int(1) && o.Int(2) == r.Int(2) && o.Text(3) == r.Text(3) &&
                  o.Int(4) == r.Int(4) && o.Text(5) == std::get<std::string>(values[4]) &&
                  o.Int(6) == std::get<std::int64_t>(values[5])) {
                ++c.unchanged;
                continue;
              }
              ++c.changed;
              if (opts_.dry_run) continue;
              SqlParams p = values;
              p.emplace_back(id);
              RETURN_IF_ERROR(
                  conn.Exec("UPDATE submissions SET phase_id = ?, challenge_id = ?, "
                            "participant = ?, submitted_at = ?, status = ?, is_baseline = ? "
                            "WHERE id = ?",
                            p)
                      .status());
              if (o.Int(1) != r.Int(1) || o.Int(6) != std::get<std::int64_t>(values[5])) {
                recompute.insert(r.Int(2));
                recompute.insert(o.Int(2));
              }
            }
            for (const WantedArtifact& w : new_artifacts) {
              ++ac.added;
              if (opts_.dry_run) continue;
              if (skipped_.contains(w.submission_id)) {
                --ac.added;
                continue;
              }
              auto inserted = conn.Exec(
                  "INSERT INTO artifacts (submission_id, kind, storage_key, size_bytes) VALUES "
                  "(?, ?, ?, ?)",
                  {w.submission_id, w.kind, w.key, w.size.value_or(0)});
              if (!inserted.ok() && inserted.status().code() == StatusCode::kAlreadyExists) {
                --ac.added;
                Warn("submission " + std::to_string(w.submission_id) + ": " + w.kind + " key '" +
                     w.key + "' belongs to another submission");
                continue;
              }
              RETURN_IF_ERROR(inserted.status());
              if (!w.size) {
                ++report_.sizes_unknown;
                RETURN_IF_ERROR(conn.Exec("INSERT INTO artifact_sizes_pending (artifact_id) "
                                          "SELECT id FROM artifacts WHERE storage_key = ?",
                                          {w.key})
                                    .status());
              }
              // A new file on a swept submission (a re-run): it is live again (R6).
              ASSIGN_OR_RETURN(auto reopened,
                               conn.Exec("UPDATE submissions SET is_artifact_deleted = 0, "
                                         "artifact_deletion_date = NULL WHERE id = ? AND "
                                         "is_artifact_deleted = 1",
                                         {w.submission_id}));
              if (reopened > 0) recompute.insert(w.challenge_id);
            }
            for (std::int64_t id : recompute) {
              RETURN_IF_ERROR(RecomputeEligibleDates(conn, ctx_.settings, id).status());
            }
            std::unordered_set<std::int64_t> seen(ids.begin(), ids.end());
            RETURN_IF_ERROR(CountGone(conn, "submissions", lo, ids.back(), seen, c));
            lo = ids.back();
            return Status::Ok();
          });
        }));
    return CountGoneTail("submission", "submissions", c);
  }

  // Sizes that storage did not know when their artifacts were added: asked again (SizeMany, one
  // listing per batch), and filled where known now.
  Status FillPendingSizes() {
    if (ctx_.artifacts == nullptr) return Status::Ok();
    std::int64_t after = 0;
    std::int64_t still_unknown = 0;
    for (;;) {
      std::vector<SqlRow> rows;
      {
        auto conn = ctx_.db->LockRead();
        ASSIGN_OR_RETURN(rows, conn->Query("SELECT p.artifact_id, a.storage_key FROM "
                                           "artifact_sizes_pending p JOIN artifacts a ON a.id = "
                                           "p.artifact_id WHERE p.artifact_id > ? ORDER BY "
                                           "p.artifact_id LIMIT ?",
                                           {after, opts_.batch_size}));
      }
      if (rows.empty()) break;
      std::vector<std::string> keys;
      keys.reserve(rows.size());
      for (const SqlRow& r : rows) keys.push_back(r.Text(1));
      const auto sizes = ctx_.artifacts->SizeMany(keys);
      RETURN_IF_ERROR(InOurs([&](SqlConnection& conn) -> Status {
        for (std::size_t i = 0; i < rows.size(); ++i) {
          if (i >= sizes.size() || !sizes[i].ok() || !sizes[i]->has_value()) {
            ++still_unknown;
            continue;
          }
          RETURN_IF_ERROR(conn.Exec("UPDATE artifacts SET size_bytes = ? WHERE id = ?",
                                    {**sizes[i], rows[i].Int(0)})
                              .status());
          RETURN_IF_ERROR(conn.Exec("DELETE FROM artifact_sizes_pending WHERE artifact_id = ?",
                                    {rows[i].Int(0)})
                              .status());
          ++report_.sizes_filled;
        }
        return Status::Ok();
      }));
      after = rows.back().Int(0);
      if (static_cast<std::int64_t>(rows.size()) < opts_.batch_size) break;
    }
    report_.sizes_unknown = still_unknown;
    return Status::Ok();
  }

  void Warn(std::string w) {
    if (report_.warnings.size() < 100) report_.warnings.push_back(std::move(w));
  }

  const ServiceContext& ctx_;
  const EvalaiSettings& settings_;
  const EvalaiSyncOptions& opts_;
  SqlConnection& evalai_;
  const Present& present_;
  EvalaiSyncReport& report_;
  std::map<std::string, std::int64_t> state_;      // evalai_sync_state as read
  std::map<std::string, std::int64_t> new_state_;  // watermarks to store at the end
  std::map<std::string, std::int64_t> last_id_;    // the last id read per EvalAI table
  std::set<std::int64_t> log_inputs_changed_;      // challenges whose R8 inputs changed
  std::unordered_set<std::int64_t> skipped_;       // submissions not taken this batch
  // Full passes: the (team, username) pairs EvalAI grants a membership.
  std::set<std::pair<std::int64_t, std::string>> members_seen_;
};

json CountsJson(const EvalaiTableCounts& c) {
  return json{{"read", c.read},           {"added", c.added}, {"changed", c.changed},
              {"unchanged", c.unchanged}, {"gone", c.gone},   {"gone_ids", c.gone_ids}};
}

}  // namespace

Result<EvalaiSyncReport> SyncEvalai(const ServiceContext& ctx, EvalaiSource& source,
                                    const EvalaiSyncOptions& options) {
  EvalaiSyncReport report;
  Status s = source.WithConnection(true, [&](SqlConnection& evalai) -> Status {
    ASSIGN_OR_RETURN(Present present, CheckSchema(evalai));
    report.write_back_columns = present.contains("submission.is_artifact_deleted") &&
                                present.contains("submission.artifact_deletion_date");
    Syncer syncer(ctx, source.settings(), options, evalai, present, report);
    return syncer.Run();
  });
  if (!s.ok()) return s.WithContext("sync evalai");
  return report;
}

json EvalaiSyncJson(const EvalaiSyncReport& r) {
  json tables = json::object();
  for (const auto& [name, c] : r.tables) tables[name] = CountsJson(c);
  return json{{"dry_run", r.dry_run},
              {"full", r.full},
              {"changed", !r.NothingChanged()},
              {"tables", tables},
              {"retention_columns", r.retention_columns},
              {"write_back_columns", r.write_back_columns},
              {"consents_imported", r.consents_imported},
              {"overrides_imported", r.overrides_imported},
              {"sizes_filled", r.sizes_filled},
              {"sizes_unknown", r.sizes_unknown},
              {"warnings", r.warnings}};
}

EvalaiWriteBackReport WriteBackToEvalai(const ServiceContext& ctx, EvalaiSource& source) {
  EvalaiWriteBackReport report;
  if (!source.settings().write_back) return report;
  constexpr std::int64_t kBatch = 500;
  Status s = source.WithConnection(false, [&](SqlConnection& evalai) -> Status {
    ASSIGN_OR_RETURN(auto cols,
                     evalai.Query("SELECT column_name::text FROM information_schema.columns WHERE "
                                  "table_schema = current_schema() AND table_name = 'submission' "
                                  "AND column_name IN ('is_artifact_deleted', "
                                  "'artifact_deletion_date')"));
    report.columns = cols.size() == 2;
    if (!report.columns) return Status::Ok();
    std::int64_t after = 0;
    for (;;) {
      std::vector<SqlRow> rows;
      {
        auto conn = ctx.db->LockRead();
        ASSIGN_OR_RETURN(rows, conn->Query("SELECT s.id, s.artifact_deletion_date FROM "
                                           "submissions s WHERE s.is_artifact_deleted = 1 AND "
                                           "s.id > ? AND NOT EXISTS (SELECT 1 FROM "
                                           "evalai_write_back w WHERE w.submission_id = s.id) "
                                           "ORDER BY s.id LIMIT ?",
                                           {after, kBatch}));
      }
      if (rows.empty()) break;
      SqlParams params;
      std::string values;
      const std::int64_t now = ToUnix(ctx.clock->Now());
      for (const SqlRow& r : rows) {
        values += values.empty() ? "(?::bigint, ?::bigint)" : ", (?::bigint, ?::bigint)";
        params.emplace_back(r.Int(0));
        params.emplace_back(r.OptInt(1).value_or(now));
      }
      // One statement: EvalAI's rows change together or not at all.
      RETURN_IF_ERROR(evalai
                          .Exec("UPDATE submission AS s SET is_artifact_deleted = true, "
                                "artifact_deletion_date = to_timestamp(v.d) FROM (VALUES " +
                                    values + ") AS v(id, d) WHERE s.id = v.id",
                                params)
                          .status()
                          .WithContext("write back to evalai submission"));
      {
        auto conn = ctx.db->Lock();
        ASSIGN_OR_RETURN(auto tx, Transaction::Start(*conn, TxMode::kWrite));
        for (const SqlRow& r : rows) {
          RETURN_IF_ERROR(conn->Exec("INSERT INTO evalai_write_back (submission_id, written_at) "
                                     "VALUES (?, ?) ON CONFLICT (submission_id) DO NOTHING",
                                     {r.Int(0), now})
                              .status());
        }
        RETURN_IF_ERROR(tx.Commit());
      }
      report.written += static_cast<std::int64_t>(rows.size());
      after = rows.back().Int(0);
      if (static_cast<std::int64_t>(rows.size()) < kBatch) break;
    }
    return Status::Ok();
  });
  if (!s.ok()) {
    report.error = s.message();
    auto conn = ctx.db->LockRead();
    auto n = conn->QueryOne(
        "SELECT COUNT(*) FROM submissions s WHERE s.is_artifact_deleted = 1 AND NOT EXISTS "
        "(SELECT 1 FROM evalai_write_back w WHERE w.submission_id = s.id)");
    if (n.ok() && n->has_value()) report.pending = (*n)->Int(0);
  }
  return report;
}

json EvalaiWriteBackJson(const EvalaiWriteBackReport& r) {
  return json{{"columns", r.columns},
              {"written", r.written},
              {"pending", r.pending},
              {"error", r.error.empty() ? json() : json(r.error)}};
}

}  // namespace retention
