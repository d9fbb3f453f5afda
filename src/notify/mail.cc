#include "notify/mail.h"

#include <cstdio>

namespace retention {

std::string EscapeForMessage(std::string_view s) {
  std::string out;
  for (const char ch : s) {
    const auto u = static_cast<unsigned char>(ch);
    if (ch == '\n') {
      out += "\\n";
    } else if (ch == '\r') {
      out += "\\r";
    } else if (ch == '\t') {
      out += "\\t";
    } else if (u < 0x20 || u >= 0x7f) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", u);
      out += hex;
    } else {
      out += ch;
    }
  }
  return out;
}

namespace {

// Why `address` is not one plain address, or empty when it is.
std::string Problem(std::string_view address) {
  if (address.empty()) return "it is empty";
  if (address.size() > kMaxEmailAddressBytes) {
    return "it is longer than " + std::to_string(kMaxEmailAddressBytes) + " bytes";
  }
  if (address.find_first_of("\r\n") != std::string_view::npos) return "it contains a line break";
  for (const char ch : address) {
    const auto u = static_cast<unsigned char>(ch);
    if (u < 0x20 || u == 0x7f) return "it contains a control character";
    if (u > 0x7f) return "it contains a non-ASCII character";
    if (ch == ' ') return "it contains a space";
    if (ch == ',' || ch == ';') return "it is a list of addresses (give exactly one)";
    if (std::string_view("<>()[]:\"\\").find(ch) != std::string_view::npos) {
      return std::string("it contains '") + ch + "' (give the bare address, e.g. host@example.org)";
    }
  }
  const std::size_t at = address.find('@');
  if (at == std::string_view::npos) return "it has no '@'";
  if (address.find('@', at + 1) != std::string_view::npos) return "it has more than one '@'";
  if (at == 0) return "nothing comes before the '@'";
  const std::string_view domain = address.substr(at + 1);
  if (domain.empty()) return "no domain follows the '@'";
  if (domain.front() == '.' || domain.back() == '.' ||
      domain.find("..") != std::string_view::npos) {
    return "its domain '" + std::string(domain) + "' is malformed";
  }
  return std::string();
}

}  // namespace

Status ValidateEmailAddress(std::string_view address, std::string_view field) {
  const std::string why = Problem(address);
  if (why.empty()) return Status::Ok();
  return InvalidArgument(std::string(field) + ": '" + EscapeForMessage(address) +
                         "' is not one e-mail address: " + why);
}

MailSender::~MailSender() = default;

}  // namespace retention
