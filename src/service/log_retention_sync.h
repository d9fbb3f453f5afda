// Keeps each challenge's worker log group in step with R8: the desired retention policy (from
// consent, the latest phase end, the challenge start and D) against the policy the log backend
// actually has. Writes to the backend only where the two differ, records the outcome in
// log_retention_state (applied_days, applied_known, state, last_error) and audits every change in
// the admin ledger (actor "system", action "log_retention_applied").
//
// Three ways in:
//   - ReconcileChallenge(): one challenge, now (set-retention, and each trigger);
//   - Trigger(): the R8 triggers (consent, override, phase end date, and the API events approved /
//     worker_restarted / task_definition_registered). Without a worker it reconciles inline, so a
//     CLI command applies the policy before it exits; after StartWorker() it only queues the
//     challenge (deduplicated) for a background thread, so no request waits for the backend;
//   - ReconcileAll(): the daily reconcile_log_retention job, which lists the groups once by
//     prefix, writes only where they differ and, when the backend is a log store
//     (logs/log_store.h), enforces its policies.
// and, for the HTTP API, ChallengeEvent() (a platform event that triggers R8) and
// IngestLogLines() / ReadLogLines() (the lines a log store keeps).
//
// A use case of the service layer: it names ports only (LogRetention, LogStore, the Database);
// app/ opens the adapter and hands it in. A CloudWatch log group that does not exist yet is
// recorded as 'pending' (nothing is written) and picked up by the next reconcile; the local store
// creates groups on first use.
//
// Thread-safe: triggers may come from any thread; reconciles are serialised by one mutex and
// never hold the database lease while they call the backend.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "core/status.h"
#include "core/time.h"
#include "domain/log_policy.h"
#include "logs/log_retention.h"
#include "logs/log_store.h"
#include "service/service.h"

namespace retention {

struct LogRetentionSyncOptions {
  // True when the backend creates a log group on first use (the local store): a missing group is
  // then written to at once. False (CloudWatch): a missing group is recorded as pending.
  bool backend_creates_groups = false;
  // The backend as a log store when it keeps the lines itself (not owned; the same object as the
  // backend, or one forwarding to it); ReconcileAll() then enforces its groups, and
  // IngestLogLines() / ReadLogLines() use it. nullptr when the backend only takes policies
  // (CloudWatch).
  LogStore* log_store = nullptr;
  // Called with a trigger's failure (database or backend), which the trigger itself swallows: a
  // trigger never fails the operation that caused it. May be empty. Called from the triggering
  // thread (inline) or the worker thread.
  std::function<void(const Status&)> on_trigger_error;
};

// What one challenge's reconcile found and did.
struct LogReconcileOutcome {
  std::int64_t challenge_id = 0;
  std::string log_group;
  std::optional<int> desired_days;  // nullopt: never expire
  std::string explanation;          // which R8 case applied
  bool group_exists = false;
  bool actual_known = false;        // the backend answered, so `actual_days` is its policy
  std::optional<int> actual_days;   // the backend's policy before this reconcile
  std::optional<int> applied_days;  // the backend's policy after it (when applied_known)
  bool applied_known = false;
  std::string state;     // "in_step", "pending" or "error"
  bool changed = false;  // a SetPolicy/RemovePolicy call succeeded
  Status error;          // the backend's failure when state is "error"
};

// {"challenge_id", "log_group", "desired_days", "desired_explanation", "previous_days",
//  "applied_days", "applied_known", "state", "changed", "error"}.
nlohmann::json LogReconcileOutcomeJson(const LogReconcileOutcome& outcome);

class LogRetentionSync {
 public:
  // `ctx` (database, clock, settings) and `backend` must outlive the object. Makes no call.
  LogRetentionSync(const ServiceContext* ctx, LogRetention* backend,
                   LogRetentionSyncOptions options);
  // Stops the worker (see StopWorker).
  ~LogRetentionSync();
  LogRetentionSync(const LogRetentionSync&) = delete;
  LogRetentionSync& operator=(const LogRetentionSync&) = delete;

  // Reconciles one challenge at `now`: Describe, then SetPolicy/RemovePolicy only when the actual
  // policy differs from the desired one; records state and audits a change. Backend failures are
  // not errors of this call: they come back as state "error" (recorded with last_error) or
  // "pending". Returns NotFound for an unknown challenge, or the database's error.
  Result<LogReconcileOutcome> ReconcileChallenge(std::int64_t challenge_id, TimePoint now);

