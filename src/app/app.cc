#include "app/app.h"

#include <unistd.h>

#include <algorithm>
#include <iostream>

#include "artifacts/local/local_artifact_store.h"
#include "artifacts/s3/s3_artifact_store.h"
#include "core/crypto.h"
#include "logs/cloudwatch/cloudwatch_logs.h"
#include "logs/local/local_log_store.h"
#include "notify/smtp/smtp_mail_sender.h"
#include "scheduler/scheduler.h"
#include "store/migrations.h"
#include "store/postgresql/postgresql_connection.h"
#include "store/sqlite/sqlite_connection.h"

namespace retention {

App::~App() = default;

Result<std::unique_ptr<SqlConnection>> OpenDatabase(const std::string& url, bool read_only) {
  if (url.rfind("sqlite://", 0) == 0) {
    ASSIGN_OR_RETURN(auto path, PathFromUrl(url, "sqlite"));
    return OpenSqlite(path, read_only);
  }
  if (url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0) {
    // Errors name the URL without its password.
    return OpenPostgresql(url, read_only);
  }
  return InvalidArgument("database url '" + RedactPostgresqlUrl(url) +
                         "' must start with sqlite://, postgresql:// or postgres://");
}

namespace {

Result<std::unique_ptr<ArtifactStore>> OpenArtifactStore(const std::string& url) {
  if (url.rfind("file://", 0) == 0) {
    ASSIGN_OR_RETURN(auto path, PathFromUrl(url, "file"));
    ASSIGN_OR_RETURN(auto store, LocalArtifactStore::Open(path));
    return std::unique_ptr<ArtifactStore>(std::move(store));
  }
  if (url.rfind("s3://", 0) == 0) {
    ASSIGN_OR_RETURN(auto store, S3ArtifactStore::Open(url));
    return std::unique_ptr<ArtifactStore>(std::move(store));
  }
  return InvalidArgument("storage url '" + url + "' must start with file:// or s3://");
}

// The log backend named by `url`; `*store_out` is set to it when it keeps the lines, else nullptr.
Result<std::unique_ptr<LogRetention>> OpenLogBackend(const std::string& url, LogStore** store_out) {
  *store_out = nullptr;
  if (url.rfind("file://", 0) == 0) {
    ASSIGN_OR_RETURN(auto store, LocalLogStore::Open(url));
    *store_out = store.get();
    return std::unique_ptr<LogRetention>(std::move(store));
  }
  if (url.rfind("cloudwatch://", 0) == 0) {
    ASSIGN_OR_RETURN(auto client, CloudWatchLogs::Open(url));
    return std::unique_ptr<LogRetention>(std::move(client));
  }
  return InvalidArgument("logs url '" + url + "' must start with file:// or cloudwatch://");
}

}  // namespace

Result<std::unique_ptr<App>> App::Open(const Config& config, bool migrate) {
  InitCrypto();
  std::unique_ptr<App> app(new App());
  app->config_ = config;
  if (config.fake_now && config.clock_speed > 1) {
    app->clock_ = std::make_unique<FastClock>(*config.fake_now, config.clock_speed);
  } else if (config.fake_now) {
    app->clock_ = std::make_unique<FixedClock>(*config.fake_now);
  } else {
    app->clock_ = std::make_unique<SystemClock>();
  }
  // The storage, logs and mail URLs are opened before the database, so that a refused one leaves
  // no database file behind.
  ASSIGN_OR_RETURN(app->artifacts_, OpenArtifactStore(config.storage_url));
  {
    auto logs = OpenLogBackend(config.logs_url, &app->log_store_);
    if (!logs.ok()) return logs.status().WithContext("logs.url");
    app->logs_ = std::move(logs).value();
  }
  if (!config.smtp_url.empty()) {
    ASSIGN_OR_RETURN(auto sender, SmtpMailSender::Open(config.smtp_url, config.smtp_from));
    app->mail_ = std::move(sender);
  }
  ASSIGN_OR_RETURN(auto conn, OpenDatabase(config.database_url));
  if (migrate) RETURN_IF_ERROR(Migrate(*conn).status().WithContext("migrate database"));
  // Read-only connections let API reads proceed while a sweep batch holds the write lock. DESIGN
  // section 8 has no key for their number: two, on SQLite and PostgreSQL alike.
  std::vector<std::unique_ptr<SqlConnection>> readers;
  if (config.database_url.find(":memory:") == std::string::npos) {
    for (int i = 0; i < 2; ++i) {
      ASSIGN_OR_RETURN(auto reader, OpenDatabase(config.database_url, /*read_only=*/true));
      readers.push_back(std::move(reader));
    }
  }
  // Writers of every process on this database go before a sweep's next batch (ADR 0005).
  std::unique_ptr<WriteGate> gate;
  if (config.database_url.rfind("sqlite://", 0) == 0 &&
      config.database_url.find(":memory:") == std::string::npos) {
    ASSIGN_OR_RETURN(auto path, PathFromUrl(config.database_url, "sqlite"));
    ASSIGN_OR_RETURN(gate, OpenFileWriteGate(path + "-gate"));
  } else if (config.database_url.rfind("postgres", 0) == 0) {
    ASSIGN_OR_RETURN(gate, OpenPostgresqlWriteGate(config.database_url));
  }
  app->db_ = std::make_unique<Database>(std::move(conn), std::move(readers), std::move(gate));
  if (config.database_url.rfind("postgres", 0) == 0) {
    // The shared sweep commits each batch's deletion intent on a connection of its own while the
    // batch's row locks stay open on the writer (ADR 0008).
    ASSIGN_OR_RETURN(auto side, OpenDatabase(config.database_url));
    app->db_->SetSideWriter(std::move(side));
  }
  app->ctx_.db = app->db_.get();
  app->ctx_.artifacts = app->artifacts_.get();
  app->ctx_.clock = app->clock_.get();
  app->ctx_.settings.default_days = config.default_days;
  app->ctx_.settings.notice_days = config.notice_days;
  app->ctx_.settings.environment = config.environment;
  LogRetentionSyncOptions sync_options;
  sync_options.backend_creates_groups = app->log_store_ != nullptr;
  sync_options.log_store = app->log_store_;
  sync_options.on_trigger_error = [](const Status& s) {
    std::cerr << "warning: " << s.message() << " (recorded; the next reconcile retries)\n";
  };
  app->log_sync_ =
      std::make_unique<LogRetentionSync>(&app->ctx_, app->logs_.get(), std::move(sync_options));
  app->ctx_.log_sync = app->log_sync_.get();
  if (!config.evalai_url.empty()) {
    EvalaiSettings evalai;
    evalai.media_prefix = config.evalai_media_prefix;
    evalai.write_back = config.evalai_write_back;
    const std::string url = config.evalai_url;
    app->evalai_ = std::make_unique<EvalaiSource>(
        std::move(evalai), [url](bool read_only) { return OpenPostgresql(url, read_only); });
  }
  ASSIGN_OR_RETURN(app->jobs_, MakeJobEnvironment(&app->ctx_, config, app->mail_.get()));
  app->jobs_.log_sync = app->log_sync_.get();
  app->jobs_.evalai = app->evalai_.get();
  return app;
}

SchedulerOptions SchedulerOptionsFor(const Config& config) {
  SchedulerOptions options;
  if (!config.replica.empty()) options.owner = std::to_string(getpid()) + "@" + config.replica;
  options.lease_ttl = std::chrono::seconds(config.lease_ttl_seconds);
  // Renewals are timed by the real clock; a fast test clock (RETENTION_CLOCK_SPEED) spends the
  // lease that many times as fast.
  options.renew_every =
      std::chrono::seconds(std::max(1, config.lease_ttl_seconds / 5 / config.clock_speed));
  return options;
}

ApiHooks App::ApiHooksForServe() {
  ApiHooks hooks;
  hooks.list_jobs = [this] { return ListJobs(jobs_); };
  hooks.run_job = [this](const std::string& name, const std::string& actor) {
    return RunJobNow(jobs_, name, actor, scheduler_ ? scheduler_->stop_flag() : nullptr,
                     SchedulerOptionsFor(config_));
  };
  hooks.list_job_runs = [this](const std::string& job, int limit) {
    return ListJobRuns(jobs_, job, limit);
  };
  return hooks;
}

Status App::StartBackground() {
  log_sync_->StartWorker();  // R8 triggers now leave the request path
  scheduler_ = std::make_unique<Scheduler>(jobs_, SchedulerOptionsFor(config_));
  scheduler_->Start();
  return Status::Ok();
}

void App::StopBackground() {
  if (scheduler_) scheduler_->Stop();
  log_sync_->StopWorker();  // finishes the queued challenges
}

}  // namespace retention
