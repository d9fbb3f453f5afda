// Percent-encoding as AWS SigV4 wants it, decoding of URL parameters, region names. Pure;
// thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace retention {

// A URL after its scheme ("bucket/prefix?region=R&endpoint=URL"): the part before '?' and the
// query's parameters in order as raw (still %-encoded) name and value, empty pairs dropped; a
// parameter without '=' has an empty value.
struct UrlQuerySplit {
  std::string_view rest;
  std::vector<std::pair<std::string, std::string>> params;
};
UrlQuerySplit SplitUrlQuery(std::string_view after_scheme);

// Decodes %XX escapes; nullopt when an escape is malformed.
std::optional<std::string> PercentDecode(std::string_view s);

// AWS's UriEncode: every byte but A-Z a-z 0-9 - . _ ~ becomes %XX (upper-case hex); '/' is kept
// when `keep_slash` (an object key in a path), encoded otherwise (a query value).
std::string AwsUriEncode(std::string_view s, bool keep_slash);

// True for a plausible region name: 1 to 64 characters of a-z, 0-9 and '-' ("us-east-1").
bool IsValidAwsRegion(std::string_view region);

}  // namespace retention
