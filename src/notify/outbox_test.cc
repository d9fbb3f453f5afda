#include "notify/outbox.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <initializer_list>
#include <latch>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

#include "store/migrations.h"
#include "store/sqlite/sqlite_connection.h"
#include "testing/database.h"
#include "testing/fake_mail_sender.h"

namespace retention {
namespace {

using std::chrono::seconds;

constexpr TimePoint kStart{std::chrono::seconds(1772532000)};  // 2026-03-03T10:00:00Z

using testing::FakeMailSender;

MailMessage Mail(const std::string& to, const std::string& subject = "Data deletion notice") {
  return MailMessage{.from = "",
                     .to = to,
                     .subject = subject,
                     .text = "3 submissions will be deleted.",
                     .html = "<p>3 submissions will be deleted.</p>"};
}

void MustExec(SqlConnection& conn, const std::string& sql, const SqlParams& params = {}) {
  auto r = conn.Exec(sql, params);
  ASSERT_TRUE(r.ok()) << sql << ": " << r.status().ToString();
}

void AddChallenge(SqlConnection& conn, std::int64_t id) {
  MustExec(conn, "INSERT INTO host_teams (id, name) VALUES (?, 'team') ON CONFLICT DO NOTHING",
           {std::int64_t{1}});
  MustExec(conn, "INSERT INTO challenges (id, title, host_team_id, created_at) VALUES (?, ?, 1, ?)",
           {id, "challenge " + std::to_string(id), ToUnix(kStart)});
}

class OutboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = testing::MigratedDatabase();
    ASSERT_NE(db_, nullptr);
    AddChallenge(Conn(), 7);
    AddChallenge(Conn(), 8);
  }

  SqlConnection& Conn() { return *db_->Lock(); }  // tests are single-threaded here

  std::int64_t Enqueue(const MailMessage& m, std::optional<std::int64_t> challenge = 7,
                       bool suppressed = false) {
    auto id = EnqueueMail(Conn(), challenge, m, clock_.Now(), suppressed);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    return id.ok() ? *id : -1;
  }

  DeliveryReport Deliver(int limit = 100) {
    auto report = DeliverDueMail(*db_, sender_, clock_, limit);
    EXPECT_TRUE(report.ok()) << report.status().ToString();
    return report.ok() ? *report : DeliveryReport{};
  }

  OutboxEntry Entry(std::int64_t id) {
    auto all = ListOutbox(Conn(), std::nullopt, 1000);
    EXPECT_TRUE(all.ok());
    for (const auto& e : *all) {
      if (e.id == id) {
        return e;
      }
    }
    ADD_FAILURE() << "no outbox row " << id;
    return {};
  }

  std::unique_ptr<Database> db_;
  FakeClock clock_{kStart};
  FakeMailSender sender_;
};

TEST_F(OutboxTest, QueuedMailIsSentExactlyOnce) {
  const auto id = Enqueue(Mail("bob@example.org", "Löschung"));
  EXPECT_EQ(Entry(id).state, "queued");

  clock_.Advance(seconds(5));
  const DeliveryReport first = Deliver();
  EXPECT_EQ(first.sent, 1);
  EXPECT_EQ(first.retry_later + first.failed, 0);
  EXPECT_TRUE(first.errors.empty());
  ASSERT_EQ(sender_.delivered().size(), 1U);
  const MailMessage sent = sender_.delivered()[0];
  EXPECT_EQ(sent.to, "bob@example.org");
  EXPECT_EQ(sent.subject, "Löschung");
  EXPECT_EQ(sent.text, "3 submissions will be deleted.");
  EXPECT_EQ(sent.html, "<p>3 submissions will be deleted.</p>");

  const OutboxEntry e = Entry(id);
  EXPECT_EQ(e.state, "sent");
  EXPECT_EQ(e.attempts, 1);
  EXPECT_EQ(e.sent_at, kStart + seconds(5));
  EXPECT_EQ(e.created_at, kStart);
  EXPECT_FALSE(e.last_error.has_value());
  EXPECT_FALSE(e.unknown_outcome);

  clock_.Advance(seconds(3600));
  const DeliveryReport second = Deliver();
  EXPECT_EQ(second.sent, 0);
  EXPECT_EQ(sender_.Attempts("bob@example.org"), 1);
}

