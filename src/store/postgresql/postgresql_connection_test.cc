// What the PostgreSQL adapter does beyond the shared contract (sql_connection_contract_test.cc):
// the URL and its redaction, `?` numbering, the mapping of column types and SQLSTATEs, writers
// that wait for each other, and reconnecting after a lost connection. Against a throwaway
// PostgreSQL 15 (testing::PostgresqlServer); fails when that cannot start.
#include "store/postgresql/postgresql_connection.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "testing/postgresql_server.h"

namespace retention {
namespace {

TEST(PostgresqlPlaceholdersTest, NumbersOnlyPlaceholdersOutsideLiteralsAndComments) {
  struct Case {
    const char* sql;
    const char* want;
    int count;
  };
  const Case cases[] = {
      {"SELECT ?", "SELECT $1", 1},
      {"UPDATE t SET a = ?, b = ? WHERE c IN (?, ?)",
       "UPDATE t SET a = $1, b = $2 WHERE c IN ($3, $4)", 4},
      {"SELECT '?', 'it''s ?', ?", "SELECT '?', 'it''s ?', $1", 1},
      {"SELECT \"a?\" FROM t WHERE x = ?", "SELECT \"a?\" FROM t WHERE x = $1", 1},
      {"SELECT ? -- a ? here\n, ?", "SELECT $1 -- a ? here\n, $2", 2},
      {"SELECT /* ? */ ?", "SELECT /* ? */ $1", 1},
      {"SELECT 1", "SELECT 1", 0},
  };
  for (const Case& c : cases) {
    int count = -1;
    EXPECT_EQ(NumberPlaceholders(c.sql, count), c.want) << c.sql;
    EXPECT_EQ(count, c.count) << c.sql;
  }
}

TEST(PostgresqlUrlTest, RedactionDropsThePasswordOnly) {
  EXPECT_EQ(RedactPostgresqlUrl("postgresql://alice:s3cret@db.example:5433/retention"),
            "postgresql://alice@db.example:5433/retention");
  EXPECT_EQ(RedactPostgresqlUrl("postgres://bob@127.0.0.1:5432/r"),
            "postgres://bob@127.0.0.1:5432/r");
  EXPECT_EQ(RedactPostgresqlUrl("postgresql://bob@h:1/r?password=x&sslmode=disable"),
            "postgresql://bob@h:1/r?sslmode=disable");
  EXPECT_EQ(RedactPostgresqlUrl("mysql://alice:s3cret@h/r"), "mysql://alice@h/r");
}

TEST(PostgresqlUrlTest, AMalformedUrlIsInvalidArgumentWithoutThePassword) {
  auto bad = OpenPostgresql("postgresql://alice:s3cret@host:notaport/db");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument) << bad.status().ToString();
  EXPECT_EQ(bad.status().message().find("s3cret"), std::string::npos) << bad.status().ToString();
  EXPECT_NE(bad.status().message().find("notaport"), std::string::npos) << bad.status().ToString();
  auto other = OpenPostgresql("mysql://alice:s3cret@host:1/db");
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(other.status().message().find("s3cret"), std::string::npos);
}

class PostgresqlConnectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto url = testing::PostgresqlServer::Shared().NewDatabase();
    ASSERT_TRUE(url.ok()) << url.status().ToString();
    url_ = *url;
    a_ = OpenOk();
    b_ = OpenOk();
    ASSERT_TRUE(a_ && b_);
    ASSERT_TRUE(a_->ExecScript("CREATE TABLE t (id BIGINT PRIMARY KEY, v BIGINT NOT NULL); "
                               "INSERT INTO t VALUES (1, 0), (2, 0);")
                    .ok());
  }
  std::unique_ptr<SqlConnection> OpenOk() {
    auto conn = OpenPostgresql(url_);
    EXPECT_TRUE(conn.ok()) << conn.status().ToString();
    return conn.ok() ? std::move(conn).value() : nullptr;
  }
  std::int64_t BackendPid(SqlConnection& conn) {
    auto row = conn.QueryOne("SELECT pg_backend_pid()");
    EXPECT_TRUE(row.ok() && row->has_value());
    return row.ok() && row->has_value() ? (*row)->Int(0) : 0;
  }

  std::string url_;
  std::unique_ptr<SqlConnection> a_;
  std::unique_ptr<SqlConnection> b_;
};

TEST_F(PostgresqlConnectionTest, AnUnreachableServerIsUnavailableWithoutThePassword) {
  // Port 1 on loopback: nothing listens there.
  auto conn = OpenPostgresql("postgresql://postgres:s3cret@127.0.0.1:1/db");
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), StatusCode::kUnavailable) << conn.status().ToString();
  EXPECT_NE(conn.status().message().find("postgresql://postgres@127.0.0.1:1/db"), std::string::npos)
      << conn.status().ToString();
  EXPECT_EQ(conn.status().message().find("s3cret"), std::string::npos);
}

