// Percent-encoding as AWS SigV4 wants it, decoding of URL parameters, region names. Pure;
// thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace retention {

// Decodes %XX escapes; nullopt when an escape is malformed.
std::optional<std::string> PercentDecode(std::string_view s);

// AWS's UriEncode: every byte but A-Z a-z 0-9 - . _ ~ becomes %XX (upper-case hex); '/' is kept
// when `keep_slash` (an object key in a path), encoded otherwise (a query value).
std::string AwsUriEncode(std::string_view s, bool keep_slash);

// True for a plausible region name: 1 to 64 characters of a-z, 0-9 and '-' ("us-east-1").
bool IsValidAwsRegion(std::string_view region);

}  // namespace retention
