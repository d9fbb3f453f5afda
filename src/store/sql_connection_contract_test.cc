// The SqlConnection contract (store/sql.h, store/migrations.h) as tests, run against every adapter
// in kSqlBackends: error codes by what the caller does next, typed values and NULLs, transactions
// (rollback unless committed, deferred foreign keys), isolation between a writer and read-only
// connections, and migrations. A new adapter (PostgreSQL) plugs in with one entry in kSqlBackends.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "store/migrations.h"
#include "store/sql.h"
#include "store/sqlite/sqlite_connection.h"
#include "testing/contract.h"
#include "testing/postgresql_server.h"
#include "testing/test_support.h"

namespace retention {
namespace {

// One adapter under test. `open` opens a connection to the database that belongs to `scratch` (a
// fresh folder per test: every call with the same folder reaches the same database, empty at
// first); with `read_only` the connection must refuse writes, as Database's readers do.
struct SqlBackend {
  const char* name;
  std::function<Result<std::unique_ptr<SqlConnection>>(const std::filesystem::path& scratch,
                                                       bool read_only)>
      open;
};

const SqlBackend kSqlBackends[] = {
    {"sqlite",
     [](const std::filesystem::path& scratch, bool read_only) {
       return OpenSqlite((scratch / "contract.db").string(), read_only);
     }},
    {"postgresql", testing::OpenTestPostgresql},
};

class SqlConnectionContract : public ::testing::TestWithParam<SqlBackend> {
 protected:
  // A connection to this test's database; migrated unless `migrate` is false.
  std::unique_ptr<SqlConnection> Open(bool read_only = false, bool migrate = true) {
    auto conn = GetParam().open(dir_.path(), read_only);
    EXPECT_TRUE(conn.ok()) << conn.status().ToString();
    if (!conn.ok()) return nullptr;
    if (migrate && !read_only) {
      auto applied = Migrate(**conn);
      EXPECT_TRUE(applied.ok()) << applied.status().ToString();
    }
    return std::move(conn).value();
  }
  static std::int64_t Count(SqlConnection& conn, const std::string& table) {
    auto row = conn.QueryOne("SELECT COUNT(*) FROM " + table);
    EXPECT_TRUE(row.ok()) << row.status().ToString();
    return row.ok() && row->has_value() ? (*row)->Int(0) : -1;
  }

  testing::TempDir dir_;
};

TEST_P(SqlConnectionContract, MigrateAppliesEveryVersionOnceAndIsIdempotent) {
  auto conn = Open(/*read_only=*/false, /*migrate=*/false);
  ASSERT_NE(conn, nullptr);
  auto first = Migrate(*conn);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(*first, LatestSchemaVersion());
  auto again = Migrate(*conn);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, 0);
  EXPECT_EQ(Count(*conn, "schema_migrations"), LatestSchemaVersion());
}

TEST_P(SqlConnectionContract, MigrateRefusesADatabaseNewerThanTheBinary) {
  auto conn = Open();
  ASSERT_NE(conn, nullptr);
  ASSERT_TRUE(conn->Exec("INSERT INTO schema_migrations (version, applied_at) VALUES (?, 0)",
                         {std::int64_t{LatestSchemaVersion() + 1}})
                  .ok());
  auto refused = Migrate(*conn);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("newer than this binary"), std::string::npos)
      << refused.status().ToString();
}

TEST_P(SqlConnectionContract, TypedRoundTripAndNulls) {
  auto conn = Open();
  ASSERT_NE(conn, nullptr);
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
  EXPECT_TRUE((*row)->IsNull(3));
  EXPECT_EQ((*row)->TypeOf(0), SqlType::kInt);
  EXPECT_EQ((*row)->TypeOf(1), SqlType::kText);
  EXPECT_EQ((*row)->TypeOf(3), SqlType::kNull);
}

TEST_P(SqlConnectionContract, ExecReturnsTheRowsChangedAndQueryOneNulloptWhenNone) {
  auto conn = Open();
  ASSERT_NE(conn, nullptr);
  ASSERT_TRUE(
      conn->Exec("INSERT INTO host_teams (id, name) VALUES (1, 'a'), (2, 'b'), (3, 'c')").ok());
  auto changed = conn->Exec("UPDATE host_teams SET name = 'z' WHERE id >= ?", {std::int64_t{2}});
  ASSERT_TRUE(changed.ok()) << changed.status().ToString();
  EXPECT_EQ(*changed, 2);
  auto none = conn->QueryOne("SELECT id FROM host_teams WHERE id = 99");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

TEST_P(SqlConnectionContract, ForEachRowHandsOutEveryRowInOrderAndStopsWhenAsked) {
  auto conn = Open();
  ASSERT_NE(conn, nullptr);
  ASSERT_TRUE(
      conn->Exec("INSERT INTO host_teams (id, name) VALUES (1, 'a'), (2, 'b'), (3, 'c')").ok());
  std::vector<std::string> seen;
  const char* sql = "SELECT id, name FROM host_teams WHERE id >= ? ORDER BY id";
  ASSERT_TRUE(conn->ForEachRow(sql, {std::int64_t{1}},
                               [&seen](const SqlRow& r) {
                                 seen.push_back(std::to_string(r.Int(0)) + ":" +
                                                (r.IsNull(1) ? "null" : r.Text(1)));
                                 return true;
                               })
                  .ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"1:a", "2:b", "3:c"}));
  // Stopping early, then the same statement again: it starts over.
  seen.clear();
  ASSERT_TRUE(conn->ForEachRow(sql, {std::int64_t{1}},
                               [&seen](const SqlRow& r) {
                                 seen.push_back(std::to_string(r.Int(0)));
                                 return seen.size() < 2;
                               })
                  .ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"1", "2"}));
  auto again = conn->Query(sql, {std::int64_t{2}});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->size(), 2U);
  auto bad =
      conn->ForEachRow("SELECT x FROM no_such_table", {}, [](const SqlRow&) { return true; });
  EXPECT_EQ(bad.code(), StatusCode::kInternal) << bad.ToString();
}