TEST_F(PostgresqlConnectionTest, ColumnTypesMapOntoTheSqlTypes) {
  auto row = a_->QueryOne(
      "SELECT 1::int2, 2::int4, 3::int8, true, 1.5::float4, 2.5::float8, 3.25::numeric, "
      "'x'::text, 'y'::varchar, NULL::bigint, ?, ?, ?",
      {std::int64_t{-9000000000}, 0.125, std::string("it's")});
  ASSERT_TRUE(row.ok()) << row.status().ToString();
  ASSERT_TRUE(row->has_value());
  const SqlRow& r = **row;
  const SqlType want[] = {SqlType::kInt,  SqlType::kInt,  SqlType::kInt,  SqlType::kInt,
                          SqlType::kReal, SqlType::kReal, SqlType::kReal, SqlType::kText,
                          SqlType::kText, SqlType::kNull, SqlType::kInt,  SqlType::kReal,
                          SqlType::kText};
  for (std::size_t i = 0; i < std::size(want); ++i) {
    EXPECT_EQ(r.TypeOf(i), want[i]) << "column " << i << ": " << SqlTypeName(r.TypeOf(i));
  }
  EXPECT_EQ(r.Int(2), 3);
  EXPECT_EQ(r.Int(3), 1);
  EXPECT_DOUBLE_EQ(r.Real(6), 3.25);
  EXPECT_EQ(r.Text(7), "x");
  EXPECT_EQ(r.Int(10), -9000000000);
  EXPECT_DOUBLE_EQ(r.Real(11), 0.125);
  EXPECT_EQ(r.Text(12), "it's");
}

TEST_F(PostgresqlConnectionTest, ASerializationFailureIsAborted) {
  // A read transaction's snapshot predates b's committed update of the row it then writes.
  ASSERT_TRUE(a_->Begin(TxMode::kRead).ok());
  ASSERT_TRUE(a_->Query("SELECT v FROM t WHERE id = 1").ok());
  ASSERT_TRUE(b_->Exec("UPDATE t SET v = 1 WHERE id = 1").ok());
  auto conflict = a_->Exec("UPDATE t SET v = 2 WHERE id = 1");
  ASSERT_FALSE(conflict.ok());
  EXPECT_EQ(conflict.status().code(), StatusCode::kAborted) << conflict.status().ToString();
  EXPECT_TRUE(a_->Rollback().ok());
}

TEST_F(PostgresqlConnectionTest, ADeadlockIsAborted) {
  // Plain transactions (not the port's write transactions, which cannot deadlock: they take one
  // lock first) that lock two rows in opposite orders.
  for (SqlConnection* c : {a_.get(), b_.get()}) {
    ASSERT_TRUE(c->ExecScript("SET deadlock_timeout = '20ms'; BEGIN").ok());
  }
  ASSERT_TRUE(a_->Exec("UPDATE t SET v = 1 WHERE id = 1").ok());
  ASSERT_TRUE(b_->Exec("UPDATE t SET v = 1 WHERE id = 2").ok());
  // The victim's statement fails but its transaction still holds its first row until it ends, so
  // each side ends its own: the victim rolls back, the other then goes on and commits.
  auto finish = [](SqlConnection& c, const Result<std::int64_t>& r) {
    static_cast<void>(c.ExecScript(r.ok() ? "COMMIT" : "ROLLBACK"));
  };
  Result<std::int64_t> from_a = 0;
  std::thread waiter([&] {
    from_a = a_->Exec("UPDATE t SET v = 2 WHERE id = 2");
    finish(*a_, from_a);
  });
  auto from_b = b_->Exec("UPDATE t SET v = 2 WHERE id = 1");
  finish(*b_, from_b);
  waiter.join();
  // One of the two is chosen as the victim; the other goes on.
  EXPECT_NE(from_a.ok(), from_b.ok());
  const Status victim = from_a.ok() ? from_b.status() : from_a.status();
  EXPECT_EQ(victim.code(), StatusCode::kAborted) << victim.ToString();
  EXPECT_NE(victim.message().find("deadlock"), std::string::npos) << victim.ToString();
}

