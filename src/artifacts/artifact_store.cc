#include "artifacts/artifact_store.h"

namespace retention {

Status ValidateArtifactKey(std::string_view key) {
  auto bad = [&](const char* why) {
    std::string shown(key.substr(0, 200));
    for (char& c : shown) {
      if (c == '\0') c = '?';
    }
    return InvalidArgument("artifact key '" + shown + "' " + why);
  };
  if (key.empty()) return InvalidArgument("artifact key is empty");
  if (key.size() > 1024) return bad("is longer than 1024 bytes");
  if (key.find('\0') != std::string_view::npos) return bad("contains a NUL byte");
  if (key.find('\\') != std::string_view::npos) return bad("contains a backslash");
  if (key.front() == '/') return bad("is an absolute path");
  std::size_t start = 0;
  while (start <= key.size()) {
    std::size_t end = key.find('/', start);
    if (end == std::string_view::npos) end = key.size();
    const std::string_view segment = key.substr(start, end - start);
    if (segment.empty()) return bad("has an empty path segment");
    if (segment == "." || segment == "..") return bad("contains a '.' or '..' segment");
    start = end + 1;
  }
  return Status::Ok();
}

std::vector<Status> ArtifactStore::DeleteMany(const std::vector<std::string>& keys) {
  std::vector<Status> out;
  out.reserve(keys.size());
  for (const std::string& key : keys) out.push_back(Delete(key));
  return out;
}

std::vector<Result<std::optional<std::int64_t>>> ArtifactStore::SizeMany(
    const std::vector<std::string>& keys) {
  std::vector<Result<std::optional<std::int64_t>>> out;
  out.reserve(keys.size());
  for (const std::string& key : keys) out.push_back(Size(key));
  return out;
}

}  // namespace retention
