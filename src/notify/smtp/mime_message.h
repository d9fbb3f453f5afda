// Internal to the SMTP adapter: turns a MailMessage into RFC 5322 / MIME text (UTF-8, RFC 2047
// encoded headers, quoted-printable bodies, CRLF line ends). Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"
#include "core/time.h"
#include "notify/mail.h"

namespace retention::mime {

// A parsed mailbox: "addr@example.org" or "Display Name <addr@example.org>".
struct Mailbox {
  std::string display_name;  // may be empty
  std::string address;       // the bare address, used in the SMTP envelope
};

// Parses a mailbox. Returns InvalidArgument naming `what` and the text when it is empty, holds
// CR, LF or NUL, or its address has no '@', contains spaces, '<', '>' or ',' or is not ASCII.
Result<Mailbox> ParseMailbox(std::string_view text, std::string_view what);

// The header form of a mailbox: the address alone, or the display name (quoted when it holds
// specials, RFC 2047 encoded when it is not ASCII) followed by "<address>".
std::string FormatMailbox(const Mailbox& mailbox);

// RFC 2047 "B" encoded words ("=?UTF-8?B?...?="), split on UTF-8 character boundaries so that no
// encoded word exceeds 75 characters; words are separated by CRLF + space (folding).
std::string EncodeWords(std::string_view utf8);

// A header value: unchanged when it is printable ASCII (folded at spaces to keep lines short),
// RFC 2047 encoded otherwise. `name_length` is the length of "Name: " before it on the line.
std::string EncodeHeaderValue(std::string_view utf8, std::size_t name_length);

// Quoted-printable (RFC 2045) body: every line break becomes CRLF, lines stay within 76
// characters (soft breaks "=" CRLF), '=', control bytes, non-ASCII bytes, trailing white space
// and a leading '.' are escaped as =XX.
std::string QuotedPrintable(std::string_view text);

// "Tue, 03 Mar 2026 10:00:00 +0000" (RFC 5322 date-time, UTC).
std::string FormatMailDate(TimePoint t);

// The whole message, headers and body, with CRLF line ends. `from` and `to` are the parsed
// mailboxes of the message; `message_id` is the bare id (without angle brackets); `boundary`
// must not occur in quoted-printable text (e.g. starts with "=_"). When m.html is empty the body
// is a single text/plain part, else multipart/alternative with text/plain then text/html.
// Returns InvalidArgument when the subject holds CR or LF.
Result<std::string> BuildMessage(const MailMessage& m, const Mailbox& from, const Mailbox& to,
                                 TimePoint date, std::string_view message_id,
                                 std::string_view boundary);

}  // namespace retention::mime
