#include "service/audit_log.h"

#include <nlohmann/json.hpp>
#include <ranges>

#include "core/crypto.h"
#include "core/utf8.h"

namespace retention {
namespace {

constexpr const char* kGenesis = "0000000000000000000000000000000000000000000000000000000000000000";

// The canonical content: a JSON array in fixed order, so that every field is covered, dumped
// strictly so that the hash covers exactly the stored bytes. InvalidArgument naming the field when
// a text is not valid UTF-8 (no input lets such text in; in a stored event it means an edit).
Result<std::string> Canonical(const AuditEvent& e) {
  const std::pair<const char*, const std::string*> texts[] = {
      {"ledger", &e.ledger}, {"actor", &e.actor}, {"action", &e.action}, {"notes", &e.notes}};
  for (const auto& [field, text] : texts) {
    if (!IsValidUtf8(*text)) {
      return InvalidArgument(std::string("audit event ") + field + " " +
                             DescribeInvalidUtf8(*text));
    }
  }
  nlohmann::json j = nlohmann::json::array(
      {e.id, e.ledger, e.challenge_id ? nlohmann::json(*e.challenge_id) : nlohmann::json(),
       e.submission_id ? nlohmann::json(*e.submission_id) : nlohmann::json(), e.actor, e.action,
       e.notes, ToUnix(e.at)});
  try {
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::strict);
  } catch (const nlohmann::json::exception& ex) {
    return Internal(std::string("audit event canonical form: ") + ex.what());
  }
}

constexpr const char* kColumns =
    "id, ledger, challenge_id, submission_id, actor, action, notes, at, prev_hash, hash";
// The stored type each column of kColumns must have: anything else was not written by
// AppendAuditEvent.
struct ColumnType {
  const char* name;
  SqlType type;
  bool nullable;
};
constexpr ColumnType kColumnTypes[] = {
    {"id", SqlType::kInt, false},          {"ledger", SqlType::kText, false},
    {"challenge_id", SqlType::kInt, true}, {"submission_id", SqlType::kInt, true},
    {"actor", SqlType::kText, false},      {"action", SqlType::kText, false},
    {"notes", SqlType::kText, false},      {"at", SqlType::kInt, false},
    {"prev_hash", SqlType::kText, false},  {"hash", SqlType::kText, false},
};

AuditEvent FromRow(const SqlRow& r) {
  AuditEvent e;
  e.id = r.Int(0);
  e.ledger = r.Text(1);
  e.challenge_id = r.OptInt(2);
  e.submission_id = r.OptInt(3);
  e.actor = r.Text(4);
  e.action = r.Text(5);
  e.notes = r.Text(6);
  e.at = FromUnix(r.Int(7));
  e.prev_hash = r.Text(8);
  e.hash = r.Text(9);
  return e;
}

// Empty when every column of a stored row has the type AppendAuditEvent writes; otherwise why not
// (a text in an integer column would read back as its leading digits, a real as its whole part).
std::string StoredTypeProblem(const SqlRow& r) {
  for (std::size_t i = 0; i < std::size(kColumnTypes); ++i) {
    const ColumnType& c = kColumnTypes[i];
    const SqlType t = r.TypeOf(i);
    if (t == c.type || (c.nullable && t == SqlType::kNull)) continue;
    return std::string("its ") + c.name + " is stored as " + SqlTypeName(t) + " '" + r.Text(i) +
           "', not " + (c.type == SqlType::kInt ? "an integer" : "text");
  }
  return {};
}

}  // namespace

Result<AuditEvent> AppendAuditEvent(SqlConnection& conn, AuditEvent event) {
  ASSIGN_OR_RETURN(auto head, conn.QueryOne("SELECT count, hash FROM audit_head WHERE id = 1"));
  ASSIGN_OR_RETURN(auto last, conn.QueryOne("SELECT COALESCE(MAX(id), 0) FROM audit_events"));
  event.id = last->Int(0) + 1;
  event.prev_hash = head ? head->Text(1) : kGenesis;
  ASSIGN_OR_RETURN(const std::string canonical, Canonical(event));
  event.hash = Sha256Hex(event.prev_hash + canonical);
  RETURN_IF_ERROR(conn.Exec(
      "INSERT INTO audit_events (id, ledger, challenge_id, submission_id, actor, action, notes, "
      "at, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      {event.id, event.ledger, SqlOpt(event.challenge_id), SqlOpt(event.submission_id), event.actor,
       event.action, event.notes, ToUnix(event.at), event.prev_hash, event.hash}));
  RETURN_IF_ERROR(
      conn.Exec("INSERT INTO audit_head (id, count, hash) VALUES (1, 1, ?) "
                "ON CONFLICT (id) DO UPDATE SET count = audit_head.count + 1, hash = excluded.hash",
                {event.hash}));
  return event;
}