TEST_F(OutboxTest, DeliversOldestFirstUpToLimit) {
  Enqueue(Mail("first@example.org"));
  clock_.Advance(seconds(1));
  Enqueue(Mail("second@example.org"));
  clock_.Advance(seconds(1));
  Enqueue(Mail("third@example.org"));
  EXPECT_EQ(Deliver(2).sent, 2);
  EXPECT_EQ(sender_.Delivered("first@example.org"), 1);
  EXPECT_EQ(sender_.Delivered("second@example.org"), 1);
  EXPECT_EQ(sender_.Delivered("third@example.org"), 0);
  EXPECT_EQ(Deliver(2).sent, 1);
  EXPECT_EQ(sender_.Delivered("third@example.org"), 1);
}

TEST_F(OutboxTest, TemporaryFailureIsRetriedOnlyAfterBackoffThenSentOnce) {
  const auto id = Enqueue(Mail("bob@example.org"));
  sender_.FailTemporarily("bob@example.org");

  const DeliveryReport first = Deliver();
  EXPECT_EQ(first.retry_later, 1);
  ASSERT_EQ(first.errors.size(), 1U);
  EXPECT_NE(first.errors[0].find("451"), std::string::npos) << first.errors[0];
  OutboxEntry e = Entry(id);
  EXPECT_EQ(e.state, "queued");
  EXPECT_EQ(e.attempts, 1);
  EXPECT_EQ(e.next_attempt_at, kStart + seconds(60));
  ASSERT_TRUE(e.last_error.has_value());
  EXPECT_NE(e.last_error->find("451 4.3.0 try again"), std::string::npos);

  sender_.Heal("bob@example.org");
  clock_.Advance(seconds(59));
  EXPECT_EQ(Deliver().sent, 0);
  EXPECT_EQ(sender_.Attempts("bob@example.org"), 1);

  clock_.Advance(seconds(1));
  EXPECT_EQ(Deliver().sent, 1);
  EXPECT_EQ(sender_.Delivered("bob@example.org"), 1);
  e = Entry(id);
  EXPECT_EQ(e.state, "sent");
  EXPECT_EQ(e.attempts, 2);
  EXPECT_FALSE(e.last_error.has_value());

  clock_.Advance(seconds(86400));
  EXPECT_EQ(Deliver().sent, 0);
  EXPECT_EQ(sender_.Attempts("bob@example.org"), 2);
}

TEST_F(OutboxTest, BackoffDoublesUpToSixHours) {
  struct Case {
    int attempts;
    std::int64_t seconds;
  };
  for (const Case& c : std::vector<Case>{
           {1, 60}, {2, 120}, {3, 240}, {8, 7680}, {9, 15360}, {10, 21600}, {30, 21600}}) {
    EXPECT_EQ(MailRetryBackoff(c.attempts).count(), c.seconds) << "attempts " << c.attempts;
  }
}

TEST_F(OutboxTest, GivesUpAfterTenTemporaryFailures) {
  const auto id = Enqueue(Mail("bob@example.org"));
  sender_.FailTemporarily("bob@example.org");
  for (int attempt = 1; attempt < kMaxMailAttempts; ++attempt) {
    EXPECT_EQ(Deliver().retry_later, 1) << "attempt " << attempt;
    clock_.Advance(MailRetryBackoff(attempt));
  }
  const DeliveryReport last = Deliver();
  EXPECT_EQ(last.failed, 1);
  const OutboxEntry e = Entry(id);
  EXPECT_EQ(e.state, "failed");
  EXPECT_EQ(e.attempts, kMaxMailAttempts);
  ASSERT_TRUE(e.last_error.has_value());
  EXPECT_NE(e.last_error->find("gave up after 10 attempts"), std::string::npos) << *e.last_error;
  clock_.Advance(seconds(86400));
  EXPECT_EQ(Deliver().failed + Deliver().retry_later, 0);
  EXPECT_EQ(sender_.Attempts("bob@example.org"), kMaxMailAttempts);
}

TEST_F(OutboxTest, PermanentFailureIsFailedAndTheRestOfTheBatchGoesOut) {
  const auto a = Enqueue(Mail("a@example.org"));
  const auto gone = Enqueue(Mail("gone@example.org"));
  const auto c = Enqueue(Mail("c@example.org"));
  sender_.FailPermanently("gone@example.org");

  const DeliveryReport report = Deliver();
  EXPECT_EQ(report.sent, 2);
  EXPECT_EQ(report.failed, 1);
  EXPECT_EQ(report.retry_later, 0);
  ASSERT_EQ(report.errors.size(), 1U);
  EXPECT_NE(report.errors[0].find("gone@example.org"), std::string::npos);
  EXPECT_NE(report.errors[0].find("550"), std::string::npos);

  EXPECT_EQ(Entry(a).state, "sent");
  EXPECT_EQ(Entry(c).state, "sent");
  const OutboxEntry e = Entry(gone);
  EXPECT_EQ(e.state, "failed");
  ASSERT_TRUE(e.last_error.has_value());
  EXPECT_NE(e.last_error->find("550 5.1.1 no such user"), std::string::npos);

  clock_.Advance(seconds(86400));
  EXPECT_EQ(Deliver().failed, 0);
  EXPECT_EQ(sender_.Attempts("gone@example.org"), 1);
}

