#include "artifacts/local/local_artifact_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <random>
#include <system_error>
#include <utility>
#include <vector>

namespace retention {

namespace fs = std::filesystem;

namespace {

// Owns one file descriptor; closes it when destroyed.
class UniqueFd {
 public:
  explicit UniqueFd(int fd = -1) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      Reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { Reset(); }
  int get() const { return fd_; }
  // Closes the descriptor now; -1 with errno set when close fails.
  int Close() { return ::close(std::exchange(fd_, -1)); }

 private:
  void Reset() {
    if (fd_ >= 0) ::close(std::exchange(fd_, -1));
  }
  int fd_;
};

constexpr int kFolderFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;

std::string Errno() { return std::strerror(errno); }

// The key's segments, split on '/'. The key has been validated.
std::vector<std::string> Segments(const std::string& key) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    const std::size_t end = key.find('/', start);
    out.push_back(key.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) return out;
    start = end + 1;
  }
}

// "a/b" for the first `count` segments.
std::string Prefix(const std::vector<std::string>& segments, std::size_t count) {
  std::string out;
  for (std::size_t i = 0; i < count; ++i) {
    if (i > 0) out += '/';
    out += segments[i];
  }
  return out;
}

Status SymlinkRefused(const std::vector<std::string>& segments, std::size_t count) {
  return FailedPrecondition("'" + Prefix(segments, count) +
                            "' is a symbolic link; the artifact store does not follow links");
}

// The folders of a key opened from the root, one segment at a time and never through a link.
struct Resolved {
  std::vector<std::string> segments;  // every segment of the key; the last is the file's name
  std::vector<UniqueFd> folders;      // folders[i] is segments[i] opened in the one before it
  bool missing = false;               // a folder on the way does not exist (and was not created)
  int root_fd = -1;

  // The folder that holds the key's file.
  int Parent() const { return folders.empty() ? root_fd : folders.back().get(); }
  const std::string& Name() const { return segments.back(); }
};

// Opens the folders of r.segments from the `from`-th on (r.folders holds the first `from`),
// creating missing ones when `create`. FailedPrecondition when a segment is a symbolic link;
// Unavailable when one is not a folder or cannot be opened or created; r.missing when one does
// not exist (and was not created).
Status Descend(Resolved& r, std::size_t from, bool create) {
  r.missing = false;
  for (std::size_t i = from; i + 1 < r.segments.size(); ++i) {
    const int parent = r.Parent();
    const char* name = r.segments[i].c_str();
    int fd = ::openat(parent, name, kFolderFlags);
    if (fd < 0 && errno == ENOENT && create) {
      if (::mkdirat(parent, name, 0755) != 0 && errno != EEXIST) {
        return Unavailable("create folder '" + Prefix(r.segments, i + 1) + "': " + Errno());
      }
      fd = ::openat(parent, name, kFolderFlags);
    }
    if (fd < 0) {
      const int error = errno;
      if (error == ENOENT) {
        r.missing = true;
        return Status::Ok();
      }
      struct stat st {};
      if ((error == ELOOP || error == ENOTDIR) &&
          ::fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) {
        return SymlinkRefused(r.segments, i + 1);
      }
      return Unavailable("open folder '" + Prefix(r.segments, i + 1) +
                         "': " + std::strerror(error));
    }
    r.folders.emplace_back(fd);
  }
  return Status::Ok();
}

// Opens every folder of `key` below `root_fd`, creating missing ones when `create` (see Descend).
Result<Resolved> Resolve(int root_fd, const std::string& key, bool create) {
  Resolved r;
  r.root_fd = root_fd;
  r.segments = Segments(key);
  RETURN_IF_ERROR(Descend(r, 0, create));
  return r;
}

// Removes the folders of `r` below the first `keep` that are left empty, deepest first; removing
// a folder that still has entries fails harmlessly and ends the walk.
void PruneEmptyFolders(const Resolved& r, std::size_t keep) {
  for (std::size_t i = r.folders.size(); i-- > keep;) {
    const int parent = i == 0 ? r.root_fd : r.folders[i - 1].get();
    if (::unlinkat(parent, r.segments[i].c_str(), AT_REMOVEDIR) != 0) break;
  }
}

// Whether the key's file exists (nullopt when missing), without following a link there.
// FailedPrecondition when it is a symbolic link; Unavailable when it cannot be examined.
Result<std::optional<struct stat>> StatName(const Resolved& r) {
  struct stat st {};
  if (::fstatat(r.Parent(), r.Name().c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return std::optional<struct stat>();
    return Unavailable(Errno());
  }
  if (S_ISLNK(st.st_mode)) return SymlinkRefused(r.segments, r.segments.size());
  return std::optional<struct stat>(st);
}

// A name for an upload's temporary file. It contains a backslash, which ValidateArtifactKey
// refuses, so it can never be (and never replace) another artifact's file.
std::string TemporaryName() {
  thread_local std::mt19937_64 random{std::random_device{}()};
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, ".upload\\%016llx",
                static_cast<unsigned long long>(random()));
  return buffer;
}

