#include <gtest/gtest.h>

#include <cstdio>

#include "store/migrations.h"
#include "store/sqlite/sqlite_connection.h"

namespace retention {
namespace {

std::unique_ptr<SqlConnection> Fresh() {
  auto conn = OpenSqlite(":memory:");
  EXPECT_TRUE(conn.ok());
  auto applied = Migrate(**conn);
  EXPECT_TRUE(applied.ok()) << applied.status().ToString();
  return std::move(conn).value();
}

TEST(StoreTest, MigrateIsIdempotent) {
  auto conn = Fresh();
  auto again = Migrate(*conn);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, 0);
}

TEST(StoreTest, TypedRoundTripAndNulls) {
  auto conn = Fresh();
  ASSERT_TRUE(conn->Exec("INSERT INTO users (id, username, email, is_admin, created_at) "
                         "VALUES (?, ?, ?, ?, ?)",
                         {std::int64_t{5}, std::string("alice"), std::string("a@x"),
                          std::int64_t{1}, std::int64_t{1700000000}})
                  .ok());
  auto row = conn->QueryOne("SELECT id, username, is_admin, NULL FROM users WHERE id = ?",
                            {std::int64_t{5}});
  ASSERT_TRUE(row.ok());
  ASSERT_TRUE(row->has_value());
  EXPECT_EQ((*row)->Int(0), 5);
  EXPECT_EQ((*row)->Text(1), "alice");
  EXPECT_TRUE((*row)->Bool(2));
  EXPECT_FALSE((*row)->OptInt(3).has_value());
}

TEST(StoreTest, UniqueViolationIsAlreadyExists) {
  auto conn = Fresh();
  const char* sql = "INSERT INTO users (username, email, created_at) VALUES ('bob', 'b@x', 0)";
  ASSERT_TRUE(conn->Exec(sql).ok());
  auto dup = conn->Exec(sql);
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.status().code(), StatusCode::kAlreadyExists);
}

TEST(StoreTest, TransactionRollsBackUnlessCommitted) {
  auto conn = Fresh();
  {
    auto tx = Transaction::Start(*conn, TxMode::kWrite);
    ASSERT_TRUE(tx.ok());
    ASSERT_TRUE(conn->Exec("INSERT INTO host_teams (id, name) VALUES (1, 'a')").ok());
  }
  auto count = conn->QueryOne("SELECT COUNT(*) FROM host_teams");
  ASSERT_TRUE(count.ok());
  EXPECT_EQ((*count)->Int(0), 0);
}

TEST(StoreTest, ForeignKeysAreEnforced) {
  auto conn = Fresh();
  auto bad = conn->Exec("INSERT INTO phases (id, challenge_id, name) VALUES (1, 99, 'x')");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kFailedPrecondition);
}

TEST(StoreTest, DeferredForeignKeysAreCheckedAtCommit) {
  auto conn = Fresh();
  {
    // A child before its parent commits once the parent is there.
    auto tx = Transaction::Start(*conn, TxMode::kWrite);
    ASSERT_TRUE(tx.ok());
    ASSERT_TRUE(conn->DeferForeignKeys().ok());
    ASSERT_TRUE(conn->Exec("INSERT INTO phases (id, challenge_id, name) VALUES (1, 1, 'x')").ok());
    ASSERT_TRUE(conn->Exec("INSERT INTO host_teams (id, name) VALUES (1, 't')").ok());
    ASSERT_TRUE(conn->Exec("INSERT INTO challenges (id, title, host_team_id, created_at) "
                           "VALUES (1, 'c', 1, 0)")
                    .ok());
    ASSERT_TRUE(tx->Commit().ok());
  }
  {
    // A child whose parent never comes fails the commit, and nothing of it stays.
    auto tx = Transaction::Start(*conn, TxMode::kWrite);
    ASSERT_TRUE(tx.ok());
    ASSERT_TRUE(conn->DeferForeignKeys().ok());
    ASSERT_TRUE(conn->Exec("INSERT INTO phases (id, challenge_id, name) VALUES (2, 99, 'y')").ok());
    auto commit = tx->Commit();
    ASSERT_FALSE(commit.ok());
    EXPECT_EQ(commit.code(), StatusCode::kFailedPrecondition);
  }
  auto count = conn->QueryOne("SELECT COUNT(*) FROM phases");
  ASSERT_TRUE(count.ok());
  EXPECT_EQ((*count)->Int(0), 1);
  // The next transaction checks at each statement again.
  auto bad = conn->Exec("INSERT INTO phases (id, challenge_id, name) VALUES (3, 99, 'z')");
  EXPECT_FALSE(bad.ok());
}

