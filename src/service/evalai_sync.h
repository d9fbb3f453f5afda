// `retention sync evalai` (DESIGN.md section 7b): keeps our store in step with EvalAI's own
// PostgreSQL database. EvalAI's tables (auth_user, challenge_host_teams, challenge_host, challenge,
// challenge_phase, submission) are read through the SQL port, read-only, in keyset batches by id
// inside one REPEATABLE READ transaction (one snapshot); each batch is compared with our rows and
// what differs is written in one write transaction of our store, then recomputed (R3). Rows that
// are gone from EvalAI are kept and counted. Incremental by `modified_at` (a watermark per table
// in `evalai_sync_state`, advanced only when a whole sync succeeded), with a full pass once a day
// (and on request) that also finds the rows gone.
//
// The SQL sent to EvalAI is PostgreSQL's (EvalAI runs on nothing else); the SQL sent to our store
// runs on both engines. Only app/ knows that the EvalAI connection is the libpq adapter.
//
// Thread-safety: EvalaiSource serialises the use of its connections; SyncEvalai and
// WriteBackToEvalai may be called from several threads (the scheduler's job, `jobs run`).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "service/service.h"
#include "store/sql.h"

namespace retention {

struct EvalaiSettings {
  // Put before every file column's value to make the artifact's object key (evalai.media_prefix).
  std::string media_prefix = "media/";
  // evalai.write_back: write is_artifact_deleted / artifact_deletion_date to EvalAI's submission
  // rows after a sweep.
  bool write_back = false;
};

// EvalAI's database: a read-only connection for the sync and, with write_back, a second one that
// may write (only WriteBackToEvalai uses it). Each is opened on first use, so that a command that
// does not touch EvalAI works while EvalAI is down, and reopened after an error.
class EvalaiSource {
 public:
  // Opens a connection to EvalAI's database; `read_only` as OpenPostgresql's. Errors as the
  // adapter's (InvalidArgument for a malformed URL, Unavailable when unreachable).
  using Opener = std::function<Result<std::unique_ptr<SqlConnection>>(bool read_only)>;
  EvalaiSource(EvalaiSettings settings, Opener open)
      : settings_(std::move(settings)), open_(std::move(open)) {}

  const EvalaiSettings& settings() const { return settings_; }

  // Runs `fn` on the (read-only or writing) connection while holding this source's lock; opens the
  // connection first when needed. Returns the opener's error, else `fn`'s.
  Status WithConnection(bool read_only, const std::function<Status(SqlConnection&)>& fn);

 private:
  EvalaiSettings settings_;
  Opener open_;
  std::mutex mu_;
  std::unique_ptr<SqlConnection> reader_;
  std::unique_ptr<SqlConnection> writer_;
};

// What one sync did (or, with dry_run, would do) to one of our tables.
struct EvalaiTableCounts {
  std::int64_t read = 0;               // EvalAI rows read
  std::int64_t added = 0;              // new in our store
  std::int64_t changed = 0;            // updated (and recomputed where an R2 input changed)
  std::int64_t unchanged = 0;          // read, and equal to ours
  std::int64_t gone = 0;               // in our store, no longer in EvalAI (kept; full passes only)
  std::vector<std::int64_t> gone_ids;  // the first kMaxListedGone of them
};
inline constexpr std::size_t kMaxListedGone = 100;

struct EvalaiSyncOptions {
  bool dry_run = false;  // compute and report, change nothing (the watermark stays)
  bool full = false;     // a full pass now, whatever the time of the last one
  // Rows per batch read from EvalAI (and per write transaction of ours).
  std::int64_t batch_size = 1000;
  // Called after each batch with the EvalAI table and the rows read from it so far. May be empty.
  std::function<void(std::string_view table, std::int64_t rows)> progress;
};

struct EvalaiSyncReport {
  bool dry_run = false;
  bool full = false;
  // By our table: users, host_teams, host_team_members, challenges, phases, submissions,
  // artifacts.
  std::map<std::string, EvalaiTableCounts> tables;
  bool retention_columns = false;   // EvalAI's challenge has its retention fields
  bool write_back_columns = false;  // EvalAI's submission has is_artifact_deleted & its date
  std::int64_t consents_imported = 0;
  std::int64_t overrides_imported = 0;
  std::int64_t sizes_filled = 0;      // artifact sizes read from storage
  std::int64_t sizes_unknown = 0;     // artifacts whose object storage does not know (yet)
  std::vector<std::string> warnings;  // rows not taken, each naming the row and why
  // True when nothing was (or would be) added or changed.
  bool NothingChanged() const;
};

// One sync. Before anything is written, checks that every table and column of section 7b exists
// with a type it can read (an id column of integer type, text, boolean and timestamp columns) and
// fails with Internal naming the first that does not ("evalai table challenge_phase: column
// end_date is integer, expected a timestamp"); nothing changes then. Errors: the connection's
// (Unavailable for an unreachable database), the store's; work committed in earlier batches stays
// (the next sync redoes the rest: the watermark is advanced only at the end).
Result<EvalaiSyncReport> SyncEvalai(const ServiceContext& ctx, EvalaiSource& source,
                                    const EvalaiSyncOptions& options);

// The report as the CLI's --json document and the job's result.
nlohmann::json EvalaiSyncJson(const EvalaiSyncReport& report);

struct EvalaiWriteBackReport {
  bool columns = false;      // EvalAI's submission has the two columns
  std::int64_t written = 0;  // rows sent to EvalAI by this call
  std::int64_t pending = 0;  // swept submissions still to be written (after an error)
  std::string error;         // the error that stopped this call, if any
};

// With evalai.write_back, writes is_artifact_deleted = true and artifact_deletion_date to
// EvalAI's submission rows of every swept submission not yet written back (evalai_write_back
// holds those written), in batches, each marked done after EvalAI took it, so that a failure is
// retried by the next call. Never fails: an error is returned in the report (the sweep goes on
// whatever EvalAI does). Without write_back, or when EvalAI lacks the columns, does nothing.
EvalaiWriteBackReport WriteBackToEvalai(const ServiceContext& ctx, EvalaiSource& source);
nlohmann::json EvalaiWriteBackJson(const EvalaiWriteBackReport& report);

}  // namespace retention