TEST_F(OutboxTest, RowLeftSendingIsNeverResentAndIsReportedAsUnknown) {
  const auto id = Enqueue(Mail("bob@example.org"));
  // A crash between the hand-over and the recording leaves the claimed row behind.
  MustExec(Conn(), "UPDATE mail_outbox SET state = 'sending', attempts = 1 WHERE id = ?", {id});
  clock_.Advance(seconds(7 * 86400));
  EXPECT_EQ(Deliver().sent, 0);
  EXPECT_EQ(sender_.Attempts("bob@example.org"), 0);

  auto unknown = ListOutbox(Conn(), "sending", 10);
  ASSERT_TRUE(unknown.ok());
  ASSERT_EQ(unknown->size(), 1U);
  EXPECT_EQ((*unknown)[0].id, id);
  EXPECT_TRUE((*unknown)[0].unknown_outcome);
}

TEST_F(OutboxTest, UnknownOutcomeFromSenderStaysSendingAndIsNotRetried) {
  const auto id = Enqueue(Mail("bob@example.org"));
  sender_.Fail("bob@example.org", Internal("connection lost after the message was sent"));
  const DeliveryReport report = Deliver();
  EXPECT_EQ(report.sent + report.retry_later, 0);
  EXPECT_EQ(report.failed, 1);
  const OutboxEntry e = Entry(id);
  EXPECT_EQ(e.state, "sending");
  EXPECT_TRUE(e.unknown_outcome);
  ASSERT_TRUE(e.last_error.has_value());
  EXPECT_NE(e.last_error->find("outcome unknown"), std::string::npos);

  sender_.Heal("bob@example.org");
  clock_.Advance(seconds(86400));
  EXPECT_EQ(Deliver().sent, 0);
  EXPECT_EQ(sender_.Attempts("bob@example.org"), 1);
}

TEST_F(OutboxTest, DeliveryStartedDuringAnotherSendNeverDuplicates) {
  for (const char* to : {"a@example.org", "b@example.org", "c@example.org"}) {
    Enqueue(Mail(to));
  }
  // While the outer delivery is sending the first mail (its list of due mail already read), a
  // second delivery runs on the same database: the database is not locked during Send, the mail
  // being sent is not taken again, and the outer delivery skips the mails the inner one sent.
  DeliveryReport inner;
  sender_.OnFirstSend([&] { inner = Deliver(); });
  const DeliveryReport outer = Deliver();
  EXPECT_EQ(inner.sent, 2);
  EXPECT_EQ(outer.sent, 1);
  for (const char* to : {"a@example.org", "b@example.org", "c@example.org"}) {
    EXPECT_EQ(sender_.Attempts(to), 1) << to;
  }
}

TEST_F(OutboxTest, SuppressedMailIsRecordedButNeverSent) {
  const auto id = Enqueue(Mail("bob@example.org"), 7, /*suppressed=*/true);
  clock_.Advance(seconds(86400));
  EXPECT_EQ(Deliver().sent, 0);
  EXPECT_EQ(sender_.Attempts("bob@example.org"), 0);
  const OutboxEntry e = Entry(id);
  EXPECT_EQ(e.state, "suppressed");
  EXPECT_EQ(e.created_at, kStart);
  EXPECT_FALSE(e.sent_at.has_value());
}

