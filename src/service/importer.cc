// ImportData (DESIGN.md section 7) and the platform's create/update endpoints, which share one
// validating reader. Strict: unknown keys, wrong types and dangling references are errors naming
// their JSON path; every call is one transaction.
#include <istream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "artifacts/artifact_store.h"
#include "core/crypto.h"
#include "domain/retention_rules.h"
#include "notify/mail.h"
#include "service/audit_log.h"
#include "service/log_retention_sync.h"
#include "service/service.h"

namespace retention {
namespace {

using nlohmann::json;

const std::set<std::string>& ArtifactKinds() {
  static const std::set<std::string> kKinds(kArtifactKinds.begin(), kArtifactKinds.end());
  return kKinds;
}

// Reads typed fields of one JSON object, naming the path in every error.
class Fields {
 public:
  Fields(const json& j, std::string path) : j_(j), path_(std::move(path)) {}

  Status CheckObject(const std::set<std::string>& allowed) const {
    if (!j_.is_object()) return InvalidArgument(path_ + ": must be an object");
    for (const auto& [key, value] : j_.items()) {
      if (!allowed.contains(key)) return InvalidArgument(path_ + "." + key + ": unknown field");
    }
    return Status::Ok();
  }
  bool Has(const char* key) const { return j_.contains(key) && !j_.at(key).is_null(); }
  std::string Path(const char* key) const { return path_ + "." + key; }
  const std::string& path() const { return path_; }
  const json& At(const char* key) const { return j_.at(key); }

  Result<std::int64_t> Id(const char* key) const {
    if (!Has(key) || !At(key).is_number_integer() || At(key).get<std::int64_t>() <= 0) {
      return InvalidArgument(Path(key) + ": must be a positive integer");
    }
    return At(key).get<std::int64_t>();
  }
  Result<std::string> Str(const char* key, bool required, bool non_empty = false) const {
    if (!Has(key)) {
      if (required) return InvalidArgument(Path(key) + ": is required");
      return std::string();
    }
    if (!At(key).is_string()) return InvalidArgument(Path(key) + ": must be a string");
    auto s = At(key).get<std::string>();
    if (non_empty && s.empty()) return InvalidArgument(Path(key) + ": must not be empty");
    return s;
  }
  Result<bool> Bool(const char* key, bool fallback) const {
    if (!Has(key)) return fallback;
    if (!At(key).is_boolean()) return InvalidArgument(Path(key) + ": must be true or false");
    return At(key).get<bool>();
  }
  Result<std::optional<TimePoint>> Time(const char* key, bool required) const {
    if (!Has(key)) {
      if (required) return InvalidArgument(Path(key) + ": is required");
      return std::optional<TimePoint>();
    }
    if (!At(key).is_string()) return InvalidArgument(Path(key) + ": must be an RFC 3339 string");
    auto t = ParseTime(At(key).get<std::string>());
    if (!t.ok()) return t.status().WithContext(Path(key));
    return std::optional<TimePoint>(*t);
  }
  Result<const json*> Array(const char* key) const {
    static const json kEmpty = json::array();
    if (!Has(key)) return &kEmpty;
    if (!At(key).is_array()) return InvalidArgument(Path(key) + ": must be an array");
    return &At(key);
  }

