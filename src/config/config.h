// Configuration (DESIGN.md section 8): defaults, then a TOML file, then RETENTION_* environment
// variables, then command-line flags. Loading reports every error at once. Plain value type.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/time.h"

namespace retention {

struct Config {
  std::string database_url = "sqlite://./var/retention.db";  // or postgresql://...
  std::string storage_url = "file://./var/artifacts";        // or s3://bucket?endpoint=&region=
  std::string logs_url = "file://./var/logs";                // or cloudwatch://REGION?endpoint=
  std::string environment = "production";                    // log group name part
  std::string smtp_url;                                      // empty: mail stays in the outbox
  std::string smtp_from = "retention@localhost";
  std::string listen = "127.0.0.1:8000";
  int default_days = 30;  // R1 default D
  int notice_days = 14;   // R4
  std::string challenge_url = "http://127.0.0.1:8000/challenges/{id}";
  int consent_rate_per_minute = 60;  // per user, consent writes
  int server_threads = 4;
  // RETENTION_FAKE_NOW (environment only): a fixed "now" for whole-process tests and benchmarks
  // (docs/TESTING.md); app/ then uses a FixedClock. Unset (or empty): the real clock.
  std::optional<TimePoint> fake_now;
  // DESIGN.md 7b: EvalAI's database (a postgresql:// URL; empty: no sync), the prefix of its
  // files' object keys, and whether swept submissions are written back to its rows.
  std::string evalai_url;
  std::string evalai_media_prefix = "media/";
  bool evalai_write_back = false;
  // RETENTION_CLOCK_SPEED (environment only, with RETENTION_FAKE_NOW): the fake clock runs this
  // many times as fast as the real one, anchored at the fake now taken as a real time (it reads
  // F + speed * (real now - F)), so that processes started with the same F agree and a test sees
  // minute crons fire every second. 1 (the default): a fixed clock.
  int clock_speed = 1;
  // Scheduler (DESIGN.md section 4; several replicas on one database): how long a job's lease
  // lasts without renewal (a replica killed on another host blocks its job this long at most;
  // renewed every fifth of it), and the name of this replica in the owners of leases and runs
  // ("pid@replica"; default the host name). A replica on this host whose pid is gone loses its
  // lease at once; one named otherwise only when the lease expires.
  int lease_ttl_seconds = 300;
  std::string replica;
  // Cron per job name; defaults are the seed's (DESIGN.md section 4). sync_evalai is scheduled
  // only when evalai_url is set.
  std::map<std::string, std::string> schedule = {
      {"cleanup_expired_submission_artifacts", "0 2 1 * *"},
      {"weekly_retention_notifications_and_consent_log", "0 10 * * 1"},
      {"update_submission_retention_dates", "0 1 * * 0"},
      {"reconcile_log_retention", "30 3 * * *"},
      {"sync_evalai", "*/15 * * * *"},
  };
};

// Values given on the command line; unset ones do not override.
struct ConfigOverrides {
  std::optional<std::string> config_file;
  std::optional<std::string> database_url;
  std::optional<std::string> listen;
};

// Builds the configuration from defaults, the file (if any), the environment and `overrides`.
// InvalidArgument listing every problem (unknown keys, wrong types, out-of-range values, bad
// crons, values outside int, a RETENTION_FAKE_NOW that is not an RFC 3339 time) on one line,
// separated by "; " (DESIGN.md section 5).
Result<Config> LoadConfig(const ConfigOverrides& overrides);

// "sqlite://./var/x.db" -> "./var/x.db"; "file://./var/a" -> "./var/a". InvalidArgument when the
// URL does not have the expected scheme.
Result<std::string> PathFromUrl(const std::string& url, const std::string& scheme);

}  // namespace retention
