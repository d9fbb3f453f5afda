#include "artifacts/s3/s3_artifact_store.h"

#include <openssl/evp.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <thread>
#include <unordered_map>
#include <utility>

#include "artifacts/s3/s3_xml.h"
#include "aws/aws_uri.h"
#include "aws/backoff.h"
#include "core/crypto.h"
#include "core/markup.h"

namespace retention {
namespace {

using s3_internal::S3Error;

constexpr int kMaxDeleteBatch = 1000;
constexpr char kEmptySha256[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

// The base64 MD5 of `data`, as Content-MD5 wants it.
std::string ContentMd5(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_md5(), nullptr);
  unsigned char encoded[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
  const int n = EVP_EncodeBlock(encoded, digest, static_cast<int>(length));
  return std::string(reinterpret_cast<const char*>(encoded), static_cast<std::size_t>(n));
}

// True for S3's transient answers: every 5xx (500 InternalError, 503 SlowDown) and
// RequestTimeout.
bool IsTransient(int http_status, const std::string& code) {
  return http_status >= 500 || code == "RequestTimeout" || code == "SlowDown" ||
         code == "InternalError";
}

// The Status for an S3 error code (from an <Error> answer or a DeleteObjects entry): the one
// place where S3's error codes become status codes.
Status StatusForS3Error(int http_status, const S3Error& error) {
  std::string text = error.code.empty() ? "HTTP " + std::to_string(http_status) : error.code;
  if (!error.message.empty()) text += ": " + error.message;
  if (error.code == "NoSuchBucket") return FailedPrecondition(text);
  if (error.code == "NoSuchKey" || (error.code.empty() && http_status == 404)) {
    return NotFound(text);
  }
  if (error.code == "SignatureDoesNotMatch" || error.code == "InvalidAccessKeyId" ||
      error.code == "ExpiredToken" || error.code == "InvalidToken") {
    return Unauthenticated(text);
  }
  if (error.code == "AccessDenied" || http_status == 403) return PermissionDenied(text);
  if (IsTransient(http_status, error.code)) return Unavailable(text);
  if (error.code == "InvalidArgument" || error.code == "KeyTooLongError") {
    return InvalidArgument(text);
  }
  return Internal(text);
}

Status StatusForAnswer(const AwsHttpResponse& response) {
  return StatusForS3Error(response.status, s3_internal::ParseS3Error(response.body));
}

bool ValidBucket(std::string_view bucket) {
  if (bucket.size() < 3 || bucket.size() > 63) return false;
  for (const char c : bucket) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.')) return false;
  }
  return bucket.front() != '-' && bucket.front() != '.' && bucket.back() != '-' &&
         bucket.back() != '.';
}

// A key that XML 1.0 cannot carry (a control character other than tab, LF, CR): such keys are
// deleted one by one rather than in a DeleteObjects body.
bool XmlCannotCarry(std::string_view key) {
  for (const char c : key) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 && c != '\t' && c != '\n' && c != '\r') return true;
  }
  return false;
}

// A string just below `key` in S3's (byte) order: `key` without its last byte. The few objects
// between the two are listed too and ignored.
std::string JustBelow(const std::string& key) { return key.substr(0, key.size() - 1); }

}  // namespace

