// Local-folder adapter of the artifact store (`file://DIR`), the embedded default. Deleting an
// object prunes the folders it leaves empty, up to (not including) the root.
//
// Confinement: the root is opened once (following a symbolic link there, the operator's choice)
// and every key is resolved from that folder one segment at a time with O_NOFOLLOW, so a symbolic
// link anywhere beneath the root, as a folder or as the key's last segment, is refused with
// FailedPrecondition and nothing it points to is read, written or deleted. There is no window
// between checking and using a path: each step opens the next folder relative to the previous one.
//
// Thread-safe: the root's descriptor is only read after Open; every operation opens its own
// descriptors.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "artifacts/artifact_store.h"

namespace retention {

class LocalArtifactStore final : public ArtifactStore {
 public:
  // Creates the root folder when missing and opens it. Unavailable when it cannot be created or
  // opened.
  static Result<std::unique_ptr<LocalArtifactStore>> Open(const std::filesystem::path& root);
  ~LocalArtifactStore() override;
  LocalArtifactStore(const LocalArtifactStore&) = delete;
  LocalArtifactStore& operator=(const LocalArtifactStore&) = delete;

  Status Delete(const std::string& key) override;
  // One pass over `keys`: the folders that consecutive keys share are opened once, and folders
  // left empty are pruned when the pass leaves them (as Delete prunes after each key).
  std::vector<Status> DeleteMany(const std::vector<std::string>& keys) override;
  Result<std::optional<std::int64_t>> Size(const std::string& key) override;
  // Writes a uniquely named temporary file beside the key (a name with a backslash, which no
  // valid key can take), syncs it and renames it over the key; on any failure the temporary file
  // is removed. A process killed mid-write can leave one behind; it never shadows a key.
  Status Put(const std::string& key, std::string_view bytes) override;
  std::string Location(const std::string& key) const override;

 private:
  LocalArtifactStore(std::filesystem::path root, int root_fd)
      : root_(std::move(root)), root_fd_(root_fd) {}
  std::filesystem::path root_;
  int root_fd_;  // the root folder, opened once; every key is resolved relative to it
};

}  // namespace retention
