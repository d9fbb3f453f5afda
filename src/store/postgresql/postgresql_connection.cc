#include "store/postgresql/postgresql_connection.h"

#include <libpq-fe.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <system_error>
#include <unordered_map>
#include <vector>

namespace retention {
namespace {

// Type OIDs of pg_type that the port reads as numbers (catalog/pg_type_d.h is a server header).
constexpr Oid kBoolOid = 16;
constexpr Oid kInt8Oid = 20;
constexpr Oid kInt2Oid = 21;
constexpr Oid kInt4Oid = 23;
constexpr Oid kOidOid = 26;
constexpr Oid kFloat4Oid = 700;
constexpr Oid kFloat8Oid = 701;
constexpr Oid kNumericOid = 1700;

// What a SQLSTATE tells the caller to do next, in one place (store/sql.h's Exec):
//   40001 serialization failure, 40P01 deadlock, 55P03 lock not available: kAborted, retry the
//     transaction;
//   23505 unique violation: kAlreadyExists; any other 23xxx integrity violation:
//     kFailedPrecondition; 25006 a write on a read-only connection: kFailedPrecondition;
//   class 08 (connection), 57P01-57P03 (shutdown, cannot connect now), 53xxx (out of resources):
//     kUnavailable (the connection reconnects on its next call);
//   anything else (syntax, undefined objects, data errors): kInternal, a bug in the SQL.
Status FromSqlstate(std::string_view sqlstate, std::string msg) {
  if (sqlstate == "40001" || sqlstate == "40P01" || sqlstate == "55P03") return Aborted(msg);
  if (sqlstate == "23505") return AlreadyExists(msg);
  if (sqlstate.starts_with("23") || sqlstate == "25006") return FailedPrecondition(msg);
  if (sqlstate.starts_with("08") || sqlstate.starts_with("57P") || sqlstate.starts_with("53")) {
    return Unavailable(msg);
  }
  return Internal(msg);
}

std::string Short(std::string_view sql) {
  std::string s(sql.substr(0, 60));
  for (char& c : s) {
    if (c == '\n') c = ' ';
  }
  return "sql '" + s + (sql.size() > 60 ? "...'" : "'");
}

// libpq's message on one line: its lines (a hint after a tab-indented newline) joined by spaces,
// the trailing newline dropped.
std::string OneLine(std::string msg) {
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  std::string out;
  for (char c : msg) {
    if (c == '\n' || c == '\t') {
      if (!out.empty() && out.back() != ' ') out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// Owns a PGresult.
struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, ResultDeleter>;

SqlValue ReadValue(const PGresult* res, int row, int col) {
  if (PQgetisnull(res, row, col) != 0) return std::monostate{};
  const char* text = PQgetvalue(res, row, col);
  const auto len = static_cast<std::size_t>(PQgetlength(res, row, col));
  switch (PQftype(res, col)) {
    case kBoolOid:
      return std::int64_t{text[0] == 't' ? 1 : 0};
    case kInt2Oid:
    case kInt4Oid:
    case kInt8Oid:
    case kOidOid: {
      std::int64_t v = 0;
      std::from_chars(text, text + len, v);
      return v;
    }
    case kFloat4Oid:
    case kFloat8Oid:
    case kNumericOid:
      return std::strtod(text, nullptr);
    default:
      return std::string(text, len);
  }
}

class PostgresqlConnection final : public SqlConnection {
 public:
  PostgresqlConnection(PGconn* conn, std::string redacted_url)
      : conn_(conn), url_(std::move(redacted_url)) {}
  PostgresqlConnection(const PostgresqlConnection&) = delete;
  PostgresqlConnection& operator=(const PostgresqlConnection&) = delete;
  ~PostgresqlConnection() override { PQfinish(conn_); }

  Result<std::int64_t> ExecImpl(std::string_view sql, const SqlParams& params) override {
    ASSIGN_OR_RETURN(PgResult res, RunStatement(sql, params));
    const char* tuples = PQcmdTuples(res.get());
    std::int64_t changed = 0;
    std::from_chars(tuples, tuples + std::char_traits<char>::length(tuples), changed);
    return changed;
  }

  Result<std::vector<SqlRow>> QueryImpl(std::string_view sql, const SqlParams& params) override {
    ASSIGN_OR_RETURN(PgResult res, RunStatement(sql, params));
    const int rows = PQntuples(res.get());
    const int cols = PQnfields(res.get());
    std::vector<SqlRow> out;
    out.reserve(static_cast<std::size_t>(rows));
    for (int r = 0; r < rows; ++r) {
      std::vector<SqlValue> values;
      values.reserve(static_cast<std::size_t>(cols));
      for (int c = 0; c < cols; ++c) values.push_back(ReadValue(res.get(), r, c));
      out.emplace_back(std::move(values));
    }
    return out;
  }

  Status ExecScript(std::string_view sql) override {
    RETURN_IF_ERROR(Reconnect());
    RETURN_IF_ERROR(Savepoint());
    const std::string script(sql);
    return Finish(Check(PgResult(PQexec(conn_, script.c_str())), "script")).status();
  }

  Status Begin(TxMode mode) override {
    RETURN_IF_ERROR(Reconnect());
    // Read transactions see one snapshot, as SQLite's do. A write transaction reads the latest
    // committed rows at each statement (READ COMMITTED) after it holds the write lock, which it
    // takes before anything else (a snapshot taken before waiting for the lock would be stale).
    // kRowLocks: READ COMMITTED without the write lock; its statements lock rows.
    const std::string sql =
        mode == TxMode::kWrite
            ? "BEGIN ISOLATION LEVEL READ COMMITTED; SELECT pg_advisory_xact_lock(" +
                  std::to_string(kWriteLockKey) + ")"
        : mode == TxMode::kRowLocks ? std::string("BEGIN ISOLATION LEVEL READ COMMITTED")
                                    : "BEGIN ISOLATION LEVEL REPEATABLE READ";
    auto res = Check(PgResult(PQexec(conn_, sql.c_str())), "begin");
    if (!res.ok()) {
      if (PQtransactionStatus(conn_) == PQTRANS_INERROR) static_cast<void>(Simple("ROLLBACK"));
      return res.status();
    }
    tx_active_ = true;
    return Status::Ok();
  }

  Status Commit() override {
    if (broken_) return Aborted("commit on " + url_ + ": the connection was lost");
    const Status s = Simple("COMMIT");
    tx_active_ = false;
    return s;
  }

  Status Rollback() override {
    const bool open = tx_active_ && !broken_;
    tx_active_ = false;
    if (!open || PQtransactionStatus(conn_) == PQTRANS_IDLE) return Status::Ok();
    return Simple("ROLLBACK");
  }

  // The foreign keys are DEFERRABLE INITIALLY IMMEDIATE in the PostgreSQL schema.
  Status DeferForeignKeys() override { return Simple("SET CONSTRAINTS ALL DEFERRED"); }

  std::string_view Dialect() const override { return "postgresql"; }

 private:
  // A connection lost since the last call is opened again (same parameters); the prepared
  // statements went with the old session.
  Status Reconnect() {
    if (!broken_) return Status::Ok();
    PQreset(conn_);
    if (PQstatus(conn_) != CONNECTION_OK) {
      return Unavailable("reconnect to " + url_ + ": " + OneLine(PQerrorMessage(conn_)));
    }
    prepared_.clear();
    broken_ = false;
    tx_active_ = false;
    return Status::Ok();
  }

  // Inside a transaction, each statement runs under a savepoint, so that a failing one undoes
  // itself only and the transaction goes on, as in SQLite (the sweep's outcome statements
  // rely on it: ADR 0005 point 3). Finish releases it or rolls back to it.
  Status Savepoint() {
    in_savepoint_ = PQtransactionStatus(conn_) == PQTRANS_INTRANS;
    if (!in_savepoint_) return Status::Ok();
    return Simple("SAVEPOINT retention_statement");
  }

  Result<PgResult> Finish(Result<PgResult> res) {
    if (!in_savepoint_ || broken_) return res;
    in_savepoint_ = false;
    const Status s = Simple(res.ok() ? "RELEASE SAVEPOINT retention_statement"
                                     : "ROLLBACK TO SAVEPOINT retention_statement");
    if (!s.ok() && res.ok()) return s;
    return res;
  }

  Result<PgResult> RunStatement(std::string_view sql, const SqlParams& params) {
    RETURN_IF_ERROR(Reconnect());
    // Values travel as text with their type: int8, float8, text; a NULL leaves its type to the
    // statement. A statement is prepared once per SQL text and parameter types.
    std::string key(sql);
    key.push_back('\0');
    std::vector<Oid> types;
    std::vector<std::string> texts;
    types.reserve(params.size());
    texts.reserve(params.size());
    for (const SqlValue& v : params) {
      if (std::holds_alternative<std::monostate>(v)) {
        types.push_back(0);
        texts.emplace_back();
        key.push_back('n');
      } else if (const auto* n = std::get_if<std::int64_t>(&v)) {
        types.push_back(kInt8Oid);
        texts.push_back(std::to_string(*n));
        key.push_back('i');
      } else if (const auto* d = std::get_if<double>(&v)) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.17g", *d);
        types.push_back(kFloat8Oid);
        texts.emplace_back(buf);
        key.push_back('r');
      } else {
        types.push_back(25);  // text
        texts.push_back(std::get<std::string>(v));
        key.push_back('t');
      }
    }
    RETURN_IF_ERROR(Savepoint());
    auto it = prepared_.find(key);
    if (it == prepared_.end()) {
      int count = 0;
      const std::string numbered = NumberPlaceholders(sql, count);
      if (count != static_cast<int>(params.size())) {
        return Finish(Internal(Short(sql) + ": expected " + std::to_string(count) +
                               " parameters, got " + std::to_string(params.size())));
      }
      std::string name = "s" + std::to_string(prepared_.size());
      auto prepared =
          Finish(Check(PgResult(PQprepare(conn_, name.c_str(), numbered.c_str(),
                                          static_cast<int>(types.size()), types.data())),
                       Short(sql)));
      if (!prepared.ok()) return prepared.status();
      RETURN_IF_ERROR(Savepoint());
      it = prepared_.emplace(std::move(key), std::move(name)).first;
    }
    std::vector<const char*> values;
    values.reserve(params.size());
    for (std::size_t i = 0; i < params.size(); ++i) {
      values.push_back(types[i] == 0 ? nullptr : texts[i].c_str());
    }
    return Finish(
        Check(PgResult(PQexecPrepared(conn_, it->second.c_str(), static_cast<int>(values.size()),
                                      values.data(), nullptr, nullptr, /*resultFormat=*/0)),
              Short(sql)));
  }

  Status Simple(const char* sql) { return Check(PgResult(PQexec(conn_, sql)), sql).status(); }

  // A result that reports success, or the status its error maps to. A lost connection is
  // kAborted inside a transaction (retry it) and kUnavailable outside; either way the next call
  // reconnects.
  Result<PgResult> Check(PgResult res, std::string_view what) {
    const ExecStatusType st = res ? PQresultStatus(res.get()) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY) return res;
    std::string msg = std::string(what) + " on " + url_ + ": " +
                      OneLine(res ? PQresultErrorMessage(res.get()) : PQerrorMessage(conn_));
    if (PQstatus(conn_) == CONNECTION_BAD) {
      const bool in_tx = tx_active_;
      broken_ = true;
      in_savepoint_ = false;
      return in_tx ? Aborted("connection lost: " + msg) : Unavailable("connection lost: " + msg);
    }
    const char* state = res ? PQresultErrorField(res.get(), PG_DIAG_SQLSTATE) : nullptr;
    return FromSqlstate(state != nullptr ? state : "", std::move(msg));
  }

  PGconn* conn_;
  std::string url_;                                        // without the password
  std::unordered_map<std::string, std::string> prepared_;  // SQL + types -> statement name
  bool in_savepoint_ = false;
  bool tx_active_ = false;  // between a successful Begin and Commit/Rollback
  bool broken_ = false;
};

}  // namespace

std::string RedactPostgresqlUrl(std::string_view url) {
  // The password sits between the user and `@` (user:password@), or in a `password=` query
  // parameter; everything else is kept as written.
  std::string out(url);
  const std::size_t scheme = out.find("://");
  const std::size_t authority = scheme == std::string::npos ? 0 : scheme + 3;
  const std::size_t at = out.find('@', authority);
  const std::size_t slash = out.find('/', authority);
  if (at != std::string::npos && (slash == std::string::npos || at < slash)) {
    const std::size_t colon = out.find(':', authority);
    if (colon != std::string::npos && colon < at) out.erase(colon, at - colon);
  }
  if (const std::size_t query = out.find('?'); query != std::string::npos) {
    for (std::size_t p = out.find("password=", query); p != std::string::npos;
         p = out.find("password=", query)) {
      const std::size_t amp = out.find('&', p);
      out.erase(p, amp == std::string::npos ? std::string::npos : amp + 1 - p);
    }
  }
  while (!out.empty() && (out.back() == '&' || out.back() == '?')) out.pop_back();
  return out;
}

std::string NumberPlaceholders(std::string_view sql, int& count) {
  std::string out;
  out.reserve(sql.size() + 16);
  count = 0;
  for (std::size_t i = 0; i < sql.size(); ++i) {
    const char c = sql[i];
    if (c == '\'' || c == '"') {
      // A literal or quoted identifier; a doubled quote inside it is part of it.
      const std::size_t end = sql.find(c, i + 1);
      const std::size_t stop = end == std::string_view::npos ? sql.size() : end + 1;
      out.append(sql.substr(i, stop - i));
      i = stop - 1;
    } else if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
      const std::size_t end = sql.find('\n', i);
      const std::size_t stop = end == std::string_view::npos ? sql.size() : end;
      out.append(sql.substr(i, stop - i));
      i = stop - 1;
    } else if (c == '/' && i + 1 < sql.size() && sql[i + 1] == '*') {
      const std::size_t end = sql.find("*/", i + 2);
      const std::size_t stop = end == std::string_view::npos ? sql.size() : end + 2;
      out.append(sql.substr(i, stop - i));
      i = stop - 1;
    } else if (c == '?') {
      out += "$" + std::to_string(++count);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

Result<std::unique_ptr<SqlConnection>> OpenPostgresql(const std::string& url, bool read_only) {
  const std::string redacted = RedactPostgresqlUrl(url);
  if (!url.starts_with("postgresql://") && !url.starts_with("postgres://")) {
    return InvalidArgument("database url " + redacted +
                           ": expected postgresql://user[:password]@host:port/db");
  }
  char* parse_error = nullptr;
  PQconninfoOption* parsed = PQconninfoParse(url.c_str(), &parse_error);
  if (parsed == nullptr) {
    const std::string msg = OneLine(parse_error != nullptr ? parse_error : "out of memory");
    PQfreemem(parse_error);
    return InvalidArgument("database url " + redacted + ": " + msg);
  }
  // libpq checks the port only when it connects; a malformed one is the URL's fault.
  std::string bad = "no database name after the host";
  for (PQconninfoOption* o = parsed; o->keyword != nullptr; ++o) {
    if (o->keyword == std::string_view("dbname") && o->val != nullptr && o->val[0] != '\0') {
      bad.clear();
    }
  }
  for (PQconninfoOption* o = parsed; o->keyword != nullptr; ++o) {
    if (o->val == nullptr) continue;
    const std::string_view key = o->keyword;
    const std::string_view val = o->val;
    int port = 0;
    const auto [end, ec] = std::from_chars(val.data(), val.data() + val.size(), port);
    if (key == "port" &&
        (ec != std::errc() || end != val.data() + val.size() || port < 1 || port > 65535)) {
      bad = "port '" + std::string(val) + "' is not a number between 1 and 65535";
    }
  }
  PQconninfoFree(parsed);
  if (!bad.empty()) return InvalidArgument("database url " + redacted + ": " + bad);
  // The URL's own values first; those after it override (expand_dbname).
  const char* keywords[] = {"dbname", "connect_timeout", "application_name", "options", nullptr};
  const char* values[] = {url.c_str(), "10", "retention",
                          read_only ? "-c default_transaction_read_only=on -c "
                                      "client_min_messages=warning"
                                    : "-c client_min_messages=warning",
                          nullptr};
  PGconn* conn = PQconnectdbParams(keywords, values, /*expand_dbname=*/1);
  if (conn == nullptr) return Unavailable("connect to " + redacted + ": out of memory");
  if (PQstatus(conn) != CONNECTION_OK) {
    const std::string msg = OneLine(PQerrorMessage(conn));
    PQfinish(conn);
    return Unavailable("connect to " + redacted + ": " + msg);
  }
  // NOTICEs (e.g. "relation already exists, skipping") are not errors; keep them off stderr.
  PQsetNoticeProcessor(
      conn, [](void*, const char*) {}, nullptr);
  return std::unique_ptr<SqlConnection>(std::make_unique<PostgresqlConnection>(conn, redacted));
}

namespace {

class PostgresqlWriteGate final : public WriteGate {
 public:
  explicit PostgresqlWriteGate(std::unique_ptr<SqlConnection> conn) : conn_(std::move(conn)) {}

  // The batch key is the other way round from the file gate's byte 1: batches hold it shared, so
  // that the batches of several replicas run at once (their rows are told apart by row locks,
  // ADR 0008), and a writer takes it exclusively, waiting for every running batch.
  void BeginWrite() override {
    Call("SELECT pg_advisory_lock_shared(?)", kGateAnnounceKey);
    Call("SELECT pg_advisory_lock(?)", kGateBatchKey);
  }
  void EndWrite() override {
    Call("SELECT pg_advisory_unlock(?)", kGateBatchKey);
    Call("SELECT pg_advisory_unlock_shared(?)", kGateAnnounceKey);
  }
  bool TryBeginBatch() override {
    if (!Call("SELECT pg_try_advisory_lock(?)", kGateAnnounceKey)) return false;
    Call("SELECT pg_advisory_unlock(?)", kGateAnnounceKey);
    Call("SELECT pg_advisory_lock_shared(?)", kGateBatchKey);
    return true;
  }
  void EndBatch() override { Call("SELECT pg_advisory_unlock_shared(?)", kGateBatchKey); }

 private:
  // The boolean the statement returns (true for the void lock functions); true when it fails
  // twice, the second time after the connection reopened.
  bool Call(const char* sql, std::int64_t key) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      auto row = conn_->QueryOne(sql, {key});
      if (row.ok()) return !row->has_value() || (*row)->IsNull(0) || (*row)->Bool(0);
    }
    return true;
  }

  std::unique_ptr<SqlConnection> conn_;
};

}  // namespace

Result<std::unique_ptr<WriteGate>> OpenPostgresqlWriteGate(const std::string& url) {
  ASSIGN_OR_RETURN(auto conn, OpenPostgresql(url));
  return std::unique_ptr<WriteGate>(std::make_unique<PostgresqlWriteGate>(std::move(conn)));
}

}  // namespace retention