TEST_P(SqlConnectionContract, UniqueViolationIsAlreadyExists) {
  auto conn = Open();
  ASSERT_NE(conn, nullptr);
  const char* sql = "INSERT INTO users (username, email, created_at) VALUES ('bob', 'b@x', 0)";
  ASSERT_TRUE(conn->Exec(sql).ok());
  auto dup = conn->Exec(sql);
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.status().code(), StatusCode::kAlreadyExists);
}

TEST_P(SqlConnectionContract, ForeignKeyViolationIsFailedPrecondition) {
  auto conn = Open();
  ASSERT_NE(conn, nullptr);
  auto bad = conn->Exec("INSERT INTO phases (id, challenge_id, name) VALUES (1, 99, 'x')");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kFailedPrecondition);
}

TEST_P(SqlConnectionContract, MalformedStatementIsInternal) {
  auto conn = Open();
  ASSERT_NE(conn, nullptr);
  auto bad = conn->Exec("UPDATE no_such_table SET x = 1");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInternal) << bad.status().ToString();
}

TEST_P(SqlConnectionContract, TransactionRollsBackUnlessCommitted) {
  auto conn = Open();
  ASSERT_NE(conn, nullptr);
  {
    auto tx = Transaction::Start(*conn, TxMode::kWrite);
    ASSERT_TRUE(tx.ok());
    ASSERT_TRUE(conn->Exec("INSERT INTO host_teams (id, name) VALUES (1, 'a')").ok());
  }
  EXPECT_EQ(Count(*conn, "host_teams"), 0);
  {
    auto tx = Transaction::Start(*conn, TxMode::kWrite);
    ASSERT_TRUE(tx.ok());
    ASSERT_TRUE(conn->Exec("INSERT INTO host_teams (id, name) VALUES (2, 'b')").ok());
    ASSERT_TRUE(tx->Commit().ok());
  }
  EXPECT_EQ(Count(*conn, "host_teams"), 1);
  // Committed data reaches another connection to the same database.
  auto other = Open(/*read_only=*/true);
  ASSERT_NE(other, nullptr);
  EXPECT_EQ(Count(*other, "host_teams"), 1);
}

// As in SQLite, a statement that fails inside a transaction undoes itself only: the transaction
// goes on and commits what the other statements did (the sweep's outcome statements rely on it,
// ADR 0005 point 3).
TEST_P(SqlConnectionContract, AFailedStatementInsideATransactionUndoesOnlyItself) {
  auto conn = Open();
  ASSERT_NE(conn, nullptr);
  {
    auto tx = Transaction::Start(*conn, TxMode::kWrite);
    ASSERT_TRUE(tx.ok());
    ASSERT_TRUE(conn->Exec("INSERT INTO host_teams (id, name) VALUES (1, 'a')").ok());
    auto dup = conn->Exec("INSERT INTO host_teams (id, name) VALUES (1, 'again')");
    EXPECT_EQ(dup.status().code(), StatusCode::kAlreadyExists) << dup.status().ToString();
    EXPECT_FALSE(conn->Exec("UPDATE no_such_table SET x = 1").ok());
    ASSERT_TRUE(conn->Exec("INSERT INTO host_teams (id, name) VALUES (2, 'b')").ok());
    const Status committed = tx->Commit();
    ASSERT_TRUE(committed.ok()) << committed.ToString();
  }
  auto names = conn->Query("SELECT name FROM host_teams ORDER BY id");
  ASSERT_TRUE(names.ok());
  ASSERT_EQ(names->size(), 2u);
  EXPECT_EQ((*names)[0].Text(0), "a");
  EXPECT_EQ((*names)[1].Text(0), "b");
}

// Ids that an insert names (an import's) do not collide with the ids that later inserts without
// one are given: they take MAX(id) + 1, as SQLite's INTEGER PRIMARY KEY does.
TEST_P(SqlConnectionContract, AnInsertWithoutAnIdTakesOneAfterTheLargest) {
  auto conn = Open();
  ASSERT_NE(conn, nullptr);
  ASSERT_TRUE(conn->Exec("INSERT INTO host_teams (id, name) VALUES (1, 'a'), (7, 'b')").ok());
  auto id = conn->QueryOne("INSERT INTO host_teams (name) VALUES ('c') RETURNING id");
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  ASSERT_TRUE(id->has_value());
  EXPECT_EQ((*id)->Int(0), 8);
}

