#include "store/migrations.h"

#include <regex>
#include <string>
#include <vector>

#include "core/time.h"

namespace retention {
namespace {

// A piece of a migration: for every engine, or for one (where their SQL differs). A migration's
// pieces run in order, those of other engines left out.
enum class Engine { kAll, kSqlite, kPostgresql };
struct Part {
  Engine engine;
  const char* sql;
};
using Migration = std::vector<Part>;

// PostgreSQL: keeps each table's identity sequence past the largest id, after inserts that name
// their ids (imports do), so that the next insert without an id takes MAX(id) + 1 as SQLite's
// INTEGER PRIMARY KEY does instead of colliding. Run once per INSERT statement.
constexpr const char* kPostgresqlFollowIds = R"sql(
CREATE FUNCTION retention_follow_ids() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('SELECT setval(pg_get_serial_sequence(%L, ''id''), COALESCE(MAX(id), 0) + 1, '
                 'false) FROM %I.%I', TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME, TG_TABLE_SCHEMA,
                 TG_TABLE_NAME);
  RETURN NULL;
END $$;
)sql";

// Times are INTEGER Unix seconds (UTC), so that date math is plain arithmetic in every engine.
// Booleans are INTEGER 0/1. Pieces for every engine are written in SQLite's DDL;
// PostgresqlDdl turns them into PostgreSQL's.
const std::vector<Migration>& Migrations() {
  static const std::vector<Migration> kMigrations = {
      // 1: the whole model of DESIGN.md.
      {{Engine::kPostgresql, kPostgresqlFollowIds}, {Engine::kAll, R"sql(
CREATE TABLE users (
  id INTEGER PRIMARY KEY,
  username TEXT NOT NULL UNIQUE,
  email TEXT NOT NULL,
  is_admin INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL
);
CREATE TABLE api_tokens (
  token_hash TEXT PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users(id),
  created_at INTEGER NOT NULL
);
CREATE INDEX api_tokens_user ON api_tokens(user_id);
CREATE TABLE host_teams (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL
);
CREATE TABLE host_team_members (
  host_team_id INTEGER NOT NULL REFERENCES host_teams(id),
  user_id INTEGER NOT NULL REFERENCES users(id),
  status TEXT NOT NULL CHECK (status IN ('accepted', 'pending')),
  PRIMARY KEY (host_team_id, user_id)
);
CREATE INDEX host_team_members_user ON host_team_members(user_id);
CREATE TABLE challenges (
  id INTEGER PRIMARY KEY,
  title TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  host_team_id INTEGER NOT NULL REFERENCES host_teams(id),
  approved INTEGER NOT NULL DEFAULT 0,
  inform_hosts INTEGER NOT NULL DEFAULT 1,
  start_date INTEGER,
  retention_policy_consent INTEGER NOT NULL DEFAULT 0,
  retention_policy_consent_date INTEGER,
  retention_policy_consent_by INTEGER REFERENCES users(id),
  retention_policy_notes TEXT NOT NULL DEFAULT '',
  log_retention_days_override INTEGER CHECK (log_retention_days_override BETWEEN 1 AND 3653),
  log_retention_override_reason TEXT,
  legal_hold INTEGER NOT NULL DEFAULT 0,
  legal_hold_reason TEXT,
  created_at INTEGER NOT NULL
);
CREATE INDEX challenges_host_team ON challenges(host_team_id);
CREATE TABLE phases (
  id INTEGER PRIMARY KEY,
  challenge_id INTEGER NOT NULL REFERENCES challenges(id),
  name TEXT NOT NULL,
  start_date INTEGER,
  end_date INTEGER,
  is_public INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX phases_challenge ON phases(challenge_id);
CREATE TABLE submissions (
  id INTEGER PRIMARY KEY,
  phase_id INTEGER NOT NULL REFERENCES phases(id),
  challenge_id INTEGER NOT NULL REFERENCES challenges(id),
  participant TEXT NOT NULL,
  submitted_at INTEGER NOT NULL,
  status TEXT NOT NULL DEFAULT 'finished',
  retention_eligible_date INTEGER,
  is_artifact_deleted INTEGER NOT NULL DEFAULT 0,
  artifact_deletion_date INTEGER,
  retention_policy_applied TEXT,
  retention_override_reason TEXT,
  legal_hold INTEGER NOT NULL DEFAULT 0,
  legal_hold_reason TEXT,
  notice_sent_at INTEGER
);
CREATE INDEX submissions_phase ON submissions(phase_id);
CREATE INDEX submissions_challenge ON submissions(challenge_id);
CREATE INDEX submissions_participant ON submissions(participant, challenge_id);
-- Drives the sweep and the notices: only live candidates are indexed, in eligible-date order.
CREATE INDEX submission_sweep ON submissions(retention_eligible_date, id)
  WHERE retention_eligible_date IS NOT NULL AND is_artifact_deleted = 0;
CREATE TABLE artifacts (
  id INTEGER PRIMARY KEY,
  submission_id INTEGER NOT NULL REFERENCES submissions(id),
  kind TEXT NOT NULL CHECK (kind IN ('input_file', 'submission_input_file', 'stdout_file',
    'stderr_file', 'environment_log_file', 'submission_result_file', 'submission_metadata_file')),
  storage_key TEXT NOT NULL UNIQUE,
  size_bytes INTEGER NOT NULL CHECK (size_bytes >= 0),
  state TEXT NOT NULL DEFAULT 'stored' CHECK (state IN ('stored', 'deleted', 'failed')),
  attempts INTEGER NOT NULL DEFAULT 0,
  last_error TEXT,
  deleted_at INTEGER
);
CREATE INDEX artifacts_submission ON artifacts(submission_id);
-- One hash-chained, append-only log for consent (ledger = 'consent') and admin actions
-- (ledger = 'admin'), R7. audit_head holds the chain's length and last hash.
CREATE TABLE audit_events (
  id INTEGER PRIMARY KEY,
  ledger TEXT NOT NULL CHECK (ledger IN ('consent', 'admin')),
  challenge_id INTEGER,
  submission_id INTEGER,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  notes TEXT NOT NULL DEFAULT '',
  at INTEGER NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
);
CREATE INDEX audit_events_challenge ON audit_events(challenge_id, id);
CREATE INDEX audit_events_at ON audit_events(at);
CREATE TABLE audit_head (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  count INTEGER NOT NULL,
  hash TEXT NOT NULL
);
CREATE TABLE job_runs (
  id INTEGER PRIMARY KEY,
  job TEXT NOT NULL,
  trigger TEXT NOT NULL,
  slot INTEGER,
  owner TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  finished_at INTEGER,
  status TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'interrupted')),
  result TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX job_runs_job ON job_runs(job, id);
CREATE TABLE job_locks (
  job TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE TABLE mail_outbox (
  id INTEGER PRIMARY KEY,
  challenge_id INTEGER REFERENCES challenges(id),
  recipient TEXT NOT NULL,
  subject TEXT NOT NULL,
  body_text TEXT NOT NULL,
  body_html TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('queued', 'sending', 'sent', 'failed', 'cancelled',
    'suppressed')),
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  last_error TEXT,
  created_at INTEGER NOT NULL,
  sent_at INTEGER
);
CREATE INDEX mail_outbox_state ON mail_outbox(state, next_attempt_at);
CREATE TABLE notice_items (
  outbox_id INTEGER NOT NULL REFERENCES mail_outbox(id),
  submission_id INTEGER NOT NULL REFERENCES submissions(id),
  PRIMARY KEY (outbox_id, submission_id)
);
CREATE INDEX notice_items_submission ON notice_items(submission_id);
CREATE TABLE log_retention_state (
  challenge_id INTEGER PRIMARY KEY REFERENCES challenges(id),
  group_name TEXT NOT NULL,
  desired_days INTEGER,
  applied_days INTEGER,
  applied_known INTEGER NOT NULL DEFAULT 0,
  state TEXT NOT NULL CHECK (state IN ('in_step', 'pending', 'error')),
  last_error TEXT,
  updated_at INTEGER NOT NULL
);
)sql"}},
      // 2: a sweep's deletion intent (ADR 0005) and the per-challenge sweep index.
      {{Engine::kAll, R"sql(
-- Set, in a committed transaction, just before the sweep deletes the artifact's file; cleared
-- when the outcome is recorded. A set value after a crash or a failed commit means "the file may
-- be gone": the next sweep looks at storage and records the truth before anything else.
ALTER TABLE artifacts ADD COLUMN delete_started_at INTEGER;
CREATE INDEX artifacts_deleting ON artifacts(id) WHERE delete_started_at IS NOT NULL;
CREATE INDEX submission_sweep_challenge ON submissions(challenge_id, retention_eligible_date, id)
  WHERE retention_eligible_date IS NOT NULL AND is_artifact_deleted = 0;
)sql"}},
      // 3: status from one pass over an index (issue 9): each submission carries the bytes of
      // its artifacts not yet deleted, kept by triggers wherever artifacts change.
      {{Engine::kAll, R"sql(
ALTER TABLE submissions ADD COLUMN bytes_stored INTEGER NOT NULL DEFAULT 0;
UPDATE submissions SET bytes_stored = (SELECT COALESCE(SUM(a.size_bytes), 0) FROM artifacts a
  WHERE a.submission_id = submissions.id AND a.state <> 'deleted');
CREATE INDEX submissions_status ON submissions(challenge_id, is_artifact_deleted,
  retention_eligible_date, legal_hold, bytes_stored);
)sql"},
       {Engine::kSqlite, R"sql(
CREATE TRIGGER artifacts_bytes_insert AFTER INSERT ON artifacts WHEN NEW.state <> 'deleted'
BEGIN
  UPDATE submissions SET bytes_stored = bytes_stored + NEW.size_bytes WHERE id = NEW.submission_id;
END;
CREATE TRIGGER artifacts_bytes_update AFTER UPDATE OF state, size_bytes ON artifacts
BEGIN
  UPDATE submissions SET bytes_stored = bytes_stored
    - (CASE WHEN OLD.state <> 'deleted' THEN OLD.size_bytes ELSE 0 END)
    + (CASE WHEN NEW.state <> 'deleted' THEN NEW.size_bytes ELSE 0 END)
  WHERE id = NEW.submission_id;
END;
CREATE TRIGGER artifacts_bytes_delete AFTER DELETE ON artifacts WHEN OLD.state <> 'deleted'
BEGIN
  UPDATE submissions SET bytes_stored = bytes_stored - OLD.size_bytes WHERE id = OLD.submission_id;
END;
)sql"},
       // The same three triggers, each a PL/pgSQL function.
       {Engine::kPostgresql, R"sql(
CREATE FUNCTION artifacts_bytes_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE submissions SET bytes_stored = bytes_stored + NEW.size_bytes WHERE id = NEW.submission_id;
  RETURN NULL;
END $$;
CREATE TRIGGER artifacts_bytes_insert AFTER INSERT ON artifacts FOR EACH ROW
  WHEN (NEW.state <> 'deleted') EXECUTE FUNCTION artifacts_bytes_insert();
CREATE FUNCTION artifacts_bytes_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE submissions SET bytes_stored = bytes_stored
    - (CASE WHEN OLD.state <> 'deleted' THEN OLD.size_bytes ELSE 0 END)
    + (CASE WHEN NEW.state <> 'deleted' THEN NEW.size_bytes ELSE 0 END)
  WHERE id = NEW.submission_id;
  RETURN NULL;
END $$;
CREATE TRIGGER artifacts_bytes_update AFTER UPDATE OF state, size_bytes ON artifacts FOR EACH ROW
  EXECUTE FUNCTION artifacts_bytes_update();
CREATE FUNCTION artifacts_bytes_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE submissions SET bytes_stored = bytes_stored - OLD.size_bytes WHERE id = OLD.submission_id;
  RETURN NULL;
END $$;
CREATE TRIGGER artifacts_bytes_delete AFTER DELETE ON artifacts FOR EACH ROW
  WHEN (OLD.state <> 'deleted') EXECUTE FUNCTION artifacts_bytes_delete();
)sql"}},
      // 4: the origin of each log group (issue 8 defect 1, ADR 0004): the first time the service
      // saw the group (first reconcile or first ingested line). R8's before-E policy counts from
      // it, never from a moving now. A group reconciled before this migration gets the time of its
      // first recorded policy change (the audit ledger), else its last reconcile: the earliest
      // time known for it.
      {{Engine::kAll, R"sql(
CREATE TABLE log_group_origins (
  group_name TEXT PRIMARY KEY,
  first_seen_at INTEGER NOT NULL
);
)sql"},
       {Engine::kSqlite, R"sql(
INSERT INTO log_group_origins (group_name, first_seen_at)
  SELECT s.group_name, MIN(COALESCE(e.at, s.updated_at), s.updated_at)
  FROM log_retention_state s
  LEFT JOIN (SELECT challenge_id, MIN(at) AS at FROM audit_events
             WHERE action = 'log_retention_applied' GROUP BY challenge_id) e
    ON e.challenge_id = s.challenge_id;
)sql"},
       // LEAST for SQLite's two-argument MIN.
       {Engine::kPostgresql, R"sql(
INSERT INTO log_group_origins (group_name, first_seen_at)
  SELECT s.group_name, LEAST(COALESCE(e.at, s.updated_at), s.updated_at)
  FROM log_retention_state s
  LEFT JOIN (SELECT challenge_id, MIN(at) AS at FROM audit_events
             WHERE action = 'log_retention_applied' GROUP BY challenge_id) e
    ON e.challenge_id = s.challenge_id;
)sql"}},
      // 5: a sweep's deletion intent per batch, not per artifact (issue 9, ADR 0005): one row,
      // written in a committed transaction before the batch deletes anything, names the
      // submissions whose artifacts it may delete; it goes in the transaction that records the
      // outcomes. A row left by a crash or a failed record means "these files may be gone": the
      // next sweep asks storage about every artifact of those submissions not recorded deleted.
      // Intents of the per-artifact form (migration 2) are carried over.
      {{Engine::kAll, R"sql(
CREATE TABLE sweep_intents (
  id INTEGER PRIMARY KEY,
  started_at INTEGER NOT NULL,
  submission_ids TEXT NOT NULL  -- decimal ids separated by ','
);
)sql"},
       {Engine::kSqlite, R"sql(
INSERT INTO sweep_intents (started_at, submission_ids)
  SELECT MIN(delete_started_at), group_concat(DISTINCT submission_id) FROM artifacts
  WHERE delete_started_at IS NOT NULL HAVING COUNT(*) > 0;
)sql"},
       // string_agg for SQLite's group_concat.
       {Engine::kPostgresql, R"sql(
INSERT INTO sweep_intents (started_at, submission_ids)
  SELECT MIN(delete_started_at), string_agg(DISTINCT submission_id::text, ',') FROM artifacts
  WHERE delete_started_at IS NOT NULL HAVING COUNT(*) > 0;
)sql"},
       {Engine::kAll, R"sql(
UPDATE artifacts SET delete_started_at = NULL WHERE delete_started_at IS NOT NULL;
DROP INDEX artifacts_deleting;
-- is_artifact_deleted as a column too, so that the listing of a challenge on hold is served by
-- the index alone (SQLite does not count a partial index's WHERE columns as covered).
DROP INDEX submission_sweep_challenge;
CREATE INDEX submission_sweep_challenge ON submissions(challenge_id, retention_eligible_date, id,
  is_artifact_deleted) WHERE retention_eligible_date IS NOT NULL AND is_artifact_deleted = 0;
)sql"}},
      // 6: phase policies (R1): an admin's retention days for one phase, or `keep` (never
      // deleted), each with its reason. Days and keep exclude each other; a reason goes with
      // either.
      {{Engine::kAll, R"sql(
ALTER TABLE phases ADD COLUMN retention_days INTEGER
  CHECK (retention_days BETWEEN 1 AND 3653);
ALTER TABLE phases ADD COLUMN retention_policy TEXT
  CHECK (retention_policy IN ('keep'));
ALTER TABLE phases ADD COLUMN retention_policy_reason TEXT;
)sql"}},
      // 7: indexes for the sweep's walk and its counts (issue 9). challenge_id in
      // submission_sweep, so that a sweep of every challenge passes over the entries of the
      // challenges on hold (listed apart) in the index, without their rows; phase_id in
      // submissions_status after the eligible date, so that the submissions without one are
      // counted per phase (R2's reasons) from the index, in order, without their rows; and
      // notice_sent_at, so that the next deletion date and the forecast read the index alone.
      {{Engine::kAll, R"sql(
DROP INDEX submission_sweep;
CREATE INDEX submission_sweep ON submissions(retention_eligible_date, id, challenge_id)
  WHERE retention_eligible_date IS NOT NULL AND is_artifact_deleted = 0;
DROP INDEX submissions_status;
CREATE INDEX submissions_status ON submissions(challenge_id, is_artifact_deleted,
  retention_eligible_date, phase_id, legal_hold, bytes_stored, notice_sent_at);
)sql"}},
      // 8: the sweep keeps bytes_stored itself when it records artifacts deleted (issue 9): the
      // per-row trigger on every state change rewrote each submission (and its submissions_status
      // entry) once per artifact, about 40% of the cost of recording a batch. Only the sweep
      // changes an artifact's state (src/service/sweep.cc); a change of size still goes through
      // a trigger.
      {{Engine::kSqlite, R"sql(
DROP TRIGGER artifacts_bytes_update;
CREATE TRIGGER artifacts_bytes_resize AFTER UPDATE OF size_bytes ON artifacts
  WHEN OLD.state <> 'deleted' AND NEW.state <> 'deleted'
BEGIN
  UPDATE submissions SET bytes_stored = bytes_stored - OLD.size_bytes + NEW.size_bytes
  WHERE id = NEW.submission_id;
END;
)sql"},
       {Engine::kPostgresql, R"sql(
DROP TRIGGER artifacts_bytes_update ON artifacts;
DROP FUNCTION artifacts_bytes_update();
CREATE FUNCTION artifacts_bytes_resize() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE submissions SET bytes_stored = bytes_stored - OLD.size_bytes + NEW.size_bytes
  WHERE id = NEW.submission_id;
  RETURN NULL;
END $$;
CREATE TRIGGER artifacts_bytes_resize AFTER UPDATE OF size_bytes ON artifacts FOR EACH ROW
  WHEN (OLD.state <> 'deleted' AND NEW.state <> 'deleted')
  EXECUTE FUNCTION artifacts_bytes_resize();
)sql"}},
      // 9: tokens with a role, an expiry and a revocation (DESIGN section 6, issue 14). `role`
      // 'platform' limits a token to the platform's routes; `prefix` (the key's first 8
      // characters, NULL for tokens made before this migration by `token create`) names a token
      // in `token list` and `token revoke`. A revoked or expired token signs nobody in.
      {{Engine::kAll, R"sql(
ALTER TABLE api_tokens ADD COLUMN role TEXT NOT NULL DEFAULT 'user'
  CHECK (role IN ('user', 'platform'));
ALTER TABLE api_tokens ADD COLUMN prefix TEXT;
ALTER TABLE api_tokens ADD COLUMN expires_at INTEGER;
ALTER TABLE api_tokens ADD COLUMN revoked_at INTEGER;
CREATE INDEX api_tokens_prefix ON api_tokens(prefix);
)sql"}},
      // 10: keep (R10). A host's or admin's keep of one submission (kept_at, kept_by,
      // keep_reason; all NULL when not kept), the platform's is_baseline, and an admin's release
      // of a baseline (baseline_released_*). `kept` is derived, so that every rule reads one
      // column: 1 when kept explicitly, or a baseline that no admin released. SQLite adds a
      // generated column as VIRTUAL only; PostgreSQL has STORED only.
      {{Engine::kAll, R"sql(
ALTER TABLE submissions ADD COLUMN kept_at INTEGER;
ALTER TABLE submissions ADD COLUMN kept_by TEXT;
ALTER TABLE submissions ADD COLUMN keep_reason TEXT;
ALTER TABLE submissions ADD COLUMN is_baseline INTEGER NOT NULL DEFAULT 0
  CHECK (is_baseline IN (0, 1));
ALTER TABLE submissions ADD COLUMN baseline_released_at INTEGER;
ALTER TABLE submissions ADD COLUMN baseline_released_by TEXT;
ALTER TABLE submissions ADD COLUMN baseline_release_reason TEXT;
)sql"},
       {Engine::kSqlite, R"sql(
ALTER TABLE submissions ADD COLUMN kept INTEGER GENERATED ALWAYS AS (CASE WHEN kept_at IS NOT NULL
  OR (is_baseline = 1 AND baseline_released_at IS NULL) THEN 1 ELSE 0 END) VIRTUAL;
)sql"},
       {Engine::kPostgresql, R"sql(
ALTER TABLE submissions ADD COLUMN kept BIGINT GENERATED ALWAYS AS (CASE WHEN kept_at IS NOT NULL
  OR (is_baseline = 1 AND baseline_released_at IS NULL) THEN 1 ELSE 0 END) STORED;
)sql"},
       // The few kept submissions, counted per challenge by status, the forecast and the sweep.
       {Engine::kAll, R"sql(
CREATE INDEX submissions_kept ON submissions(challenge_id) WHERE kept = 1 AND is_artifact_deleted = 0;
)sql"}},
      // 11: reading EvalAI's own database (issue 12, DESIGN.md 7b, service/evalai_sync.h).
      // evalai_sync_state: each EvalAI table's watermark (`watermark:TABLE`, the newest
      // modified_at read, Unix seconds) and the time of the last full pass (`full_pass_at`),
      // written only when a whole sync succeeded. evalai_imports: the challenges whose consent or
      // override in EvalAI's columns was taken once (afterwards ours rule). evalai_write_back:
      // the swept submissions whose deletion EvalAI's submission row was told of (evalai.
      // write_back); a swept submission without a row here is written by the next call.
      // artifact_sizes_pending: artifacts added with a size storage did not know yet (stored 0),
      // asked again by every sync. submissions_swept serves the write-back's walk.
      {{Engine::kAll, R"sql(
CREATE TABLE evalai_sync_state (
  name TEXT PRIMARY KEY,
  value INTEGER NOT NULL
);
CREATE TABLE evalai_imports (
  challenge_id INTEGER PRIMARY KEY REFERENCES challenges(id),
  consent_imported_at INTEGER,
  override_imported_at INTEGER
);
CREATE TABLE evalai_write_back (
  submission_id INTEGER PRIMARY KEY REFERENCES submissions(id),
  written_at INTEGER NOT NULL
);
CREATE TABLE artifact_sizes_pending (
  artifact_id INTEGER PRIMARY KEY REFERENCES artifacts(id)
);
CREATE INDEX submissions_swept ON submissions(id) WHERE is_artifact_deleted = 1;
)sql"}},
      // 12: the holder of a sweep's deletion intent (issue 11, ADR 0008): on PostgreSQL the
      // backend pid of the batch's connection, which holds an advisory lock on it for as long as
      // the batch runs. An intent whose holder's lock is free was left by a replica that died or
      // lost its connection, and any replica recovers it; NULL (SQLite, or an intent of an
      // earlier version) is recovered by the next sweep as before.
      {{Engine::kAll, R"sql(
ALTER TABLE sweep_intents ADD COLUMN holder INTEGER;
)sql"}},
  };
  return kMigrations;
}

// SQLite's DDL as PostgreSQL's: 64-bit integers (BIGINT), `id INTEGER PRIMARY KEY` as an
// identity column that follows explicit ids (kPostgresqlFollowIds), and foreign keys DEFERRABLE
// (INITIALLY IMMEDIATE), so that SqlConnection::DeferForeignKeys can defer them.
std::string PostgresqlDdl(const std::string& sql) {
  static const std::regex kIdKey(R"(\bid INTEGER PRIMARY KEY\b)");
  static const std::regex kInteger(R"(\bINTEGER\b)");
  static const std::regex kReference(R"((REFERENCES \w+\(\w+\)))");
  static const std::regex kTableWithId(R"(CREATE TABLE (\w+) \(\s*id INTEGER PRIMARY KEY)");
  std::string out =
      std::regex_replace(sql, kIdKey, "id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY");
  out = std::regex_replace(out, kInteger, "BIGINT");
  out = std::regex_replace(out, kReference, "$1 DEFERRABLE");
  for (std::sregex_iterator it(sql.begin(), sql.end(), kTableWithId), end; it != end; ++it) {
    const std::string table = (*it)[1];
    out += "CREATE TRIGGER " + table + "_follow_ids AFTER INSERT ON " + table +
           " FOR EACH STATEMENT EXECUTE FUNCTION retention_follow_ids();\n";
  }
  return out;
}

// The script of migration `version` (1-based) for `conn`'s engine.
std::string MigrationScript(const SqlConnection& conn, int version) {
  const bool postgresql = conn.Dialect() == "postgresql";
  std::string script;
  for (const Part& part : Migrations()[static_cast<std::size_t>(version - 1)]) {
    if (part.engine == Engine::kAll) {
      script += postgresql ? PostgresqlDdl(part.sql) : std::string(part.sql);
    } else if (part.engine == (postgresql ? Engine::kPostgresql : Engine::kSqlite)) {
      script += part.sql;
    }
  }
  return script;
}

}  // namespace

int LatestSchemaVersion() { return static_cast<int>(Migrations().size()); }

Result<int> Migrate(SqlConnection& conn) {
  const std::string create_versions =
      "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
      "applied_at INTEGER NOT NULL)";
  {
    // Inside a write transaction: replicas that start at once on one PostgreSQL would otherwise
    // race on CREATE TABLE IF NOT EXISTS (a unique violation in the catalog).
    ASSIGN_OR_RETURN(auto tx, Transaction::Start(conn, TxMode::kWrite));
    RETURN_IF_ERROR(conn.ExecScript(conn.Dialect() == "postgresql" ? PostgresqlDdl(create_versions)
                                                                   : create_versions));
    RETURN_IF_ERROR(tx.Commit());
  }
  int applied = 0;
  for (int version = 1; version <= LatestSchemaVersion(); ++version) {
    ASSIGN_OR_RETURN(auto tx, Transaction::Start(conn, TxMode::kWrite));
    ASSIGN_OR_RETURN(auto row,
                     conn.QueryOne("SELECT version FROM schema_migrations WHERE version = ?",
                                   {std::int64_t{version}}));
    if (row) continue;
    if (auto s = conn.ExecScript(MigrationScript(conn, version)); !s.ok()) {
      return s.WithContext("migration " + std::to_string(version));
    }
    RETURN_IF_ERROR(conn.Exec("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                              {std::int64_t{version}, ToUnix(SystemClock().Now())}));
    RETURN_IF_ERROR(tx.Commit());
    ++applied;
  }
  ASSIGN_OR_RETURN(auto newest, conn.QueryOne("SELECT MAX(version) FROM schema_migrations"));
  if (newest && newest->Int(0) > LatestSchemaVersion()) {
    return FailedPrecondition("database schema version " + std::to_string(newest->Int(0)) +
                              " is newer than this binary (" +
                              std::to_string(LatestSchemaVersion()) + "); upgrade retention");
  }
  return applied;
}

}  // namespace retention