// Writes all of `bytes` to `fd` and syncs it. Returns the OS error on failure.
Status WriteAll(int fd, std::string_view bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Unavailable(Errno());
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) return Unavailable(Errno());
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<LocalArtifactStore>> LocalArtifactStore::Open(const fs::path& root) {
  std::error_code ec;
  fs::create_directories(root, ec);
  if (ec) return Unavailable("create artifact folder " + root.string() + ": " + ec.message());
  const fs::path absolute = fs::absolute(root, ec);
  const fs::path shown = ec ? root : absolute;
  const int fd = ::open(shown.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Unavailable("open artifact folder " + shown.string() + ": " + Errno());
  return std::unique_ptr<LocalArtifactStore>(new LocalArtifactStore(shown, fd));
}

LocalArtifactStore::~LocalArtifactStore() { ::close(root_fd_); }

std::string LocalArtifactStore::Location(const std::string& key) const {
  return "file://" + (root_ / key).string();
}

// Removes the key's file from its resolved folder; whether there was one. Unavailable or
// FailedPrecondition (a link) as StatName, or when the unlink fails.
Result<bool> UnlinkName(const Resolved& r) {
  ASSIGN_OR_RETURN(auto existing, StatName(r));
  if (!existing.has_value()) return false;
  if (::unlinkat(r.Parent(), r.Name().c_str(), 0) != 0) {
    if (errno == ENOENT) return false;
    return Unavailable(Errno());
  }
  return true;
}

Status LocalArtifactStore::Delete(const std::string& key) {
  RETURN_IF_ERROR(ValidateArtifactKey(key));
  const std::string context = "delete " + Location(key);
  auto resolved = Resolve(root_fd_, key, false);
  if (!resolved.ok()) return resolved.status().WithContext(context);
  if (resolved->missing) return Status::Ok();
  auto removed = UnlinkName(*resolved);
  if (!removed.ok()) return removed.status().WithContext(context);
  if (*removed) PruneEmptyFolders(*resolved, 0);
  return Status::Ok();
}

std::vector<Status> LocalArtifactStore::DeleteMany(const std::vector<std::string>& keys) {
  std::vector<Status> out;
  out.reserve(keys.size());
  Resolved open;  // the folders of the last key, kept while the next keys share them
  open.root_fd = root_fd_;
  bool removed_here = false;  // a file went from the folders in `open`: prune when leaving them
  for (const std::string& key : keys) {
    if (Status valid = ValidateArtifactKey(key); !valid.ok()) {
      out.push_back(std::move(valid));
      continue;
    }
    std::vector<std::string> segments = Segments(key);
    std::size_t shared = 0;
    while (shared < open.folders.size() && shared + 1 < segments.size() &&
           open.segments[shared] == segments[shared]) {
      ++shared;
    }
    if (shared < open.folders.size()) {
      if (removed_here) PruneEmptyFolders(open, shared);
      open.folders.resize(shared);
      removed_here = false;
    }
    open.segments = std::move(segments);
    // The location names a failure only: built for the rare error, not for every key.
    auto context = [this, &key] { return "delete " + Location(key); };
    if (Status st = Descend(open, shared, false); !st.ok()) {
      out.push_back(st.WithContext(context()));
      continue;
    }
    if (open.missing) {
      out.push_back(Status::Ok());
      continue;
    }
    auto removed = UnlinkName(open);
    if (!removed.ok()) {
      out.push_back(removed.status().WithContext(context()));
      continue;
    }
    removed_here = removed_here || *removed;
    out.push_back(Status::Ok());
  }
  if (removed_here) PruneEmptyFolders(open, 0);
  return out;
}

Result<std::optional<std::int64_t>> LocalArtifactStore::Size(const std::string& key) {
  RETURN_IF_ERROR(ValidateArtifactKey(key));
  const std::string context = "stat " + Location(key);
  auto resolved = Resolve(root_fd_, key, false);
  if (!resolved.ok()) return resolved.status().WithContext(context);
  if (resolved->missing) return std::optional<std::int64_t>();
  auto existing = StatName(*resolved);
  if (!existing.ok()) return existing.status().WithContext(context);
  if (!existing->has_value()) return std::optional<std::int64_t>();
  if (!S_ISREG((*existing)->st_mode)) return Unavailable(context + ": not a regular file");
  return std::optional<std::int64_t>(static_cast<std::int64_t>((*existing)->st_size));
}

Status LocalArtifactStore::Put(const std::string& key, std::string_view bytes) {
  RETURN_IF_ERROR(ValidateArtifactKey(key));
  const std::string context = "write " + Location(key);
  auto resolved = Resolve(root_fd_, key, true);
  if (!resolved.ok()) return resolved.status().WithContext(context);
  const Resolved& r = *resolved;
  auto existing = StatName(r);
  if (!existing.ok()) return existing.status().WithContext(context);

  std::string temporary;
  UniqueFd file;
  for (int attempt = 0; attempt < 16 && file.get() < 0; ++attempt) {
    temporary = TemporaryName();
    file = UniqueFd(::openat(r.Parent(), temporary.c_str(),
                             O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
    if (file.get() < 0 && errno != EEXIST) return Unavailable(context + ": " + Errno());
  }
  if (file.get() < 0) return Unavailable(context + ": no free temporary name");
  Status written = WriteAll(file.get(), bytes);
  if (written.ok() && file.Close() != 0) written = Unavailable(Errno());
  // renameat replaces the name itself: a link put there since StatName is replaced, not followed.
  if (written.ok() &&
      ::renameat(r.Parent(), temporary.c_str(), r.Parent(), r.Name().c_str()) != 0) {
    written = Unavailable(Errno());
  }
  if (!written.ok()) {
    ::unlinkat(r.Parent(), temporary.c_str(), 0);
    return written.WithContext(context);
  }
  return Status::Ok();
}

}  // namespace retention
