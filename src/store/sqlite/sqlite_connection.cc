#include "store/sqlite/sqlite_connection.h"

#include <sqlite3.h>

#include <filesystem>
#include <unordered_map>

namespace retention {
namespace {

// Statement journals keep SQLite's default spill threshold (64 KiB). A larger one
// (SQLITE_CONFIG_STMTJRNL_SPILL, tried at 4 MiB for issue 9's sweep writes) makes SQLite 3.40.1
// fail a statement whose journal spills above 256 KiB with SQLITE_FULL, "database or disk is
// full": a DROP INDEX of a large index inside a migration's transaction did (test
// SqlConnectionContract.DroppingALargeIndexInsideATransactionSucceeds).

// Translates a SQLite result code into the port's taxonomy, in one place.
Status FromSqlite(sqlite3* db, int rc, std::string_view what) {
  const std::string msg = std::string(what) + ": " + sqlite3_errmsg(db);
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Aborted("database is busy: " + msg);
    case SQLITE_CONSTRAINT:
      if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE) {
        return AlreadyExists(msg);
      }
      return FailedPrecondition(msg);
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_READONLY:
      return Unavailable(msg);
    default:
      return Internal(msg);
  }
}

class SqliteConnection final : public SqlConnection {
 public:
  explicit SqliteConnection(sqlite3* db) : db_(db) {}
  SqliteConnection(const SqliteConnection&) = delete;
  SqliteConnection& operator=(const SqliteConnection&) = delete;
  ~SqliteConnection() override {
    for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
    sqlite3_close_v2(db_);
  }

  Result<std::int64_t> ExecImpl(std::string_view sql, const SqlParams& params) override {
    ASSIGN_OR_RETURN(sqlite3_stmt * stmt, Prepare(sql, params));
    int rc = SQLITE_ROW;
    while (rc == SQLITE_ROW) rc = sqlite3_step(stmt);
    Done(stmt);
    if (rc != SQLITE_DONE) return FromSqlite(db_, rc, Short(sql));
    return static_cast<std::int64_t>(sqlite3_changes64(db_));
  }

  Result<std::vector<SqlRow>> QueryImpl(std::string_view sql, const SqlParams& params) override {
    std::vector<SqlRow> rows;
    RETURN_IF_ERROR(ForEachRowImpl(sql, params, [&rows](const SqlRow& r) {
      rows.push_back(r);
      return true;
    }));
    return rows;
  }

