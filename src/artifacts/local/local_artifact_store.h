// Local-folder adapter of the artifact store (`file://DIR`), the embedded default. Deleting an
// object prunes the folders it leaves empty, up to (not including) the root. Thread-safe: every
// operation is a single filesystem call sequence without shared state.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "artifacts/artifact_store.h"

namespace retention {

class LocalArtifactStore final : public ArtifactStore {
 public:
  // Creates the root folder when missing. Unavailable when it cannot be created.
  static Result<std::unique_ptr<LocalArtifactStore>> Open(const std::filesystem::path& root);

  Status Delete(const std::string& key) override;
  Result<std::optional<std::int64_t>> Size(const std::string& key) override;
  Status Put(const std::string& key, std::string_view bytes) override;
  std::string Location(const std::string& key) const override;

 private:
  explicit LocalArtifactStore(std::filesystem::path root) : root_(std::move(root)) {}
  std::filesystem::path root_;
};

}  // namespace retention
