#include "core/utf8.h"

#include <array>
#include <cstdio>

namespace retention {

std::optional<std::size_t> FirstInvalidUtf8(std::string_view text) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  std::size_t i = 0;
  while (i < text.size()) {
    const unsigned char lead = byte(i);
    if (lead < 0x80) {
      ++i;
      continue;
    }
    std::size_t length = 0;
    unsigned char low = 0x80;  // the range allowed for the second byte (RFC 3629, table 3-7)
    unsigned char high = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3;
      if (lead == 0xE0) low = 0xA0;   // no overlong forms
      if (lead == 0xED) high = 0x9F;  // no surrogates
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4;
      if (lead == 0xF0) low = 0x90;   // no overlong forms
      if (lead == 0xF4) high = 0x8F;  // nothing above U+10FFFF
    } else {
      return i;
    }
    if (i + length > text.size()) return i;
    if (byte(i + 1) < low || byte(i + 1) > high) return i;
    for (std::size_t k = 2; k < length; ++k) {
      if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return i;
    }
    i += length;
  }
  return std::nullopt;
}

std::string DescribeInvalidUtf8(std::string_view text) {
  const auto at = FirstInvalidUtf8(text);
  if (!at) return "is valid UTF-8";
  std::array<char, 64> buf{};
  std::snprintf(buf.data(), buf.size(), "is not valid UTF-8 (byte 0x%02x at offset %zu)",
                static_cast<unsigned>(static_cast<unsigned char>(text[*at])), *at);
  return buf.data();
}

std::string EscapeInvalidUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  while (!text.empty()) {
    const auto bad = FirstInvalidUtf8(text);
    if (!bad) {
      out += text;
      break;
    }
    out += text.substr(0, *bad);
    std::array<char, 8> buf{};
    std::snprintf(buf.data(), buf.size(), "\\x%02x",
                  static_cast<unsigned>(static_cast<unsigned char>(text[*bad])));
    out += buf.data();
    text.remove_prefix(*bad + 1);
  }
  return out;
}

}  // namespace retention