Result<std::unique_ptr<S3ArtifactStore>> S3ArtifactStore::Open(const std::string& url,
                                                               S3Options options) {
  constexpr std::string_view kScheme = "s3://";
  const std::string quoted = "storage url '" + url + "'";
  const std::string shape = " (expected s3://BUCKET[/PREFIX]?region=R[&endpoint=URL])";
  if (url.rfind(kScheme, 0) != 0) return InvalidArgument(quoted + " must start with s3://");
  const UrlQuerySplit split = SplitUrlQuery(std::string_view(url).substr(kScheme.size()));
  const std::string_view rest = split.rest;
  const std::size_t slash = rest.find('/');
  const std::string bucket(rest.substr(0, slash));
  std::string prefix(slash == std::string_view::npos ? "" : rest.substr(slash + 1));
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  if (bucket.empty()) return InvalidArgument(quoted + " names no bucket" + shape);
  if (!ValidBucket(bucket)) {
    return InvalidArgument(quoted + ": bucket '" + bucket +
                           "' must be 3 to 63 characters of a-z, 0-9, '.' and '-'");
  }
  if (!prefix.empty()) {
    if (Status s = ValidateArtifactKey(prefix); !s.ok()) {
      return InvalidArgument(quoted + ": prefix is not a valid key: " + s.message());
    }
  }
  std::map<std::string, std::string> params;
  for (const auto& [name, raw] : split.params) {
    if (name != "endpoint" && name != "region") {
      return InvalidArgument(quoted + ": unknown parameter '" + name +
                             "' (only region=R and endpoint=URL)");
    }
    auto value = PercentDecode(raw);
    if (!value) return InvalidArgument(quoted + ": " + name + " has a malformed %-escape");
    if (!params.emplace(name, *value).second) {
      return InvalidArgument(quoted + ": parameter '" + name + "' is given twice");
    }
  }
  if (params.count("region") == 0) return InvalidArgument(quoted + " names no region=R" + shape);
  const std::string region = params["region"];
  if (!IsValidAwsRegion(region)) {
    return InvalidArgument(quoted + ": region '" + region + "' is not a region such as us-east-1");
  }
  std::string endpoint = "https://s3." + region + ".amazonaws.com";
  if (auto it = params.find("endpoint"); it != params.end()) {
    endpoint = it->second;
    if ((endpoint.rfind("http://", 0) != 0 && endpoint.rfind("https://", 0) != 0) ||
        endpoint.find_first_of(" \t\r\n?#") != std::string::npos) {
      return InvalidArgument(quoted + ": endpoint must be an http:// or https:// URL");
    }
  }
  while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
  ASSIGN_OR_RETURN(AwsCredentials credentials, ResolveAwsCredentials(options.credentials, quoted));
  RETURN_IF_ERROR(ValidateAwsClientOptions(options, "s3"));
  if (options.delete_batch < 1 || options.delete_batch > kMaxDeleteBatch) {
    return InvalidArgument("s3: delete_batch must be 1 to 1000");
  }
  InitCrypto();
  return std::unique_ptr<S3ArtifactStore>(
      new S3ArtifactStore(bucket, std::move(prefix), std::move(endpoint), std::move(credentials),
                          std::move(options), region));
}

S3ArtifactStore::S3ArtifactStore(std::string bucket, std::string prefix, std::string endpoint,
                                 AwsCredentials credentials, S3Options options,
                                 const std::string& region)
    : bucket_(std::move(bucket)),
      prefix_(std::move(prefix)),
      endpoint_(std::move(endpoint)),
      options_(std::move(options)),
      http_("S3", "aws:amz:" + region + ":s3", std::move(credentials), options_.connect_timeout,
            options_.request_timeout) {}

std::string S3ArtifactStore::ObjectKey(const std::string& key) const {
  return prefix_.empty() ? key : prefix_ + "/" + key;
}

std::string S3ArtifactStore::ObjectUrl(const std::string& object_key) const {
  return endpoint_ + "/" + bucket_ + "/" + AwsUriEncode(object_key, /*keep_slash=*/true);
}

std::string S3ArtifactStore::Location(const std::string& key) const {
  return "s3://" + bucket_ + "/" + ObjectKey(key);
}

