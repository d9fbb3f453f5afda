#include "logs/cloudwatch/cloudwatch_logs.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>
#include <utility>

#include "logs/cloudwatch/aws_error.h"
#include "logs/cloudwatch/rate_limiter.h"

namespace retention {
namespace {

using cloudwatch_internal::RateLimiter;
using nlohmann::json;

constexpr char kTargetPrefix[] = "Logs_20140328.";
constexpr int kPageLimit = 50;

void InitCurlOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string Getenv(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

// Decodes %XX escapes; nullopt when an escape is malformed.
std::optional<std::string> PercentDecode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size() || !std::isxdigit(static_cast<unsigned char>(s[i + 1])) ||
        !std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      return std::nullopt;
    }
    out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
    i += 2;
  }
  return out;
}

bool ValidRegion(std::string_view region) {
  return !region.empty() && region.size() <= 64 &&
         std::all_of(region.begin(), region.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
         });
}

// Translates a CURLcode (no HTTP answer) into Status: the single place for transport errors.
Status CurlError(CURLcode code, const char* error_buffer, bool* retryable) {
  switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
      *retryable = true;
      break;
    default:
      *retryable = false;
  }
  std::string detail = error_buffer != nullptr && *error_buffer != '\0'
                           ? std::string(error_buffer)
                           : std::string(curl_easy_strerror(code));
  return Unavailable("cannot reach CloudWatch Logs: " + detail);
}

std::chrono::milliseconds Backoff(const CloudWatchOptions& options, int retry) {
  std::chrono::milliseconds cap = options.base_delay;
  for (int i = 1; i < retry && cap < options.max_delay; ++i) {
    cap *= 2;
  }
  cap = std::min(cap, options.max_delay);
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_int_distribution<std::int64_t> pick(cap.count() / 2, cap.count());
  return std::chrono::milliseconds(pick(rng));
}

size_t AppendBody(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

// Keeps the x-amzn-ErrorType header of the last response (a new status line starts over).
size_t KeepErrorType(char* data, size_t size, size_t count, void* user) {
  const std::string_view line(data, size * count);
  auto* type = static_cast<std::string*>(user);
  if (line.rfind("HTTP/", 0) == 0) {
    type->clear();
  }
  constexpr std::string_view kName = "x-amzn-errortype:";
  if (line.size() > kName.size()) {
    std::string head(line.substr(0, kName.size()));
    std::transform(head.begin(), head.end(), head.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (head == kName) {
      std::string_view value = line.substr(kName.size());
      while (!value.empty() && (value.back() == '\r' || value.back() == '\n')) {
        value.remove_suffix(1);
      }
      *type = std::string(value);
    }
  }
  return size * count;
}

std::string GroupContext(const std::string& operation, const std::string& group) {
  return "cloudwatch " + operation + " log group '" + group + "'";
}

}  // namespace

struct CloudWatchLogs::HttpResponse {
  int status = 0;
  std::string body;
  std::string error_type;
};

Result<std::unique_ptr<CloudWatchLogs>> CloudWatchLogs::Open(const std::string& url,
                                                             CloudWatchOptions options) {
  constexpr std::string_view kScheme = "cloudwatch://";
  const std::string quoted = "log url '" + url + "'";
  if (url.rfind(kScheme, 0) != 0) {
    return InvalidArgument(quoted + " must look like cloudwatch://REGION?endpoint=URL");
  }
  std::string_view rest = url;
  rest.remove_prefix(kScheme.size());
  std::string_view query;
  if (auto q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  if (!rest.empty() && rest.back() == '/') {
    rest.remove_suffix(1);
  }
  if (!ValidRegion(rest)) {
    return InvalidArgument(quoted + " must name a region such as us-east-1 after cloudwatch://");
  }
  const std::string region(rest);
  std::string endpoint = "https://logs." + region + ".amazonaws.com";
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) {
      continue;
    }
    const std::size_t eq = pair.find('=');
    const std::string key(pair.substr(0, eq));
    if (key != "endpoint") {
      return InvalidArgument(quoted + ": unknown parameter '" + key +  // NOLINT(performance-*)
                             "' (only endpoint=URL)");
    }
    auto value = PercentDecode(eq == std::string_view::npos ? "" : pair.substr(eq + 1));
    if (!value || (value->rfind("http://", 0) != 0 && value->rfind("https://", 0) != 0) ||
        value->find_first_of(" \t\r\n") != std::string::npos) {
      return InvalidArgument(quoted + ": endpoint must be an http:// or https:// URL");
    }
    endpoint = *value;
  }
  while (!endpoint.empty() && endpoint.back() == '/') {
    endpoint.pop_back();
  }

  AwsCredentials credentials;
  if (options.credentials) {
    credentials = *options.credentials;
  } else {
    credentials = {Getenv("AWS_ACCESS_KEY_ID"), Getenv("AWS_SECRET_ACCESS_KEY"),
                   Getenv("AWS_SESSION_TOKEN")};
  }
  std::vector<std::string> missing;
  if (credentials.access_key_id.empty()) {
    missing.emplace_back("AWS_ACCESS_KEY_ID");
  }
  if (credentials.secret_access_key.empty()) {
    missing.emplace_back("AWS_SECRET_ACCESS_KEY");
  }
  if (!missing.empty()) {
    std::string names = missing[0];
    for (std::size_t i = 1; i < missing.size(); ++i) {
      names += " and " + missing[i];
    }
    return InvalidArgument(quoted + ": AWS credentials missing: set " + names);
  }
  if (credentials.access_key_id.find(':') != std::string::npos) {
    return InvalidArgument(quoted + ": AWS_ACCESS_KEY_ID must not contain ':'");
  }
  if (options.max_attempts < 1) {
    return InvalidArgument("cloudwatch: max_attempts must be >= 1");
  }
  if (options.calls_per_second < 1) {
    return InvalidArgument("cloudwatch: calls_per_second must be >= 1");
  }
  if (options.base_delay.count() < 0 || options.max_delay < options.base_delay) {
    return InvalidArgument("cloudwatch: need 0 <= base_delay <= max_delay");
  }
  InitCurlOnce();
  return std::unique_ptr<CloudWatchLogs>(new CloudWatchLogs(
      url, region, std::move(endpoint), std::move(credentials), std::move(options)));
}

