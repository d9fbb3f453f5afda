#include "notify/smtp/mime_message.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>

namespace retention::mime {
namespace {

constexpr std::size_t kMaxLineLength = 78;
// 39 bytes of UTF-8 become 52 base64 characters: "=?UTF-8?B?" + 52 + "?=" = 64 <= 75.
constexpr std::size_t kMaxEncodedWordBytes = 39;
// Quoted-printable lines stay within 76 characters including the soft-break "=".
constexpr std::size_t kMaxQpLength = 75;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

bool IsPrintableAscii(std::string_view s) {
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u > 0x7e) {
      return false;
    }
  }
  return true;
}

bool HasLineBreakOrNul(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

std::string Base64(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    const std::uint32_t n =
        (static_cast<std::uint32_t>(static_cast<unsigned char>(in[i])) << 16) |
        (static_cast<std::uint32_t>(static_cast<unsigned char>(in[i + 1])) << 8) |
        static_cast<std::uint32_t>(static_cast<unsigned char>(in[i + 2]));
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  const std::size_t rest = in.size() - i;
  if (rest > 0) {
    std::uint32_t n = static_cast<std::uint32_t>(static_cast<unsigned char>(in[i])) << 16;
    if (rest == 2) {
      n |= static_cast<std::uint32_t>(static_cast<unsigned char>(in[i + 1])) << 8;
    }
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += rest == 2 ? kAlphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string Hex(unsigned char c) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  return std::string{'=', kDigits[c >> 4], kDigits[c & 15]};
}

// Address characters allowed in the envelope: printable ASCII without space and the delimiters
// that would break the header or the SMTP command.
bool ValidAddress(std::string_view a) {
  const auto at = a.find('@');
  if (a.empty() || at == std::string_view::npos || at == 0 || at + 1 == a.size()) {
    return false;
  }
  for (const char c : a) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u > 0x7e) {
      return false;
    }
    if (c == '<' || c == '>' || c == ',' || c == '(' || c == ')' || c == ';' || c == '"' ||
        c == '\\') {
      return false;
    }
  }
  return true;
}

}  // namespace

Result<Mailbox> ParseMailbox(std::string_view text, std::string_view what) {
  auto bad = [&](std::string_view why) {
    return InvalidArgument(std::string(what) + " '" + std::string(text) + "': " + std::string(why));
  };
  if (HasLineBreakOrNul(text)) {
    return bad("contains a line break");
  }
  const std::string_view t = Trim(text);
  if (t.empty()) {
    return bad("is empty");
  }
  Mailbox mailbox;
  std::string_view address = t;
  if (t.back() == '>') {
    const auto lt = t.rfind('<');
    if (lt == std::string_view::npos) {
      return bad("has '>' without '<'");
    }
    address = t.substr(lt + 1, t.size() - lt - 2);
    std::string_view name = Trim(t.substr(0, lt));
    if (name.size() >= 2 && name.front() == '"' && name.back() == '"') {
      name = name.substr(1, name.size() - 2);
      for (std::size_t i = 0; i < name.size(); ++i) {
        if (name[i] == '\\' && i + 1 < name.size()) {
          ++i;
        }
        mailbox.display_name += name[i];
      }
    } else {
      mailbox.display_name = std::string(name);
    }
  }
  if (!ValidAddress(address)) {
    return bad("is not a valid e-mail address");
  }
  mailbox.address = std::string(address);
  return mailbox;
}

std::string FormatMailbox(const Mailbox& mailbox) {
  if (mailbox.display_name.empty()) {
    return mailbox.address;
  }
  std::string name;
  if (!IsPrintableAscii(mailbox.display_name)) {
    name = EncodeWords(mailbox.display_name);
  } else if (mailbox.display_name.find_first_of("()<>[]:;@\\,.\"") != std::string::npos) {
    name = "\"";
    for (const char c : mailbox.display_name) {
      if (c == '"' || c == '\\') {
        name += '\\';
      }
      name += c;
    }
    name += '"';
  } else {
    name = mailbox.display_name;
  }
  return name + " <" + mailbox.address + ">";
}

std::string EncodeWords(std::string_view utf8) {
  std::string out;
  std::size_t i = 0;
  while (i < utf8.size()) {
    std::size_t end = std::min(utf8.size(), i + kMaxEncodedWordBytes);
    // Never split a multi-byte character: back up while the next byte is a continuation byte.
    while (end < utf8.size() && end > i + 1 &&
           (static_cast<unsigned char>(utf8[end]) & 0xC0) == 0x80) {
      --end;
    }
    if (!out.empty()) {
      out += "\r\n ";
    }
    out += "=?UTF-8?B?" + Base64(utf8.substr(i, end - i)) + "?=";
    i = end;
  }
  return out;
}

