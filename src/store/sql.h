// The database port: a connection that runs parameterised SQL and transactions.
//
// SQL written against this port is portable between SQLite and PostgreSQL: `?` placeholders (an
// adapter rewrites them if its engine needs another form), integers for times (Unix seconds),
// `INSERT ... ON CONFLICT`, `UPDATE ... FROM`, `RETURNING`, row values. Backend-specific behaviour
// (how a write transaction starts, locking) lives in the adapters.
//
// A SqlConnection is not thread-safe: use one per thread, or guard it (see Database).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/status.h"
#include "store/write_gate.h"

namespace retention {

using SqlValue = std::variant<std::monostate, std::int64_t, double, std::string>;

inline SqlValue SqlNull() { return std::monostate{}; }
inline SqlValue SqlOpt(const std::optional<std::int64_t>& v) {
  return v ? SqlValue(*v) : SqlNull();
}
inline SqlValue SqlOpt(const std::optional<std::string>& v) { return v ? SqlValue(*v) : SqlNull(); }

// The type a value was stored with (SQLite's storage classes).
enum class SqlType { kNull, kInt, kReal, kText };
// "null", "integer", "real", "text".
const char* SqlTypeName(SqlType type);

// One result row. Getters never throw: a NULL reads as 0 / "" / nullopt. They convert between
// types (a text "7abc" reads as Int 7, a real 7.9 as 7); readers that must see exactly what is
// stored check TypeOf first.
class SqlRow {
 public:
  explicit SqlRow(std::vector<SqlValue> values) : values_(std::move(values)) {}
  std::size_t size() const { return values_.size(); }
  bool IsNull(std::size_t i) const;
  // The stored type of column i; kNull past the end.
  SqlType TypeOf(std::size_t i) const;
  std::int64_t Int(std::size_t i) const;
  double Real(std::size_t i) const;
  std::string Text(std::size_t i) const;
  bool Bool(std::size_t i) const { return Int(i) != 0; }
  std::optional<std::int64_t> OptInt(std::size_t i) const;
  std::optional<std::string> OptText(std::size_t i) const;
  // For adapters that stream a result through one row: its values, to be refilled in place.
  std::vector<SqlValue>& mutable_values() { return values_; }

 private:
  std::vector<SqlValue> values_;
};

using SqlParams = std::vector<SqlValue>;

// kRead: one snapshot, no writes. kWrite: the single-writer transaction (SQLite: BEGIN IMMEDIATE;
// PostgreSQL: the write advisory lock of ADR 0007), so that read-then-write logic needs no retry.
// kRowLocks: a write transaction that does not take the single-writer lock; its statements
// coordinate by row locks (PostgreSQL: READ COMMITTED, `FOR UPDATE ... SKIP LOCKED`), for the
// shared sweep of several replicas (ADR 0008). SQLite has no row locks: there it is kWrite.
enum class TxMode { kRead, kWrite, kRowLocks };

class SqlConnection {
 public:
  virtual ~SqlConnection() = default;

  // Runs a statement; returns the number of rows it changed. Errors: kAborted when the database
  // is busy or a serialisation conflict occurred (retry the transaction), kAlreadyExists on a
  // unique/primary-key violation, kFailedPrecondition on another constraint, kInternal otherwise.
  Result<std::int64_t> Exec(std::string_view sql, const SqlParams& params = {}) {
    return ExecImpl(sql, params);
  }
  // Runs a query and returns all its rows (callers bound the result with LIMIT).
  Result<std::vector<SqlRow>> Query(std::string_view sql, const SqlParams& params = {}) {
    return QueryImpl(sql, params);
  }
  // Runs a query and hands each result row to `row` in turn instead of keeping them, so that a
  // listing of any length takes flat memory. The row is valid during the call only; `row`
  // returning false stops the listing (Ok). Errors as Query's; on an error after some rows, those
  // rows were handed out already.
  Status ForEachRow(std::string_view sql, const SqlParams& params,
                    const std::function<bool(const SqlRow&)>& row) {
    return ForEachRowImpl(sql, params, row);
  }
  // Runs several statements without parameters (migrations).
  virtual Status ExecScript(std::string_view sql) = 0;

