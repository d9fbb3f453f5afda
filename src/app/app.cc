#include "app/app.h"

#include "artifacts/local/local_artifact_store.h"
#include "core/crypto.h"
#include "store/migrations.h"
#include "store/sqlite/sqlite_connection.h"

namespace retention {

App::~App() = default;

Result<std::unique_ptr<SqlConnection>> OpenDatabase(const std::string& url) {
  if (url.rfind("sqlite://", 0) == 0) {
    ASSIGN_OR_RETURN(auto path, PathFromUrl(url, "sqlite"));
    return OpenSqlite(path);
  }
  if (url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0) {
    return InvalidArgument("database url '" + url +
                           "': PostgreSQL is not supported by this build yet; use sqlite://PATH");
  }
  return InvalidArgument("database url '" + url + "' must start with sqlite://");
}

namespace {

Result<std::unique_ptr<ArtifactStore>> OpenArtifactStore(const std::string& url) {
  if (url.rfind("file://", 0) == 0) {
    ASSIGN_OR_RETURN(auto path, PathFromUrl(url, "file"));
    ASSIGN_OR_RETURN(auto store, LocalArtifactStore::Open(path));
    return std::unique_ptr<ArtifactStore>(std::move(store));
  }
  if (url.rfind("s3://", 0) == 0) {
    return InvalidArgument("storage url '" + url +
                           "': S3 is not supported by this build yet; use file://DIR");
  }
  return InvalidArgument("storage url '" + url + "' must start with file://");
}

}  // namespace

Result<std::unique_ptr<App>> App::Open(const Config& config, bool migrate) {
  InitCrypto();
  std::unique_ptr<App> app(new App());
  app->config_ = config;
  ASSIGN_OR_RETURN(auto conn, OpenDatabase(config.database_url));
  if (migrate) RETURN_IF_ERROR(Migrate(*conn).status().WithContext("migrate database"));
  app->db_ = std::make_unique<Database>(std::move(conn));
  ASSIGN_OR_RETURN(app->artifacts_, OpenArtifactStore(config.storage_url));
  app->ctx_.db = app->db_.get();
  app->ctx_.artifacts = app->artifacts_.get();
  app->ctx_.clock = &app->clock_;
  app->ctx_.settings.default_days = config.default_days;
  app->ctx_.settings.notice_days = config.notice_days;
  app->ctx_.settings.environment = config.environment;
  return app;
}

}  // namespace retention
