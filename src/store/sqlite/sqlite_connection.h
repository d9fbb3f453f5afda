// SQLite adapter of the database port: WAL journal, foreign keys on, a busy timeout, and a cache
// of prepared statements (preparing dominates the cost of small queries). Not thread-safe.
#pragma once

#include <memory>
#include <string>

#include "core/status.h"
#include "store/sql.h"

namespace retention {

// Opens (creating if needed) the SQLite database at `path` (":memory:" for an in-memory one).
// With `read_only`, the connection refuses writes (PRAGMA query_only), for Database's readers.
// Returns kUnavailable naming the path when it cannot be opened.
Result<std::unique_ptr<SqlConnection>> OpenSqlite(const std::string& path, bool read_only = false);

}  // namespace retention
