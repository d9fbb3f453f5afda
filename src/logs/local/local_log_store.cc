#include "logs/local/local_log_store.h"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>
#include <system_error>
#include <utility>

#include "core/crypto.h"

namespace retention {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr char kPolicyFile[] = "policy.json";
constexpr char kNameFile[] = "name";
// Folder names longer than this are shortened (file systems allow 255 bytes a name).
constexpr std::size_t kMaxFolderName = 200;
constexpr char kSegmentSuffix[] = ".jsonl";

// The single place where file-system errors become Status: the disk is a backend that may be
// full or unreadable, so the caller should retry later.
Status FsError(const std::string& what, const fs::path& path, const std::error_code& ec) {
  return Unavailable(what + " " + path.string() + ": " + ec.message());
}

// Whether a group's folder exists; an error other than "not there" is an I/O failure.
Result<bool> GroupExists(const fs::path& group_dir) {
  std::error_code ec;
  if (fs::is_directory(group_dir, ec)) return true;
  if (ec && ec != std::errc::no_such_file_or_directory) return FsError("stat", group_dir, ec);
  return false;
}

// The folder of a group: its name with '/' and a leading '.' escaped; a long one becomes a prefix,
// '~' (never in a group name) and a hash, with the full name in the folder's `name` file.
std::string FolderFor(const std::string& group);

std::string EncodeGroup(const std::string& group) {
  std::string out;
  for (std::size_t i = 0; i < group.size(); ++i) {
    if (group[i] == '/') {
      out += "%2F";
    } else if (i == 0 && group[i] == '.') {
      out += "%2E";
    } else {
      out += group[i];
    }
  }
  return out;
}

// The group stored in folder `name`, or nullopt when the folder is not a group (a stray file or
// a name this store would not have written).
std::optional<std::string> DecodeGroup(const std::string& name) {
  std::string out;
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (name[i] != '%') {
      out += name[i];
    } else if (name.compare(i, 3, "%2F") == 0) {
      out += '/';
      i += 2;
    } else if (name.compare(i, 3, "%2E") == 0) {
      out += '.';
      i += 2;
    } else {
      return std::nullopt;
    }
  }
  if (!ValidateLogGroupName(out).ok() || FolderFor(out) != name) {
    return std::nullopt;
  }
  return out;
}

std::string FolderFor(const std::string& group) {
  std::string folder = EncodeGroup(group);
  if (folder.size() <= kMaxFolderName) {
    return folder;
  }
  return folder.substr(0, kMaxFolderName - 65) + "~" + Sha256Hex(group);
}

Result<std::string> ReadWholeFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return FsError("read", path, std::make_error_code(std::errc::no_such_file_or_directory));
  }
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) {
    return FsError("read", path, std::make_error_code(std::errc::io_error));
  }
  return data;
}

// Replaces `path` with `data` atomically: a crash leaves the old or the new content.
Status WriteFileAtomic(const fs::path& path, const std::string& data) {
  fs::path tmp = path;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << data;
    out.flush();
    if (!out) {
      return FsError("write", tmp, std::make_error_code(std::errc::io_error));
    }
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    return FsError("rename to", path, ec);
  }
  return Status::Ok();
}

// The UTC midnight a segment file stands for, or nullopt when `path` is not a segment.
std::optional<TimePoint> SegmentDay(const fs::path& path) {
  const std::string name = path.filename().string();
  if (path.extension() != kSegmentSuffix || name.size() != 10 + sizeof(kSegmentSuffix) - 1) {
    return std::nullopt;
  }
  auto day = ParseTime(name.substr(0, 10));
  if (!day.ok()) {
    return std::nullopt;
  }
  return *day;
}

