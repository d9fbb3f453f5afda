// What route handlers share to read a request and write an answer: JSON responses, the one
// mapping of a Status to an error response, and checks of body fields and query parameters that
// return InvalidArgument with the message the caller sees (400).
//
// Thread-safe: free functions without state.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>

#include "api/http_types.h"
#include "core/status.h"

namespace retention {

// `j` with `status`; invalid UTF-8 in strings is replaced, never thrown on.
HttpResponse Json(int status, const nlohmann::json& j);
// `status` with the document `r`, or the error response for its Status.
HttpResponse JsonOr(int status, const Result<nlohmann::json>& r);
// 201 {"id": id, "created": what}.
HttpResponse Created(const char* what, std::int64_t id);
// The error response for a failed Status (HttpStatusFor); internal and unavailable errors are
// prefixed "internal error: ".
HttpResponse FromStatus(const Status& s);

// InvalidArgument when `body` is not an object or has a field outside `allowed`.
Status CheckFields(const nlohmann::json& body, const std::set<std::string>& allowed);
// The string field `key`; nullopt when absent or null; InvalidArgument when not a string.
Result<std::optional<std::string>> OptString(const nlohmann::json& body, const char* key);
// The boolean field `key`; InvalidArgument when absent or not a JSON boolean.
Result<bool> RequiredBool(const nlohmann::json& body, const char* key);
// Retention days (R1: 1..3653) in field `key`. Precondition: the field is present.
// InvalidArgument "'days' must be an integer 1-3653<what_else>" for a value that is not an
// integer, "'days' N is out of range 1-3653" outside the range.
Result<int> RetentionDaysField(const nlohmann::json& body, const char* key,
                               const char* what_else = "");

// The integer query parameter `key`, `fallback` when absent; InvalidArgument naming the range
// [lo, hi] otherwise.
Result<int> QueryInt(const HttpRequest& req, const char* key, int fallback, int lo, int hi);
// The id query parameter `key` (> 0), nullopt when absent; InvalidArgument otherwise.
Result<std::optional<std::int64_t>> QueryId(const HttpRequest& req, const char* key);
// The query parameter `key`, or "" when absent.
std::string QueryText(const HttpRequest& req, const char* key);

}  // namespace retention
