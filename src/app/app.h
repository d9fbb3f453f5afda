// Composition root: the only module that knows which adapters exist. Opens the database, the
// artifact store and the other backends named by the configuration's URLs, runs migrations, and
// wires the service context. Not thread-safe to construct; the opened App is shared read-only.
#pragma once

#include <memory>

#include "api/api.h"
#include "artifacts/artifact_store.h"
#include "config/config.h"
#include "core/time.h"
#include "jobs/jobs.h"
#include "logs/log_retention.h"
#include "logs/log_store.h"
#include "notify/mail.h"
#include "scheduler/scheduler.h"
#include "service/evalai_sync.h"
#include "service/log_retention_sync.h"
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
  // The fixed clock when the configuration sets fake_now (RETENTION_FAKE_NOW), else the real one.
  const Clock& clock() const { return *clock_; }
  // The jobs' environment (schedule, mail sender, hooks); used by `jobs`, `notify` and serve.
  JobEnvironment& jobs() { return jobs_; }
  // The log backend named by logs.url (the local log store or CloudWatch Logs).
  LogRetention& logs() { return *logs_; }
  // The log backend as a log store when it keeps the lines (the local log store); nullptr for
  // CloudWatch.
  LogStore* log_store() { return log_store_; }
  // R8: keeps each challenge's log group in step. Triggers run inline (a CLI command applies the
  // policy before it exits) until StartBackground() starts its worker.
  LogRetentionSync& log_sync() { return *log_sync_; }

  // EvalAI's database (DESIGN.md 7b) when evalai.url is set, else nullptr. Its connections are
  // opened on first use (the libpq adapter).
  EvalaiSource* evalai() { return evalai_.get(); }

  // The hooks `serve` gives the HTTP API for the scheduler's jobs (empty ones answer 503); R8
  // events and log lines reach the API through context().log_sync.
  ApiHooks ApiHooksForServe();
  // Starts the scheduler and the other background workers of `serve`; StopBackground lets the
  // current batch finish and joins them.
  Status StartBackground();
  void StopBackground();

  App(const App&) = delete;
  App& operator=(const App&) = delete;
  ~App();

 private:
  App() = default;
  Config config_;
  std::unique_ptr<Clock> clock_;
  std::unique_ptr<Database> db_;
  std::unique_ptr<ArtifactStore> artifacts_;
  ServiceContext ctx_;
  std::unique_ptr<LogRetention> logs_;
  LogStore* log_store_ = nullptr;               // logs_ when it keeps the lines
  std::unique_ptr<LogRetentionSync> log_sync_;  // uses ctx_ and logs_; destroyed before them
  std::unique_ptr<MailSender> mail_;            // null without smtp.url: mail stays in the outbox
  std::unique_ptr<EvalaiSource> evalai_;
  JobEnvironment jobs_;
  std::unique_ptr<class Scheduler> scheduler_;
};

// The scheduler's options from the configuration: the lease of scheduler.lease_ttl_seconds
// (renewed every fifth of it) and the owner "pid@REPLICA" (scheduler.replica, default the host
// name). Used for the scheduler of `serve` and for manual runs (API, `jobs run`).
SchedulerOptions SchedulerOptionsFor(const Config& config);

// Opens only the database named by `url` (sqlite://PATH, postgresql://user[:password]@host:port/db
// or postgres://...). Errors name the URL without a password. Used by App and by tools.
Result<std::unique_ptr<SqlConnection>> OpenDatabase(const std::string& url, bool read_only = false);

}  // namespace retention