  Status ForEachRowImpl(std::string_view sql, const SqlParams& params,
                        const std::function<bool(const SqlRow&)>& visit) override {
    ASSIGN_OR_RETURN(sqlite3_stmt * stmt, Prepare(sql, params));
    const int n = sqlite3_column_count(stmt);
    SqlRow row({});
    std::vector<SqlValue>& values = row.mutable_values();
    values.reserve(static_cast<std::size_t>(n));
    int rc = 0;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      values.clear();
      for (int i = 0; i < n; ++i) {
        switch (sqlite3_column_type(stmt, i)) {
          case SQLITE_INTEGER:
            values.emplace_back(std::int64_t{sqlite3_column_int64(stmt, i)});
            break;
          case SQLITE_FLOAT:
            values.emplace_back(sqlite3_column_double(stmt, i));
            break;
          case SQLITE_NULL:
            values.emplace_back(std::monostate{});
            break;
          default: {
            const auto* text = sqlite3_column_text(stmt, i);
            values.emplace_back(
                std::string(reinterpret_cast<const char*>(text),
                            static_cast<std::size_t>(sqlite3_column_bytes(stmt, i))));
          }
        }
      }
      if (!visit(row)) {
        rc = SQLITE_DONE;
        break;
      }
    }
    Done(stmt);
    if (rc != SQLITE_DONE) return FromSqlite(db_, rc, Short(sql));
    return Status::Ok();
  }

  Status ExecScript(std::string_view sql) override {
    char* err = nullptr;
    const int rc = sqlite3_exec(db_, std::string(sql).c_str(), nullptr, nullptr, &err);
    if (rc != SQLITE_OK) {
      std::string msg = err != nullptr ? err : "unknown error";
      sqlite3_free(err);
      return FromSqlite(db_, rc, "script").WithContext(msg);
    }
    return Status::Ok();
  }

  Status Begin(TxMode mode) override {
    return Simple(mode == TxMode::kRead ? "BEGIN" : "BEGIN IMMEDIATE");  // kRowLocks too
  }
  Status Commit() override { return Simple("COMMIT"); }
  Status Rollback() override {
    if (sqlite3_get_autocommit(db_) != 0) return Status::Ok();
    return Simple("ROLLBACK");
  }
  Status DeferForeignKeys() override { return Simple("PRAGMA defer_foreign_keys = ON"); }
  std::string_view Dialect() const override { return "sqlite"; }
  std::int64_t StepsDone() const override { return steps_; }
  std::int64_t PagesFetched() const override {
    std::int64_t total = 0;
    for (int op : {SQLITE_DBSTATUS_CACHE_HIT, SQLITE_DBSTATUS_CACHE_MISS}) {
      int current = 0;
      int highwater = 0;
      if (sqlite3_db_status(db_, op, &current, &highwater, /*resetFlg=*/0) == SQLITE_OK) {
        total += current;
      }
    }
    return total;
  }

 private:
  static std::string Short(std::string_view sql) {
    std::string s(sql.substr(0, 60));
    for (char& c : s) {
      if (c == '\n') c = ' ';
    }
    return "sql '" + s + (sql.size() > 60 ? "...'" : "'");
  }

  void Done(sqlite3_stmt* stmt) {
    steps_ += sqlite3_stmt_status(stmt, SQLITE_STMTSTATUS_VM_STEP, /*resetFlg=*/1);
    sqlite3_reset(stmt);
  }

  Status Simple(const char* sql) {
    const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) return FromSqlite(db_, rc, sql);
    return Status::Ok();
  }

  Result<sqlite3_stmt*> Prepare(std::string_view sql, const SqlParams& params) {
    sqlite3_stmt* stmt = nullptr;
    std::string key(sql);
    if (auto it = cache_.find(key); it != cache_.end()) {
      stmt = it->second;
      sqlite3_clear_bindings(stmt);
    } else {
      const int rc = sqlite3_prepare_v3(db_, key.data(), static_cast<int>(key.size()),
                                        SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
      if (rc != SQLITE_OK) return FromSqlite(db_, rc, Short(sql));
      cache_.emplace(std::move(key), stmt);
    }
    if (static_cast<int>(params.size()) != sqlite3_bind_parameter_count(stmt)) {
      return Internal(Short(sql) + ": expected " +
                      std::to_string(sqlite3_bind_parameter_count(stmt)) + " parameters, got " +
                      std::to_string(params.size()));
    }
    for (std::size_t i = 0; i < params.size(); ++i) {
      const int idx = static_cast<int>(i) + 1;
      const SqlValue& v = params[i];
      int rc = SQLITE_OK;
      if (std::holds_alternative<std::monostate>(v)) {
        rc = sqlite3_bind_null(stmt, idx);
      } else if (const auto* n = std::get_if<std::int64_t>(&v)) {
        rc = sqlite3_bind_int64(stmt, idx, *n);
      } else if (const auto* d = std::get_if<double>(&v)) {
        rc = sqlite3_bind_double(stmt, idx, *d);
      } else {
        const auto& s = std::get<std::string>(v);
        rc = sqlite3_bind_text64(stmt, idx, s.data(), s.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
      }
      if (rc != SQLITE_OK) return FromSqlite(db_, rc, Short(sql));
    }
    return stmt;
  }

  sqlite3* db_;
  std::unordered_map<std::string, sqlite3_stmt*> cache_;
  std::int64_t steps_ = 0;
};

}  // namespace

Result<std::unique_ptr<SqlConnection>> OpenSqlite(const std::string& path, bool read_only) {
  if (path != ":memory:") {
    std::error_code ec;
    const auto parent = std::filesystem::path(path).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  }
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db != nullptr ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close_v2(db);
    return Unavailable("open sqlite database " + path + ": " + msg);
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, 10000);
  auto conn = std::make_unique<SqliteConnection>(db);
  for (const char* pragma :
       {"PRAGMA journal_mode=WAL", "PRAGMA foreign_keys=ON", "PRAGMA synchronous=NORMAL"}) {
    if (auto s = conn->ExecScript(pragma); !s.ok()) {
      return s.WithContext("open sqlite database " + path);
    }
  }
  if (read_only) {
    if (auto s = conn->ExecScript("PRAGMA query_only = ON"); !s.ok()) {
      return s.WithContext("open sqlite database " + path);
    }
  }
  return std::unique_ptr<SqlConnection>(std::move(conn));
}

}  // namespace retention