std::string EncodeHeaderValue(std::string_view utf8, std::size_t name_length) {
  if (!IsPrintableAscii(utf8) || utf8.find("=?") != std::string_view::npos) {
    return EncodeWords(utf8);
  }
  // Fold at spaces: a folded line starts with the space it replaced, so unfolding restores it.
  std::string out;
  std::size_t column = name_length;
  std::size_t start = 0;
  while (start <= utf8.size()) {
    auto space = utf8.find(' ', start);
    if (space == std::string_view::npos) {
      space = utf8.size();
    }
    const std::string_view word = utf8.substr(start, space - start);
    if (start == 0) {
      out += word;
      column += word.size();
    } else if (column + 1 + word.size() > kMaxLineLength && column > 1) {
      out += "\r\n ";
      out += word;
      column = 1 + word.size();
    } else {
      out += ' ';
      out += word;
      column += 1 + word.size();
    }
    start = space + 1;
  }
  return out;
}

std::string QuotedPrintable(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  std::size_t i = 0;
  while (true) {
    // One logical line: up to "\r\n", "\n" or a lone "\r".
    std::size_t end = text.find_first_of("\r\n", i);
    const bool last = end == std::string_view::npos;
    if (last) {
      end = text.size();
    }
    const std::string_view line = text.substr(i, end - i);
    std::size_t column = 0;
    for (std::size_t k = 0; k < line.size(); ++k) {
      const auto c = static_cast<unsigned char>(line[k]);
      const bool at_end = k + 1 == line.size();
      auto token = [&](std::size_t col) -> std::string {
        if (c == '.' && col == 0) {
          return Hex(c);
        }
        if ((c == ' ' || c == '\t') && !at_end) {
          return std::string(1, static_cast<char>(c));  // NOLINT(modernize-return-braced-init-list)
        }
        if (c >= 33 && c <= 126 && c != '=') {
          return std::string(1, static_cast<char>(c));  // NOLINT(modernize-return-braced-init-list)
        }
        return Hex(c);
      };
      std::string t = token(column);
      // Keep room for the soft-break "=" unless this is the line's last token.
      const std::size_t limit = at_end ? kMaxQpLength + 1 : kMaxQpLength;
      if (column + t.size() > limit) {
        out += "=\r\n";
        column = 0;
        t = token(column);
      }
      out += t;
      column += t.size();
    }
    if (last) {
      break;
    }
    out += "\r\n";
    i = end + ((text[end] == '\r' && end + 1 < text.size() && text[end + 1] == '\n') ? 2 : 1);
  }
  return out;
}

std::string FormatMailDate(TimePoint t) {
  static constexpr std::array<const char*, 7> kDays = {"Sun", "Mon", "Tue", "Wed",
                                                       "Thu", "Fri", "Sat"};
  static constexpr std::array<const char*, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const auto day = std::chrono::floor<std::chrono::days>(t);
  const std::chrono::year_month_day ymd(day);
  const std::chrono::weekday wd(day);
  const std::chrono::hh_mm_ss hms(t - day);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%s, %02u %s %04d %02d:%02d:%02d +0000", kDays[wd.c_encoding()],
                static_cast<unsigned>(ymd.day()), kMonths[static_cast<unsigned>(ymd.month()) - 1],
                static_cast<int>(ymd.year()), static_cast<int>(hms.hours().count()),
                static_cast<int>(hms.minutes().count()), static_cast<int>(hms.seconds().count()));
  return buf;
}

Result<std::string> BuildMessage(const MailMessage& m, const Mailbox& from, const Mailbox& to,
                                 TimePoint date, std::string_view message_id,
                                 std::string_view boundary) {
  if (HasLineBreakOrNul(m.subject)) {
    return InvalidArgument("mail subject contains a line break: '" + m.subject + "'");
  }
  std::string out;
  out.reserve(m.text.size() + m.html.size() + 1024);
  out += "Date: " + FormatMailDate(date) + "\r\n";
  out += "From: " + FormatMailbox(from) + "\r\n";
  out += "To: " + FormatMailbox(to) + "\r\n";
  out += "Subject: " + EncodeHeaderValue(m.subject, 9) + "\r\n";
  out += "Message-ID: <" + std::string(message_id) + ">\r\n";
  out += "MIME-Version: 1.0\r\n";
  out += "Auto-Submitted: auto-generated\r\n";
  const std::string plain_headers =
      "Content-Type: text/plain; charset=UTF-8\r\n"
      "Content-Transfer-Encoding: quoted-printable\r\n";
  if (m.html.empty()) {
    out += plain_headers + "\r\n" + QuotedPrintable(m.text) + "\r\n";
    return out;
  }
  const std::string b(boundary);
  out += "Content-Type: multipart/alternative; boundary=\"" + b + "\"\r\n\r\n";
  out += "This is a multi-part message in MIME format.\r\n";
  out += "\r\n--" + b + "\r\n" + plain_headers + "\r\n" + QuotedPrintable(m.text);
  out += "\r\n--" + b + "\r\n";
  out += "Content-Type: text/html; charset=UTF-8\r\n";
  out += "Content-Transfer-Encoding: quoted-printable\r\n\r\n" + QuotedPrintable(m.html);
  out += "\r\n--" + b + "--\r\n";
  return out;
}

}  // namespace retention::mime