// The segments of a group, oldest first.
Result<std::vector<std::pair<TimePoint, fs::path>>> Segments(const fs::path& group_dir) {
  std::vector<std::pair<TimePoint, fs::path>> out;
  std::error_code ec;
  for (fs::directory_iterator it(group_dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (auto day = SegmentDay(it->path()); day && it->is_regular_file()) {
      out.emplace_back(*day, it->path());
    }
  }
  if (ec) {
    return FsError("list", group_dir, ec);
  }
  std::sort(out.begin(), out.end());
  return out;
}

struct StoredLine {
  TimePoint ingestion_time;
  LogLine line;
};

std::string SerializeLine(const StoredLine& s) {
  json j = {{"ingestion_time", FormatTime(s.ingestion_time)},
            {"timestamp", FormatTime(s.line.timestamp)},
            {"message", s.line.message}};
  // Replace invalid UTF-8 rather than fail: a worker's output is not guaranteed to be text.
  return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

// Parses line `line_number` of segment `path`. Internal naming the file and line when the line is
// not a stored log line.
Result<StoredLine> ParseStoredLine(std::string_view text, const fs::path& path, int line_number) {
  auto corrupt = [&](const std::string& why) {
    return Internal("corrupt log segment " + path.string() + " line " +
                    std::to_string(line_number) + ": " + why);
  };
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return corrupt("not a JSON object");
  }
  auto field = [&](const char* key) -> const json* {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? &*it : nullptr;
  };
  const json* ingested = field("ingestion_time");
  const json* timestamp = field("timestamp");
  const json* message = field("message");
  if (!ingested || !timestamp || !message) {
    return corrupt("missing field");
  }
  auto ingestion_time = ParseTime(ingested->get<std::string>());
  auto event_time = ParseTime(timestamp->get<std::string>());
  if (!ingestion_time.ok()) {
    return corrupt(ingestion_time.status().message());
  }
  if (!event_time.ok()) {
    return corrupt(event_time.status().message());
  }
  return StoredLine{*ingestion_time, {*event_time, message->get<std::string>()}};
}

// Calls `fn` with each line of a segment, in file order, reading one line at a time (memory does
// not grow with the segment). A last line without its newline is a write torn by a crash (never
// acknowledged) and is ignored. Returns the first parse or read error.
template <typename Fn>
Status ForEachStoredLine(const fs::path& path, Fn&& fn) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return FsError("read", path, std::make_error_code(std::errc::no_such_file_or_directory));
  }
  std::string text;
  int line_number = 0;
  while (std::getline(in, text)) {
    if (in.eof()) {
      break;  // no newline after it: torn
    }
    ++line_number;
    ASSIGN_OR_RETURN(StoredLine stored, ParseStoredLine(text, path, line_number));
    fn(std::move(stored));
  }
  if (in.bad()) {
    return FsError("read", path, std::make_error_code(std::errc::io_error));
  }
  return Status::Ok();
}

// Parses a whole segment (see ForEachStoredLine).
Result<std::vector<StoredLine>> ParseSegment(const fs::path& path) {
  std::vector<StoredLine> out;
  RETURN_IF_ERROR(ForEachStoredLine(path, [&](StoredLine s) { out.push_back(std::move(s)); }));
  return out;
}

// The `limit` earliest lines offered, by event timestamp and then by the order they were offered
// (ingestion order), kept in a max-heap so that memory is O(limit) however many are offered.
class EarliestLines {
 public:
  explicit EarliestLines(std::size_t limit) : limit_(limit) {}

  void Offer(LogLine line) {
    Candidate c{line.timestamp, next_++, std::move(line)};
    if (heap_.size() < limit_) {
      heap_.push_back(std::move(c));
      std::push_heap(heap_.begin(), heap_.end(), Earlier);
    } else if (limit_ > 0 && Earlier(c, heap_.front())) {
      std::pop_heap(heap_.begin(), heap_.end(), Earlier);
      heap_.back() = std::move(c);
      std::push_heap(heap_.begin(), heap_.end(), Earlier);
    }
  }

  // The kept lines, earliest first.
  std::vector<LogLine> Take() && {
    std::sort_heap(heap_.begin(), heap_.end(), Earlier);
    std::vector<LogLine> out;
    out.reserve(heap_.size());
    for (Candidate& c : heap_) out.push_back(std::move(c.line));
    return out;
  }

