// SMTP adapter of the mail port, on libcurl. One connection per Send, one recipient per message;
// the message is MIME (multipart/alternative text + HTML, UTF-8, quoted-printable).
//
// URLs: smtp://host[:port] (STARTTLS when the server offers it; required when the URL carries
// credentials and the host is not loopback), smtps://host[:port] (implicit TLS), and either with
// user:password@ (percent-encoded) for SMTP AUTH. A path names the EHLO domain (smtp://host/name).
//
// Thread-safe: Send may be called from several threads at once (each call has its own handle).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "core/status.h"
#include "notify/mail.h"
#include "notify/smtp/mime_message.h"

namespace retention {

struct SmtpOptions {
  // Limit for establishing the TCP (and TLS) connection.
  std::chrono::seconds connect_timeout{10};
  // Limit for a whole Send, connection included.
  std::chrono::seconds total_timeout{30};
};

class SmtpMailSender final : public MailSender {
 public:
  // Checks `url` (scheme smtp or smtps, a host, no query) and `from` (the default sender mailbox,
  // used when a message's `from` is empty). Does not connect. Returns InvalidArgument saying what
  // is wrong when either is malformed (the URL itself is not echoed: it may hold a password), or
  // when a timeout in `options` is not positive.
  static Result<std::unique_ptr<SmtpMailSender>> Open(const std::string& url,
                                                      const std::string& from,
                                                      SmtpOptions options = {});

  // See MailSender::Send. Classification uses the server's last reply code
  // (CURLINFO_RESPONSE_CODE): 4xx -> kUnavailable, 5xx -> kFailedPrecondition, except a refused
  // login (535), which is kUnavailable because the message is not at fault. Without a reply
  // (refused connection, timeout, TLS failure) -> kUnavailable, unless the whole message had
  // been handed over: then the outcome is unknown -> kInternal. Messages read like
  // "smtp://host:25: mail to bob@example.org: 550 5.1.1 no such user (RCPT failed: 550)".
  Status Send(const MailMessage& m) override;

  // The URL without its password, for logs and messages.
  const std::string& redacted_url() const { return redacted_url_; }

 private:
  SmtpMailSender(std::string url, std::string redacted_url, mime::Mailbox from, bool require_tls,
                 SmtpOptions options);

  std::string url_;
  std::string redacted_url_;
  mime::Mailbox from_;
  bool require_tls_;
  SmtpOptions options_;
};

}  // namespace retention