 private:
  const json& j_;
  std::string path_;
};

std::string Indexed(const std::string& path, std::size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

SqlValue OptTime(const std::optional<TimePoint>& t) { return t ? SqlValue(ToUnix(*t)) : SqlNull(); }

// Maps a uniqueness violation to a message naming the reused id.
Status Insert(SqlConnection& conn, const std::string& path, const std::string& what,
              std::string_view sql, const SqlParams& params) {
  auto r = conn.Exec(sql, params);
  if (r.ok()) return Status::Ok();
  if (r.status().code() == StatusCode::kAlreadyExists) {
    return InvalidArgument(path + ": " + what +
                           " already exists (import keeps ids; "
                           "re-importing the same ids is refused)");
  }
  if (r.status().code() == StatusCode::kFailedPrecondition) {
    return InvalidArgument(path + ": " + what + " refers to something that does not exist");
  }
  return r.status().WithContext(path);
}

Result<std::optional<std::int64_t>> UserId(SqlConnection& conn, const std::string& username) {
  ASSIGN_OR_RETURN(auto row, conn.QueryOne("SELECT id FROM users WHERE username = ?", {username}));
  if (!row) return std::optional<std::int64_t>();
  return std::optional<std::int64_t>(row->Int(0));
}

class Importer {
 public:
  Importer(SqlConnection& conn, const ServiceContext& ctx) : conn_(conn), ctx_(ctx) {}

  Status Run(const json& root, ImportReport& report) {
    Fields top(root, "$");
    RETURN_IF_ERROR(top.CheckObject({"users", "host_teams", "challenges"}));
    ASSIGN_OR_RETURN(const json* users, top.Array("users"));
    for (std::size_t i = 0; i < users->size(); ++i) {
      RETURN_IF_ERROR(ImportUser(Fields((*users)[i], Indexed("$.users", i))));
      ++report.users;
    }
    ASSIGN_OR_RETURN(const json* teams, top.Array("host_teams"));
    for (std::size_t i = 0; i < teams->size(); ++i) {
      RETURN_IF_ERROR(ImportTeam(Fields((*teams)[i], Indexed("$.host_teams", i))));
      ++report.host_teams;
    }
    ASSIGN_OR_RETURN(const json* challenges, top.Array("challenges"));
    for (std::size_t i = 0; i < challenges->size(); ++i) {
      RETURN_IF_ERROR(
          ImportChallenge(Fields((*challenges)[i], Indexed("$.challenges", i)), report));
      ++report.challenges;
    }
    return Status::Ok();
  }

  Status ImportUser(const Fields& f) {
    RETURN_IF_ERROR(f.CheckObject({"username", "email", "is_admin", "token"}));
    ASSIGN_OR_RETURN(auto username, f.Str("username", true, true));
    ASSIGN_OR_RETURN(auto email, f.Str("email", true, true));
    ASSIGN_OR_RETURN(bool admin, f.Bool("is_admin", false));
    ASSIGN_OR_RETURN(auto token, f.Str("token", false));
    if (f.Has("token") && token.size() < 8) {
      return InvalidArgument(f.Path("token") + ": must be at least 8 characters");
    }
    if (username.size() > 150 || username.find_first_of(" \t\r\n/") != std::string::npos) {
      return InvalidArgument(f.Path("username") + ": '" + username + "' is not a valid username");
    }
    RETURN_IF_ERROR(ValidateEmailAddress(email, f.Path("email")));
    RETURN_IF_ERROR(Insert(conn_, f.path(), "user '" + username + "'",
                           "INSERT INTO users (username, email, is_admin, created_at) "
                           "VALUES (?, ?, ?, ?)",
                           {username, email, std::int64_t{admin ? 1 : 0}, Now()}));
    if (!token.empty()) {
      ASSIGN_OR_RETURN(auto id, UserId(conn_, username));
      RETURN_IF_ERROR(
          Insert(conn_, f.Path("token"), "this token",
                 "INSERT INTO api_tokens (token_hash, user_id, created_at, prefix) "
                 "VALUES (?, ?, ?, ?)",
                 {Sha256Hex(token), id.value_or(0), Now(), token.substr(0, kTokenPrefixLength)}));
    }
    return Status::Ok();
  }

  Status ImportTeam(const Fields& f) {
    RETURN_IF_ERROR(f.CheckObject({"id", "name", "members"}));
    ASSIGN_OR_RETURN(auto id, f.Id("id"));
    ASSIGN_OR_RETURN(auto name, f.Str("name", true, true));
    RETURN_IF_ERROR(Insert(conn_, f.path(), "host team " + std::to_string(id),
                           "INSERT INTO host_teams (id, name) VALUES (?, ?)", {id, name}));
    ASSIGN_OR_RETURN(const json* members, f.Array("members"));
    for (std::size_t i = 0; i < members->size(); ++i) {
      Fields m((*members)[i], Indexed(f.Path("members"), i));
      RETURN_IF_ERROR(m.CheckObject({"username", "status"}));
      ASSIGN_OR_RETURN(auto username, m.Str("username", true, true));
      ASSIGN_OR_RETURN(auto status, m.Str("status", true));
      if (status != "accepted" && status != "pending") {
        return InvalidArgument(m.Path("status") + ": must be \"accepted\" or \"pending\"");
      }
      ASSIGN_OR_RETURN(auto user_id, UserId(conn_, username));
      if (!user_id) {
        return InvalidArgument(m.Path("username") + ": unknown user '" + username + "'");
      }
      RETURN_IF_ERROR(Insert(conn_, m.path(), "member '" + username + "'",
                             "INSERT INTO host_team_members (host_team_id, user_id, status) "
                             "VALUES (?, ?, ?)",
                             {id, *user_id, status}));
    }
    return Status::Ok();
  }

  Status ImportChallenge(const Fields& f, ImportReport& report) {
    RETURN_IF_ERROR(f.CheckObject({"id", "title", "description", "host_team", "approved",
                                   "inform_hosts", "start_date", "consent", "phases"}));
    ASSIGN_OR_RETURN(auto id, f.Id("id"));
    ASSIGN_OR_RETURN(auto title, f.Str("title", true, true));
    ASSIGN_OR_RETURN(auto description, f.Str("description", false));
    ASSIGN_OR_RETURN(auto team, f.Id("host_team"));
    ASSIGN_OR_RETURN(bool approved, f.Bool("approved", false));
    ASSIGN_OR_RETURN(bool inform, f.Bool("inform_hosts", true));
    ASSIGN_OR_RETURN(auto start, f.Time("start_date", false));
    ASSIGN_OR_RETURN(auto team_row,
                     conn_.QueryOne("SELECT id FROM host_teams WHERE id = ?", {team}));
    if (!team_row) {
      return InvalidArgument(f.Path("host_team") + ": unknown host team " + std::to_string(team));
    }
    RETURN_IF_ERROR(Insert(conn_, f.path(), "challenge " + std::to_string(id),
                           "INSERT INTO challenges (id, title, description, host_team_id, "
                           "approved, inform_hosts, start_date, created_at) VALUES "
                           "(?, ?, ?, ?, ?, ?, ?, ?)",
                           {id, title, description, team, std::int64_t{approved ? 1 : 0},
                            std::int64_t{inform ? 1 : 0}, OptTime(start), Now()}));
    if (f.Has("consent")) {
      Fields c(f.At("consent"), f.Path("consent"));
      RETURN_IF_ERROR(c.CheckObject({"by", "at", "notes"}));
      ASSIGN_OR_RETURN(auto by, c.Str("by", true, true));
      ASSIGN_OR_RETURN(auto at, c.Time("at", true));
      ASSIGN_OR_RETURN(auto notes, c.Str("notes", false));
      ASSIGN_OR_RETURN(auto host,
                       conn_.QueryOne("SELECT u.id FROM users u JOIN host_team_members m ON "
                                      "m.user_id = u.id WHERE u.username = ? AND "
                                      "m.host_team_id = ? AND m.status = 'accepted'",
                                      {by, team}));
      if (!host) {
        return InvalidArgument(c.Path("by") + ": '" + by + "' is not a host of challenge " +
                               std::to_string(id));
      }
      RETURN_IF_ERROR(conn_.Exec(
          "UPDATE challenges SET retention_policy_consent = 1, retention_policy_consent_date = ?, "
          "retention_policy_consent_by = ?, retention_policy_notes = ? WHERE id = ?",
          {ToUnix(*at), host->Int(0), notes, id}));
      RETURN_IF_ERROR(AppendEvent(conn_, "consent", id, std::nullopt, by, "imported", notes, *at));
      ++report.consents;
    }
    ASSIGN_OR_RETURN(const json* phases, f.Array("phases"));
    for (std::size_t i = 0; i < phases->size(); ++i) {
      RETURN_IF_ERROR(ImportPhase(Fields((*phases)[i], Indexed(f.Path("phases"), i)), id, report));
      ++report.phases;
    }
    imported_challenges_.push_back(id);
    return Status::Ok();
  }

  // A phase's optional policy: "retention_days": 1..3653 or "policy": "keep", not both.
  static Result<PhasePolicy> ReadPhasePolicy(const Fields& f) {
    PhasePolicy policy;
    if (f.Has("retention_days")) {
      const json& d = f.At("retention_days");
      if (!d.is_number_integer() || d.get<std::int64_t>() < kMinRetentionDays ||
          d.get<std::int64_t>() > kMaxRetentionDays) {
        return InvalidArgument(f.Path("retention_days") + ": must be an integer 1-3653");
      }
      policy.days = static_cast<int>(d.get<std::int64_t>());
    }
    if (f.Has("policy")) {
      if (f.At("policy") != "keep") return InvalidArgument(f.Path("policy") + ": must be \"keep\"");
      if (policy.days) {
        return InvalidArgument(f.Path("policy") + ": a phase has retention_days or keep, not both");
      }
      policy.keep = true;
    }
    return policy;
  }

  Status ImportPhase(const Fields& f, std::int64_t challenge_id, ImportReport& report) {
    RETURN_IF_ERROR(f.CheckObject({"id", "name", "start_date", "end_date", "is_public",
                                   "retention_days", "policy", "policy_reason", "submissions"}));
    ASSIGN_OR_RETURN(auto id, f.Id("id"));
    ASSIGN_OR_RETURN(auto name, f.Str("name", true, true));
    ASSIGN_OR_RETURN(auto start, f.Time("start_date", false));
    ASSIGN_OR_RETURN(auto end, f.Time("end_date", false));
    ASSIGN_OR_RETURN(bool is_public, f.Bool("is_public", false));
    if (start && end && *end < *start) {
      return InvalidArgument(f.Path("end_date") + ": is before start_date");
    }
    ASSIGN_OR_RETURN(PhasePolicy policy, ReadPhasePolicy(f));
    ASSIGN_OR_RETURN(auto reason, f.Str("policy_reason", false, true));
    const bool has_policy = policy.days || policy.keep;
    if (!has_policy && f.Has("policy_reason")) {
      return InvalidArgument(f.Path("policy_reason") + ": needs retention_days or policy");
    }
    if (has_policy && reason.empty()) reason = "imported";
    RETURN_IF_ERROR(Insert(
        conn_, f.path(), "phase " + std::to_string(id),
        "INSERT INTO phases (id, challenge_id, name, start_date, end_date, is_public, "
        "retention_days, retention_policy, retention_policy_reason) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        {id, challenge_id, name, OptTime(start), OptTime(end), std::int64_t{is_public ? 1 : 0},
         policy.days ? SqlValue(std::int64_t{*policy.days}) : SqlNull(),
         policy.keep ? SqlValue(std::string("keep")) : SqlNull(),
         has_policy ? SqlValue(reason) : SqlNull()}));
    if (has_policy) {
      // Audited like an admin's phase-policy (R1); the dates follow from the import's recompute.
      AuditEvent e;
      e.ledger = "admin";
      e.challenge_id = challenge_id;
      e.actor = "import";
      e.action = "phase_policy_set";
      e.notes = "phase " + std::to_string(id) + ": " +
                (policy.keep ? std::string("keep") : std::to_string(*policy.days) + " days") +
                ": " + reason;
      e.at = ctx_.clock->Now();
      RETURN_IF_ERROR(AppendAuditEvent(conn_, std::move(e)).status());
    }
    ASSIGN_OR_RETURN(const json* subs, f.Array("submissions"));
    for (std::size_t i = 0; i < subs->size(); ++i) {
      RETURN_IF_ERROR(ImportSubmission(Fields((*subs)[i], Indexed(f.Path("submissions"), i)), id,
                                       challenge_id, report));
    }
    return Status::Ok();
  }

  // A submission with its artifacts. `is_baseline` (R10) is the platform's flag; "keep":
  // {"reason"} (a keep as the import's, audited like a host's keep_set) only when `allow_keep`
  // (the import file; the platform may not keep, DESIGN section 6).
  Status ImportSubmission(const Fields& s, std::int64_t phase_id, std::int64_t challenge_id,
                          ImportReport& report, bool allow_keep = true) {
    std::set<std::string> fields = {"id",     "participant", "submitted_at",
                                    "status", "is_baseline", "artifacts"};
    if (allow_keep) fields.insert("keep");
    RETURN_IF_ERROR(s.CheckObject(fields));
    ASSIGN_OR_RETURN(auto sid, s.Id("id"));
    ASSIGN_OR_RETURN(auto participant, s.Str("participant", true, true));
    ASSIGN_OR_RETURN(auto submitted, s.Time("submitted_at", true));
    ASSIGN_OR_RETURN(auto status, s.Str("status", false));
    ASSIGN_OR_RETURN(bool baseline, s.Bool("is_baseline", false));
    std::optional<std::string> keep_reason;
    if (s.Has("keep")) {
      Fields k(s.At("keep"), s.Path("keep"));
      RETURN_IF_ERROR(k.CheckObject({"reason"}));
      ASSIGN_OR_RETURN(keep_reason, k.Str("reason", true, true));
    }
    RETURN_IF_ERROR(Insert(
        conn_, s.path(), "submission " + std::to_string(sid),
        "INSERT INTO submissions (id, phase_id, challenge_id, participant, submitted_at, status, "
        "is_baseline, kept_at, kept_by, keep_reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        {sid, phase_id, challenge_id, participant, ToUnix(*submitted),
         status.empty() ? std::string("finished") : status, std::int64_t{baseline ? 1 : 0},
         keep_reason ? SqlValue(Now()) : SqlNull(),
         keep_reason ? SqlValue(std::string("import")) : SqlNull(),
         keep_reason ? SqlValue(*keep_reason) : SqlNull()}));
    if (keep_reason) {
      // Audited like a host's keep (R10); the dates follow from the import's recompute.
      AuditEvent e;
      e.ledger = "admin";
      e.challenge_id = challenge_id;
      e.submission_id = sid;
      e.actor = "import";
      e.action = "keep_set";
      e.notes = *keep_reason;
      e.at = ctx_.clock->Now();
      RETURN_IF_ERROR(AppendAuditEvent(conn_, std::move(e)).status());
    }
    ++report.submissions;
    ASSIGN_OR_RETURN(const json* arts, s.Array("artifacts"));
    for (std::size_t k = 0; k < arts->size(); ++k) {
      Fields a((*arts)[k], Indexed(s.Path("artifacts"), k));
      RETURN_IF_ERROR(a.CheckObject({"kind", "key", "size"}));
      ASSIGN_OR_RETURN(auto kind, a.Str("kind", true));
      if (!ArtifactKinds().contains(kind)) {
        return InvalidArgument(a.Path("kind") + ": unknown artifact kind '" + kind + "'");
      }
      ASSIGN_OR_RETURN(auto key, a.Str("key", true));
      if (auto st = ValidateArtifactKey(key); !st.ok()) return st.WithContext(a.Path("key"));
      ++report.artifacts;
      if (!a.Has("size")) {
        // Read from the store with its neighbours: one SizeMany per kSizeBatch artifacts.
        pending_sizes_.push_back({a.Path("size"), sid, kind, key});
        if (pending_sizes_.size() >= kSizeBatch) RETURN_IF_ERROR(FillPendingSizes());
        continue;
      }
      if (!a.At("size").is_number_integer() || a.At("size").get<std::int64_t>() < 0) {
        return InvalidArgument(a.Path("size") + ": must be a non-negative integer");
      }
      RETURN_IF_ERROR(InsertArtifact(a.path(), sid, kind, key, a.At("size").get<std::int64_t>()));
    }
    return Status::Ok();
  }