CloudWatchLogs::CloudWatchLogs(std::string url, std::string region, std::string endpoint,
                               AwsCredentials credentials, CloudWatchOptions options)
    : url_(std::move(url)),
      region_(std::move(region)),
      endpoint_(std::move(endpoint)),
      credentials_(std::move(credentials)),
      options_(std::move(options)),
      // A small margin over one second absorbs network jitter between our clock and AWS's.
      limiter_(RateLimiter::Shared(endpoint_, options_.calls_per_second,
                                   std::chrono::milliseconds(1050))) {}

CloudWatchLogs::~CloudWatchLogs() {
  for (void* handle : handles_) {
    curl_easy_cleanup(handle);
  }
}

std::string CloudWatchLogs::Url() const { return url_; }

void* CloudWatchLogs::TakeHandle() {
  {
    std::lock_guard lock(handles_mu_);
    if (!handles_.empty()) {
      void* handle = handles_.back();
      handles_.pop_back();
      curl_easy_reset(handle);
      return handle;
    }
  }
  return curl_easy_init();
}

void CloudWatchLogs::ReturnHandle(void* handle) {
  std::lock_guard lock(handles_mu_);
  handles_.push_back(handle);
}

Result<CloudWatchLogs::HttpResponse> CloudWatchLogs::Post(const std::string& operation,
                                                          const std::string& body,
                                                          bool* retryable) {
  CURL* curl = TakeHandle();
  if (curl == nullptr) {
    *retryable = false;
    return Internal("cloudwatch: curl_easy_init failed");
  }
  const std::string url = endpoint_ + "/";
  const std::string sigv4 = "aws:amz:" + region_ + ":logs";
  const std::string userpwd = credentials_.access_key_id + ":" + credentials_.secret_access_key;
  const std::string target = "X-Amz-Target: " + std::string(kTargetPrefix) + operation;
  const std::string token = "X-Amz-Security-Token: " + credentials_.session_token;
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Content-Type: application/x-amz-json-1.1");
  headers = curl_slist_append(headers, target.c_str());
  if (!credentials_.session_token.empty()) {
    headers = curl_slist_append(headers, token.c_str());
  }
  // No "Expect:" line, not even an empty one to suppress 100-continue: libcurl 7.88 signs it but
  // does not send it, and the signature fails (verified with the fake). Bodies stay far below
  // libcurl's 1 MiB threshold for adding "Expect: 100-continue".

  HttpResponse response;
  char error_buffer[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_POST, 1L);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_AWS_SIGV4, sigv4.c_str());
  curl_easy_setopt(curl, CURLOPT_USERPWD, userpwd.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options_.connect_timeout.count()));
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.request_timeout.count()));
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, AppendBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, KeepErrorType);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &response.error_type);
  const CURLcode code = curl_easy_perform(curl);
  long http_status = 0;  // NOLINT(google-runtime-int): the type libcurl writes
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &http_status);
  response.status = static_cast<int>(http_status);
  curl_slist_free_all(headers);
  // The handle keeps pointers to this frame's buffers until it is reset by the next TakeHandle().
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);
  ReturnHandle(curl);
  if (code != CURLE_OK) {
    return CurlError(code, error_buffer, retryable);
  }
  return response;
}

