#include "api/route_support.h"

#include <stdexcept>

#include "domain/retention_rules.h"

namespace retention {

using nlohmann::json;

HttpResponse Json(int status, const json& j) {
  HttpResponse r;
  r.status = status;
  r.body = j.dump(-1, ' ', false, json::error_handler_t::replace);
  return r;
}

HttpResponse JsonOr(int status, const Result<json>& r) {
  if (!r.ok()) return FromStatus(r.status());
  return Json(status, *r);
}

HttpResponse Created(const char* what, std::int64_t id) {
  return Json(201, {{"id", id}, {"created", what}});
}

HttpResponse FromStatus(const Status& s) {
  if (s.code() == StatusCode::kInternal || s.code() == StatusCode::kUnavailable) {
    return JsonError(HttpStatusFor(s), "internal error: " + s.message());
  }
  return JsonError(HttpStatusFor(s), s.message());
}

Status CheckFields(const json& body, const std::set<std::string>& allowed) {
  if (!body.is_object()) return InvalidArgument("the body must be a JSON object");
  for (const auto& [key, value] : body.items()) {
    if (!allowed.contains(key)) return InvalidArgument("unknown field '" + key + "'");
  }
  return Status::Ok();
}

Result<std::optional<std::string>> OptString(const json& body, const char* key) {
  if (!body.contains(key) || body[key].is_null()) return std::optional<std::string>();
  if (!body[key].is_string()) return InvalidArgument(std::string("'") + key + "' must be a string");
  return std::optional<std::string>(body[key].get<std::string>());
}

Result<bool> RequiredBool(const json& body, const char* key) {
  if (!body.contains(key)) return InvalidArgument(std::string("'") + key + "' is required");
  if (!body[key].is_boolean()) {
    return InvalidArgument(std::string("'") + key + "' must be a JSON boolean (true or false)");
  }
  return body[key].get<bool>();
}

Result<int> RetentionDaysField(const json& body, const char* key, const char* what_else) {
  const json& v = body.at(key);
  if (!v.is_number_integer()) {
    return InvalidArgument(std::string("'") + key + "' must be an integer 1-3653" + what_else);
  }
  const auto d = v.get<std::int64_t>();
  if (d < kMinRetentionDays || d > kMaxRetentionDays) {
    return InvalidArgument(std::string("'") + key + "' " + std::to_string(d) +
                           " is out of range 1-3653");
  }
  return static_cast<int>(d);
}

Result<int> QueryInt(const HttpRequest& req, const char* key, int fallback, int lo, int hi) {
  auto it = req.query.find(key);
  if (it == req.query.end()) return fallback;
  try {
    std::size_t used = 0;
    const std::int64_t v = std::stoll(it->second, &used);
    if (used != it->second.size() || v < lo || v > hi) throw std::out_of_range("range");
    return static_cast<int>(v);
  } catch (...) {
    return InvalidArgument(std::string("query parameter '") + key + "' must be an integer " +
                           std::to_string(lo) + "-" + std::to_string(hi));
  }
}

Result<std::optional<std::int64_t>> QueryId(const HttpRequest& req, const char* key) {
  auto it = req.query.find(key);
  if (it == req.query.end()) return std::optional<std::int64_t>();
  try {
    std::size_t used = 0;
    const std::int64_t v = std::stoll(it->second, &used);
    if (used != it->second.size() || v <= 0) throw std::out_of_range("range");
    return std::optional<std::int64_t>(v);
  } catch (...) {
    return InvalidArgument(std::string("query parameter '") + key + "' must be a positive id");
  }
}

std::string QueryText(const HttpRequest& req, const char* key) {
  auto it = req.query.find(key);
  return it == req.query.end() ? std::string() : it->second;
}

}  // namespace retention
