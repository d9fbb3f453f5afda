#include "store/sql.h"

#include <algorithm>
#include <chrono>
#include <thread>

namespace retention {

bool SqlRow::IsNull(std::size_t i) const {
  return i >= values_.size() || std::holds_alternative<std::monostate>(values_[i]);
}

const char* SqlTypeName(SqlType type) {
  switch (type) {
    case SqlType::kNull:
      return "null";
    case SqlType::kInt:
      return "integer";
    case SqlType::kReal:
      return "real";
    case SqlType::kText:
      return "text";
  }
  return "unknown";
}

SqlType SqlRow::TypeOf(std::size_t i) const {
  if (i >= values_.size()) return SqlType::kNull;
  switch (values_[i].index()) {
    case 1:
      return SqlType::kInt;
    case 2:
      return SqlType::kReal;
    case 3:
      return SqlType::kText;
    default:
      return SqlType::kNull;
  }
}

std::int64_t SqlRow::Int(std::size_t i) const {
  if (i >= values_.size()) return 0;
  if (const auto* v = std::get_if<std::int64_t>(&values_[i])) return *v;
  if (const auto* d = std::get_if<double>(&values_[i])) return static_cast<std::int64_t>(*d);
  if (const auto* s = std::get_if<std::string>(&values_[i])) {
    try {
      return std::stoll(*s);
    } catch (...) {
      return 0;
    }
  }
  return 0;
}

double SqlRow::Real(std::size_t i) const {
  if (i >= values_.size()) return 0;
  if (const auto* d = std::get_if<double>(&values_[i])) return *d;
  if (const auto* v = std::get_if<std::int64_t>(&values_[i])) return static_cast<double>(*v);
  return 0;
}

std::string SqlRow::Text(std::size_t i) const {
  if (i >= values_.size()) return {};
  if (const auto* s = std::get_if<std::string>(&values_[i])) return *s;
  if (const auto* v = std::get_if<std::int64_t>(&values_[i])) return std::to_string(*v);
  if (const auto* d = std::get_if<double>(&values_[i])) return std::to_string(*d);
  return {};
}

std::optional<std::int64_t> SqlRow::OptInt(std::size_t i) const {
  if (IsNull(i)) return std::nullopt;
  return Int(i);
}

std::optional<std::string> SqlRow::OptText(std::size_t i) const {
  if (IsNull(i)) return std::nullopt;
  return Text(i);
}

Status SqlConnection::ForEachRowImpl(std::string_view sql, const SqlParams& params,
                                     const std::function<bool(const SqlRow&)>& row) {
  ASSIGN_OR_RETURN(auto rows, QueryImpl(sql, params));
  for (const SqlRow& r : rows) {
    if (!row(r)) break;
  }
  return Status::Ok();
}

Result<std::optional<SqlRow>> SqlConnection::QueryOne(std::string_view sql,
                                                      const SqlParams& params) {
  ASSIGN_OR_RETURN(auto rows, Query(sql, params));
  if (rows.empty()) return std::optional<SqlRow>();
  return std::optional<SqlRow>(std::move(rows.front()));
}

namespace {

// `head` IN (?, ..., ?) with kIdChunk placeholders.
std::string ChunkStatement(std::string_view head) {
  std::string sql(head);
  sql += " IN (?";
  for (std::size_t i = 1; i < kIdChunk; ++i) sql += ", ?";
  sql += ')';
  return sql;
}

// Calls `run(params)` per chunk of `ids` after `leading`, the last chunk padded with its last id.
template <typename Run>
Status ForIdChunks(const SqlParams& leading, const std::vector<std::int64_t>& ids, const Run& run) {
  SqlParams params = leading;
  for (std::size_t start = 0; start < ids.size(); start += kIdChunk) {
    params.resize(leading.size());
    const std::size_t end = std::min(ids.size(), start + kIdChunk);
    for (std::size_t i = start; i < start + kIdChunk; ++i)
      params.emplace_back(ids[std::min(i, end - 1)]);
    RETURN_IF_ERROR(run(params));
  }
  return Status::Ok();
}

}  // namespace

Result<std::int64_t> ExecForIds(SqlConnection& conn, std::string_view head,
                                const SqlParams& leading, const std::vector<std::int64_t>& ids) {
  const std::string sql = ChunkStatement(head);
  std::int64_t changed = 0;
  RETURN_IF_ERROR(ForIdChunks(leading, ids, [&](const SqlParams& params) -> Status {
    ASSIGN_OR_RETURN(const std::int64_t n, conn.Exec(sql, params));
    changed += n;
    return Status::Ok();
  }));
  return changed;
}

Result<std::vector<SqlRow>> QueryForIds(SqlConnection& conn, std::string_view head,
                                        const SqlParams& leading,
                                        const std::vector<std::int64_t>& ids,
                                        std::string_view tail) {
  const std::string sql = ChunkStatement(head) + std::string(tail);
  std::vector<SqlRow> rows;
  RETURN_IF_ERROR(ForIdChunks(leading, ids, [&](const SqlParams& params) -> Status {
    ASSIGN_OR_RETURN(auto chunk, conn.Query(sql, params));
    for (auto& r : chunk) rows.push_back(std::move(r));
    return Status::Ok();
  }));
  return rows;
}

Transaction::~Transaction() {
  if (conn_ != nullptr) (void)conn_->Rollback();
}

Result<Transaction> Transaction::Start(SqlConnection& conn, TxMode mode) {
  RETURN_IF_ERROR(conn.Begin(mode));
  return Transaction(conn);
}

Status Transaction::Commit() {
  if (conn_ == nullptr) return Internal("transaction already finished");
  Status s = conn_->Commit();
  if (s.ok()) conn_ = nullptr;
  return s;
}

Database::Database(std::unique_ptr<SqlConnection> writer,
                   std::vector<std::unique_ptr<SqlConnection>> readers,
                   std::unique_ptr<WriteGate> gate)
    : conn_(std::move(writer)), gate_(std::move(gate)) {
  for (auto& r : readers) {
    auto reader = std::make_unique<Reader>();
    reader->conn = std::move(r);
    readers_.push_back(std::move(reader));
  }
}

Database::~Database() = default;

Database::Lease::Lease(Lease&& other) noexcept
    : lock_(std::move(other.lock_)), conn_(other.conn_), owner_(other.owner_), kind_(other.kind_) {
  other.owner_ = nullptr;
}

Database::Lease::~Lease() {
  if (owner_ != nullptr) owner_->Release(kind_);
  // lock_ unlocks the mutex after the gate has been released.
}

void Database::Release(Lease::Kind kind) {
  if (kind == Lease::Kind::kWrite) {
    if (gate_) gate_->EndWrite();
    std::lock_guard<std::mutex> l(wait_mu_);
    writer_done_.notify_all();
  } else if (kind == Lease::Kind::kBatch) {
    if (gate_) gate_->EndBatch();
  }
}

Database::Lease Database::Lock() {
  writers_waiting_.fetch_add(1);
  std::unique_lock<std::mutex> lock(mu_);
  writers_waiting_.fetch_sub(1);
  if (gate_) gate_->BeginWrite();
  return {std::move(lock), *conn_, this, Lease::Kind::kWrite};
}

std::optional<Database::Lease> Database::LockBatch(const std::atomic<bool>* stop) {
  auto stopped = [stop] { return stop != nullptr && stop->load(); };
  for (;;) {
    {
      std::unique_lock<std::mutex> w(wait_mu_);
      // A bounded wait: a writer that gave up its wait without a notification cannot stall us.
      writer_done_.wait_for(w, std::chrono::milliseconds(5),
                            [&] { return writers_waiting_.load() == 0 || stopped(); });
    }
    if (stopped()) return std::nullopt;
    if (writers_waiting_.load() != 0) continue;
    std::unique_lock<std::mutex> lock(mu_);
    if (writers_waiting_.load() != 0) continue;  // one arrived meanwhile: it goes first
    if (gate_ && !gate_->TryBeginBatch()) {
      lock.unlock();
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      continue;
    }
    return Lease(std::move(lock), *conn_, this, Lease::Kind::kBatch);
  }
}

Database::Lease Database::LockRead() {
  if (readers_.empty()) return Lock();
  const std::size_t start = next_reader_.fetch_add(1, std::memory_order_relaxed);
  for (std::size_t i = 0; i < readers_.size(); ++i) {
    Reader& r = *readers_[(start + i) % readers_.size()];
    std::unique_lock<std::mutex> lock(r.mu, std::try_to_lock);
    if (lock.owns_lock()) return {std::move(lock), *r.conn};
  }
  Reader& r = *readers_[start % readers_.size()];
  return {std::unique_lock<std::mutex>(r.mu), *r.conn};
}

void Database::SetSideWriter(std::unique_ptr<SqlConnection> conn) {
  side_ = std::make_unique<Reader>();
  side_->conn = std::move(conn);
}

std::optional<Database::Lease> Database::LockSideWriter() {
  if (!side_) return std::nullopt;
  return Lease(std::unique_lock<std::mutex>(side_->mu), *side_->conn);
}

std::string IndexedBy(const SqlConnection& conn, std::string_view index) {
  return conn.Dialect() == "sqlite" ? " INDEXED BY " + std::string(index) : std::string();
}

std::string_view UpdateOrFail(const SqlConnection& conn) {
  return conn.Dialect() == "sqlite" ? "UPDATE OR FAIL" : "UPDATE";
}

std::string_view CrossJoin(const SqlConnection& conn) {
  return conn.Dialect() == "sqlite" ? "CROSS JOIN" : "JOIN";
}

std::string_view ScalarMax(const SqlConnection& conn) {
  return conn.Dialect() == "sqlite" ? "MAX" : "GREATEST";
}

}  // namespace retention