TEST_P(SqlConnectionContract, DeferredForeignKeysAreCheckedAtCommit) {
  auto conn = Open();
  ASSERT_NE(conn, nullptr);
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
  EXPECT_EQ(Count(*conn, "phases"), 1);
  // The next transaction checks at each statement again.
  auto bad = conn->Exec("INSERT INTO phases (id, challenge_id, name) VALUES (3, 99, 'z')");
  EXPECT_FALSE(bad.ok());
}

TEST_P(SqlConnectionContract, ReadersSeeCommittedWritesRefuseWritesAndDoNotWaitForTheWriter) {
  auto writer = Open();
  ASSERT_NE(writer, nullptr);
  std::vector<std::unique_ptr<SqlConnection>> readers;
  for (int i = 0; i < 2; ++i) {
    auto r = Open(/*read_only=*/true);
    ASSERT_NE(r, nullptr);
    readers.push_back(std::move(r));
  }
  Database db(std::move(writer), std::move(readers));
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
    EXPECT_EQ(Count(*r, "host_teams"), 1);
    EXPECT_FALSE(r->Exec("INSERT INTO host_teams (id, name) VALUES (3, 'c')").ok());
  }
  ASSERT_TRUE(w->Commit().ok());
  auto r = db.LockRead();
  EXPECT_EQ(Count(*r, "host_teams"), 2);
}

TEST_P(SqlConnectionContract, ExecForIdsAndQueryForIdsCoverEveryChunk) {
  auto conn = Open();
  ASSERT_NE(conn, nullptr);
  std::vector<std::int64_t> ids;
  for (std::int64_t id = 1; id <= static_cast<std::int64_t>(2 * kIdChunk + 7); ++id) {
    ASSERT_TRUE(conn->Exec("INSERT INTO host_teams (id, name) VALUES (?, 'a')", {id}).ok());
    if (id % 2 == 1) ids.push_back(id);
  }
  auto rows = QueryForIds(*conn, "SELECT id FROM host_teams WHERE id", {}, ids);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  EXPECT_EQ(rows->size(), ids.size());
  auto changed =
      ExecForIds(*conn, "UPDATE host_teams SET name = ? WHERE id", {std::string("odd")}, ids);
  ASSERT_TRUE(changed.ok()) << changed.status().ToString();
  EXPECT_EQ(*changed, static_cast<std::int64_t>(ids.size()));
  auto odd = conn->QueryOne("SELECT COUNT(*) FROM host_teams WHERE name = 'odd'");
  ASSERT_TRUE(odd.ok());
  EXPECT_EQ((*odd)->Int(0), static_cast<std::int64_t>(ids.size()));
}

TEST_P(SqlConnectionContract, DialectIsOneTheSqlKnows) {
  auto conn = Open();
  ASSERT_NE(conn, nullptr);
  EXPECT_TRUE(conn->Dialect() == "sqlite" || conn->Dialect() == "postgresql") << conn->Dialect();
}

// Dropping a large index inside a transaction (a migration does: 5 and 7 rebuild indexes of the
// submissions) needs a statement journal of several hundred KiB. SQLite 3.40.1 (Debian 12) failed
// such a statement with SQLITE_FULL, "database or disk is full", when statement journals were set
// to spill to a file above 256 KiB or more (SQLITE_CONFIG_STMTJRNL_SPILL): an upgrade of a
// 300,000-submission database stopped at migration 5. The SQLite adapter keeps SQLite's default.
TEST_P(SqlConnectionContract, DroppingALargeIndexInsideATransactionSucceeds) {
  auto conn = Open(/*read_only=*/false, /*migrate=*/false);
  SqlConnection& c = *conn;
  ASSERT_TRUE(c.ExecScript("CREATE TABLE t (id INTEGER PRIMARY KEY, a INTEGER, b TEXT); "
                           "CREATE INDEX t_ab ON t(a, b);")
                  .ok());
  ASSERT_TRUE(c.ExecScript("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                           "WHERE i < 120000) INSERT INTO t SELECT i, i % 97, "
                           "'submission_files/submission_' || i || '/stdout.txt' FROM n;")
                  .ok());
  {
    auto tx = Transaction::Start(c, TxMode::kWrite);
    ASSERT_TRUE(tx.ok());
    ASSERT_TRUE(c.ExecScript("CREATE TABLE u (id INTEGER PRIMARY KEY);").ok());
    const Status dropped = c.ExecScript("DROP INDEX t_ab;");
    EXPECT_TRUE(dropped.ok()) << dropped.ToString();
    EXPECT_TRUE(tx->Commit().ok());
  }
  // The index is gone: creating it again succeeds.
  EXPECT_TRUE(c.ExecScript("CREATE INDEX t_ab ON t(a, b);").ok());
}

INSTANTIATE_TEST_SUITE_P(Adapters, SqlConnectionContract, ::testing::ValuesIn(kSqlBackends),
                         testing::AdapterName());

}  // namespace
}  // namespace retention