 private:
  struct Candidate {
    TimePoint timestamp;
    std::uint64_t order;
    LogLine line;
  };
  // True when `a` comes before `b` in the result. As the heap's order it puts the latest
  // candidate on top, the one to drop first.
  static bool Earlier(const Candidate& a, const Candidate& b) {
    return a.timestamp != b.timestamp ? a.timestamp < b.timestamp : a.order < b.order;
  }

  const std::size_t limit_;
  std::uint64_t next_ = 0;
  std::vector<Candidate> heap_;
};

// The group stored in `folder`: decoded from the folder name, or read from its `name` file for a
// shortened one. nullopt when the folder is not a group.
std::optional<std::string> GroupInFolder(const fs::path& folder) {
  const std::string name = folder.filename().string();
  if (name.find('~') == std::string::npos) {
    return DecodeGroup(name);
  }
  auto stored = ReadWholeFile(folder / kNameFile);
  if (!stored.ok() || !ValidateLogGroupName(*stored).ok() || FolderFor(*stored) != name) {
    return std::nullopt;
  }
  return *stored;
}

Result<std::uintmax_t> FileSize(const fs::path& path) {
  std::error_code ec;
  const std::uintmax_t size = fs::file_size(path, ec);
  if (ec) {
    return FsError("stat", path, ec);
  }
  return size;
}

}  // namespace

LocalLogStore::LocalLogStore(fs::path dir, std::string url)
    : dir_(std::move(dir)), url_(std::move(url)) {}

Result<std::unique_ptr<LocalLogStore>> LocalLogStore::Open(const std::string& url) {
  constexpr std::string_view kScheme = "file://";
  if (url.rfind(kScheme, 0) != 0) {
    return InvalidArgument("log store url '" + url + "' must start with file://");
  }
  const std::string path = url.substr(kScheme.size());
  if (path.empty()) {
    return InvalidArgument("log store url '" + url + "' has no directory");
  }
  InitCrypto();
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec) {
    return FsError("create log store", path, ec);
  }
  return std::unique_ptr<LocalLogStore>(new LocalLogStore(path, url));
}

std::string LocalLogStore::Url() const { return url_; }

fs::path LocalLogStore::GroupDir(const std::string& group) const { return dir_ / FolderFor(group); }

Status LocalLogStore::EnsureGroup(const std::string& group) const {
  const fs::path group_dir = GroupDir(group);
  std::error_code ec;
  if (fs::is_directory(group_dir, ec)) {
    return Status::Ok();
  }
  // Create under a temporary name and rename, so a folder never exists without its name file.
  fs::path tmp = dir_ / (".creating-" + Sha256Hex(group).substr(0, 16));
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  if (ec) {
    return FsError("create log group", tmp, ec);
  }
  RETURN_IF_ERROR(WriteFileAtomic(tmp / kNameFile, group));
  fs::rename(tmp, group_dir, ec);
  if (ec) {
    return FsError("create log group", group_dir, ec);
  }
  return Status::Ok();
}

Result<std::optional<int>> LocalLogStore::ReadPolicy(const fs::path& group_dir) const {
  const fs::path path = group_dir / kPolicyFile;
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    if (ec) {
      return FsError("stat", path, ec);
    }
    return std::optional<int>();
  }
  ASSIGN_OR_RETURN(std::string data, ReadWholeFile(path));
  json j = json::parse(data, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return Internal("corrupt retention policy " + path.string() + ": not a JSON object");
  }
  auto it = j.find("retention_days");
  if (it == j.end() || it->is_null()) {
    return std::optional<int>();
  }
  if (!it->is_number_integer() || !IsAllowedRetentionDays(it->get<int>())) {
    return Internal("corrupt retention policy " + path.string() +
                    ": retention_days is not an allowed number of days");
  }
  return std::optional<int>(it->get<int>());
}

Result<std::optional<LogGroupInfo>> LocalLogStore::Describe(const std::string& group) {
  RETURN_IF_ERROR(ValidateLogGroupName(group));
  std::lock_guard lock(mu_);
  const fs::path group_dir = GroupDir(group);
  ASSIGN_OR_RETURN(const bool exists, GroupExists(group_dir));
  if (!exists) return std::optional<LogGroupInfo>();
  ASSIGN_OR_RETURN(std::optional<int> days, ReadPolicy(group_dir));
  return std::optional<LogGroupInfo>(LogGroupInfo{group, days});
}