Result<AwsHttpResponse> S3ArtifactStore::Execute(AwsHttpRequest request) {
  // Signed headers that S3 needs and libcurl 7.88 does not add (NOTES.md): the payload hash
  // always, and an explicit Content-Type for a body. Never "Expect:".
  const bool has_body = request.method == "PUT" || request.method == "POST";
  request.headers.push_back("x-amz-content-sha256: " +
                            (has_body ? Sha256Hex(request.body) : std::string(kEmptySha256)));
  Status last;
  for (int attempt = 1; attempt <= options_.max_attempts; ++attempt) {
    if (attempt > 1) {
      std::this_thread::sleep_for(
          BackoffDelay(options_.base_delay, options_.max_delay, attempt - 1));
    }
    bool retryable = false;
    auto response = http_.Send(request, &retryable);
    if (!response.ok()) {
      last = response.status();
    } else {
      const S3Error error = s3_internal::ParseS3Error(response->body);
      if (!IsTransient(response->status, error.code)) return response;
      last = StatusForS3Error(response->status, error);
      retryable = true;
    }
    if (!retryable) return last;
  }
  return Unavailable("gave up after " + std::to_string(options_.max_attempts) +
                     " attempts: " + last.message());
}

Status S3ArtifactStore::Delete(const std::string& key) {
  RETURN_IF_ERROR(ValidateArtifactKey(key));
  const std::string context = "s3 delete " + Location(key);
  auto response = Execute({"DELETE", ObjectUrl(ObjectKey(key)), {}, {}});
  if (!response.ok()) return response.status().WithContext(context);
  if (response->status / 100 == 2) return Status::Ok();
  const Status status = StatusForAnswer(*response);
  if (status.code() == StatusCode::kNotFound) return Status::Ok();
  return status.WithContext(context);
}

Result<std::optional<std::int64_t>> S3ArtifactStore::Size(const std::string& key) {
  RETURN_IF_ERROR(ValidateArtifactKey(key));
  const std::string context = "s3 head " + Location(key);
  auto response = Execute({"HEAD", ObjectUrl(ObjectKey(key)), {}, {}});
  if (!response.ok()) return response.status().WithContext(context);
  if (response->status == 404) return std::optional<std::int64_t>();
  if (response->status != 200) return StatusForAnswer(*response).WithContext(context);
  const std::string length = response->Header("content-length");
  std::int64_t size = -1;
  const auto [end, ec] = std::from_chars(length.data(), length.data() + length.size(), size);
  if (ec != std::errc() || end != length.data() + length.size() || size < 0) {
    return Internal(context + ": answer has no valid Content-Length ('" + length + "')");
  }
  return std::optional<std::int64_t>(size);
}

std::vector<Result<std::optional<std::int64_t>>> S3ArtifactStore::SizeMany(
    const std::vector<std::string>& keys) {
  using SizeResult = Result<std::optional<std::int64_t>>;
  std::vector<SizeResult> out(keys.size(), SizeResult(std::optional<std::int64_t>()));
  // Each valid key's object key, in S3's order, with the positions that asked for it.
  std::map<std::string, std::vector<std::size_t>> wanted;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (Status valid = ValidateArtifactKey(keys[i]); !valid.ok()) {
      out[i] = valid;
    } else {
      wanted[ObjectKey(keys[i])].push_back(i);
    }
  }
  const std::string list_prefix = prefix_.empty() ? "" : prefix_ + "/";
  const std::string context = "s3 list s3://" + bucket_ + "/" + list_prefix;
  auto next = wanted.begin();  // the first key not answered yet
  std::string start_after;     // every object up to here has been listed
  while (next != wanted.end()) {
    start_after = std::max(start_after, JustBelow(next->first));
    // The canonical query: parameters sorted by name, values encoded (libcurl signs it as is).
    std::string url = endpoint_ + "/" + bucket_ +
                      "?list-type=2&max-keys=1000&prefix=" + AwsUriEncode(list_prefix, false);
    if (!start_after.empty()) url += "&start-after=" + AwsUriEncode(start_after, false);
    Result<s3_internal::ListPage> page = Internal("not listed");
    auto response = Execute({"GET", url, {}, {}});
    if (!response.ok()) {
      page = response.status();
    } else if (response->status != 200) {
      page = StatusForAnswer(*response);
    } else {
      page = s3_internal::ParseListPage(response->body);
    }
    if (!page.ok()) {
      for (; next != wanted.end(); ++next) {
        for (const std::size_t i : next->second) {
          out[i] = page.status().WithContext(context + " (size of " + Location(keys[i]) + ")");
        }
      }
      break;
    }
    for (const s3_internal::ListedObject& object : page->objects) {
      // Keys the listing went past without naming are missing (their entries stay nullopt).
      while (next != wanted.end() && next->first < object.key) ++next;
      if (next != wanted.end() && next->first == object.key) {
        for (const std::size_t i : next->second) out[i] = std::optional<std::int64_t>(object.size);
        ++next;
      }
    }
    if (!page->truncated || page->objects.empty()) break;  // the rest is not in the bucket
    start_after = page->objects.back().key;
  }
  return out;
}

