// The mail port: hands one message to a mail transport. Notices (R4) are queued in the outbox
// (notify/outbox.h) and delivered through this port; adapters live in sub-folders (smtp/).
//
// Thread-safety: an implementation may be used from one thread at a time unless it says more.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"

namespace retention {

// One e-mail to one recipient. All text is UTF-8.
struct MailMessage {
  // The sender, "addr@example.org" or "Display Name <addr@example.org>". Empty: the sender's
  // configured default From (the outbox does not store a From; see notify/outbox.h).
  std::string from;
  // The one recipient, in the same forms as `from`.
  std::string to;
  // The subject line; may be non-ASCII. Must not contain CR or LF.
  std::string subject;
  // The plain-text body (required).
  std::string text;
  // The HTML body. Empty: the message has only the plain-text part.
  std::string html;
};

// The longest e-mail address accepted (RFC 5321's limit on a forward path).
inline constexpr std::size_t kMaxEmailAddressBytes = 254;

// Checks that `address` is exactly one plain e-mail address, "local@domain", as a user's e-mail
// must be (it becomes the single recipient of a notice): printable ASCII only (no line break, no
// other control character, no space), exactly one '@' with something on each side, a domain that
// neither starts nor ends with '.' nor holds "..", and none of the characters of a list or a
// display form (, ; < > ( ) [ ] : " \); at most kMaxEmailAddressBytes. Returns ok, or
// kInvalidArgument "FIELD: 'ADDRESS' is not one e-mail address: WHY", with control characters
// of ADDRESS shown escaped so that the message stays on one line.
Status ValidateEmailAddress(std::string_view address, std::string_view field);

// `s` with control and non-ASCII bytes escaped (\n, \r, \t, \xHH), so that a message quoting
// it stays on one line.
std::string EscapeForMessage(std::string_view s);

class MailSender {
 public:
  virtual ~MailSender();

  // Hands `m` to the mail server for its one recipient.
  // Returns:
  //   ok                  the server accepted the message (it took responsibility for it);
  //   kUnavailable        a temporary failure: a 4xx reply, connection refused, a timeout, a TLS
  //                       or login failure; retry the same message later;
  //   kFailedPrecondition a permanent failure: a 5xx reply (e.g. 550 unknown recipient); do not
  //                       retry this message;
  //   kInvalidArgument    the message itself is malformed (no recipient, CR/LF in a header);
  //                       do not retry;
  //   kInternal           the outcome is unknown: the connection failed after the whole message
  //                       had been handed over but before the server's final reply, so the
  //                       server may have accepted it. Do not retry automatically (at most
  //                       once); the outbox keeps such a message as "unknown outcome".
  // Every failure message includes the server's reply code and text when there was a reply.
  virtual Status Send(const MailMessage& m) = 0;
};

}  // namespace retention
