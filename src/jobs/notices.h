// Notices (R4) and the consent log: the work of the job
// weekly_retention_notifications_and_consent_log and of `retention notify`.
//
// Which submissions are noticed: every one with notice_sent_at unset, not deleted, with an
// eligible date, consent active, neither it nor its challenge on legal hold, no notice of it
// already waiting in the outbox (queued or sending), and whose eligible date is earlier than the
// notifications job's next scheduled run + notice_days. Waiting for the next run would push such a
// submission's deletion date (R4) past its eligible date, so it is noticed now; every other one is
// noticed by a later run still at least notice_days before its eligible date.
//
// Per challenge, in one write transaction: one mail per accepted host queued in the outbox (a
// challenge with inform_hosts = false, or without any host, gets one 'suppressed' row instead),
// every noticed submission linked to its mails in notice_items, and, for a suppressed notice or
// when no mail sender is configured, notice_sent_at = now. With a sender, notice_sent_at is set by
// DeliverDueMail when the server accepts the first of the challenge's mails (notify/outbox.h), so a
// notice that cannot be delivered never starts the notice period. Mail is queued before it is sent
// and a submission is noticed at most once (a re-run finds it noticed or waiting in the outbox).
//
// Thread-safety: as jobs/jobs.h.
#pragma once

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "core/time.h"
#include "jobs/jobs.h"

namespace retention {

// Plans (dry_run) or queues the notices due at `now`, then, unless dry_run, delivers the due mail
// of the outbox when env.mail is set. Returns a document with "next_run", "cutoff", "notices" (per
// challenge: id, title, submissions, recipients, suppressed, deletion dates, first sweep, outbox
// ids), the counts "processed", "mails_queued", "suppressed", "submissions_noticed", "failed"
// (mails failed + challenges failed), "errors" (one line each, also logged),
// "challenges_failed" ({challenge_id, error} per challenge whose notice could not be queued, e.g.
// a host address the outbox refuses: its transaction is rolled back, it is reported and retried
// by the next run, and the other challenges go on), and "delivery" (sent, retry_later, failed,
// void: sent notices that count for nothing, see notify/outbox.h). A dry run changes nothing and
// also lists the outbox ("outbox", newest first). FailedPrecondition when env.schedule lacks the
// cron of the notifications job; errors of the planning reads otherwise.
Result<nlohmann::json> ProcessNotices(const JobEnvironment& env, TimePoint now, bool dry_run);

// Every consent-ledger event (grants, withdrawals, notes changes, imports) of the 7 days up to
// `now`, oldest first, as {"since", "until", "count", "grants", "withdrawals", "events": [...]};
// each is also written as one line on stderr (the service log).
Result<nlohmann::json> ConsentLog(const JobEnvironment& env, TimePoint now);

// Renders the notice for one challenge (exposed for tests): subject, text and HTML.
struct NoticeGroup {
  TimePoint deletion_date;  // R4 deletion date of these submissions
  TimePoint first_sweep;    // first scheduled sweep at or after deletion_date (max(): none)
  std::int64_t submissions = 0;
};
struct NoticeContent {
  std::int64_t challenge_id = 0;
  std::string challenge_title;
  std::string link;
  std::vector<NoticeGroup> groups;  // ascending deletion dates
  std::vector<std::string> artifact_kinds;
  std::int64_t bytes = 0;
  std::string host_username;  // the recipient's user name, for the withdrawal command
};
MailMessage RenderNotice(const NoticeContent& content, TimePoint now);

}  // namespace retention
