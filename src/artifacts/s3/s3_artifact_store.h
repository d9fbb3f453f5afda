// S3 adapter of the artifact store (`storage_url = s3://BUCKET[/PREFIX]?region=R[&endpoint=URL]`).
//
// Objects live at PREFIX/KEY in BUCKET, addressed path style (ENDPOINT/BUCKET/PREFIX/KEY), over
// libcurl with SigV4 (aws/aws_http_client.h). Delete is DeleteObject, Size is HeadObject, Put is
// PutObject (with Content-MD5, so S3 refuses a body damaged on the way), DeleteMany is
// DeleteObjects with at most `delete_batch` (<= 1000) keys per request and its per-key answers
// mapped back onto the keys. Confinement: keys pass ValidateArtifactKey as for the local store;
// S3 has no symbolic links, so FailedPrecondition for a link never arises here.
//
// Retries: 503 (SlowDown), 500, other 5xx, RequestTimeout, connection failures and timeouts are
// retried with exponential backoff and jitter, up to `max_attempts` calls; then Unavailable.
// Every operation is idempotent, so a retry after an answer that was lost (or, as s3rver does, a
// 500 after a DeleteObjects that did delete) is safe.
//
// Thread-safe: one instance serves every thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "artifacts/artifact_store.h"
#include "aws/aws_credentials.h"
#include "aws/aws_http_client.h"

namespace retention {

// Credentials, retries and timeouts as in AwsClientOptions, plus the DeleteObjects batch.
struct S3Options : AwsClientOptions {
  // Keys per DeleteObjects request: 1 to 1000 (S3's limit).
  int delete_batch = 1000;
};

class S3ArtifactStore final : public ArtifactStore {
 public:
  // Opens a client for `url`; makes no call. The region is required; the endpoint defaults to
  // https://s3.REGION.amazonaws.com. InvalidArgument naming the problem for a malformed URL (no
  // or a bad bucket name, a prefix that is not a valid key, an unknown or repeated parameter, a
  // non-http(s) endpoint, a bad region), missing credentials (every missing variable named) or
  // out-of-range options.
  static Result<std::unique_ptr<S3ArtifactStore>> Open(const std::string& url,
                                                       S3Options options = {});

  // DeleteObject. A missing object (204, or 404 NoSuchKey) is deleted; a missing bucket is
  // FailedPrecondition; Unavailable after the retries.
  Status Delete(const std::string& key) override;
  // DeleteObjects in batches of `delete_batch` keys. Each key gets its own status: ok when the
  // answer lists it as Deleted; the answer's Error Code and Message (Unavailable for
  // InternalError/SlowDown, PermissionDenied for AccessDenied, Internal otherwise) when listed
  // as an Error; Unavailable when the answer does not mention it; the batch's status when the
  // request failed as a whole; InvalidArgument for an invalid key (never sent).
  std::vector<Status> DeleteMany(const std::vector<std::string>& keys) override;
  // HeadObject: Content-Length, or nullopt for 404.
  Result<std::optional<std::int64_t>> Size(const std::string& key) override;
  // ListObjectsV2 over the keys in sorted order, up to 1000 objects per request, starting just
  // below the next key still unanswered (so a run of neighbouring keys costs one request per
  // 1000 and no HEAD). A key that the listing passes without naming is nullopt; a failed
  // request fails every key it would have answered (and the rest); InvalidArgument for an
  // invalid key.
  std::vector<Result<std::optional<std::int64_t>>> SizeMany(
      const std::vector<std::string>& keys) override;
  // PutObject (S3 writes objects atomically).
  Status Put(const std::string& key, std::string_view bytes) override;
  // "s3://BUCKET/PREFIX/KEY".
  std::string Location(const std::string& key) const override;

 private:
  S3ArtifactStore(std::string bucket, std::string prefix, std::string endpoint,
                  AwsCredentials credentials, S3Options options, const std::string& region);

  // The object's key in the bucket: PREFIX/KEY.
  std::string ObjectKey(const std::string& key) const;
  // ENDPOINT/BUCKET/ followed by `object_key` encoded for a path.
  std::string ObjectUrl(const std::string& object_key) const;
  // Sends `request`, retrying what is transient; the last answer (any status) or Unavailable.
  Result<AwsHttpResponse> Execute(AwsHttpRequest request);
  // One DeleteObjects request for `batch` (valid keys); statuses into `out` at `indices`.
  void DeleteBatch(const std::vector<std::string>& keys, const std::vector<std::size_t>& indices,
                   std::vector<Status>* out);

  const std::string bucket_;
  const std::string prefix_;    // without leading or trailing '/', maybe empty
  const std::string endpoint_;  // without a trailing '/'
  const S3Options options_;
  AwsHttpClient http_;
};

}  // namespace retention