Result<std::vector<AuditEvent>> ListAuditEvents(SqlConnection& conn, const AuditFilter& f) {
  std::string sql = std::string("SELECT ") + kColumns + " FROM audit_events WHERE 1 = 1";
  SqlParams params;
  if (f.challenge_id) {
    sql += " AND challenge_id = ?";
    params.emplace_back(*f.challenge_id);
  }
  if (f.ledger) {
    sql += " AND ledger = ?";
    params.emplace_back(*f.ledger);
  }
  if (f.since) {
    sql += " AND at >= ?";
    params.emplace_back(ToUnix(*f.since));
  }
  sql += " ORDER BY id DESC LIMIT ?";
  params.emplace_back(std::int64_t{f.limit});
  ASSIGN_OR_RETURN(auto rows, conn.Query(sql, params));
  std::vector<AuditEvent> events;
  events.reserve(rows.size());
  for (const auto& row : std::ranges::reverse_view(rows)) events.push_back(FromRow(row));
  return events;
}

Result<AuditVerification> VerifyAuditChain(SqlConnection& conn) {
  // One read transaction: the events and audit_head are one snapshot, so an append that commits
  // while the pages are read cannot make an intact chain look truncated.
  ASSIGN_OR_RETURN(auto tx, Transaction::Start(conn, TxMode::kRead));
  AuditVerification v;
  std::string prev = kGenesis;
  std::int64_t after = 0;
  const std::string sql =
      std::string("SELECT ") + kColumns + " FROM audit_events WHERE id > ? ORDER BY id LIMIT 1000";
  for (;;) {
    ASSIGN_OR_RETURN(auto rows, conn.Query(sql, {after}));
    if (rows.empty()) break;
    for (const auto& r : rows) {
      AuditEvent e = FromRow(r);
      ++v.count;
      auto fail = [&](const std::string& why) -> Result<AuditVerification> {
        v.ok = false;
        v.bad_event_id = e.id;
        v.error =
            "event " + std::to_string(e.id) + " (" + e.action + " on " +
            (e.challenge_id ? "challenge " + std::to_string(*e.challenge_id) : "no challenge") +
            " at " + FormatTime(e.at) + "): " + why;
        RETURN_IF_ERROR(tx.Commit());
        return v;
      };
      if (e.id != v.count) {
        return fail("expected event " + std::to_string(v.count) + ": an event was removed");
      }
      if (e.prev_hash != prev) return fail("its previous-hash does not match the event before it");
      if (const std::string problem = StoredTypeProblem(r); !problem.empty()) {
        return fail(problem + ": it was edited");
      }
      auto canonical = Canonical(e);
      if (!canonical.ok()) return fail(canonical.status().message() + ": it was edited");
      if (Sha256Hex(prev + *canonical) != e.hash) {
        return fail("its content does not match its hash: it was edited");
      }
      prev = e.hash;
      after = e.id;
    }
  }
  ASSIGN_OR_RETURN(auto head, conn.QueryOne("SELECT count, hash FROM audit_head WHERE id = 1"));
  RETURN_IF_ERROR(tx.Commit());
  const std::int64_t head_count = head ? head->Int(0) : 0;
  const std::string head_hash = head ? head->Text(1) : kGenesis;
  if (head_count != v.count || head_hash != prev) {
    v.ok = false;
    v.bad_event_id = v.count == 0 ? std::optional<std::int64_t>() : std::optional(after);
    v.error = "the chain head records " + std::to_string(head_count) + " events but " +
              std::to_string(v.count) +
              " verify: the last events were removed or the last event was rewritten";
  }
  return v;
}

Status AppendEvent(SqlConnection& conn, const char* ledger, std::optional<std::int64_t> challenge,
                   std::optional<std::int64_t> submission, const std::string& actor,
                   const std::string& action, const std::string& notes, TimePoint at) {
  AuditEvent e;
  e.ledger = ledger;
  e.challenge_id = challenge;
  e.submission_id = submission;
  e.actor = actor;
  e.action = action;
  e.notes = notes;
  e.at = at;
  return AppendAuditEvent(conn, std::move(e)).status();
}

}  // namespace retention
