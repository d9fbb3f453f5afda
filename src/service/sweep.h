// The sweep (R5, R6) and its dry run / forecast (the plan). Works along the submission_sweep
// index in bounded batches (ADR 0005); memory does not grow with the data: findings go to a
// SweepListener as each batch ends, and only capped lists are kept in the report.
//
// Each batch of a real sweep holds the database's batch lease (Database::LockBatch: writers of
// every process go first) from the R5 check to the record of its outcome, and lasts about
// `batch_budget`: a withdrawal, hold or override waits for one batch at most, and no file it
// protects is deleted after it was answered. Before deleting files the batch commits their
// deletion intent; the outcome is committed after. A failure or a kill in between leaves the
// intent, and the next sweep records what storage says before anything else, so the bookkeeping of
// a deleted file survives any later failure. A sweep never deletes a file whose intent it finds:
// it only records that the file is gone, or clears the intent when it is still there.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "service/service.h"

namespace retention {

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
  // A forecast (dry run as of a later time) only: its notice (recorded or projected), deletion
  // date and the scheduled sweep run that deletes it (domain/schedule_projection.h).
  std::optional<ProjectedDeletion> schedule;
};
struct SkippedSubmission {
  std::int64_t submission_id = 0;
  std::int64_t challenge_id = 0;
  // Static strings (SkipReasonName, SkipReasonText): a sweep over a challenge on hold lists
  // each of its submissions, so a skipped entry copies no text.
  std::string_view reason;  // snake_case reason, e.g. "challenge_on_hold"
  std::string_view detail;  // a sentence for people
};
struct FailedArtifact {
  std::int64_t submission_id = 0;
  std::string key;
  std::string error;
};

// Where a sweep is in its walk: the last candidate it has examined, in (eligible date, id) order.
struct SweepCursor {
  std::int64_t eligible_date = 0;  // Unix seconds
  std::int64_t submission_id = 0;
};

// Receives the sweep's findings as each batch ends, outside every database lock, in the walk's
// order, so that a report of any size can be written out as it grows. Called from the thread
// that runs the sweep.
class SweepListener {
 public:
  virtual ~SweepListener() = default;
  virtual void OnItem(const SweptSubmission& item) = 0;  // deleted, or deletable in a dry run
  virtual void OnSkipped(const SkippedSubmission& skipped) = 0;
  virtual void OnFailed(const FailedArtifact& failed) = 0;
};

struct SweepOptions {
  bool dry_run = false;
  // Default: the clock's now (only meaningful with dry_run). Later than now makes the dry run a
  // forecast that follows the schedule (DESIGN.md section 5): a submission not noticed yet is
  // taken as noticed by the notice job's projected run when that comes before as_of, and it is
  // listed when the sweep run that deletes it comes at or before as_of (else skipped as
  // awaiting_sweep_run).
  std::optional<TimePoint> as_of;
  std::optional<std::int64_t> challenge_id;
  // At most this many submissions per batch; fewer when deletes are slow (see batch_budget).
  int batch_size = 1000;
  // How long one batch of a real sweep may hold the batch lease, deletes included. A batch
  // stops taking submissions once it is spent (after at least one) and the next batch is sized
  // from the time per submission measured so far.
  std::chrono::milliseconds batch_budget{250};
  bool keep_items = true;             // keep every deleted/deletable submission in report.items
  int max_listed_problems = 1000;     // skipped/failed entries kept in the report
  SweepListener* listener = nullptr;  // optional; receives every finding
  // Dry run only: start after this candidate, and stop once this many items were found
  // (report.next then tells where to go on). A page of the plan.
  std::optional<SweepCursor> after;
  std::optional<std::int64_t> max_items;
  // Called after each batch with (submissions examined, candidates in total).
  std::function<void(std::int64_t, std::int64_t)> progress;
  // When set to true by another thread (SIGTERM), the sweep stops after the current batch.
  const std::atomic<bool>* stop = nullptr;
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
  // Live submissions kept (R10: kept by a host or an admin, or an unreleased baseline): never
  // deleted whatever their stored dates say. Most are among not_eligible.
  std::int64_t kept = 0;
  // Artifacts whose deletion intent an earlier run left behind, now recorded from storage:
  // found gone (recorded deleted) or still there (intent cleared; R5 decides again).
  std::int64_t recovered_gone = 0;
  std::int64_t recovered_present = 0;
  std::int64_t batches = 0;
  // Set when a page of the plan ended before the walk did (max_items reached).
  std::optional<SweepCursor> next;
};

// Parses a cursor written as "DATE:ID" (both integers, as SweepSummaryJson's `next`);
// InvalidArgument naming the text otherwise.
Result<SweepCursor> ParseSweepCursor(const std::string& text);

// Runs the sweep or its dry run. InvalidArgument for --as-of without a dry run, NotFound for an
// unknown challenge. A failure to record an outcome is kInternal (the intent stays for the next
// run); a storage failure of one artifact is not an error: it is counted in `failed`, kept on the
// artifact (error, attempts) and retried by the next sweep.
Result<SweepReport> RunSweep(const ServiceContext& ctx, const SweepOptions& options);

}  // namespace retention