  // Inserts the artifacts whose size the import left out, with the sizes the store answers for
  // them in one SizeMany call. InvalidArgument naming the artifact when its object is not in the
  // store; the store's error (with the artifact's path) when it cannot answer. Call before the
  // import's transaction commits.
  Status FillPendingSizes() {
    if (pending_sizes_.empty()) return Status::Ok();
    std::vector<std::string> keys;
    keys.reserve(pending_sizes_.size());
    for (const PendingSize& p : pending_sizes_) keys.push_back(p.key);
    const auto sizes = ctx_.artifacts->SizeMany(keys);
    for (std::size_t i = 0; i < pending_sizes_.size(); ++i) {
      const PendingSize& p = pending_sizes_[i];
      if (!sizes[i].ok()) {
        return sizes[i].status().WithContext(p.size_path +
                                             ": not given, and the store cannot tell it");
      }
      if (!sizes[i]->has_value()) {
        return InvalidArgument(p.size_path + ": not given, and artifact key '" + p.key +
                               "' is not in the store");
      }
      RETURN_IF_ERROR(InsertArtifact(p.size_path, p.submission_id, p.kind, p.key, **sizes[i]));
    }
    pending_sizes_.clear();
    return Status::Ok();
  }

  Status InsertArtifact(const std::string& path, std::int64_t submission_id,
                        const std::string& kind, const std::string& key, std::int64_t size) {
    return Insert(conn_, path, "artifact key '" + key + "'",
                  "INSERT INTO artifacts (submission_id, kind, storage_key, size_bytes) "
                  "VALUES (?, ?, ?, ?)",
                  {submission_id, kind, key, size});
  }

