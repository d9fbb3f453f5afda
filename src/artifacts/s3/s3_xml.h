// Reading S3's XML answers (errors, DeleteObjects results, ListObjectsV2 pages) with expat, and
// escaping text for XML requests. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace retention::s3_internal {

// An <Error> answer's Code and Message; both empty when the body is not one (HEAD answers have
// no body).
struct S3Error {
  std::string code;
  std::string message;
};
S3Error ParseS3Error(std::string_view body);

// One <Deleted> or <Error> entry of a DeleteResult, in document order.
struct DeleteOutcome {
  std::string key;
  bool deleted = false;
  std::string code;     // for an <Error>
  std::string message;  // for an <Error>
};
// Internal when the body is not a well-formed <DeleteResult>.
Result<std::vector<DeleteOutcome>> ParseDeleteResult(std::string_view body);

// One ListObjectsV2 page.
struct ListedObject {
  std::string key;
  std::int64_t size = 0;
};
struct ListPage {
  std::vector<ListedObject> objects;
  bool truncated = false;
  std::string next_token;  // NextContinuationToken; set when truncated
};
// Internal when the body is not a well-formed <ListBucketResult> or a Size is not a number.
Result<ListPage> ParseListPage(std::string_view body);

}  // namespace retention::s3_internal
