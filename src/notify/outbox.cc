#include "notify/outbox.h"

#include <algorithm>
#include <array>

namespace retention {
namespace {

constexpr std::int64_t kBaseBackoffSeconds = 60;
constexpr std::int64_t kMaxBackoffSeconds = std::int64_t{6} * 3600;
constexpr int kMaxListLimit = 10000;
// A database error while recording a result is retried this often before giving up (the mail
// would otherwise stay 'sending' with an unknown outcome although the result is known).
constexpr int kRecordTries = 3;

constexpr std::array<const char*, 6> kStates = {"queued", "sending",   "sent",
                                                "failed", "cancelled", "suppressed"};

bool HasLineBreak(const std::string& s) { return s.find_first_of("\r\n") != std::string::npos; }

bool IsRetryable(StatusCode code) {
  return code == StatusCode::kUnavailable || code == StatusCode::kResourceExhausted ||
         code == StatusCode::kAborted;
}

bool IsPermanent(StatusCode code) {
  return code == StatusCode::kFailedPrecondition || code == StatusCode::kInvalidArgument ||
         code == StatusCode::kPermissionDenied || code == StatusCode::kNotFound;
}

struct DueMail {
  std::int64_t id = 0;
  MailMessage message;
};

// Claims mail `id` for sending. Returns its attempt number, or nullopt when another delivery
// took it first or it is no longer queued and due.
Result<std::optional<int>> Claim(Database& db, std::int64_t id, TimePoint now) {
  auto conn = db.Lock();
  ASSIGN_OR_RETURN(auto tx, Transaction::Start(*conn, TxMode::kWrite));
  ASSIGN_OR_RETURN(
      auto row, conn->QueryOne("UPDATE mail_outbox SET state = 'sending', attempts = attempts "
                               "+ 1, last_error = ? WHERE id = ? AND state = 'queued' AND "
                               "next_attempt_at <= ? RETURNING attempts",
                               {"outcome unknown: handed to the mail server at " + FormatTime(now) +
                                    ", no result recorded; not re-sent",
                                id, ToUnix(now)}));
  RETURN_IF_ERROR(tx.Commit());
  if (!row) {
    return std::optional<int>();
  }
  return std::optional<int>(static_cast<int>(row->Int(0)));
}

enum class Recorded {
  kDone,          // the result is recorded
  kVoid,          // recorded as sent, but a void notice (see DeliverDueMail in outbox.h)
  kStateChanged,  // the row was no longer 'sending' (changed by hand meanwhile); nothing written
};

// Inside the caller's transaction: why an accepted notice `id` must not count, or nullopt when it
// counts or is no notice (a mail without a challenge or without submissions in notice_items).
// See DeliverDueMail in outbox.h.
Result<std::optional<std::string>> VoidReason(SqlConnection& conn, std::int64_t id) {
  ASSIGN_OR_RETURN(
      auto row,
      conn.QueryOne("SELECT m.challenge_id, c.retention_policy_consent, CASE WHEN EXISTS (SELECT 1 "
                    "FROM audit_events e WHERE e.ledger = 'consent' AND e.challenge_id = "
                    "m.challenge_id AND e.action = 'withdrawn' AND e.at >= m.created_at) THEN 1 "
                    "ELSE 0 END FROM mail_outbox m LEFT JOIN challenges c ON c.id = "
                    "m.challenge_id WHERE m.id = ? AND EXISTS (SELECT 1 FROM notice_items ni "
                    "WHERE ni.outbox_id = m.id)",
                    {id}));
  if (!row || row->IsNull(0)) return std::optional<std::string>();
  const std::string challenge = "challenge " + std::to_string(row->Int(0));
  if (row->IsNull(1) || row->Int(1) != 1) {
    return std::optional<std::string>("void notice: consent of " + challenge +
                                      " was withdrawn while this mail was being sent; it "
                                      "counts as the notice of no submission");
  }
  if (row->Int(2) != 0) {
    return std::optional<std::string>("void notice: consent of " + challenge +
                                      " was withdrawn (and given again) while this mail was "
                                      "being sent; it counts as the notice of no submission");
  }
  return std::optional<std::string>();
}

// Writes the outcome of one claimed mail in one transaction.
Result<Recorded> RecordOnce(Database& db, std::int64_t id, const std::string& state,
                            const std::optional<std::string>& error,
                            std::optional<TimePoint> sent_at,
                            std::optional<TimePoint> next_attempt_at) {
  auto conn = db.Lock();
  ASSIGN_OR_RETURN(auto tx, Transaction::Start(*conn, TxMode::kWrite));
  std::optional<std::string> void_reason;
  if (sent_at) {
    ASSIGN_OR_RETURN(void_reason, VoidReason(*conn, id));
  }
  ASSIGN_OR_RETURN(
      const std::int64_t changed,
      conn->Exec(
          "UPDATE mail_outbox SET state = ?, last_error = ?, sent_at = ?, "
          "next_attempt_at = COALESCE(?, next_attempt_at) WHERE id = ? AND state = 'sending'",
          {state, SqlOpt(void_reason ? void_reason : error),
           sent_at ? SqlValue(ToUnix(*sent_at)) : SqlNull(),
           next_attempt_at ? SqlValue(ToUnix(*next_attempt_at)) : SqlNull(), id}));
  if (changed == 1 && sent_at && !void_reason) {
    // A submission whose eligible date was cleared meanwhile is not noticed by this mail (ADR
    // 0003).
    RETURN_IF_ERROR(
        conn->Exec("UPDATE submissions SET notice_sent_at = ? WHERE notice_sent_at IS NULL AND "
                   "retention_eligible_date IS NOT NULL AND id IN "
                   "(SELECT submission_id FROM notice_items WHERE outbox_id = ?)",
                   {ToUnix(*sent_at), id}));
  }
  RETURN_IF_ERROR(tx.Commit());
  if (changed != 1) return Recorded::kStateChanged;
  return void_reason ? Recorded::kVoid : Recorded::kDone;
}

Result<Recorded> Record(Database& db, std::int64_t id, const std::string& state,
                        const std::optional<std::string>& error, std::optional<TimePoint> sent_at,
                        std::optional<TimePoint> next_attempt_at) {
  Status last;
  for (int i = 0; i < kRecordTries; ++i) {
    auto r = RecordOnce(db, id, state, error, sent_at, next_attempt_at);
    if (r.ok() || r.status().code() != StatusCode::kAborted) {
      return r;
    }
    last = r.status();
  }
  return last;
}

}  // namespace

std::chrono::seconds MailRetryBackoff(int attempts) {
  std::int64_t seconds = kBaseBackoffSeconds;
  for (int i = 1; i < attempts && seconds < kMaxBackoffSeconds; ++i) {
    seconds *= 2;
  }
  return std::chrono::seconds(std::min(seconds, kMaxBackoffSeconds));
}

Result<std::int64_t> EnqueueMail(SqlConnection& conn, std::optional<std::int64_t> challenge_id,
                                 const MailMessage& m, TimePoint now, bool suppressed) {
  if (m.to.empty()) {
    return InvalidArgument("queue mail: no recipient");
  }
  if (HasLineBreak(m.to) || HasLineBreak(m.subject)) {
    return InvalidArgument("queue mail to '" + EscapeForMessage(m.to) +
                           "': recipient or subject has a line break");
  }
  ASSIGN_OR_RETURN(
      auto row,
      conn.QueryOne("INSERT INTO mail_outbox (challenge_id, recipient, subject, body_text, "
                    "body_html, state, attempts, next_attempt_at, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?) RETURNING id",
                    {SqlOpt(challenge_id), m.to, m.subject, m.text, m.html,
                     std::string(suppressed ? "suppressed" : "queued"), ToUnix(now), ToUnix(now)}));
  if (!row) {
    return Internal("queue mail to " + m.to + ": insert returned no id");
  }
  return row->Int(0);
}

Result<DeliveryReport> DeliverDueMail(Database& db, MailSender& sender, const Clock& clock,
                                      int limit) {
  if (limit < 1) {
    return InvalidArgument("deliver mail: limit must be at least 1");
  }
  const TimePoint now = clock.Now();
  std::vector<DueMail> due;
  {
    auto conn = db.Lock();
    ASSIGN_OR_RETURN(
        auto rows,
        conn->Query("SELECT id, recipient, subject, body_text, body_html FROM mail_outbox "
                    "WHERE state = 'queued' AND next_attempt_at <= ? "
                    "ORDER BY created_at, id LIMIT ?",
                    {ToUnix(now), std::int64_t{limit}}));
    due.reserve(rows.size());
    for (const SqlRow& r : rows) {
      due.push_back({r.Int(0), MailMessage{.from = "",
                                           .to = r.Text(1),
                                           .subject = r.Text(2),
                                           .text = r.Text(3),
                                           .html = r.Text(4)}});
    }
  }

  DeliveryReport report;
  for (const DueMail& mail : due) {
    const std::string what = "mail " + std::to_string(mail.id) + " to " + mail.message.to;
    auto claimed = Claim(db, mail.id, clock.Now());
    if (!claimed.ok()) {
      return claimed.status().WithContext(what + ": claim");
    }
    if (!claimed->has_value()) {
      continue;  // another delivery has it, or it was cancelled
    }
    const int attempts = **claimed;

    const Status sent = sender.Send(mail.message);  // no lock, no transaction held

    const TimePoint done = clock.Now();
    Result<Recorded> recorded = Recorded::kDone;
    if (sent.ok()) {
      recorded = Record(db, mail.id, "sent", std::nullopt, done, std::nullopt);
      ++report.sent;
    } else if (IsRetryable(sent.code()) && attempts < kMaxMailAttempts) {
      recorded = Record(db, mail.id, "queued", sent.ToString(), std::nullopt,
                        done + MailRetryBackoff(attempts));
      ++report.retry_later;
      report.errors.push_back(what + ": " + sent.ToString() + " (attempt " +
                              std::to_string(attempts) + ", retry after " +
                              FormatTime(done + MailRetryBackoff(attempts)) + ")");
    } else if (IsRetryable(sent.code()) || IsPermanent(sent.code())) {
      const std::string error =
          IsPermanent(sent.code())
              ? sent.ToString()
              : "gave up after " + std::to_string(attempts) + " attempts: " + sent.ToString();
      recorded = Record(db, mail.id, "failed", error, std::nullopt, std::nullopt);
      ++report.failed;
      report.errors.push_back(what + ": " + error);
    } else {
      const std::string error = "outcome unknown, not re-sent: " + sent.ToString();
      recorded = Record(db, mail.id, "sending", error, std::nullopt, std::nullopt);
      ++report.failed;
      report.errors.push_back(what + ": " + error);
    }
    if (!recorded.ok()) {
      return recorded.status().WithContext(
          what + ": record result (" + (sent.ok() ? "sent" : sent.ToString()) +
          "); the mail stays 'sending' (outcome unknown) and is not re-sent");
    }
    if (*recorded == Recorded::kStateChanged) {
      report.errors.push_back(what + ": its state changed during delivery; result not recorded");
    } else if (*recorded == Recorded::kVoid) {
      ++report.voided;
    }
  }
  return report;
}

Result<std::int64_t> CancelQueuedMail(SqlConnection& conn, std::int64_t challenge_id,
                                      TimePoint now) {
  auto changed = conn.Exec(
      "UPDATE mail_outbox SET state = 'cancelled', last_error = ? "
      "WHERE challenge_id = ? AND state = 'queued'",
      {"cancelled at " + FormatTime(now), challenge_id});
  if (!changed.ok()) {
    return changed.status().WithContext("cancel mail of challenge " + std::to_string(challenge_id));
  }
  return *changed;
}

Result<std::vector<OutboxEntry>> ListOutbox(SqlConnection& conn, std::optional<std::string> state,
                                            int limit) {
  if (limit < 1 || limit > kMaxListLimit) {
    return InvalidArgument("list outbox: limit must be between 1 and " +
                           std::to_string(kMaxListLimit));
  }
  if (state && std::find(kStates.begin(), kStates.end(), *state) == kStates.end()) {
    return InvalidArgument("list outbox: unknown state '" + *state +
                           "' (queued, sending, sent, failed, cancelled, suppressed)");
  }
  // Two statements rather than "? IS NULL OR ...": PostgreSQL cannot type an untyped NULL.
  constexpr const char* kColumns =
      "SELECT id, challenge_id, recipient, subject, state, attempts, last_error, created_at, "
      "sent_at, next_attempt_at FROM mail_outbox ";
  auto rows_or =
      state ? conn.Query(std::string(kColumns) + "WHERE state = ? ORDER BY id DESC LIMIT ?",
                         {*state, std::int64_t{limit}})
            : conn.Query(std::string(kColumns) + "ORDER BY id DESC LIMIT ?", {std::int64_t{limit}});
  if (!rows_or.ok()) {
    return rows_or.status().WithContext("list outbox");
  }
  const std::vector<SqlRow>& rows = *rows_or;
  std::vector<OutboxEntry> out;
  out.reserve(rows.size());
  for (const SqlRow& r : rows) {
    OutboxEntry e;
    e.id = r.Int(0);
    e.challenge_id = r.OptInt(1);
    e.recipient = r.Text(2);
    e.subject = r.Text(3);
    e.state = r.Text(4);
    e.attempts = static_cast<int>(r.Int(5));
    e.last_error = r.OptText(6);
    e.created_at = FromUnix(r.Int(7));
    if (auto sent_at = r.OptInt(8)) {
      e.sent_at = FromUnix(*sent_at);
    }
    e.next_attempt_at = FromUnix(r.Int(9));
    e.unknown_outcome = e.state == "sending";
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace retention
