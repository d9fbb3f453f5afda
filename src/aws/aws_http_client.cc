#include "aws/aws_http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>

namespace retention {
namespace {

void InitCurlOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// Translates a CURLcode (no HTTP answer) into Status: the single place for transport errors.
Status CurlError(const std::string& service_name, CURLcode code, const char* error_buffer,
                 bool* retryable) {
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
  return Unavailable("cannot reach " + service_name + ": " + detail);
}

size_t AppendBody(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

// Keeps the headers of the last response (a new status line starts over).
size_t KeepHeader(char* data, size_t size, size_t count, void* user) {
  std::string_view line(data, size * count);
  auto* headers = static_cast<std::vector<std::pair<std::string, std::string>>*>(user);
  if (line.rfind("HTTP/", 0) == 0) {
    headers->clear();
    return size * count;
  }
  const std::size_t colon = line.find(':');
  if (colon == std::string_view::npos) {
    return size * count;
  }
  std::string name(line.substr(0, colon));
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && value.front() == ' ') {
    value.remove_prefix(1);
  }
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
    value.remove_suffix(1);
  }
  headers->emplace_back(std::move(name), std::string(value));
  return size * count;
}

}  // namespace

Status ValidateAwsClientOptions(const AwsClientOptions& options, const std::string& who) {
  if (options.max_attempts < 1) {
    return InvalidArgument(who + ": max_attempts must be >= 1");
  }
  if (options.base_delay.count() < 0 || options.max_delay < options.base_delay) {
    return InvalidArgument(who + ": need 0 <= base_delay <= max_delay");
  }
  return Status::Ok();
}

std::string AwsHttpResponse::Header(std::string_view lower_case_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_case_name) {
      return value;
    }
  }
  return "";
}

AwsHttpClient::AwsHttpClient(std::string service_name, std::string sigv4,
                             AwsCredentials credentials, std::chrono::milliseconds connect_timeout,
                             std::chrono::milliseconds request_timeout)
    : service_name_(std::move(service_name)),
      sigv4_(std::move(sigv4)),
      credentials_(std::move(credentials)),
      connect_timeout_(connect_timeout),
      request_timeout_(request_timeout) {
  InitCurlOnce();
}

AwsHttpClient::~AwsHttpClient() {
  for (void* handle : handles_) {
    curl_easy_cleanup(handle);
  }
}

void* AwsHttpClient::TakeHandle() {
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

void AwsHttpClient::ReturnHandle(void* handle) {
  std::lock_guard lock(handles_mu_);
  handles_.push_back(handle);
}

Result<AwsHttpResponse> AwsHttpClient::Send(const AwsHttpRequest& request, bool* retryable) {
  CURL* curl = TakeHandle();
  if (curl == nullptr) {
    *retryable = false;
    return Internal(service_name_ + ": curl_easy_init failed");
  }
  const std::string userpwd = credentials_.access_key_id + ":" + credentials_.secret_access_key;
  const std::string token = "X-Amz-Security-Token: " + credentials_.session_token;
  curl_slist* headers = nullptr;
  for (const std::string& header : request.headers) {
    headers = curl_slist_append(headers, header.c_str());
  }
  if (!credentials_.session_token.empty()) {
    headers = curl_slist_append(headers, token.c_str());
  }

  AwsHttpResponse response;
  char error_buffer[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  if (request.method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (request.method == "POST" || request.method == "PUT") {
    // A body from memory: libcurl hashes it for the signature. A PUT is a POST renamed.
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(request.body.size()));
    if (request.method == "PUT") {
      curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, "PUT");
    }
  } else if (request.method != "GET") {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_AWS_SIGV4, sigv4_.c_str());
  curl_easy_setopt(curl, CURLOPT_USERPWD, userpwd.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(connect_timeout_.count()));
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(request_timeout_.count()));
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, AppendBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, KeepHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &response.headers);
  const CURLcode code = curl_easy_perform(curl);
  long http_status = 0;  // NOLINT(google-runtime-int): the type libcurl writes
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &http_status);
  response.status = static_cast<int>(http_status);
  curl_slist_free_all(headers);
  // The handle keeps pointers to this frame's buffers until it is reset by the next TakeHandle().
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);
  ReturnHandle(curl);
  if (code != CURLE_OK) {
    return CurlError(service_name_, code, error_buffer, retryable);
  }
  return response;
}

}  // namespace retention