  // The reconcile_log_retention job (jobs/ calls it through JobEnvironment::log_sync): desired
  // versus applied for every challenge, with one List() of the groups by prefix "challenge-pk-";
  // writes only where they differ. Each challenge's state is read right before its group is
  // written, and, with a log store, its group is enforced right after, with the state read
  // again: when the desired policy moved in between (a withdrawal committed meanwhile), the new
  // one is applied first, and a group is enforced only under a policy the database still wants
  // (never when its reconcile failed). The log store's groups of no challenge of this environment
  // are enforced by their stored policy. Returns
  //   {"processed", "checked", "changed", "in_step", "pending", "failed", "deleted",
  //    "changes": [{"challenge_id", "log_group", "from_days", "to_days"}],
  //    "errors": [{"challenge_id", "log_group", "error"}],
  //    "enforcement": {"groups_with_policy", "segments_removed", "segments_rewritten",
  //                    "lines_removed", "bytes_freed"} (with a log store only)}
  // ("failed" counts the challenges whose backend call failed; "deleted" the log lines the log
  // store removed). Returns the backend's error when the listing fails (nothing written), or the
  // database's error; a group whose enforcement failed is reported in "errors" and "failed" and
  // the others are still enforced.
  Result<nlohmann::json> ReconcileAll(TimePoint now);

  // An R8 trigger for `challenge_id`. Inline (no worker): reconciles now with the context's
  // clock. With a worker: queues the challenge unless it is queued already, and returns at once.
  // Never fails; a failure goes to options.on_trigger_error.
  void Trigger(std::int64_t challenge_id);

  // True when the backend keeps the lines (options.log_store is set), so that IngestLogLines()
  // and ReadLogLines() can succeed.
  bool keeps_lines() const { return options_.log_store != nullptr; }

  // Starts the background worker; later triggers are queued. Idempotent.
  void StartWorker();
  // Lets the worker finish every queued challenge, then stops it; later triggers run inline.
  void StopWorker();
  // Blocks until no challenge is queued or being reconciled by the worker.
  void WaitIdle();

  // ---- functions for the HTTP API (api/routes/admin_routes.cc, logs_routes.cc) ----

  // POST /api/challenges/{pk}/events: `event` is approved, worker_restarted or
  // task_definition_registered (InvalidArgument otherwise; NotFound for an unknown challenge).
  // Triggers the challenge and returns {"log_group", "queued": true} with a worker, or the outcome
  // JSON inline.
  Result<nlohmann::json> ChallengeEvent(std::int64_t challenge_id, const std::string& event);
  // POST /api/log-groups/{name}/lines: `lines` is an array of {"timestamp": RFC 3339, "message":
  // string}, stored in the log store at the clock's now. Returns {"log_group", "ingested"}.
  // InvalidArgument naming the bad line or group; FailedPrecondition when the backend keeps no
  // lines.
  Result<nlohmann::json> IngestLogLines(const std::string& group, const nlohmann::json& lines);
  // GET /api/log-groups/{name}/lines: lines with timestamp in [from, to) (RFC 3339; empty =
  // unbounded), at most `limit` (1..100000). Returns {"log_group", "lines": [{"timestamp",
  // "message"}], "count"}. InvalidArgument for a bad time, limit or group; FailedPrecondition when
  // the backend keeps no lines.
  Result<nlohmann::json> ReadLogLines(const std::string& group, const std::string& from,
                                      const std::string& to, int limit);

  LogRetention& backend() { return *backend_; }

 private:
  struct Inputs;
  struct Actual;
  // The R8 inputs of one challenge as the database holds them now, with its group's origin;
  // nullopt for an unknown challenge. Returns the database's error.
  Result<std::optional<Inputs>> ReadInputs(std::int64_t challenge_id);
  // The R8 policy `in` asks for at `now`.
  DesiredLogPolicy Desire(const Inputs& in, TimePoint now) const;
  // Decides and, when needed, writes; then records. Called with reconcile_mu_ held.
  Result<LogReconcileOutcome> Apply(const Inputs& inputs, const Actual& actual, TimePoint now);
  Status Record(const LogReconcileOutcome& outcome, TimePoint now);
  void WorkerLoop();
  void RunTrigger(std::int64_t challenge_id);

  const ServiceContext* ctx_;
  LogRetention* backend_;
  const LogRetentionSyncOptions options_;

  std::mutex reconcile_mu_;  // one reconcile at a time

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::condition_variable idle_cv_;
  std::deque<std::int64_t> queue_;
  std::set<std::int64_t> queued_;
  bool worker_running_ = false;
  bool stopping_ = false;
  bool busy_ = false;
  std::thread worker_;
};

}  // namespace retention