Result<std::string> CloudWatchLogs::Call(const std::string& operation, const std::string& body) {
  Status last;
  for (int attempt = 1; attempt <= options_.max_attempts; ++attempt) {
    if (attempt > 1) {
      std::this_thread::sleep_for(Backoff(options_, attempt - 1));
    }
    limiter_->Acquire();
    bool retryable = false;
    auto response = Post(operation, body, &retryable);
    if (!response.ok()) {
      last = response.status();
    } else if (response->status == 200) {
      return std::move(response->body);
    } else {
      const std::string type =
          cloudwatch_internal::AwsErrorType(response->error_type, response->body);
      last = cloudwatch_internal::StatusForAwsError(
          type, response->status, cloudwatch_internal::AwsErrorMessage(response->body));
      retryable = cloudwatch_internal::IsRetryableAwsError(type, response->status);
    }
    if (!retryable) {
      return last;
    }
  }
  return Unavailable("gave up after " + std::to_string(options_.max_attempts) +
                     " attempts: " + last.message());
}

Result<std::string> CloudWatchLogs::DescribePage(const std::string& prefix,
                                                 const std::string& token,
                                                 std::vector<LogGroupInfo>* out) {
  json request = {{"limit", kPageLimit}};
  if (!prefix.empty()) {
    request["logGroupNamePrefix"] = prefix;
  }
  if (!token.empty()) {
    request["nextToken"] = token;
  }
  ASSIGN_OR_RETURN(std::string text, Call("DescribeLogGroups", request.dump()));
  const json answer = json::parse(text, nullptr, /*allow_exceptions=*/false);
  auto bad = [&](const std::string& why) {
    return Internal("unexpected DescribeLogGroups answer: " + why);
  };
  if (answer.is_discarded() || !answer.is_object()) {
    return bad("not a JSON object");
  }
  auto groups = answer.find("logGroups");
  if (groups != answer.end()) {
    if (!groups->is_array()) {
      return bad("logGroups is not an array");
    }
    for (const json& g : *groups) {
      auto name = g.find("logGroupName");
      if (!g.is_object() || name == g.end() || !name->is_string()) {
        return bad("a log group without logGroupName");
      }
      LogGroupInfo info{name->get<std::string>(), std::nullopt};
      if (auto days = g.find("retentionInDays"); days != g.end() && !days->is_null()) {
        if (!days->is_number_integer()) {
          return bad("retentionInDays is not an integer");
        }
        info.retention_days = days->get<int>();
      }
      out->push_back(std::move(info));
    }
  }
  auto next = answer.find("nextToken");
  if (next == answer.end() || next->is_null()) {
    return std::string();
  }
  if (!next->is_string()) {
    return bad("nextToken is not a string");
  }
  if (next->get<std::string>() == token) {
    return bad("nextToken repeats");
  }
  return next->get<std::string>();
}

Result<std::vector<LogGroupInfo>> CloudWatchLogs::List(const std::string& prefix) {
  if (!prefix.empty()) {
    RETURN_IF_ERROR(ValidateLogGroupName(prefix));
  }
  std::vector<LogGroupInfo> out;
  std::string token;
  do {
    auto next = DescribePage(prefix, token, &out);
    if (!next.ok()) {
      return next.status().WithContext("cloudwatch DescribeLogGroups prefix '" + prefix + "'");
    }
    token = *next;
  } while (!token.empty());
  std::sort(out.begin(), out.end(),
            [](const LogGroupInfo& a, const LogGroupInfo& b) { return a.name < b.name; });
  return out;
}

Result<std::optional<LogGroupInfo>> CloudWatchLogs::Describe(const std::string& group) {
  RETURN_IF_ERROR(ValidateLogGroupName(group));
  std::string token;
  do {
    std::vector<LogGroupInfo> page;
    auto next = DescribePage(group, token, &page);
    if (!next.ok()) {
      return next.status().WithContext(GroupContext("DescribeLogGroups", group));
    }
    for (LogGroupInfo& info : page) {
      if (info.name == group) {
        return std::optional<LogGroupInfo>(std::move(info));
      }
    }
    token = *next;
  } while (!token.empty());
  return std::optional<LogGroupInfo>();
}

Status CloudWatchLogs::SetPolicy(const std::string& group, int days) {
  RETURN_IF_ERROR(ValidateLogGroupName(group));
  RETURN_IF_ERROR(ValidateRetentionDays(days));
  const json request = {{"logGroupName", group}, {"retentionInDays", days}};
  auto answer = Call("PutRetentionPolicy", request.dump());
  if (!answer.ok()) {
    return answer.status().WithContext(GroupContext("PutRetentionPolicy", group));
  }
  return Status::Ok();
}

Status CloudWatchLogs::RemovePolicy(const std::string& group) {
  RETURN_IF_ERROR(ValidateLogGroupName(group));
  const json request = {{"logGroupName", group}};
  auto answer = Call("DeleteRetentionPolicy", request.dump());
  if (!answer.ok()) {
    return answer.status().WithContext(GroupContext("DeleteRetentionPolicy", group));
  }
  return Status::Ok();
}

}  // namespace retention
