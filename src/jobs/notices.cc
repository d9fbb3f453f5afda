#include "jobs/notices.h"

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/markup.h"
#include "core/units.h"
#include "notify/outbox.h"
#include "service/audit_log.h"
#include "service/views.h"

namespace retention {
namespace {

using nlohmann::json;

// The submission-level conditions of a not-yet-noticed candidate (see notices.h). Parameters:
// the cutoff (eligible date must be earlier).
constexpr const char* kCandidate =
    " s.retention_eligible_date IS NOT NULL AND s.retention_eligible_date < ? AND "
    "s.is_artifact_deleted = 0 AND s.notice_sent_at IS NULL AND s.legal_hold = 0 AND NOT EXISTS "
    "(SELECT 1 FROM notice_items ni JOIN mail_outbox m ON m.id = ni.outbox_id WHERE "
    "ni.submission_id = s.id AND m.state IN ('queued', 'sending')) ";

constexpr std::int64_t kMailBatch = 100;
constexpr std::int64_t kMaxOutboxListed = 100;
constexpr int kMaxConsentEvents = 10000;

// The service log: one line on stderr (stdout carries command output, e.g. --json).
void LogLine(const std::string& line) { std::cerr << "retention: " << line << '\n'; }

std::string HumanTime(TimePoint t) {
  std::string s = FormatTime(t);  // 2027-03-01T02:00:00Z
  return s.substr(0, 10) + " " + s.substr(11, 5) + " UTC";
}

std::string KindText(const std::string& kind) {
  static const std::map<std::string, std::string> kNames = {
      {"input_file", "input files"},
      {"submission_input_file", "submission input files"},
      {"stdout_file", "standard output logs"},
      {"stderr_file", "standard error logs"},
      {"environment_log_file", "environment logs"},
      {"submission_result_file", "result files"},
      {"submission_metadata_file", "metadata files"},
  };
  auto it = kNames.find(kind);
  return (it == kNames.end() ? kind : it->second) + " (" + kind + ")";
}

std::int64_t DaysRemaining(TimePoint deletion, TimePoint now) {
  const std::int64_t secs = ToUnix(deletion) - ToUnix(now);
  if (secs <= 0) return 0;
  return (secs + kSecondsPerDay - 1) / kSecondsPerDay;
}

std::string ChallengeLink(const std::string& pattern, std::int64_t challenge_id) {
  std::string link = pattern;
  const std::string id = std::to_string(challenge_id);
  for (std::size_t pos = link.find("{id}"); pos != std::string::npos;
       pos = link.find("{id}", pos + id.size())) {
    link.replace(pos, 4, id);
  }
  return link;
}

struct Host {
  std::string username;
  std::string email;
};

struct ChallengePlan {
  std::int64_t id = 0;
  std::string title;
  bool inform_hosts = true;
  std::int64_t host_team_id = 0;
  NoticeContent content;
  std::int64_t submissions = 0;
  std::vector<Host> hosts;
};

// Reads what a notice of challenge `c` would say, inside the caller's transaction.
Status LoadPlan(SqlConnection& conn, const JobEnvironment& env, TimePoint now, TimePoint cutoff,
                ChallengePlan& c) {
  const RetentionSchedule schedule = env.service->settings.schedule();
  ASSIGN_OR_RETURN(auto groups,
                   conn.Query(std::string("SELECT s.retention_eligible_date, COUNT(*) FROM "
                                          "submissions s WHERE s.challenge_id = ? AND") +
                                  kCandidate + "GROUP BY s.retention_eligible_date ORDER BY 1",
                              {c.id, ToUnix(cutoff)}));
  std::map<TimePoint, std::int64_t> by_date;
  // The projection of the schedule with this notice sent now: the dates the mail gives are the
  // ones the forecast and the dry run show.
  std::map<TimePoint, TimePoint> sweep_of;
  for (const SqlRow& r : groups) {
    const ProjectedDeletion p = ProjectDeletion(FromUnix(r.Int(0)), now, now, schedule);
    by_date[*p.deletion_date] += r.Int(1);
    sweep_of[*p.deletion_date] = p.sweep_at.value_or(TimePoint::max());
    c.submissions += r.Int(1);
  }
  c.content = NoticeContent{};
  c.content.challenge_id = c.id;
  c.content.challenge_title = c.title;
  c.content.link = ChallengeLink(env.challenge_url, c.id);
  for (const auto& [deletion, count] : by_date) {
    c.content.groups.push_back({deletion, sweep_of[deletion], count});
  }
  ASSIGN_OR_RETURN(
      auto kinds,
      conn.Query(std::string("SELECT a.kind, SUM(a.size_bytes) FROM artifacts a JOIN submissions "
                             "s ON s.id = a.submission_id WHERE a.state <> 'deleted' AND "
                             "s.challenge_id = ? AND") +
                     kCandidate + "GROUP BY a.kind ORDER BY a.kind",
                 {c.id, ToUnix(cutoff)}));
  for (const SqlRow& r : kinds) {
    c.content.artifact_kinds.push_back(r.Text(0));
    c.content.bytes += r.Int(1);
  }
  ASSIGN_OR_RETURN(auto hosts,
                   conn.Query("SELECT u.username, u.email FROM host_team_members m JOIN users u "
                              "ON u.id = m.user_id WHERE m.host_team_id = ? AND m.status = "
                              "'accepted' ORDER BY u.id",
                              {c.host_team_id}));
  c.hosts.clear();
  for (const SqlRow& r : hosts) c.hosts.push_back({r.Text(0), r.Text(1)});
  return Status::Ok();
}

json PlanJson(const ChallengePlan& c, bool suppressed, const std::vector<std::int64_t>& ids) {
  json groups = json::array();
  for (const NoticeGroup& g : c.content.groups) {
    groups.push_back(
        {{"deletion_date", FormatTime(g.deletion_date)},
         {"first_sweep",
          g.first_sweep == TimePoint::max() ? json() : json(FormatTime(g.first_sweep))},
         {"submissions", g.submissions}});
  }
  json recipients = json::array();
  if (!suppressed) {
    for (const Host& h : c.hosts) recipients.push_back(h.email);
  }
  json j{{"challenge_id", c.id},
         {"challenge_title", c.title},
         {"submissions", c.submissions},
         {"recipients", recipients},
         {"suppressed", suppressed},
         {"deletion_date", c.content.groups.empty()
                               ? json()
                               : json(FormatTime(c.content.groups.front().deletion_date))},
         {"first_sweep", groups.empty() ? json() : groups.front()["first_sweep"]},
         {"groups", groups},
         {"artifact_kinds", c.content.artifact_kinds},
         {"bytes", c.content.bytes}};
  if (!ids.empty()) j["outbox_ids"] = ids;
  if (suppressed) {
    j["suppressed_reason"] = c.inform_hosts ? "the challenge has no accepted host"
                                            : "the challenge does not inform its hosts";
  }
  return j;
}

// Queues the notice of one challenge in its own write transaction. Returns its JSON, or null
// when, inside the transaction, nothing is left to notice (another process did it first).
Result<json> QueueChallenge(const JobEnvironment& env, TimePoint now, TimePoint cutoff,
                            ChallengePlan c) {
  auto conn = env.service->db->Lock();
  ASSIGN_OR_RETURN(auto tx, Transaction::Start(*conn, TxMode::kWrite));
  // Re-check the challenge inside the transaction: consent or a hold may have changed.
  ASSIGN_OR_RETURN(auto still, conn->QueryOne("SELECT 1 FROM challenges WHERE id = ? AND "
                                              "retention_policy_consent = 1 AND legal_hold = 0",
                                              {c.id}));
  if (!still) return json();
  RETURN_IF_ERROR(LoadPlan(*conn, env, now, cutoff, c));
  if (c.submissions == 0) return json();

  const bool suppressed = !c.inform_hosts || c.hosts.empty();
  std::vector<std::int64_t> ids;
  auto link_items = [&](std::int64_t outbox_id) -> Status {
    if (ids.empty()) {
      return conn
          ->Exec(std::string("INSERT INTO notice_items (outbox_id, submission_id) SELECT "
                             "?, s.id FROM submissions s WHERE s.challenge_id = ? AND") +
                     kCandidate,
                 {outbox_id, c.id, ToUnix(cutoff)})
          .status();
    }
    return conn
        ->Exec(
            "INSERT INTO notice_items (outbox_id, submission_id) SELECT ?, submission_id "
            "FROM notice_items WHERE outbox_id = ?",
            {outbox_id, ids.front()})
        .status();
  };
  if (suppressed) {
    NoticeContent content = c.content;
    MailMessage m = RenderNotice(content, now);
    m.from = env.mail_from;
    m.to = c.hosts.empty() ? "hosts of challenge " + std::to_string(c.id) : [&] {
      std::string all;
      for (const Host& h : c.hosts) all += (all.empty() ? "" : ", ") + h.email;
      return all;
    }();
    ASSIGN_OR_RETURN(std::int64_t id, EnqueueMail(*conn, c.id, m, now, /*suppressed=*/true));
    RETURN_IF_ERROR(link_items(id));
    ids.push_back(id);
  } else {
    for (const Host& h : c.hosts) {
      NoticeContent content = c.content;
      content.host_username = h.username;
      MailMessage m = RenderNotice(content, now);
      m.from = env.mail_from;
      m.to = h.email;
      ASSIGN_OR_RETURN(std::int64_t id, EnqueueMail(*conn, c.id, m, now, /*suppressed=*/false));
      RETURN_IF_ERROR(link_items(id));
      ids.push_back(id);
    }
  }
  if (suppressed || env.mail == nullptr) {
    // Recorded now: a suppressed notice counts as sent (R4), and without a mail transport the
    // outbox is where notices are delivered.
    RETURN_IF_ERROR(conn->Exec(
        "UPDATE submissions SET notice_sent_at = ? WHERE notice_sent_at IS NULL AND id IN "
        "(SELECT submission_id FROM notice_items WHERE outbox_id = ?)",
        {ToUnix(now), ids.front()}));
  }
  RETURN_IF_ERROR(tx.Commit());
  return PlanJson(c, suppressed, ids);
}

}  // namespace

MailMessage RenderNotice(const NoticeContent& n, TimePoint now) {
  MailMessage m;
  const std::int64_t total = [&] {
    std::int64_t t = 0;
    for (const auto& g : n.groups) t += g.submissions;
    return t;
  }();
  const std::string count = std::to_string(total) + (total == 1 ? " submission" : " submissions");
  const TimePoint first = n.groups.empty() ? now : n.groups.front().deletion_date;
  m.subject = "Retention notice: files of " + count + " of \"" + n.challenge_title +
              "\" will be deleted from " + FormatDate(first);
  for (char& ch : m.subject) {
    if (ch == '\r' || ch == '\n') ch = ' ';
  }

  std::string kinds_text;
  std::string kinds_html;
  for (const auto& k : n.artifact_kinds) {
    kinds_text += "  - " + KindText(k) + "\n";
    kinds_html += "<li>" + MarkupEscape(KindText(k)) + "</li>";
  }
  if (n.artifact_kinds.empty()) {
    kinds_text = "  - no stored files remain (nothing will be freed)\n";
    kinds_html = "<li>no stored files remain (nothing will be freed)</li>";
  }
  std::string groups_text;
  std::string groups_html;
  for (const auto& g : n.groups) {
    const std::string sweep =
        g.first_sweep == TimePoint::max()
            ? std::string("no cleanup run is scheduled")
            : "the first cleanup run after that date is on " + HumanTime(g.first_sweep);
    const std::string c =
        std::to_string(g.submissions) + (g.submissions == 1 ? " submission" : " submissions");
    groups_text += "  - " + c + ": deletion date " + FormatDate(g.deletion_date) + " (" +
                   std::to_string(DaysRemaining(g.deletion_date, now)) + " days remaining); " +
                   sweep + ".\n";
    groups_html += "<li><strong>" + MarkupEscape(c) + "</strong>: deletion date <strong>" +
                   FormatDate(g.deletion_date) + "</strong> (" +
                   std::to_string(DaysRemaining(g.deletion_date, now)) + " days remaining); " +
                   MarkupEscape(sweep) + ".</li>";
  }
  const std::string who = n.host_username.empty() ? "USERNAME" : n.host_username;
  const std::string withdraw_cmd =
      "retention consent " + std::to_string(n.challenge_id) + " " + who + " --withdraw";

  m.text =
      "Hello,\n\n"
      "you are a host of the challenge \"" +
      n.challenge_title + "\" (id " + std::to_string(n.challenge_id) +
      "), whose hosts consented to the retention policy.\n\n"
      "The stored files of " +
      count + " (" + HumanBytes(n.bytes) + ") will be deleted:\n" + groups_text +
      "\nWhat is deleted, per submission:\n" + kinds_text +
      "\nWhat is kept: the submission records, their scores and metadata, and the "
      "leaderboards. Nothing else changes.\n\n"
      "Details and the full list: " +
      n.link +
      "\n\n"
      "To stop the deletion, withdraw consent before the deletion date: on the challenge "
      "page switch \"Retention consent\" off, or run `" +
      withdraw_cmd +
      "`. Withdrawing acts at once: every pending deletion of the challenge is cancelled.\n\n"
      "This notice is sent once for these submissions.\n";

  m.html =
      "<!DOCTYPE html><html><body>"
      "<p>Hello,</p><p>you are a host of the challenge <strong>" +
      MarkupEscape(n.challenge_title) + "</strong> (id " + std::to_string(n.challenge_id) +
      "), whose hosts consented to the retention policy.</p>"
      "<p>The stored files of <strong>" +
      MarkupEscape(count) + "</strong> (" + MarkupEscape(HumanBytes(n.bytes)) +
      ") will be deleted:</p><ul>" + groups_html +
      "</ul><p>What is deleted, per submission:</p><ul>" + kinds_html +
      "</ul><p>What is kept: the submission records, their scores and metadata, and the "
      "leaderboards. Nothing else changes.</p>"
      "<p>Details and the full list: <a href=\"" +
      MarkupEscape(n.link) + "\">" + MarkupEscape(n.link) +
      "</a></p>"
      "<p>To stop the deletion, withdraw consent before the deletion date: on the challenge "
      "page switch &quot;Retention consent&quot; off, or run <code>" +
      MarkupEscape(withdraw_cmd) +
      "</code>. Withdrawing acts at once: every pending deletion of the challenge is "
      "cancelled.</p><p>This notice is sent once for these submissions.</p>"
      "</body></html>";
  return m;
}

Result<json> ProcessNotices(const JobEnvironment& env, TimePoint now, bool dry_run) {
  auto own = env.schedule.find(kNotificationsJob);
  if (own == env.schedule.end()) {
    return FailedPrecondition("notices: no schedule for " + std::string(kNotificationsJob));
  }
  const TimePoint next_run = own->second.NextAfter(now);
  const int nd = std::max(env.service->settings.notice_days, 0);
  // A schedule that never fires again: notice everything that has an eligible date.
  const TimePoint cutoff = next_run == TimePoint::max() ? TimePoint::max() : next_run + Days(nd);
  const std::int64_t cutoff_unix =
      next_run == TimePoint::max() ? std::numeric_limits<std::int64_t>::max() : ToUnix(cutoff);

  json result{{"dry_run", dry_run},
              {"now", FormatTime(now)},
              {"next_run", next_run == TimePoint::max() ? json() : json(FormatTime(next_run))},
              {"cutoff", next_run == TimePoint::max() ? json() : json(FormatTime(cutoff))},
              {"notice_days", nd}};
  std::vector<ChallengePlan> plans;
  std::int64_t held = 0;
  {
    auto conn = env.service->db->Lock();
    ASSIGN_OR_RETURN(
        auto rows,
        conn->Query(std::string("SELECT c.id, c.title, c.inform_hosts, c.host_team_id FROM "
                                "challenges c WHERE c.retention_policy_consent = 1 AND "
                                "c.legal_hold = 0 AND EXISTS (SELECT 1 FROM submissions s WHERE "
                                "s.challenge_id = c.id AND") +
                        kCandidate + ") ORDER BY c.id",
                    {cutoff_unix}));
    for (const SqlRow& r : rows) {
      ChallengePlan p;
      p.id = r.Int(0);
      p.title = r.Text(1);
      p.inform_hosts = r.Bool(2);
      p.host_team_id = r.Int(3);
      plans.push_back(std::move(p));
    }
    ASSIGN_OR_RETURN(
        auto h,
        conn->QueryOne("SELECT COUNT(*) FROM submissions s JOIN challenges c ON c.id = "
                       "s.challenge_id WHERE c.retention_policy_consent = 1 AND "
                       "s.retention_eligible_date IS NOT NULL AND s.retention_eligible_date < ? "
                       "AND s.is_artifact_deleted = 0 AND s.notice_sent_at IS NULL AND "
                       "(s.legal_hold = 1 OR c.legal_hold = 1)",
                       {cutoff_unix}));
    held = h ? h->Int(0) : 0;
  }
  const TimePoint cutoff_tp = FromUnix(cutoff_unix);

  json notices = json::array();
  json errors = json::array();
  json challenges_failed = json::array();
  std::int64_t mails = 0;
  std::int64_t suppressed = 0;
  std::int64_t noticed = 0;
  for (ChallengePlan& p : plans) {
    if (dry_run) {
      auto conn = env.service->db->Lock();
      RETURN_IF_ERROR(LoadPlan(*conn, env, now, cutoff_tp, p));
      const bool sup = !p.inform_hosts || p.hosts.empty();
      notices.push_back(PlanJson(p, sup, {}));
      mails += sup ? 0 : static_cast<std::int64_t>(p.hosts.size());
      suppressed += sup ? 1 : 0;
      noticed += p.submissions;
      continue;
    }
    auto queued = QueueChallenge(env, now, cutoff_tp, p);
    if (!queued.ok()) {
      // Its transaction rolled back: nothing of it is queued, and the next run tries again.
      const std::string error =
          queued.status().WithContext("notice for challenge " + std::to_string(p.id)).ToString();
      LogLine("notices: " + error);
      errors.push_back(error);
      challenges_failed.push_back({{"challenge_id", p.id}, {"error", error}});
      continue;
    }
    if (queued->is_null()) continue;
    const json& j = *queued;
    notices.push_back(j);
    noticed += j["submissions"].get<std::int64_t>();
    if (j["suppressed"].get<bool>()) {
      ++suppressed;
    } else {
      mails += static_cast<std::int64_t>(j["recipients"].size());
    }
  }
  result["notices"] = notices;
  result["processed"] = noticed;
  result["submissions_noticed"] = noticed;
  result["mails_queued"] = mails;
  result["suppressed"] = suppressed;
  result["deleted"] = 0;
  json skipped = json::array();
  if (held > 0) skipped.push_back({{"reason", "on_legal_hold"}, {"count", held}});
  result["skipped"] = skipped;

  result["challenges_failed"] = challenges_failed;

  json delivery{{"sent", 0}, {"retry_later", 0}, {"failed", 0}, {"void", 0}};
  if (dry_run) {
    auto conn = env.service->db->Lock();
    ASSIGN_OR_RETURN(auto outbox, ListOutbox(*conn, std::nullopt, kMaxOutboxListed));
    json list = json::array();
    for (const OutboxEntry& e : outbox) {
      json entry = OutboxEntryJson(e);
      entry["next_attempt_at"] = FormatTime(e.next_attempt_at);
      entry["unknown_outcome"] = e.unknown_outcome;
      list.push_back(std::move(entry));
    }
    result["outbox"] = list;
  } else if (env.mail != nullptr) {
    int sent = 0, retry = 0, failed = 0, voided = 0;
    for (;;) {
      auto r = DeliverDueMail(*env.service->db, *env.mail, *env.service->clock,
                              static_cast<int>(kMailBatch));
      if (!r.ok()) {
        const std::string error = r.status().WithContext("deliver mail").ToString();
        LogLine("notices: " + error);
        errors.push_back(error);
        break;
      }
      sent += r->sent;
      retry += r->retry_later;
      failed += r->failed;
      voided += r->voided;
      for (const auto& e : r->errors) {
        LogLine("notices: " + e);
        errors.push_back(e);
      }
      if (r->sent + r->retry_later + r->failed < kMailBatch) break;
    }
    delivery = {{"sent", sent}, {"retry_later", retry}, {"failed", failed}, {"void", voided}};
  } else {
    delivery["note"] = "no mail server configured (smtp.url): mail stays in the outbox";
  }
  result["delivery"] = delivery;
  result["failed"] =
      delivery["failed"].get<std::int64_t>() + static_cast<std::int64_t>(challenges_failed.size());
  result["errors"] = errors;
  return result;
}

Result<json> ConsentLog(const JobEnvironment& env, TimePoint now) {
  AuditFilter filter;
  filter.ledger = "consent";
  filter.since = now - Days(7);
  filter.limit = kMaxConsentEvents;
  std::vector<AuditEvent> events;
  {
    auto conn = env.service->db->Lock();
    ASSIGN_OR_RETURN(events, ListAuditEvents(*conn, filter));
  }
  json list = json::array();
  std::int64_t grants = 0;
  std::int64_t withdrawals = 0;
  for (const AuditEvent& e : events) {
    if (e.at > now) continue;
    if (e.action == "granted" || e.action == "imported") ++grants;
    if (e.action == "withdrawn") ++withdrawals;
    LogLine("consent log: challenge " +
            (e.challenge_id ? std::to_string(*e.challenge_id) : std::string("-")) + " " + e.action +
            " by " + e.actor + " at " + FormatTime(e.at) +
            (e.notes.empty() ? "" : " (notes: " + e.notes + ")"));
    list.push_back(AuditEventJson(e));
  }
  return json{{"since", FormatTime(now - Days(7))},
              {"until", FormatTime(now)},
              {"count", list.size()},
              {"grants", grants},
              {"withdrawals", withdrawals},
              {"events", list}};
}

}  // namespace retention