Status S3ArtifactStore::Put(const std::string& key, std::string_view bytes) {
  RETURN_IF_ERROR(ValidateArtifactKey(key));
  const std::string context = "s3 put " + Location(key);
  auto response =
      Execute({"PUT",
               ObjectUrl(ObjectKey(key)),
               {"Content-Type: application/octet-stream", "Content-MD5: " + ContentMd5(bytes)},
               bytes});
  if (!response.ok()) return response.status().WithContext(context);
  if (response->status / 100 == 2) return Status::Ok();
  return StatusForAnswer(*response).WithContext(context);
}

std::vector<Status> S3ArtifactStore::DeleteMany(const std::vector<std::string>& keys) {
  std::vector<Status> out(keys.size());
  std::vector<std::size_t> batch;
  auto flush = [&] {
    if (!batch.empty()) DeleteBatch(keys, batch, &out);
    batch.clear();
  };
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (Status valid = ValidateArtifactKey(keys[i]); !valid.ok()) {
      out[i] = valid;
    } else if (XmlCannotCarry(keys[i])) {
      out[i] = Delete(keys[i]);
    } else {
      batch.push_back(i);
      if (batch.size() == static_cast<std::size_t>(options_.delete_batch)) flush();
    }
  }
  flush();
  return out;
}

void S3ArtifactStore::DeleteBatch(const std::vector<std::string>& keys,
                                  const std::vector<std::size_t>& indices,
                                  std::vector<Status>* out) {
  // Quiet off: S3 confirms every key, so a key the answer forgets is not taken as deleted.
  std::string body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Delete><Quiet>false</Quiet>";
  for (const std::size_t i : indices) {
    body += "<Object><Key>" + MarkupEscape(ObjectKey(keys[i])) + "</Key></Object>";
  }
  body += "</Delete>";
  const std::string context =
      "s3 DeleteObjects in s3://" + bucket_ + " (" + std::to_string(indices.size()) + " keys)";
  auto fail_all = [&](const Status& status) {
    for (const std::size_t i : indices) {
      (*out)[i] = status.WithContext("delete " + Location(keys[i]) + ": " + context);
    }
  };
  // The canonical query is "delete=" (libcurl signs the query as given).
  auto response = Execute({"POST",
                           endpoint_ + "/" + bucket_ + "?delete=",
                           {"Content-Type: application/xml", "Content-MD5: " + ContentMd5(body)},
                           body});
  if (!response.ok()) return fail_all(response.status());
  if (response->status != 200) return fail_all(StatusForAnswer(*response));
  auto outcomes = s3_internal::ParseDeleteResult(response->body);
  if (!outcomes.ok()) return fail_all(outcomes.status());
  std::unordered_map<std::string, Status> by_key;
  for (const auto& outcome : *outcomes) {
    by_key[outcome.key] =
        outcome.deleted ? Status::Ok() : StatusForS3Error(0, {outcome.code, outcome.message});
  }
  for (const std::size_t i : indices) {
    auto it = by_key.find(ObjectKey(keys[i]));
    if (it == by_key.end()) {
      (*out)[i] = Unavailable("s3 delete " + Location(keys[i]) +
                              ": the DeleteObjects answer does not mention the key");
    } else if (it->second.ok() || it->second.code() == StatusCode::kNotFound) {
      (*out)[i] = Status::Ok();
    } else {
      (*out)[i] = it->second.WithContext("s3 delete " + Location(keys[i]));
    }
  }
}

}  // namespace retention
