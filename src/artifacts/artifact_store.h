// The artifact store port: where submissions' large files live. Keys are relative paths such as
// "submissions/700/input.zip". Implementations are thread-safe.
//
// Confinement: an operation on a key touches that key's object and nothing else. It never reaches
// outside the store's root: an adapter whose storage has symbolic links (the local folder) follows
// none below its root, in any segment of the key, and answers FailedPrecondition naming the link
// for every operation (delete, size, put, and any read added later) on a key through one; such a
// refusal changes nothing. Writing one key never creates, replaces or removes another key's
// object, whatever its name (temporary files use names that no valid key can take).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace retention {

// Ok when `key` is a safe relative key: non-empty, at most 1024 bytes, no NUL, not absolute, no
// "." or ".." segment, no empty segment, no backslash. InvalidArgument naming the key otherwise.
Status ValidateArtifactKey(std::string_view key);

class ArtifactStore {
 public:
  virtual ~ArtifactStore() = default;

  // Deletes the object. Idempotent: a key that is already missing is ok. Unavailable (with the
  // OS or service error) when it cannot be deleted; InvalidArgument for an invalid key;
  // FailedPrecondition for a key through a symbolic link (nothing is deleted).
  virtual Status Delete(const std::string& key) = 0;
  // Deletes each of `keys` as Delete does, in order, and returns one status per key (same order,
  // same meanings). A store may need fewer requests than keys (the local folder keeps the folders
  // that consecutive keys share open; S3 has DeleteObjects); the default calls Delete per key.
  virtual std::vector<Status> DeleteMany(const std::vector<std::string>& keys);
  // The object's size in bytes, or nullopt when it does not exist. Unavailable when it cannot be
  // examined; InvalidArgument for an invalid key; FailedPrecondition for a key through a link.
  virtual Result<std::optional<std::int64_t>> Size(const std::string& key) = 0;
  // The size of each of `keys`, in order, as Size answers it (same meanings). A store may need
  // fewer requests than keys (S3 lists up to 1000 objects per ListObjectsV2 request); the
  // default calls Size per key.
  virtual std::vector<Result<std::optional<std::int64_t>>> SizeMany(
      const std::vector<std::string>& keys);
  // Stores `bytes` under `key`, replacing any object there (written atomically: readers see the
  // old object or the new one, never a part). Unavailable when it cannot be written (nothing of
  // the attempt is left behind); InvalidArgument for an invalid key; FailedPrecondition for a key
  // through a link (nothing is written).
  virtual Status Put(const std::string& key, std::string_view bytes) = 0;
  // A printable location for messages, e.g. "file:///srv/artifacts/submissions/700/input.zip".
  virtual std::string Location(const std::string& key) const = 0;
};

}  // namespace retention