TEST_F(PostgresqlConnectionTest, WriteTransactionsRunOneAtATime) {
  ASSERT_TRUE(a_->Begin(TxMode::kWrite).ok());
  ASSERT_TRUE(a_->Exec("UPDATE t SET v = v + 1 WHERE id = 1").ok());
  // b's write transaction waits for a's at its start, then reads what a committed.
  Status begun;
  std::atomic<std::int64_t> seen = -1;
  std::thread writer([&] {
    begun = b_->Begin(TxMode::kWrite);
    auto v = b_->QueryOne("SELECT v FROM t WHERE id = 1");
    if (v.ok() && v->has_value()) seen = (*v)->Int(0);
    static_cast<void>(b_->Commit());
  });
  auto admin = OpenOk();
  ASSERT_NE(admin, nullptr);
  for (int i = 0; i < 1000; ++i) {
    auto waiting = admin->QueryOne(
        "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted");
    ASSERT_TRUE(waiting.ok());
    if ((*waiting)->Int(0) == 1) break;
    std::this_thread::yield();
  }
  EXPECT_EQ(seen, -1);
  ASSERT_TRUE(a_->Commit().ok());
  writer.join();
  EXPECT_TRUE(begun.ok()) << begun.ToString();
  EXPECT_EQ(seen, 1);
}

TEST_F(PostgresqlConnectionTest, ALostConnectionIsReopenedOnTheNextCall) {
  auto admin = OpenOk();
  ASSERT_NE(admin, nullptr);
  // Outside a transaction: unavailable now, answered on the next call.
  ASSERT_TRUE(
      admin->Query("SELECT pg_terminate_backend(CAST(? AS INTEGER))", {BackendPid(*a_)}).ok());
  auto lost = a_->Query("SELECT v FROM t");
  ASSERT_FALSE(lost.ok());
  EXPECT_EQ(lost.status().code(), StatusCode::kUnavailable) << lost.status().ToString();
  auto again = a_->Query("SELECT v FROM t");
  EXPECT_TRUE(again.ok()) << again.status().ToString();
  // Inside a transaction: aborted (retry the transaction), and a new one works.
  ASSERT_TRUE(a_->Begin(TxMode::kWrite).ok());
  ASSERT_TRUE(
      admin->Query("SELECT pg_terminate_backend(CAST(? AS INTEGER))", {BackendPid(*a_)}).ok());
  auto in_tx = a_->Exec("UPDATE t SET v = 5 WHERE id = 1");
  ASSERT_FALSE(in_tx.ok());
  EXPECT_EQ(in_tx.status().code(), StatusCode::kAborted) << in_tx.status().ToString();
  EXPECT_TRUE(a_->Rollback().ok());
  auto tx = Transaction::Start(*a_, TxMode::kWrite);
  ASSERT_TRUE(tx.ok()) << tx.status().ToString();
  ASSERT_TRUE(a_->Exec("UPDATE t SET v = 5 WHERE id = 1").ok());
  ASSERT_TRUE(tx->Commit().ok());
  auto v = b_->QueryOne("SELECT v FROM t WHERE id = 1");
  ASSERT_TRUE(v.ok() && v->has_value());
  EXPECT_EQ((*v)->Int(0), 5);
}

TEST_F(PostgresqlConnectionTest, AReadOnlyConnectionRefusesWrites) {
  auto reader = OpenPostgresql(url_, /*read_only=*/true);
  ASSERT_TRUE(reader.ok());
  auto refused = (*reader)->Exec("UPDATE t SET v = 9");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition)
      << refused.status().ToString();
}

// Two gates stand for two processes on one database (ADR 0005's protocol on advisory locks).
TEST_F(PostgresqlConnectionTest, TheWriteGateLetsWritersGoFirstAcrossProcesses) {
  auto sweeper = OpenPostgresqlWriteGate(url_);
  auto writer = OpenPostgresqlWriteGate(url_);
  ASSERT_TRUE(sweeper.ok() && writer.ok());
  // An announced writer keeps a batch from starting.
  (*writer)->BeginWrite();
  EXPECT_FALSE((*sweeper)->TryBeginBatch());
  (*writer)->EndWrite();
  ASSERT_TRUE((*sweeper)->TryBeginBatch());
  // A writer that arrives during a batch waits for that batch.
  std::atomic<bool> wrote = false;
  std::thread late([&] {
    (*writer)->BeginWrite();
    wrote = true;
    (*writer)->EndWrite();
  });
  for (int i = 0; i < 2000; ++i) {
    auto waiting =
        a_->QueryOne("SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted");
    ASSERT_TRUE(waiting.ok());
    if ((*waiting)->Int(0) == 1) break;
    std::this_thread::yield();
  }
  EXPECT_FALSE(wrote);
  (*sweeper)->EndBatch();
  late.join();
  EXPECT_TRUE(wrote);
}

}  // namespace
}  // namespace retention
