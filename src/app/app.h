// Composition root: the only module that knows which adapters exist. Opens the database, the
// artifact store and the other backends named by the configuration's URLs, runs migrations, and
// wires the service context. Not thread-safe to construct; the opened App is shared read-only.
#pragma once

#include <memory>

#include "artifacts/artifact_store.h"
#include "config/config.h"
#include "core/time.h"
#include "service/service.h"
#include "store/sql.h"

namespace retention {

class App {
 public:
  // Opens every backend; InvalidArgument for an unsupported or malformed URL, Unavailable when a
  // backend cannot be reached. Runs pending migrations unless `migrate` is false.
  static Result<std::unique_ptr<App>> Open(const Config& config, bool migrate = true);

  const Config& config() const { return config_; }
  ServiceContext& context() { return ctx_; }
  Database& db() { return *db_; }
  const Clock& clock() const { return clock_; }

  App(const App&) = delete;
  App& operator=(const App&) = delete;
  ~App();

 private:
  App() = default;
  Config config_;
  SystemClock clock_;
  std::unique_ptr<Database> db_;
  std::unique_ptr<ArtifactStore> artifacts_;
  ServiceContext ctx_;
};

// Opens only the database named by `url` (sqlite://PATH). Used by App and by tools.
Result<std::unique_ptr<SqlConnection>> OpenDatabase(const std::string& url);

}  // namespace retention