Result<std::vector<LogGroupInfo>> LocalLogStore::List(const std::string& prefix) {
  std::lock_guard lock(mu_);
  std::vector<LogGroupInfo> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    if (!it->is_directory()) {
      continue;
    }
    std::optional<std::string> group = GroupInFolder(it->path());
    if (!group || group->rfind(prefix, 0) != 0) {
      continue;
    }
    ASSIGN_OR_RETURN(std::optional<int> days, ReadPolicy(it->path()));
    out.push_back({*group, days});
  }
  if (ec) {
    return FsError("list", dir_, ec);
  }
  std::sort(out.begin(), out.end(),
            [](const LogGroupInfo& a, const LogGroupInfo& b) { return a.name < b.name; });
  return out;
}

Status LocalLogStore::SetPolicy(const std::string& group, int days) {
  RETURN_IF_ERROR(ValidateLogGroupName(group));
  RETURN_IF_ERROR(ValidateRetentionDays(days));
  std::lock_guard lock(mu_);
  RETURN_IF_ERROR(EnsureGroup(group));
  const fs::path group_dir = GroupDir(group);
  return WriteFileAtomic(group_dir / kPolicyFile, json{{"retention_days", days}}.dump() + "\n");
}

Status LocalLogStore::RemovePolicy(const std::string& group) {
  RETURN_IF_ERROR(ValidateLogGroupName(group));
  std::lock_guard lock(mu_);
  RETURN_IF_ERROR(EnsureGroup(group));
  const fs::path group_dir = GroupDir(group);
  const fs::path path = group_dir / kPolicyFile;
  std::error_code ec;
  fs::remove(path, ec);
  if (ec) {
    return FsError("remove", path, ec);
  }
  return Status::Ok();
}

Status LocalLogStore::Ingest(const std::string& group, const std::vector<LogLine>& lines,
                             TimePoint now) {
  RETURN_IF_ERROR(ValidateLogGroupName(group));
  std::string data;
  for (const LogLine& line : lines) {
    data += SerializeLine({now, line});
  }
  std::lock_guard lock(mu_);
  RETURN_IF_ERROR(EnsureGroup(group));
  const fs::path group_dir = GroupDir(group);
  if (data.empty()) {
    return Status::Ok();
  }
  const fs::path path = group_dir / (FormatDate(now) + kSegmentSuffix);

  // Drop a torn tail left by an earlier failed write, so the new lines start on a line of their
  // own. The torn write was never acknowledged.
  std::error_code ec;
  if (fs::exists(path, ec)) {
    ASSIGN_OR_RETURN(std::string existing, ReadWholeFile(path));
    if (!existing.empty() && existing.back() != '\n') {
      const std::size_t keep =
          existing.rfind('\n') == std::string::npos ? 0 : existing.rfind('\n') + 1;
      fs::resize_file(path, keep, ec);
      if (ec) {
        return FsError("truncate", path, ec);
      }
    }
  } else if (ec) {
    return FsError("stat", path, ec);
  }
  std::ofstream out(path, std::ios::binary | std::ios::app);
  out << data;
  out.flush();
  if (!out) {
    return FsError("append to", path, std::make_error_code(std::errc::io_error));
  }
  return Status::Ok();
}

Result<std::vector<LogLine>> LocalLogStore::Read(const std::string& group, TimePoint from,
                                                 TimePoint to, std::size_t limit) {
  RETURN_IF_ERROR(ValidateLogGroupName(group));
  std::lock_guard lock(mu_);
  const fs::path group_dir = GroupDir(group);
  std::error_code ec;
  if (!fs::is_directory(group_dir, ec)) {
    return std::vector<LogLine>();
  }
  ASSIGN_OR_RETURN(auto segments, Segments(group_dir));
  // Segments are in ingestion order, so offering their lines in file order keeps ties in
  // ingestion order.
  EarliestLines earliest(limit);
  for (const auto& [day, path] : segments) {
    RETURN_IF_ERROR(ForEachStoredLine(path, [&](StoredLine s) {
      if (s.line.timestamp >= from && s.line.timestamp < to) {
        earliest.Offer(std::move(s.line));
      }
    }));
  }
  return std::move(earliest).Take();
}

