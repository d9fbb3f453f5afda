// Checking text for well-formed UTF-8. Every text the service stores (notes, reasons, names) must
// be valid UTF-8, so that what the audit ledger hashes is exactly what it stores (R7). Pure
// functions, thread-safe.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace retention {

// The offset of the first byte that is not part of a well-formed UTF-8 sequence (RFC 3629: no
// overlong forms, no surrogates, nothing above U+10FFFF), or nullopt when all of `text` is valid.
std::optional<std::size_t> FirstInvalidUtf8(std::string_view text);

inline bool IsValidUtf8(std::string_view text) { return !FirstInvalidUtf8(text).has_value(); }

// "is not valid UTF-8 (byte 0xff at offset 1)" for `text`, which must be invalid; for messages
// that name the field in front of it.
std::string DescribeInvalidUtf8(std::string_view text);

// `text` with every byte that is not part of well-formed UTF-8 written as "\xNN", for messages that
// quote input back (an error line must itself be valid UTF-8).
std::string EscapeInvalidUtf8(std::string_view text);

}  // namespace retention