  // Transactions. A write transaction takes the write lock at its start (SQLite: BEGIN IMMEDIATE),
  // so that two writers never deadlock on a lock upgrade.
  virtual Status Begin(TxMode mode) = 0;
  virtual Status Commit() = 0;
  virtual Status Rollback() = 0;

  // Checks foreign keys when the current transaction commits instead of at each statement, for a
  // writer that inserts rows before the rows they refer to (the streaming import). A violation
  // then fails Commit() with kFailedPrecondition. Lasts until the transaction ends.
  virtual Status DeferForeignKeys() = 0;

  // "sqlite" or "postgresql".
  virtual std::string_view Dialect() const = 0;

  // Work done so far by this connection's statements, in the engine's own unit (SQLite: virtual
  // machine steps, which grow with every row an index scan visits). For tests and benchmarks
  // that check that a batch query stays linear; 0 when the engine does not tell.
  virtual std::int64_t StepsDone() const { return 0; }
  // Pages of the database this connection's statements have fetched so far (SQLite: page cache
  // hits and misses). A seek into a table fetches a page per level of its tree, while an index
  // scan fetches a page per page of entries, so this tells reading rows apart from listing index
  // entries, which StepsDone does not. For tests; 0 when the engine does not tell.
  virtual std::int64_t PagesFetched() const { return 0; }

  // Convenience: the first row of a query, or nullopt when there is none.
  Result<std::optional<SqlRow>> QueryOne(std::string_view sql, const SqlParams& params = {});

 protected:
  // What adapters implement (non-virtual wrappers above carry the default arguments).
  virtual Result<std::int64_t> ExecImpl(std::string_view sql, const SqlParams& params) = 0;
  virtual Result<std::vector<SqlRow>> QueryImpl(std::string_view sql, const SqlParams& params) = 0;
  // Default: QueryImpl, then the rows one by one. An adapter that can step through a result
  // overrides it.
  virtual Status ForEachRowImpl(std::string_view sql, const SqlParams& params,
                                const std::function<bool(const SqlRow&)>& row);
};

// Runs `head` followed by ` IN (?, ..., ?)` over `ids`, kIdChunk ids per statement; a short chunk
// is padded with its last id (IN ignores repeats) so that the statement is prepared once whatever
// the count. `leading` binds before the ids. Returns the rows changed; stops at the first failing
// chunk (the chunks before it stay applied inside the caller's transaction).
inline constexpr std::size_t kIdChunk = 100;
Result<std::int64_t> ExecForIds(SqlConnection& conn, std::string_view head,
                                const SqlParams& leading, const std::vector<std::int64_t>& ids);
// The same for a query: the rows of every chunk, chunk after chunk (a row matches once per
// chunk, so ids must not repeat across chunks). `tail` follows the id list (" FOR UPDATE").
Result<std::vector<SqlRow>> QueryForIds(SqlConnection& conn, std::string_view head,
                                        const SqlParams& leading,
                                        const std::vector<std::int64_t>& ids,
                                        std::string_view tail = {});

// The few words of SQLite that PostgreSQL lacks, for statements written once for both engines;
// SQLite's statements and plans stay as they are, PostgreSQL gets its own form:
//   IndexedBy(conn, "i")  " INDEXED BY i" on SQLite (pins the plan), "" elsewhere;
//   UpdateOrFail(conn)    "UPDATE OR FAIL" on SQLite (a failing statement keeps the rows it
//                         changed, no statement journal: ADR 0005 point 6), "UPDATE" elsewhere
//                         (the statement undoes itself; callers retry row by row either way);
//   ScalarMax(conn)       "MAX" on SQLite (with two or more arguments), "GREATEST" elsewhere;
//   CrossJoin(conn)       "CROSS JOIN" on SQLite (an inner join whose loop order SQLite keeps as
//                         written), "JOIN" elsewhere (PostgreSQL's CROSS JOIN takes no ON).
std::string IndexedBy(const SqlConnection& conn, std::string_view index);
std::string_view CrossJoin(const SqlConnection& conn);
std::string_view UpdateOrFail(const SqlConnection& conn);
std::string_view ScalarMax(const SqlConnection& conn);

// RAII transaction: rolls back on destruction unless Commit() succeeded.
class Transaction {
 public:
  // Use Transaction::Start.
  explicit Transaction(SqlConnection& conn) : conn_(&conn) {}
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  Transaction(Transaction&& other) noexcept : conn_(other.conn_) { other.conn_ = nullptr; }
  Transaction& operator=(Transaction&&) = delete;
  ~Transaction();

