#include "store/sql.h"

namespace retention {

bool SqlRow::IsNull(std::size_t i) const {
  return i >= values_.size() || std::holds_alternative<std::monostate>(values_[i]);
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

Result<std::optional<SqlRow>> SqlConnection::QueryOne(std::string_view sql,
                                                      const SqlParams& params) {
  ASSIGN_OR_RETURN(auto rows, Query(sql, params));
  if (rows.empty()) return std::optional<SqlRow>();
  return std::optional<SqlRow>(std::move(rows.front()));
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
                   std::vector<std::unique_ptr<SqlConnection>> readers)
    : conn_(std::move(writer)) {
  for (auto& r : readers) {
    auto reader = std::make_unique<Reader>();
    reader->conn = std::move(r);
    readers_.push_back(std::move(reader));
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

}  // namespace retention