  std::int64_t Now() const { return ToUnix(ctx_.clock->Now()); }

 public:
  std::vector<std::int64_t> imported_challenges_;

 private:
  // An artifact without a size in the import, inserted by FillPendingSizes.
  struct PendingSize {
    std::string size_path;  // "$.challenges[0]...artifacts[1].size", for messages
    std::int64_t submission_id;
    std::string kind;
    std::string key;
  };
  static constexpr std::size_t kSizeBatch = 1000;

  SqlConnection& conn_;
  const ServiceContext& ctx_;
  std::vector<PendingSize> pending_sizes_;
};

// Line and column (1-based) of a byte offset, read again from the start of `in`; the offset alone
// when the stream cannot seek.
std::string Position(std::istream& in, std::size_t offset) {
  in.clear();
  in.seekg(0);
  if (!in) return "byte " + std::to_string(offset + 1);
  std::size_t line = 1;
  std::size_t col = 1;
  char c = 0;
  for (std::size_t i = 0; i < offset && in.get(c); ++i) {
    if (c == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(col);
}

// Imports each submission as soon as the parser has read it and drops it from the tree, so that
// memory holds users, teams, challenges and phases but never the submissions (DESIGN section 7:
// "read as a stream"). A submission is streamed when the ids of its phase and challenge came
// before it in the file (as in every file we write); otherwise it stays in the tree and
// Importer::Run takes it with its phase. Streamed rows precede their phase and challenge rows,
// so foreign keys are checked at commit (DeferForeignKeys).
class SubmissionStream {
 public:
  SubmissionStream(Importer& importer, ImportReport& report)
      : importer_(importer), report_(report) {}

  // The nlohmann parser callback: false drops the value just read.
  bool OnEvent(json::parse_event_t event, json& parsed) {
    using Event = json::parse_event_t;
    switch (event) {
      case Event::object_start:
      case Event::array_start:
        Enter(event == Event::array_start);
        return true;
      case Event::key:
        if (!frames_.empty()) frames_.back().key = parsed.get<std::string>();
        return true;
      case Event::value:
        if (!frames_.empty()) {
          Frame& f = frames_.back();
          if (f.is_array) ++f.next_index;
          if (!f.is_array && f.key == "id" && parsed.is_number_integer() &&
              parsed.get<std::int64_t>() > 0) {
            f.id = parsed.get<std::int64_t>();
          }
        }
        return true;
      case Event::array_end:
        frames_.pop_back();
        return true;
      case Event::object_end: {
        const bool keep = !IsStreamedSubmission() || !Import(parsed);
        frames_.pop_back();
        return keep;
      }
    }
    return true;
  }

  // The first error of a streamed submission; the parse goes on but imports nothing more.
  const Status& status() const { return status_; }

 private:
  struct Frame {
    bool is_array = false;
    std::size_t index = 0;       // this container's index in its parent array
    std::size_t next_index = 0;  // arrays: the index of the next element
    std::string key;             // objects: the key being read
    std::optional<std::int64_t> id;
  };

  void Enter(bool is_array) {
    Frame f;
    f.is_array = is_array;
    if (!frames_.empty() && frames_.back().is_array) f.index = frames_.back().next_index++;
    frames_.push_back(std::move(f));
  }

  // $ . challenges [i] . phases [j] . submissions [k], with the challenge's and phase's ids read.
  bool IsStreamedSubmission() const {
    return frames_.size() == 7 && frames_[0].key == "challenges" && frames_[1].is_array &&
           !frames_[2].is_array && frames_[2].key == "phases" && frames_[2].id &&
           frames_[3].is_array && !frames_[4].is_array && frames_[4].key == "submissions" &&
           frames_[4].id && frames_[5].is_array && !frames_[6].is_array;
  }

  // True when the submission was imported (or refused: the error is kept, the object dropped).
  bool Import(const json& submission) {
    if (!status_.ok()) return true;
    const std::string path = "$.challenges[" + std::to_string(frames_[2].index) + "].phases[" +
                             std::to_string(frames_[4].index) + "].submissions[" +
                             std::to_string(frames_[6].index) + "]";
    status_ = importer_.ImportSubmission(Fields(submission, path), *frames_[4].id, *frames_[2].id,
                                         report_);
    return true;
  }

  Importer& importer_;
  ImportReport& report_;
  std::vector<Frame> frames_;
  Status status_ = Status::Ok();
};

}  // namespace

Result<ImportReport> ImportData(const ServiceContext& ctx, const std::string& json_text) {
  std::istringstream in(json_text);
  return ImportData(ctx, in);
}

Result<ImportReport> ImportData(const ServiceContext& ctx, std::istream& in) {
  ImportReport report;
  std::vector<std::int64_t> challenges;
  {
    auto conn = ctx.db->Lock();
    ASSIGN_OR_RETURN(auto tx, Transaction::Start(*conn, TxMode::kWrite));
    RETURN_IF_ERROR(conn->DeferForeignKeys());
    Importer importer(*conn, ctx);
    SubmissionStream stream(importer, report);
    json root;
    try {
      root = json::parse(in, [&stream](int /*depth*/, json::parse_event_t event, json& parsed) {
        return stream.OnEvent(event, parsed);
      });
    } catch (const json::parse_error& e) {
      // e.byte is the 1-based offset just past the offending character.
      const std::size_t at = e.byte > 0 ? e.byte - 1 : 0;
      std::string what = e.what();
      if (auto p = what.find("; last read"); p != std::string::npos) what = what.substr(p + 2);
      return InvalidArgument("malformed import file at " + Position(in, at) + ": " + what);
    }
    RETURN_IF_ERROR(stream.status());
    RETURN_IF_ERROR(importer.Run(root, report));
    RETURN_IF_ERROR(importer.FillPendingSizes());
    for (auto id : importer.imported_challenges_) {
      RETURN_IF_ERROR(RecomputeEligibleDates(*conn, ctx.settings, id).status());
    }
    AuditEvent e;
    e.ledger = "admin";
    e.actor = "cli";
    e.action = "imported";
    e.notes = std::to_string(report.challenges) + " challenges, " +
              std::to_string(report.submissions) + " submissions";
    e.at = ctx.clock->Now();
    RETURN_IF_ERROR(AppendAuditEvent(*conn, std::move(e)).status());
    if (auto st = tx.Commit(); !st.ok()) {
      if (st.code() == StatusCode::kFailedPrecondition) {
        return InvalidArgument(
            "import file: a submission refers to a phase or challenge that is not imported "
            "with it (" +
            st.message() + ")");
      }
      return st;
    }
    challenges = importer.imported_challenges_;
  }
  for (auto id : challenges) {
    if (ctx.log_sync != nullptr) ctx.log_sync->Trigger(id);
  }
  return report;
}

namespace {

// Runs `body` in a write transaction with an Importer, then fires the R8 trigger for `challenge`.
template <typename Fn>
Status InImporter(const ServiceContext& ctx, std::optional<std::int64_t> challenge, Fn&& body) {
  {
    auto conn = ctx.db->Lock();
    ASSIGN_OR_RETURN(auto tx, Transaction::Start(*conn, TxMode::kWrite));
    Importer importer(*conn, ctx);
    RETURN_IF_ERROR(body(*conn, importer));
    RETURN_IF_ERROR(importer.FillPendingSizes());
    if (challenge)
      RETURN_IF_ERROR(RecomputeEligibleDates(*conn, ctx.settings, *challenge).status());
    RETURN_IF_ERROR(tx.Commit());
  }
  if (challenge && ctx.log_sync != nullptr) ctx.log_sync->Trigger(*challenge);
  return Status::Ok();
}

Result<std::int64_t> ChallengeOfPhase(SqlConnection& conn, std::int64_t phase_id) {
  ASSIGN_OR_RETURN(auto row,
                   conn.QueryOne("SELECT challenge_id FROM phases WHERE id = ?", {phase_id}));
  if (!row) return NotFound("phase " + std::to_string(phase_id) + " does not exist");
  return row->Int(0);
}

Result<std::int64_t> ChallengeOfSubmission(SqlConnection& conn, std::int64_t submission_id) {
  ASSIGN_OR_RETURN(auto row, conn.QueryOne("SELECT challenge_id FROM submissions WHERE id = ?",
                                           {submission_id}));
  if (!row) return NotFound("submission " + std::to_string(submission_id) + " does not exist");
  return row->Int(0);
}

// Applies the present keys of `body` as column updates; `columns` maps a field to its column and
// kind ('s' string, 'b' boolean, 't' time or null, 'n' non-empty string).
Status UpdateColumns(SqlConnection& conn, const std::string& table, std::int64_t id,
                     const Fields& f, const std::vector<std::pair<const char*, char>>& columns) {
  std::set<std::string> allowed;
  for (const auto& [name, kind] : columns) allowed.insert(name);
  RETURN_IF_ERROR(f.CheckObject(allowed));
  for (const auto& [name, kind] : columns) {
    if (!f.Has(name)) continue;  // absent (nulls are handled by the caller)
    SqlValue v;
    if (kind == 's' || kind == 'n') {
      ASSIGN_OR_RETURN(auto str, f.Str(name, true, kind == 'n'));
      v = str;
    } else if (kind == 'b') {
      ASSIGN_OR_RETURN(bool b, f.Bool(name, false));
      v = std::int64_t{b ? 1 : 0};
    } else {
      ASSIGN_OR_RETURN(auto t, f.Time(name, false));
      v = OptTime(t);
    }
    RETURN_IF_ERROR(
        conn.Exec("UPDATE " + table + " SET " + name + " = ? WHERE id = ?", {v, id}).status());
  }
  return Status::Ok();
}

bool Present(const json& body, const char* key) { return body.is_object() && body.contains(key); }

}  // namespace

Result<std::int64_t> CreateHostTeam(const ServiceContext& ctx, const json& body) {
  std::int64_t id = 0;
  RETURN_IF_ERROR(InImporter(ctx, std::nullopt, [&](SqlConnection&, Importer& im) -> Status {
    Fields f(body, "$");
    RETURN_IF_ERROR(im.ImportTeam(f));
    id = body.at("id").get<std::int64_t>();
    return Status::Ok();
  }));
  return id;
}

Status AddTeamMember(const ServiceContext& ctx, std::int64_t team_id, const json& body) {
  return InImporter(ctx, std::nullopt, [&](SqlConnection& conn, Importer&) -> Status {
    Fields f(body, "$");
    RETURN_IF_ERROR(f.CheckObject({"username", "status"}));
    ASSIGN_OR_RETURN(auto username, f.Str("username", true, true));
    ASSIGN_OR_RETURN(auto status, f.Str("status", true));
    if (status != "accepted" && status != "pending") {
      return InvalidArgument("$.status: must be \"accepted\" or \"pending\"");
    }
    ASSIGN_OR_RETURN(auto team, conn.QueryOne("SELECT id FROM host_teams WHERE id = ?", {team_id}));
    if (!team) return NotFound("host team " + std::to_string(team_id) + " does not exist");
    ASSIGN_OR_RETURN(auto user, UserId(conn, username));
    if (!user) return NotFound("user '" + username + "' does not exist");
    // Upsert: a pending member can be accepted later.
    return conn
        .Exec(
            "INSERT INTO host_team_members (host_team_id, user_id, status) VALUES (?, ?, ?) "
            "ON CONFLICT (host_team_id, user_id) DO UPDATE SET status = excluded.status",
            {team_id, *user, status})
        .status();
  });
}

Result<std::int64_t> CreateChallenge(const ServiceContext& ctx, const json& body) {
  if (!body.is_object() || !body.contains("id") || !body["id"].is_number_integer()) {
    return InvalidArgument("$.id: must be a positive integer");
  }
  const std::int64_t id = body["id"].get<std::int64_t>();
  RETURN_IF_ERROR(InImporter(ctx, id, [&](SqlConnection&, Importer& im) -> Status {
    ImportReport report;
    return im.ImportChallenge(Fields(body, "$"), report);
  }));
  return id;
}

Status UpdateChallenge(const ServiceContext& ctx, std::int64_t challenge_id, const json& body) {
  return InImporter(ctx, challenge_id, [&](SqlConnection& conn, Importer&) -> Status {
    ASSIGN_OR_RETURN(auto row,
                     conn.QueryOne("SELECT id FROM challenges WHERE id = ?", {challenge_id}));
    if (!row) return NotFound("Challenge does not exist");
    return UpdateColumns(conn, "challenges", challenge_id, Fields(body, "$"),
                         {{"title", 'n'},
                          {"description", 's'},
                          {"approved", 'b'},
                          {"inform_hosts", 'b'},
                          {"start_date", 't'}});
  });
}

Result<std::int64_t> CreatePhase(const ServiceContext& ctx, std::int64_t challenge_id,
                                 const json& body) {
  std::int64_t id = 0;
  RETURN_IF_ERROR(InImporter(ctx, challenge_id, [&](SqlConnection& conn, Importer& im) -> Status {
    ASSIGN_OR_RETURN(auto row,
                     conn.QueryOne("SELECT id FROM challenges WHERE id = ?", {challenge_id}));
    if (!row) return NotFound("Challenge does not exist");
    ImportReport report;
    RETURN_IF_ERROR(im.ImportPhase(Fields(body, "$"), challenge_id, report));
    id = body.at("id").get<std::int64_t>();
    return Status::Ok();
  }));
  return id;
}

Status UpdatePhase(const ServiceContext& ctx, std::int64_t phase_id, const json& body) {
  std::int64_t challenge = 0;
  {
    auto conn = ctx.db->Lock();
    ASSIGN_OR_RETURN(challenge, ChallengeOfPhase(*conn, phase_id));
  }
  return InImporter(ctx, challenge, [&](SqlConnection& conn, Importer&) -> Status {
    RETURN_IF_ERROR(
        UpdateColumns(conn, "phases", phase_id, Fields(body, "$"),
                      {{"name", 'n'}, {"start_date", 't'}, {"end_date", 't'}, {"is_public", 'b'}}));
    if (Present(body, "end_date") && body["end_date"].is_null()) {
      RETURN_IF_ERROR(
          conn.Exec("UPDATE phases SET end_date = NULL WHERE id = ?", {phase_id}).status());
    }
    return Status::Ok();
  });
}

Result<std::int64_t> CreateSubmission(const ServiceContext& ctx, std::int64_t phase_id,
                                      const json& body) {
  std::int64_t challenge = 0;
  {
    auto conn = ctx.db->Lock();
    ASSIGN_OR_RETURN(challenge, ChallengeOfPhase(*conn, phase_id));
  }
  std::int64_t id = 0;
  RETURN_IF_ERROR(InImporter(ctx, challenge, [&](SqlConnection&, Importer& im) -> Status {
    ImportReport report;
    RETURN_IF_ERROR(im.ImportSubmission(Fields(body, "$"), phase_id, challenge, report,
                                        /*allow_keep=*/false));
    id = body.at("id").get<std::int64_t>();
    return Status::Ok();
  }));
  return id;
}

Status UpdateSubmission(const ServiceContext& ctx, std::int64_t submission_id, const json& body) {
  std::int64_t challenge = 0;
  {
    auto conn = ctx.db->Lock();
    ASSIGN_OR_RETURN(challenge, ChallengeOfSubmission(*conn, submission_id));
  }
  return InImporter(ctx, challenge, [&](SqlConnection& conn, Importer&) -> Status {
    return UpdateColumns(conn, "submissions", submission_id, Fields(body, "$"),
                         {{"status", 'n'}, {"is_baseline", 'b'}});
  });
}

namespace {

// R6 for a file added later (a re-run's output): a submission that a sweep had finished has an
// artifact in storage again, so it is no longer deleted. Clears is_artifact_deleted and
// artifact_deletion_date and recomputes the challenge's eligible dates (R3, which skips deleted
// submissions), so the next sweep deletes the new file under the same rules (R5). Its notice
// stands: the hosts were told that this submission's files go on its deletion date.
Status ReopenSweptSubmission(SqlConnection& conn, const RetentionSettings& settings,
                             std::int64_t challenge_id, std::int64_t submission_id) {
  ASSIGN_OR_RETURN(
      auto reopened,
      conn.Exec("UPDATE submissions SET is_artifact_deleted = 0, "
                "artifact_deletion_date = NULL WHERE id = ? AND is_artifact_deleted = 1",
                {submission_id}));
  if (reopened > 0) RETURN_IF_ERROR(RecomputeEligibleDates(conn, settings, challenge_id).status());
  return Status::Ok();
}

}  // namespace

Result<std::int64_t> RegisterArtifact(const ServiceContext& ctx, std::int64_t submission_id,
                                      const json& body) {
  Fields f(body, "$");
  RETURN_IF_ERROR(f.CheckObject({"kind", "key", "size"}));
  ASSIGN_OR_RETURN(auto kind, f.Str("kind", true));
  if (!ArtifactKinds().contains(kind)) {
    return InvalidArgument("$.kind: unknown artifact kind '" + kind + "'");
  }
  ASSIGN_OR_RETURN(auto key, f.Str("key", true));
  if (auto st = ValidateArtifactKey(key); !st.ok()) return st.WithContext("$.key");
  ASSIGN_OR_RETURN(auto stored, ctx.artifacts->Size(key));
  if (!stored) return NotFound("artifact key '" + key + "' is not in the store");
  if (f.Has("size")) {
    if (!f.At("size").is_number_integer() || f.At("size").get<std::int64_t>() != *stored) {
      return InvalidArgument("$.size: does not match the stored object's size (" +
                             std::to_string(*stored) + " bytes)");
    }
  }
  std::int64_t artifact_id = 0;
  RETURN_IF_ERROR(InImporter(ctx, std::nullopt, [&](SqlConnection& conn, Importer& im) -> Status {
    ASSIGN_OR_RETURN(auto challenge, ChallengeOfSubmission(conn, submission_id));
    RETURN_IF_ERROR(im.InsertArtifact("$", submission_id, kind, key, *stored));
    RETURN_IF_ERROR(ReopenSweptSubmission(conn, ctx.settings, challenge, submission_id));
    ASSIGN_OR_RETURN(auto row,
                     conn.QueryOne("SELECT id FROM artifacts WHERE storage_key = ?", {key}));
    artifact_id = row ? row->Int(0) : 0;
    return Status::Ok();
  }));
  return artifact_id;
}

Result<std::int64_t> UploadArtifact(const ServiceContext& ctx, std::int64_t submission_id,
                                    const std::string& kind, const std::string& key,
                                    const std::string& bytes) {
  if (!ArtifactKinds().contains(kind)) {
    return InvalidArgument("kind: unknown artifact kind '" + kind + "'");
  }
  RETURN_IF_ERROR(ValidateArtifactKey(key));
  {
    auto conn = ctx.db->Lock();
    RETURN_IF_ERROR(ChallengeOfSubmission(*conn, submission_id).status());
    ASSIGN_OR_RETURN(auto existing,
                     conn->QueryOne("SELECT id FROM artifacts WHERE storage_key = ?", {key}));
    if (existing) return InvalidArgument("artifact key '" + key + "' already exists");
  }
  RETURN_IF_ERROR(ctx.artifacts->Put(key, bytes));
  return RegisterArtifact(
      ctx, submission_id,
      json{{"kind", kind}, {"key", key}, {"size", static_cast<std::int64_t>(bytes.size())}});
}

Status UpdateUser(const ServiceContext& ctx, const std::string& username, const json& body) {
  return InImporter(ctx, std::nullopt, [&](SqlConnection& conn, Importer&) -> Status {
    ASSIGN_OR_RETURN(auto id, UserId(conn, username));
    if (!id) return NotFound("user '" + username + "' does not exist");
    Fields f(body, "$");
    RETURN_IF_ERROR(f.CheckObject({"email", "is_admin"}));
    if (f.Has("email")) {
      ASSIGN_OR_RETURN(auto email, f.Str("email", true, true));
      RETURN_IF_ERROR(ValidateEmailAddress(email, "$.email"));
      RETURN_IF_ERROR(conn.Exec("UPDATE users SET email = ? WHERE id = ?", {email, *id}).status());
    }
    if (f.Has("is_admin")) {
      ASSIGN_OR_RETURN(bool admin, f.Bool("is_admin", false));
      RETURN_IF_ERROR(conn.Exec("UPDATE users SET is_admin = ? WHERE id = ?",
                                {std::int64_t{admin ? 1 : 0}, *id})
                          .status());
    }
    return Status::Ok();
  });
}

}  // namespace retention