TEST(StoreTest, ReadersSeeCommittedWritesRefuseWritesAndDoNotWaitForTheWriter) {
  const std::string path = ::testing::TempDir() + "/store_test_readers.db";
  std::remove(path.c_str());
  auto writer = OpenSqlite(path);
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE(Migrate(**writer).ok());
  std::vector<std::unique_ptr<SqlConnection>> readers;
  for (int i = 0; i < 2; ++i) {
    auto r = OpenSqlite(path, /*read_only=*/true);
    ASSERT_TRUE(r.ok());
    readers.push_back(std::move(r).value());
  }
  Database db(std::move(writer).value(), std::move(readers));
  {
    auto w = db.Lock();
    ASSERT_TRUE(w->Exec("INSERT INTO host_teams (id, name) VALUES (1, 'a')").ok());
  }
  // The writer is busy inside a transaction: a reader still answers, with committed data only.
  auto w = db.Lock();
  ASSERT_TRUE(w->Begin(TxMode::kWrite).ok());
  ASSERT_TRUE(w->Exec("INSERT INTO host_teams (id, name) VALUES (2, 'b')").ok());
  {
    auto r = db.LockRead();
    auto count = r->QueryOne("SELECT COUNT(*) FROM host_teams");
    ASSERT_TRUE(count.ok());
    EXPECT_EQ((*count)->Int(0), 1);
    EXPECT_FALSE(r->Exec("INSERT INTO host_teams (id, name) VALUES (3, 'c')").ok());
  }
  ASSERT_TRUE(w->Commit().ok());
  auto r = db.LockRead();
  auto count = r->QueryOne("SELECT COUNT(*) FROM host_teams");
  ASSERT_TRUE(count.ok());
  EXPECT_EQ((*count)->Int(0), 2);
}

// Dropping a large index inside a transaction (a migration does: 5 and 7 rebuild indexes of the
// submissions) needs a statement journal of several hundred KiB. SQLite 3.40.1 (Debian 12) failed
// such a statement with SQLITE_FULL, "database or disk is full", when statement journals were set
// to spill to a file above 256 KiB or more (SQLITE_CONFIG_STMTJRNL_SPILL): an upgrade of a
// 300,000-submission database stopped at migration 5. The adapter keeps SQLite's default.
TEST(StoreTest, DroppingALargeIndexInsideATransactionSucceeds) {
  const std::string path = ::testing::TempDir() + "/store_test_drop_index.db";
  for (const char* suffix : {"", "-wal", "-shm"}) std::remove((path + suffix).c_str());
  auto conn = OpenSqlite(path);
  ASSERT_TRUE(conn.ok()) << conn.status().ToString();
  SqlConnection& c = **conn;
  ASSERT_TRUE(c.ExecScript("CREATE TABLE t (id INTEGER PRIMARY KEY, a INTEGER, b TEXT); "
                           "CREATE INDEX t_ab ON t(a, b);")
                  .ok());
  ASSERT_TRUE(c.ExecScript("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                           "WHERE i < 120000) INSERT INTO t SELECT i, i % 97, printf('%040d', i) "
                           "FROM n;")
                  .ok());
  auto pages = c.QueryOne("SELECT COUNT(*) FROM dbstat WHERE name = 't_ab'");
  ASSERT_TRUE(pages.ok() && *pages) << "dbstat";
  ASSERT_GT((*pages)->Int(0), 256) << "the index must outgrow 1 MiB for the journal to spill";
  {
    auto tx = Transaction::Start(c, TxMode::kWrite);
    ASSERT_TRUE(tx.ok());
    ASSERT_TRUE(c.ExecScript("CREATE TABLE u (id INTEGER PRIMARY KEY);").ok());
    const Status dropped = c.ExecScript("DROP INDEX t_ab;");
    EXPECT_TRUE(dropped.ok()) << dropped.ToString();
    EXPECT_TRUE(tx->Commit().ok());
  }
  auto left = c.QueryOne("SELECT COUNT(*) FROM sqlite_schema WHERE name = 't_ab'");
  ASSERT_TRUE(left.ok() && *left);
  EXPECT_EQ((*left)->Int(0), 0);
}

}  // namespace
}  // namespace retention