  static Result<Transaction> Start(SqlConnection& conn, TxMode mode);
  Status Commit();

 private:
  SqlConnection* conn_;
};

// The connections of one database, shared between threads. Lock() hands out exclusive access to
// the connection that writes; LockRead() to one of the read-only connections (SQLite in WAL mode
// lets them read while a write transaction runs), or to the writer when there are none (an
// in-memory database). Reads through LockRead see every committed write.
//
// Writers go first (R5, ADR 0005): LockBatch(), which the sweep takes for each bounded batch, waits
// until no Lock() of this process is waiting and, with a WriteGate, until no writer of another
// process is announced; a writer that arrives during a batch waits for that batch only. Lock()
// itself never waits for more than the batch that runs.
class Database {
 public:
  explicit Database(std::unique_ptr<SqlConnection> writer,
                    std::vector<std::unique_ptr<SqlConnection>> readers = {},
                    std::unique_ptr<WriteGate> gate = nullptr);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  class Lease {
   public:
    enum class Kind { kRead, kWrite, kBatch };
    Lease(std::unique_lock<std::mutex> lock, SqlConnection& conn, Database* owner = nullptr,
          Kind kind = Kind::kRead)
        : lock_(std::move(lock)), conn_(&conn), owner_(owner), kind_(kind) {}
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&&) = delete;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease();
    SqlConnection& operator*() { return *conn_; }
    SqlConnection* operator->() { return conn_; }

   private:
    std::unique_lock<std::mutex> lock_;
    SqlConnection* conn_;
    Database* owner_;  // null for read leases and moved-from leases
    Kind kind_;
  };

  // The writer connection with writer priority.
  Lease Lock();
  // The writer connection for one sweep batch: yields to every waiting writer first. Returns
  // nullopt when `stop` became true while it yielded.
  std::optional<Lease> LockBatch(const std::atomic<bool>* stop = nullptr);
  // For statements that only read. Prefers an idle reader; waits for one otherwise.
  Lease LockRead();

  // A second writable connection for statements that must commit on their own while the writer
  // connection holds an open transaction (the shared sweep's deletion intent, ADR 0008). Set by
  // app/ on PostgreSQL only; LockSideWriter() is nullopt without one.
  void SetSideWriter(std::unique_ptr<SqlConnection> conn);
  bool has_side_writer() const { return side_ != nullptr; }
  std::optional<Lease> LockSideWriter();

 private:
  void Release(Lease::Kind kind);
  struct Reader {
    std::mutex mu;
    std::unique_ptr<SqlConnection> conn;
  };
  std::mutex mu_;
  std::unique_ptr<SqlConnection> conn_;
  std::vector<std::unique_ptr<Reader>> readers_;
  std::atomic<std::size_t> next_reader_{0};
  std::unique_ptr<WriteGate> gate_;
  std::unique_ptr<Reader> side_;
  std::atomic<int> writers_waiting_{0};
  std::mutex wait_mu_;
  std::condition_variable writer_done_;
};

}  // namespace retention