TEST_F(OutboxTest, CancelAffectsOnlyQueuedMailOfThatChallenge) {
  const auto sent = Enqueue(Mail("c@example.org"), 7);
  ASSERT_EQ(Deliver().sent, 1);
  const auto q1 = Enqueue(Mail("a@example.org"), 7);
  const auto q2 = Enqueue(Mail("b@example.org"), 7);
  const auto suppressed = Enqueue(Mail("d@example.org"), 7, true);
  const auto other = Enqueue(Mail("e@example.org"), 8);
  const auto no_challenge = Enqueue(Mail("f@example.org"), std::nullopt);

  clock_.Advance(seconds(10));
  auto cancelled = CancelQueuedMail(Conn(), 7, clock_.Now());
  ASSERT_TRUE(cancelled.ok()) << cancelled.status().ToString();
  EXPECT_EQ(*cancelled, 2);
  EXPECT_EQ(Entry(q1).state, "cancelled");
  EXPECT_EQ(Entry(q2).state, "cancelled");
  ASSERT_TRUE(Entry(q2).last_error.has_value());
  EXPECT_NE(Entry(q2).last_error->find("2026-03-03T10:00:10Z"), std::string::npos);
  EXPECT_EQ(Entry(sent).state, "sent");
  EXPECT_EQ(Entry(suppressed).state, "suppressed");
  EXPECT_EQ(Entry(other).state, "queued");
  EXPECT_EQ(Entry(no_challenge).state, "queued");

  const DeliveryReport report = Deliver();
  EXPECT_EQ(report.sent, 2);
  EXPECT_EQ(sender_.Delivered("b@example.org"), 0);
  EXPECT_EQ(sender_.Delivered("e@example.org"), 1);
}

TEST_F(OutboxTest, EnqueueRunsInTheCallersTransaction) {
  {
    auto tx = Transaction::Start(Conn(), TxMode::kWrite);
    ASSERT_TRUE(tx.ok());
    Enqueue(Mail("bob@example.org"));
  }  // rolled back
  auto all = ListOutbox(Conn(), std::nullopt, 10);
  ASSERT_TRUE(all.ok());
  EXPECT_TRUE(all->empty());
}

TEST_F(OutboxTest, EnqueueRefusesBadInput) {
  for (const MailMessage& m : {Mail(""), Mail("bob@example.org\r\nBcc: eve@example.org"),
                               Mail("bob@example.org", "a\nb")}) {
    auto id = EnqueueMail(Conn(), 7, m, kStart, false);
    ASSERT_FALSE(id.ok());
    EXPECT_EQ(id.status().code(), StatusCode::kInvalidArgument);
  }
  auto unknown_challenge = EnqueueMail(Conn(), 99, Mail("bob@example.org"), kStart, false);
  ASSERT_FALSE(unknown_challenge.ok());
  EXPECT_EQ(unknown_challenge.status().code(), StatusCode::kFailedPrecondition);
}

// Challenge 7 with consent and phase 70; submissions `subs` of it with an eligible date.
void AddNoticedSubmissions(SqlConnection& conn, std::initializer_list<std::int64_t> subs) {
  MustExec(conn, "UPDATE challenges SET retention_policy_consent = 1 WHERE id = 7");
  MustExec(conn, "INSERT INTO phases (id, challenge_id, name, end_date) VALUES (70, 7, 'p', 0)");
  for (std::int64_t sub : subs) {
    MustExec(conn,
             "INSERT INTO submissions (id, phase_id, challenge_id, participant, submitted_at, "
             "retention_eligible_date) VALUES (?, 70, 7, 'bob', 0, 86400)",
             {sub});
  }
}

TEST_F(OutboxTest, SentNoticeStampsItsSubmissionsOnce) {
  AddNoticedSubmissions(Conn(), {700, 701});
  MustExec(Conn(), "UPDATE submissions SET notice_sent_at = 5 WHERE id = 701");
  const auto id = Enqueue(Mail("host@example.org"));
  for (std::int64_t sub : {700, 701}) {
    MustExec(Conn(), "INSERT INTO notice_items (outbox_id, submission_id) VALUES (?, ?)",
             {id, sub});
  }
  clock_.Advance(seconds(30));
  ASSERT_EQ(Deliver().sent, 1);
  auto rows = Conn().Query("SELECT id, notice_sent_at FROM submissions ORDER BY id");
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 2U);
  EXPECT_EQ((*rows)[0].Int(1), ToUnix(kStart) + 30);
  EXPECT_EQ((*rows)[1].Int(1), 5);  // an earlier first notice is kept
}

