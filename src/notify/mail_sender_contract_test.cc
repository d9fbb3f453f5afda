// The MailSender contract (notify/mail.h) as tests, run against every adapter in kMailBackends:
// today the SMTP adapter against a real SMTP server (tests/integration/smtp_server.py on Debian's
// python3-aiosmtpd, testing/smtp_server.h), which refuses one recipient with 550 and another with
// 451. The codes say what the caller does next: ok (accepted, delivered once), kFailedPrecondition
// for a permanent refusal, kUnavailable for a temporary one or an unreachable server,
// kInvalidArgument for a malformed message (nothing sent); failure messages carry the server's
// reply. A new adapter plugs in with one entry in kMailBackends.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "notify/mail.h"
#include "notify/smtp/smtp_mail_sender.h"
#include "testing/contract.h"
#include "testing/smtp_server.h"
#include "testing/test_support.h"

namespace retention {
namespace {

// One adapter under test and the server behind it.
class MailBackend {
 public:
  virtual ~MailBackend() = default;
  // Empty unless the backend could not be set up (the message says why).
  virtual std::string error() const = 0;
  virtual MailSender& port() = 0;
  // How many messages the server holds for the envelope recipient `to`.
  virtual int Delivered(const std::string& to) = 0;
  // A recipient the server refuses permanently (5xx), and one it refuses temporarily (4xx).
  virtual std::string PermanentlyRefused() const = 0;
  virtual std::string TemporarilyRefused() const = 0;
  // A sender of the same kind whose server cannot be reached.
  virtual std::unique_ptr<MailSender> Unreachable() = 0;
};

class SmtpBackend final : public MailBackend {
 public:
  SmtpBackend() {
    // One server for the whole test binary, stopped when the binary exits; each test mails its
    // own recipients.
    static testing::TempDir dir;
    static testing::SmtpServerProcess server(dir.path());
    server_ = &server;
    if (!server_->error().empty()) {
      error_ = server_->error();
      return;
    }
    testing::TakeOrKeepError(
        SmtpMailSender::Open("smtp://127.0.0.1:" + std::to_string(server_->port()),
                             "Retention <noreply@example.org>"),
        sender_, error_);
  }
  std::string error() const override { return error_; }
  MailSender& port() override { return *sender_; }
  int Delivered(const std::string& to) override {
    return static_cast<int>(server_->MessagesTo(to).size());
  }
  std::string PermanentlyRefused() const override { return testing::kSmtpRejected; }
  std::string TemporarilyRefused() const override { return testing::kSmtpTempFailed; }
  std::unique_ptr<MailSender> Unreachable() override {
    auto sender = SmtpMailSender::Open("smtp://127.0.0.1:" + std::to_string(testing::ClosedPort()),
                                       "noreply@example.org");
    EXPECT_TRUE(sender.ok()) << sender.status().ToString();
    return sender.ok() ? std::move(sender).value() : nullptr;
  }

 private:
  testing::SmtpServerProcess* server_ = nullptr;
  std::string error_;
  std::unique_ptr<SmtpMailSender> sender_;
};

const testing::AdapterFactory<MailBackend> kMailBackends[] = {
    {"smtp", testing::MakeHarness<MailBackend, SmtpBackend>},
};

class MailSenderContract : public testing::AdapterContract<MailBackend> {
 protected:
  MailSender& port() { return harness_->port(); }
  // A recipient no other test mails: "<test name>@example.org".
  static std::string OwnRecipient(const std::string& tag = "") {
    return std::string(::testing::UnitTest::GetInstance()->current_test_info()->name())
               .substr(0, 40) +
           tag + "@example.org";
  }
  static MailMessage Message(const std::string& to) {
    return MailMessage{.from = "",
                       .to = to,
                       .subject = "Data deletion notice: Cars 2026",
                       .text = "3 submissions of Cars 2026 will be deleted on 2026-03-01.\n",
                       .html = "<p>3 submissions of <b>Cars 2026</b> will be deleted.</p>"};
  }
};

TEST_P(MailSenderContract, AcceptedMessageIsDeliveredOnceToItsOneRecipient) {
  const std::string to = OwnRecipient();
  const Status s = port().Send(Message(to));
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(harness_->Delivered(to), 1);
  EXPECT_EQ(harness_->Delivered(OwnRecipient("-other")), 0);
}

TEST_P(MailSenderContract, PlainTextOnlyMessageIsAccepted) {
  const std::string to = OwnRecipient();
  MailMessage m = Message(to);
  m.html.clear();
  const Status s = port().Send(m);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(harness_->Delivered(to), 1);
}

// A 5xx reply is permanent (do not retry), a 4xx temporary (retry later); either way the message
// names the recipient and carries the server's reply, and nothing is delivered.
TEST_P(MailSenderContract, RefusalsAreFailedPreconditionOrUnavailableWithTheServerReply) {
  struct Case {
    std::string to;
    StatusCode code;
    const char* reply;
  };
  for (const Case& c :
       {Case{harness_->PermanentlyRefused(), StatusCode::kFailedPrecondition,
             "550 5.1.1 no such user"},
        Case{harness_->TemporarilyRefused(), StatusCode::kUnavailable, "451 4.3.0 try again"}}) {
    const Status s = port().Send(Message(c.to));
    ASSERT_FALSE(s.ok()) << c.to;
    EXPECT_EQ(s.code(), c.code) << s.ToString();
    EXPECT_NE(s.message().find(c.reply), std::string::npos) << s.ToString();
    EXPECT_NE(s.message().find(c.to), std::string::npos) << s.ToString();
    EXPECT_EQ(harness_->Delivered(c.to), 0) << c.to;
  }
}

TEST_P(MailSenderContract, UnreachableServerIsUnavailable) {
  auto sender = harness_->Unreachable();
  ASSERT_NE(sender, nullptr);
  const Status s = sender->Send(Message(OwnRecipient()));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
}

TEST_P(MailSenderContract, MalformedMessageIsInvalidArgumentAndNothingIsSent) {
  const std::string to = OwnRecipient();
  MailMessage line_break = Message(to);
  line_break.subject = "notice\r\nBcc: everyone@example.org";
  const Status s = port().Send(line_break);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  MailMessage no_recipient = Message("");
  EXPECT_EQ(port().Send(no_recipient).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(harness_->Delivered(to), 0);
  EXPECT_EQ(harness_->Delivered("everyone@example.org"), 0);
}

INSTANTIATE_TEST_SUITE_P(Adapters, MailSenderContract, ::testing::ValuesIn(kMailBackends),
                         testing::AdapterName());

}  // namespace
}  // namespace retention
