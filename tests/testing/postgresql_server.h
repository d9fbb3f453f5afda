// A throwaway PostgreSQL 15 server for the tests of one binary: initdb --no-sync into a temp
// folder owned by the `postgres` user (when the tests run as root), fsync off, a free loopback
// port and its socket in that folder. It starts at the first call of Shared() and stops when the
// binary exits; each test asks it for a fresh database. When it cannot start, error() says why
// and the tests that need it fail with that reason (they never skip). Part of retention::testing;
// not thread-safe (tests call it from their main thread).
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "store/sql.h"

namespace retention::testing {

class PostgresqlServer {
 public:
  // The server of this test binary, started on first use.
  static PostgresqlServer& Shared();

  PostgresqlServer(const PostgresqlServer&) = delete;
  PostgresqlServer& operator=(const PostgresqlServer&) = delete;
  ~PostgresqlServer();

  // Empty when the server runs; otherwise why it did not start (with its log's tail).
  const std::string& error() const { return error_; }
  // postgresql://postgres@127.0.0.1:PORT/NAME of a new empty database. Errors: the start
  // error, or the CREATE DATABASE that failed.
  Result<std::string> NewDatabase();

 private:
  PostgresqlServer();
  // Runs `argv` (as `postgres` when we are root), output appended to the server's log; returns
  // its exit code, -1 when it could not be started.
  int Run(std::vector<std::string> argv);
  std::string LogTail() const;

  std::filesystem::path dir_;  // data/, the socket and server.log
  int port_ = 0;
  bool running_ = false;
  int databases_ = 0;
  std::string error_;
};

// A connection to the database of the Shared() server that belongs to `scratch` (a test's temp
// folder): created empty at the first call with that folder, the same one at every later call.
// For the contract suites' factory tables.
Result<std::unique_ptr<SqlConnection>> OpenTestPostgresql(const std::filesystem::path& scratch,
                                                          bool read_only);

}  // namespace retention::testing
