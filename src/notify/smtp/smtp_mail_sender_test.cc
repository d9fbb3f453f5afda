// Runs the SMTP adapter against a real SMTP server: tests/integration/smtp_server.py on Debian's
// python3-aiosmtpd (/usr/bin/python3), bound to a free loopback port (testing/smtp_server.h):
// what is particular to SMTP (MIME, headers, timeouts, URLs). The port's promises (error codes
// by reply) are in notify/mail_sender_contract_test.cc.
#include "notify/smtp/smtp_mail_sender.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "testing/smtp_server.h"

namespace retention {
namespace {

namespace fs = std::filesystem;

using testing::ReadWholeFile;
using testing::SmtpServerProcess;
constexpr const char* kRejected = testing::kSmtpRejected;
constexpr const char* kTempFailed = testing::kSmtpTempFailed;

// Undoes quoted-printable soft breaks and =XX escapes (good enough for the bodies checked here).
std::string DecodeQuotedPrintable(const std::string& qp) {
  std::string out;
  for (std::size_t i = 0; i < qp.size(); ++i) {
    if (qp.compare(i, 3, "=\r\n") == 0) {
      i += 2;
    } else if (qp[i] == '=' && i + 2 < qp.size() && std::isxdigit(qp[i + 1]) != 0 &&
               std::isxdigit(qp[i + 2]) != 0) {
      out += static_cast<char>(std::stoi(qp.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += qp[i];
    }
  }
  return out;
}

class SmtpMailSenderTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char pattern[] = "/tmp/retention-smtp-test-XXXXXX";
    dir_ = new fs::path(mkdtemp(pattern));
    server_ = new SmtpServerProcess(*dir_);
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
    std::error_code ec;
    fs::remove_all(*dir_, ec);
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    ASSERT_TRUE(server_->error().empty()) << server_->error();
    url_ = "smtp://127.0.0.1:" + std::to_string(server_->port());
  }

  std::unique_ptr<SmtpMailSender> Open(SmtpOptions options = {}) {
    auto sender = SmtpMailSender::Open(url_, "Retention <noreply@example.org>", options);
    EXPECT_TRUE(sender.ok()) << sender.status().ToString();
    return sender.ok() ? std::move(sender).value() : nullptr;
  }

  static MailMessage Message(const std::string& to, const std::string& subject) {
    return MailMessage{
        .from = "",
        .to = to,
        .subject = subject,
        .text = "Hello,\n3 submissions of Cars 2026 will be deleted on 2026-03-01.\n",
        .html =
            "<p>Hello,</p><p>3 submissions of <b>Cars 2026</b> will be deleted "
            "on 2026-03-01.</p>"};
  }

  static fs::path* dir_;
  static SmtpServerProcess* server_;
  std::string url_;
};

fs::path* SmtpMailSenderTest::dir_ = nullptr;
SmtpServerProcess* SmtpMailSenderTest::server_ = nullptr;

TEST_F(SmtpMailSenderTest, DeliversMultipartMessageWithHeaders) {
  auto sender = Open();
  ASSERT_NE(sender, nullptr);
  const Status s = sender->Send(Message("bob@example.org", "Data deletion notice: Cars 2026"));
  ASSERT_TRUE(s.ok()) << s.ToString();

  const auto stored = server_->MessagesTo("bob@example.org");
  ASSERT_EQ(stored.size(), 1U);
  const std::string& m = stored[0];
  for (const char* expected : {
           "X-MailFrom: noreply@example.org\r\n",
           "From: Retention <noreply@example.org>\r\n",
           "To: bob@example.org\r\n",
           "Subject: Data deletion notice: Cars 2026\r\n",
           "MIME-Version: 1.0\r\n",
           "Content-Type: multipart/alternative; boundary=",
           "Content-Type: text/plain; charset=UTF-8\r\n",
           "Content-Type: text/html; charset=UTF-8\r\n",
       }) {
    EXPECT_NE(m.find(expected), std::string::npos) << "missing: " << expected << "\nin:\n" << m;
  }
  const std::string body = DecodeQuotedPrintable(m);
  for (const char* expected : {
           "\r\n\r\nHello,\r\n3 submissions of Cars 2026 will be deleted on 2026-03-01.\r\n",
           "\r\n\r\n<p>Hello,</p><p>3 submissions of <b>Cars 2026</b> will be deleted on "
           "2026-03-01.</p>\r\n",
       }) {
    EXPECT_NE(body.find(expected), std::string::npos) << "missing: " << expected << "\nin:\n" << m;
  }
  // The text part comes before the HTML part (the preferred alternative comes last).
  EXPECT_LT(m.find("text/plain"), m.find("text/html"));
  EXPECT_NE(m.find("\r\nDate: "), std::string::npos);
  EXPECT_NE(m.find("\r\nMessage-ID: <"), std::string::npos);
}

TEST_F(SmtpMailSenderTest, EncodesNonAsciiSubjectAndUsesMessageFrom) {
  auto sender = Open();
  ASSERT_NE(sender, nullptr);
  MailMessage msg = Message("jürgen@example.org", "Löschung");
  msg.to = "Jürgen <juergen@example.org>";
  msg.from = "hosts-desk@example.org";
  const Status s = sender->Send(msg);
  ASSERT_TRUE(s.ok()) << s.ToString();
  const auto stored = server_->MessagesTo("juergen@example.org");
  ASSERT_EQ(stored.size(), 1U);
  EXPECT_NE(stored[0].find("Subject: =?UTF-8?B?TMO2c2NodW5n?=\r\n"), std::string::npos)
      << stored[0];
  EXPECT_NE(stored[0].find("To: =?UTF-8?B?SsO8cmdlbg==?= <juergen@example.org>\r\n"),
            std::string::npos)
      << stored[0];
  EXPECT_NE(stored[0].find("X-MailFrom: hosts-desk@example.org\r\n"), std::string::npos);
}

TEST_F(SmtpMailSenderTest, SilentServerTimesOutAsUnavailable) {
  // A listening socket that never answers: the connection succeeds, the greeting never comes.
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(fd, 4), 0);
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  auto sender = SmtpMailSender::Open("smtp://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)),
                                     "noreply@example.org",
                                     SmtpOptions{.connect_timeout = std::chrono::seconds(1),
                                                 .total_timeout = std::chrono::seconds(1)});
  ASSERT_TRUE(sender.ok());
  const Status s = (*sender)->Send(Message("bob@example.org", "notice"));
  close(fd);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
}

TEST(SmtpMailSenderOpenTest, RejectsBadUrlsWithoutEchoingPasswords) {
  for (const char* url : {"", "not a url", "http://mail.example.org", "smtp://",
                          "smtp://user:s3cret@mail.example.org:25?x=1", "smtp://h:99999"}) {
    auto sender = SmtpMailSender::Open(url, "noreply@example.org");
    ASSERT_FALSE(sender.ok()) << url;
    EXPECT_EQ(sender.status().code(), StatusCode::kInvalidArgument) << url;
    EXPECT_EQ(sender.status().message().find("s3cret"), std::string::npos);
  }
}

TEST(SmtpMailSenderOpenTest, AcceptsSmtpAndSmtpsAndRedactsPassword) {
  for (const char* url : {"smtp://mail.example.org", "smtps://mail.example.org:465",
                          "smtp://user:s3cret@mail.example.org:587"}) {
    auto sender = SmtpMailSender::Open(url, "Retention <noreply@example.org>");
    ASSERT_TRUE(sender.ok()) << url << ": " << sender.status().ToString();
    EXPECT_EQ((*sender)->redacted_url().find("s3cret"), std::string::npos);
    EXPECT_NE((*sender)->redacted_url().find("mail.example.org"), std::string::npos);
  }
}

TEST(SmtpMailSenderOpenTest, RejectsBadFromAndRecipient) {
  auto bad_from = SmtpMailSender::Open("smtp://127.0.0.1:25", "not an address");
  ASSERT_FALSE(bad_from.ok());
  EXPECT_EQ(bad_from.status().code(), StatusCode::kInvalidArgument);

  auto sender = SmtpMailSender::Open("smtp://127.0.0.1:1", "noreply@example.org");
  ASSERT_TRUE(sender.ok());
  const Status s = (*sender)->Send(MailMessage{.from = "",
                                               .to = "bob@example.org\r\nBcc: eve@example.org",
                                               .subject = "s",
                                               .text = "t",
                                               .html = ""});
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
}

}  // namespace
}  // namespace retention
