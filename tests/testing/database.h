// A migrated SQLite database for unit tests: in memory by default, or a file. Part of
// retention::testing, used only by *_test.cc files.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>

#include "store/migrations.h"
#include "store/sql.h"
#include "store/sqlite/sqlite_connection.h"

namespace retention::testing {

// Opens `path` (":memory:" for a private in-memory database), applies every migration and wraps
// the connection in a Database; nullptr (with a test failure recorded) when either step fails.
inline std::unique_ptr<Database> MigratedDatabase(const std::string& path = ":memory:") {
  auto conn = OpenSqlite(path);
  EXPECT_TRUE(conn.ok()) << conn.status().ToString();
  if (!conn.ok()) return nullptr;
  auto migrated = Migrate(**conn);
  EXPECT_TRUE(migrated.ok()) << migrated.status().ToString();
  if (!migrated.ok()) return nullptr;
  return std::make_unique<Database>(std::move(conn).value());
}

}  // namespace retention::testing
