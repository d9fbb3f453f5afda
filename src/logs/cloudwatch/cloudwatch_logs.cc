#include "logs/cloudwatch/cloudwatch_logs.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <thread>
#include <utility>

#include "aws/aws_uri.h"
#include "aws/backoff.h"
#include "logs/cloudwatch/aws_error.h"
#include "logs/cloudwatch/rate_limiter.h"

namespace retention {
namespace {

using cloudwatch_internal::RateLimiter;
using nlohmann::json;

constexpr char kTargetPrefix[] = "Logs_20140328.";
constexpr int kPageLimit = 50;

std::string GroupContext(const std::string& operation, const std::string& group) {
  return "cloudwatch " + operation + " log group '" + group + "'";
}

}  // namespace

Result<std::unique_ptr<CloudWatchLogs>> CloudWatchLogs::Open(const std::string& url,
                                                             CloudWatchOptions options) {
  constexpr std::string_view kScheme = "cloudwatch://";
  const std::string quoted = "log url '" + url + "'";
  if (url.rfind(kScheme, 0) != 0) {
    return InvalidArgument(quoted + " must look like cloudwatch://REGION?endpoint=URL");
  }
  const UrlQuerySplit split = SplitUrlQuery(std::string_view(url).substr(kScheme.size()));
  std::string_view rest = split.rest;
  if (!rest.empty() && rest.back() == '/') {
    rest.remove_suffix(1);
  }
  if (!IsValidAwsRegion(rest)) {
    return InvalidArgument(quoted + " must name a region such as us-east-1 after cloudwatch://");
  }
  const std::string region(rest);
  std::string endpoint = "https://logs." + region + ".amazonaws.com";
  for (const auto& [key, raw] : split.params) {
    if (key != "endpoint") {
      return InvalidArgument(quoted + ": unknown parameter '" + key +  // NOLINT(performance-*)
                             "' (only endpoint=URL)");
    }
    auto value = PercentDecode(raw);
    if (!value || (value->rfind("http://", 0) != 0 && value->rfind("https://", 0) != 0) ||
        value->find_first_of(" \t\r\n") != std::string::npos) {
      return InvalidArgument(quoted + ": endpoint must be an http:// or https:// URL");
    }
    endpoint = *value;
  }
  while (!endpoint.empty() && endpoint.back() == '/') {
    endpoint.pop_back();
  }

  ASSIGN_OR_RETURN(AwsCredentials credentials, ResolveAwsCredentials(options.credentials, quoted));
  RETURN_IF_ERROR(ValidateAwsClientOptions(options, "cloudwatch"));
  if (options.calls_per_second < 1) {
    return InvalidArgument("cloudwatch: calls_per_second must be >= 1");
  }
  return std::unique_ptr<CloudWatchLogs>(new CloudWatchLogs(
      url, region, std::move(endpoint), std::move(credentials), std::move(options)));
}

CloudWatchLogs::CloudWatchLogs(std::string url, std::string region, std::string endpoint,
                               AwsCredentials credentials, CloudWatchOptions options)
    : url_(std::move(url)),
      region_(std::move(region)),
      endpoint_(std::move(endpoint)),
      options_(std::move(options)),
      // A small margin over one second absorbs network jitter between our clock and AWS's.
      limiter_(RateLimiter::Shared(endpoint_, options_.calls_per_second,
                                   std::chrono::milliseconds(1050))),
      http_("CloudWatch Logs", "aws:amz:" + region_ + ":logs", std::move(credentials),
            options_.connect_timeout, options_.request_timeout) {}

CloudWatchLogs::~CloudWatchLogs() = default;

std::string CloudWatchLogs::Url() const { return url_; }

Result<AwsHttpResponse> CloudWatchLogs::Post(const std::string& operation, const std::string& body,
                                             bool* retryable) {
  AwsHttpRequest request;
  request.method = "POST";
  request.url = endpoint_ + "/";
  request.headers = {"Content-Type: application/x-amz-json-1.1",
                     "X-Amz-Target: " + std::string(kTargetPrefix) + operation};
  // No "Expect:" line, not even an empty one to suppress 100-continue: libcurl 7.88 signs it but
  // does not send it, and the signature fails (verified with the fake). Bodies stay far below
  // libcurl's 1 MiB threshold for adding "Expect: 100-continue".
  request.body = body;
  return http_.Send(request, retryable);
}

Result<std::string> CloudWatchLogs::Call(const std::string& operation, const std::string& body) {
  Status last;
  for (int attempt = 1; attempt <= options_.max_attempts; ++attempt) {
    if (attempt > 1) {
      std::this_thread::sleep_for(
          BackoffDelay(options_.base_delay, options_.max_delay, attempt - 1));
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
          cloudwatch_internal::AwsErrorType(response->Header("x-amzn-errortype"), response->body);
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
