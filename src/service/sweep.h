// The sweep (R5, R6) and its dry run / forecast (the plan). Works along the submission_sweep
// index in bounded batches; memory does not grow with the data unless the caller asks for the
// full item lists. Every batch is decided and deleted under the database write lock, so R5 is
// checked at the moment of deletion; a kill at any instant leaves only work for the next run
// (a file deleted but not yet recorded counts as deleted when it is found missing).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "service/service.h"

namespace retention {

struct SweepOptions {
  bool dry_run = false;
  std::optional<TimePoint> as_of;  // default: the clock's now (only meaningful with dry_run)
  std::optional<std::int64_t> challenge_id;
  int batch_size = 200;
  bool keep_items = true;          // list every deleted/deletable submission in the report
  int max_listed_problems = 1000;  // skipped/failed entries kept in the report
  // Called after each batch with (submissions examined, candidates in total).
  std::function<void(std::int64_t, std::int64_t)> progress;
  // When set to true by another thread (SIGTERM), the sweep stops after the current batch.
  const std::atomic<bool>* stop = nullptr;
};

struct SweptArtifact {
  std::string kind;
  std::string key;
  std::int64_t bytes = 0;
};
struct SweptSubmission {
  std::int64_t submission_id = 0;
  std::int64_t challenge_id = 0;
  std::vector<SweptArtifact> artifacts;
  std::int64_t bytes = 0;
};
struct SkippedSubmission {
  std::int64_t submission_id = 0;
  std::int64_t challenge_id = 0;
  std::string reason;  // snake_case reason, e.g. "challenge_on_hold"
  std::string detail;  // a sentence for people
};
struct FailedArtifact {
  std::int64_t submission_id = 0;
  std::string key;
  std::string error;
};

struct SweepReport {
  bool dry_run = false;
  TimePoint as_of{};
  bool interrupted = false;
  std::vector<SweptSubmission> items;  // deleted (or deletable in a dry run)
  std::vector<SkippedSubmission> skipped;
  std::vector<FailedArtifact> failed;
  std::int64_t examined = 0;
  std::int64_t submissions_deleted = 0;  // or deletable
  std::int64_t artifacts_deleted = 0;
  std::int64_t bytes_freed = 0;
  std::int64_t skipped_count = 0;
  std::int64_t failed_count = 0;
  std::int64_t not_eligible = 0;  // no eligible date
  // Why those have none: no_consent, phase_public, no_end_date (counts).
  std::int64_t not_eligible_no_consent = 0;
  std::int64_t not_eligible_phase_public = 0;
  std::int64_t not_eligible_no_end_date = 0;
  std::int64_t eligible_in_future = 0;  // eligible date after as_of
};

Result<SweepReport> RunSweep(const ServiceContext& ctx, const SweepOptions& options);

}  // namespace retention