Result<EnforceReport> LocalLogStore::Enforce(TimePoint now) {
  std::lock_guard lock(mu_);
  EnforceReport total;
  std::vector<fs::path> groups;
  std::error_code ec;
  for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_directory() && GroupInFolder(it->path())) {
      groups.push_back(it->path());
    }
  }
  if (ec) {
    return FsError("list", dir_, ec);
  }
  std::sort(groups.begin(), groups.end());
  for (const fs::path& group_dir : groups) {
    ASSIGN_OR_RETURN(std::optional<int> days, ReadPolicy(group_dir));
    if (!days) {
      continue;
    }
    ASSIGN_OR_RETURN(EnforceReport one, EnforceGroupDir(group_dir, *days, now));
    total.groups_with_policy += 1;
    total.segments_removed += one.segments_removed;
    total.segments_rewritten += one.segments_rewritten;
    total.lines_removed += one.lines_removed;
    total.bytes_freed += one.bytes_freed;
  }
  return total;
}

Result<EnforceReport> LocalLogStore::EnforceGroup(const std::string& group, TimePoint now) {
  RETURN_IF_ERROR(ValidateLogGroupName(group));
  std::lock_guard lock(mu_);
  const fs::path group_dir = GroupDir(group);
  ASSIGN_OR_RETURN(const bool exists, GroupExists(group_dir));
  if (!exists) return EnforceReport{};
  ASSIGN_OR_RETURN(std::optional<int> days, ReadPolicy(group_dir));
  if (!days) {
    return EnforceReport{};
  }
  ASSIGN_OR_RETURN(EnforceReport report, EnforceGroupDir(group_dir, *days, now));
  report.groups_with_policy = 1;
  return report;
}

Result<EnforceReport> LocalLogStore::EnforceGroupDir(const fs::path& group_dir, int days,
                                                     TimePoint now) {
  EnforceReport report;
  const Days retention(days);
  ASSIGN_OR_RETURN(auto segments, Segments(group_dir));
  for (const auto& [day, path] : segments) {
    // Every line of the segment was ingested in [day, day + 1 day).
    if (day + retention > now) {
      break;  // Segments are sorted: no later one has expired lines.
    }
    ASSIGN_OR_RETURN(std::uintmax_t size, FileSize(path));
    if (day + Days(1) + retention <= now) {
      // Every line has expired: count them without parsing, so that even a corrupt segment goes.
      ASSIGN_OR_RETURN(std::string data, ReadWholeFile(path));
      std::error_code ec;
      fs::remove(path, ec);
      if (ec) {
        return FsError("remove", path, ec);
      }
      report.segments_removed += 1;
      report.bytes_freed += static_cast<std::int64_t>(size);
      report.lines_removed += std::count(data.begin(), data.end(), '\n');
      continue;
    }
    ASSIGN_OR_RETURN(std::vector<StoredLine> stored, ParseSegment(path));
    std::string kept;
    std::int64_t expired = 0;
    for (const StoredLine& s : stored) {
      if (s.ingestion_time + retention <= now) {
        ++expired;
      } else {
        kept += SerializeLine(s);
      }
    }
    if (kept.empty()) {
      std::error_code ec;
      fs::remove(path, ec);
      if (ec) {
        return FsError("remove", path, ec);
      }
      report.segments_removed += 1;
      report.bytes_freed += static_cast<std::int64_t>(size);
    } else if (expired > 0) {
      RETURN_IF_ERROR(WriteFileAtomic(path, kept));
      report.segments_rewritten += 1;
      report.bytes_freed +=
          static_cast<std::int64_t>(size) - static_cast<std::int64_t>(kept.size());
    }
    report.lines_removed += expired;
  }
  return report;
}

}  // namespace retention
