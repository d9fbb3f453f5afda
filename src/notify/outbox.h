// The mail outbox: mail is queued as a database row inside the transaction that decides to send
// it (so a rolled-back decision sends nothing), and delivered later by DeliverDueMail, at most
// once.
//
// Row states (mail_outbox.state):
//   queued      waiting; due when next_attempt_at <= now
//   sending     claimed by a delivery and handed to the mail server. If no delivery is running,
//               the outcome is unknown (a crash or a lost connection between the hand-over and
//               the recording of the result): the server may or may not have accepted it. Such a
//               row is never re-sent automatically; ListOutbox flags it (unknown_outcome).
//   sent        accepted by the server at sent_at. A sent notice is *void* (last_error says so)
//               when what it warned about went away while it was on the wire: it then counts as
//               the notice of none of its submissions (R4; see DeliverDueMail).
//   failed      refused permanently, or still refused after kMaxMailAttempts temporary failures
//   cancelled   withdrawn before it was sent (CancelQueuedMail)
//   suppressed  recorded but never to be sent (a challenge with inform_hosts = false, R4)
//
// SQL is portable (`?` parameters, integer Unix seconds) and runs over the SqlConnection port.
// Functions taking a SqlConnection run in the caller's transaction, if any, and do not begin
// their own. DeliverDueMail takes a Database and may run in several threads and processes at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/time.h"
#include "notify/mail.h"
#include "store/sql.h"

namespace retention {

// After this many temporary failures a mail is 'failed'.
inline constexpr int kMaxMailAttempts = 10;

// The wait after the n-th temporary failure (n >= 1): 60 s * 2^(n-1), at most 6 hours.
std::chrono::seconds MailRetryBackoff(int attempts);

// Queues `m` for `m.to` (m.from is not stored: delivery uses the sender's configured From) with
// state 'queued', or 'suppressed' when `suppressed` (never sent), created_at = next_attempt_at =
// `now`. `challenge_id`, when set, must name an existing challenge. Returns the new row's id.
// Errors: kInvalidArgument when m.to is empty or m.to / m.subject hold a line break; the
// connection's errors otherwise (kFailedPrecondition for an unknown challenge).
Result<std::int64_t> EnqueueMail(SqlConnection& conn, std::optional<std::int64_t> challenge_id,
                                 const MailMessage& m, TimePoint now, bool suppressed);

struct DeliveryReport {
  int sent = 0;         // accepted by the server
  int retry_later = 0;  // temporary failure; queued again with a backoff
  int failed = 0;       // permanent failure, too many attempts, or outcome unknown
  int voided = 0;       // of `sent`: void notices (their challenge lost consent while sending)
  // One line per mail that was not sent, e.g.
  // "mail 12 to bob@example.org: failed precondition: smtp://...: 550 5.1.1 no such user".
  std::vector<std::string> errors;
};

// Delivers up to `limit` due mails (state 'queued', next_attempt_at <= clock.Now()), oldest
// first. Each mail is first claimed in its own short write transaction (state 'sending',
// attempts + 1, only if it is still queued and due, so concurrent deliveries never both send
// it), then handed to `sender` with no transaction open and the database not locked, then its
// result is recorded:
//   ok                          -> 'sent', sent_at = now; the submissions linked to the mail in
//                                  notice_items that still have an eligible date get
//                                  notice_sent_at = now where it was unset (R4 counts the notice
//                                  period from the actual sending). When, at that moment, the
//                                  mail is a notice (it has notice_items) and its challenge has
//                                  no consent, or the consent ledger holds a
//                                  withdrawal of it at or after the mail's created_at (withdrawn,
//                                  perhaps granted again, while the mail was on the wire; a
//                                  withdrawal cancels queued mail, so only mail being sent can
//                                  outlive one), the notice is void: 'sent' with last_error
//                                  saying why, no notice_sent_at set, counted in `voided`;
//   kUnavailable / kResourceExhausted / kAborted
//                               -> 'queued' again, next_attempt_at = now + MailRetryBackoff, or
//                                  'failed' after kMaxMailAttempts attempts; last_error set;
//   kFailedPrecondition / kInvalidArgument / kPermissionDenied / kNotFound
//                               -> 'failed' with last_error;
//   anything else (kInternal: outcome unknown)
//                               -> stays 'sending' with last_error; never re-sent.
// Returns the counts; a mail that was claimed but not sent (retry or failure) adds a line to
// `errors`. Returns kInvalidArgument for limit < 1, and a database error as soon as one occurs
// (a mail whose result could not be recorded stays 'sending', i.e. unknown outcome).
Result<DeliveryReport> DeliverDueMail(Database& db, MailSender& sender, const Clock& clock,
                                      int limit = 100);

// Cancels the queued mail of `challenge_id` (consent withdrawn): those rows become 'cancelled'
// with last_error noting the time. Rows in any other state are left alone (a mail already
// 'sending' cannot be recalled). Returns how many rows were cancelled.
Result<std::int64_t> CancelQueuedMail(SqlConnection& conn, std::int64_t challenge_id,
                                      TimePoint now);

struct OutboxEntry {
  std::int64_t id = 0;
  std::optional<std::int64_t> challenge_id;
  std::string recipient;
  std::string subject;
  std::string state;  // see the state list at the top of this file
  int attempts = 0;
  std::optional<std::string> last_error;
  TimePoint created_at;
  std::optional<TimePoint> sent_at;
  TimePoint next_attempt_at;
  // state == 'sending': handed to the server, result not recorded. Unless a delivery is running
  // right now, the outcome is unknown and an operator must decide (it is never re-sent).
  bool unknown_outcome = false;
};

// Lists outbox rows, newest first, at most `limit` (1..10000), only those in `state` when given.
// Returns kInvalidArgument for an unknown state or a limit out of range.
Result<std::vector<OutboxEntry>> ListOutbox(SqlConnection& conn, std::optional<std::string> state,
                                            int limit);

}  // namespace retention