// Issue 8 defects 8 and 13: a mail accepted after its challenge lost consent, or for a submission
// whose eligible date was cleared, is recorded as sent but starts no notice period.
TEST_F(OutboxTest, Issue8Defect8AcceptedMailCountsOnlyWhileConsentAndEligibleDateStand) {
  AddNoticedSubmissions(Conn(), {700, 701});
  const auto id = Enqueue(Mail("host@example.org"));
  for (std::int64_t sub : {700, 701}) {
    MustExec(Conn(), "INSERT INTO notice_items (outbox_id, submission_id) VALUES (?, ?)",
             {id, sub});
  }
  sender_.OnFirstSend([&] {
    MustExec(Conn(), "UPDATE submissions SET retention_eligible_date = NULL WHERE id = 701");
  });
  ASSERT_EQ(Deliver().sent, 1);
  auto rows = Conn().Query("SELECT id, notice_sent_at FROM submissions ORDER BY id");
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ((*rows)[0].Int(1), ToUnix(kStart));
  EXPECT_TRUE((*rows)[1].IsNull(1)) << "a submission no longer eligible is not noticed";

  MustExec(Conn(), "UPDATE submissions SET notice_sent_at = NULL");
  const auto second = Enqueue(Mail("other@example.org"));
  MustExec(Conn(), "INSERT INTO notice_items (outbox_id, submission_id) VALUES (?, 700)", {second});
  sender_.OnFirstSend(
      [&] { MustExec(Conn(), "UPDATE challenges SET retention_policy_consent = 0 WHERE id = 7"); });
  const DeliveryReport report = Deliver();
  EXPECT_EQ(report.sent, 1);
  EXPECT_EQ(report.voided, 1);
  EXPECT_EQ(Entry(second).state, "sent");
  ASSERT_TRUE(Entry(second).last_error.has_value());
  EXPECT_NE(Entry(second).last_error->find("void notice"), std::string::npos);
  rows = Conn().Query("SELECT notice_sent_at FROM submissions WHERE id = 700");
  ASSERT_TRUE(rows.ok());
  EXPECT_TRUE((*rows)[0].IsNull(0));
}

TEST_F(OutboxTest, ListFiltersByStateAndValidatesArguments) {
  Enqueue(Mail("a@example.org"));
  Enqueue(Mail("b@example.org"), 7, true);
  auto queued = ListOutbox(Conn(), "queued", 10);
  ASSERT_TRUE(queued.ok());
  ASSERT_EQ(queued->size(), 1U);
  EXPECT_EQ((*queued)[0].recipient, "a@example.org");
  EXPECT_EQ((*queued)[0].challenge_id, 7);
  EXPECT_EQ((*queued)[0].subject, "Data deletion notice");

  auto all = ListOutbox(Conn(), std::nullopt, 10);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2U);
  EXPECT_EQ((*all)[0].recipient, "b@example.org");  // newest first

  EXPECT_EQ(ListOutbox(Conn(), "bogus", 10).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ListOutbox(Conn(), std::nullopt, 0).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(DeliverDueMail(*db_, sender_, clock_, 0).status().code(), StatusCode::kInvalidArgument);
}

TEST(OutboxConcurrencyTest, TwoDeliveriesOnOneFileSendEachMailExactlyOnce) {
  char pattern[] = "/tmp/retention-outbox-test-XXXXXX";
  const std::filesystem::path dir = mkdtemp(pattern);
  const std::string path = (dir / "retention.db").string();
  constexpr int kMails = 60;
  {
    auto conn = OpenSqlite(path);
    ASSERT_TRUE(conn.ok()) << conn.status().ToString();
    ASSERT_TRUE(Migrate(**conn).ok());
    AddChallenge(**conn, 7);
    for (int i = 0; i < kMails; ++i) {
      ASSERT_TRUE(
          EnqueueMail(**conn, 7, Mail("user" + std::to_string(i) + "@example.org"), kStart, false)
              .ok());
    }
  }
  auto c1 = OpenSqlite(path);
  auto c2 = OpenSqlite(path);
  ASSERT_TRUE(c1.ok() && c2.ok());
  Database db1(std::move(c1).value());
  Database db2(std::move(c2).value());
  const FakeClock clock(kStart + seconds(1));
  FakeMailSender sender;

  Result<DeliveryReport> r1 = DeliveryReport{};
  Result<DeliveryReport> r2 = DeliveryReport{};
  std::latch start(2);
  std::thread t1([&] {
    start.arrive_and_wait();
    r1 = DeliverDueMail(db1, sender, clock, 1000);
  });
  std::thread t2([&] {
    start.arrive_and_wait();
    r2 = DeliverDueMail(db2, sender, clock, 1000);
  });
  t1.join();
  t2.join();
  ASSERT_TRUE(r1.ok()) << r1.status().ToString();
  ASSERT_TRUE(r2.ok()) << r2.status().ToString();
  EXPECT_EQ(r1->sent + r2->sent, kMails);
  for (int i = 0; i < kMails; ++i) {
    const std::string to = "user" + std::to_string(i) + "@example.org";
    EXPECT_EQ(sender.Attempts(to), 1) << to;
  }
  auto sent = ListOutbox(*db1.Lock(), "sent", 1000);
  ASSERT_TRUE(sent.ok());
  EXPECT_EQ(sent->size(), static_cast<std::size_t>(kMails));

  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

}  // namespace
}  // namespace retention
