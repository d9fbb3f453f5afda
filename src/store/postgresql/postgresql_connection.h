// PostgreSQL adapter of the database port (store/sql.h) on libpq. `?` placeholders become `$n`,
// statements are prepared once per connection and SQL text, values travel as text with their
// types (an integer is int8: a function that takes int4 needs a CAST), and SQLSTATEs map onto the
// port's codes in one function (FromSqlstate). A write transaction takes one advisory lock, so
// writers run one at a time as with SQLite's BEGIN IMMEDIATE (ADR 0007). A statement that fails
// inside a transaction undoes only itself, as in SQLite (each runs under a savepoint). After a lost
// connection the next call reconnects. Not thread-safe.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"
#include "store/sql.h"
#include "store/write_gate.h"

namespace retention {

// The key of the advisory lock that every write transaction holds until it ends.
inline constexpr std::int64_t kWriteLockKey = 0x726574656e74;  // "retent"

// Connects to `url` (postgresql://user[:password]@host:port/db, or postgres://...). With
// `read_only`, the connection refuses writes (default_transaction_read_only), for Database's
// readers. Errors: kInvalidArgument for a malformed URL, kUnavailable when the server cannot be
// reached or refuses the login; both name the URL without its password.
Result<std::unique_ptr<SqlConnection>> OpenPostgresql(const std::string& url,
                                                      bool read_only = false);

// The cross-process write gate (store/write_gate.h, ADR 0005) on PostgreSQL: two session-level
// advisory locks on a connection of its own to `url`, kGateAnnounceKey (the writers'
// announcement: shared by writers, probed exclusively by a batch) and kGateBatchKey (the batch:
// shared by batches, so that the sweeps of several replicas run at once and tell their rows apart
// by row locks (ADR 0008), exclusive for a writer, which thus waits for every running batch).
// The server drops both when the process or its connection dies. A call that fails twice (the
// server is gone) lets the caller go on: its own transactions then fail. Errors: those of
// OpenPostgresql.
inline constexpr std::int64_t kGateAnnounceKey = 0x726574656e7401;
inline constexpr std::int64_t kGateBatchKey = 0x726574656e7402;
Result<std::unique_ptr<WriteGate>> OpenPostgresqlWriteGate(const std::string& url);

// `url` with its password left out (user:password@ and a password= parameter), for messages:
// postgresql://user@host:port/db.
std::string RedactPostgresqlUrl(std::string_view url);

// `sql` with each `?` outside string literals, quoted identifiers and comments replaced by $1,
// $2, ... in order. Sets `count` to the number of placeholders.
std::string NumberPlaceholders(std::string_view sql, int& count);

}  // namespace retention
