// The hash-chained audit log (R7): consent events (ledger "consent") and admin actions (ledger
// "admin") in one append-only chain. Each event stores SHA-256(previous hash + its canonical
// content); audit_head keeps the chain's length and last hash, so an edit of any event, the last
// one included, and a deleted tail are both detected. Functions run inside the caller's
// transaction; not thread-safe beyond the connection's own rules.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/time.h"
#include "store/sql.h"

namespace retention {

struct AuditEvent {
  std::int64_t id = 0;
  std::string ledger;  // "consent" or "admin"
  std::optional<std::int64_t> challenge_id;
  std::optional<std::int64_t> submission_id;
  std::string actor;
  std::string action;  // granted, withdrawn, notes_changed, imported, override_set, ...
  std::string notes;
  TimePoint at{};
  std::string prev_hash;
  std::string hash;
};

// Appends an event (id, hashes filled in) and advances audit_head. Must run inside a write
// transaction so that two writers cannot fork the chain. InvalidArgument naming the field when a
// text (ledger, actor, action, notes) is not valid UTF-8; nothing is written then.
Result<AuditEvent> AppendAuditEvent(SqlConnection& conn, AuditEvent event);
// AppendAuditEvent for an event given field by field.
Status AppendEvent(SqlConnection& conn, const char* ledger, std::optional<std::int64_t> challenge,
                   std::optional<std::int64_t> submission, const std::string& actor,
                   const std::string& action, const std::string& notes, TimePoint at);

struct AuditFilter {
  std::optional<std::int64_t> challenge_id;
  std::optional<std::string> ledger;
  std::optional<TimePoint> since;
  int limit = 1000;
};
// Events in id order (oldest first), at most filter.limit of the newest matching ones.
Result<std::vector<AuditEvent>> ListAuditEvents(SqlConnection& conn, const AuditFilter& filter);

struct AuditVerification {
  bool ok = true;
  std::int64_t count = 0;
  std::optional<std::int64_t> bad_event_id;
  std::string error;  // names the first event that does not verify
};
// Recomputes the whole chain in id order, streaming in pages, in one read transaction of its own
// (the caller must not have one open on `conn`), so the events and audit_head are one snapshot.
// An event whose stored columns do not have the types AppendAuditEvent writes (an id or time that
// is not exactly an integer) or whose text is not valid UTF-8 does not verify: it was edited.
// Errors: the database's, when it cannot be read.
Result<AuditVerification> VerifyAuditChain(SqlConnection& conn);

}  // namespace retention
