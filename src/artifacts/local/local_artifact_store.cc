#include "artifacts/local/local_artifact_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

namespace retention {

namespace fs = std::filesystem;

Result<std::unique_ptr<LocalArtifactStore>> LocalArtifactStore::Open(const fs::path& root) {
  std::error_code ec;
  fs::create_directories(root, ec);
  if (ec) return Unavailable("create artifact folder " + root.string() + ": " + ec.message());
  const fs::path absolute = fs::absolute(root, ec);
  return std::unique_ptr<LocalArtifactStore>(new LocalArtifactStore(ec ? root : absolute));
}

std::string LocalArtifactStore::Location(const std::string& key) const {
  return "file://" + (root_ / key).string();
}

Status LocalArtifactStore::Delete(const std::string& key) {
  RETURN_IF_ERROR(ValidateArtifactKey(key));
  const fs::path path = root_ / key;
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return Unavailable("delete " + Location(key) + ": " + std::strerror(errno));
  }
  // Prune folders left empty; rmdir fails harmlessly on a folder that still has entries.
  for (fs::path dir = path.parent_path();
       dir != root_ && dir.string().size() > root_.string().size(); dir = dir.parent_path()) {
    if (::rmdir(dir.c_str()) != 0) break;
  }
  return Status::Ok();
}

Result<std::optional<std::int64_t>> LocalArtifactStore::Size(const std::string& key) {
  RETURN_IF_ERROR(ValidateArtifactKey(key));
  std::error_code ec;
  const auto size = fs::file_size(root_ / key, ec);
  if (ec == std::errc::no_such_file_or_directory) return std::optional<std::int64_t>();
  if (ec) return Unavailable("stat " + Location(key) + ": " + ec.message());
  return std::optional<std::int64_t>(static_cast<std::int64_t>(size));
}

Status LocalArtifactStore::Put(const std::string& key, std::string_view bytes) {
  RETURN_IF_ERROR(ValidateArtifactKey(key));
  const fs::path path = root_ / key;
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  if (ec) return Unavailable("create folder for " + Location(key) + ": " + ec.message());
  const fs::path tmp = path.string() + ".part";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Unavailable("write " + Location(key) + ": " + std::strerror(errno));
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const std::string err = std::strerror(errno);
      ::close(fd);
      ::unlink(tmp.c_str());
      return Unavailable("write " + Location(key) + ": " + err);
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0 || ::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string err = std::strerror(errno);
    ::unlink(tmp.c_str());
    return Unavailable("write " + Location(key) + ": " + err);
  }
  return Status::Ok();
}

}  // namespace retention
