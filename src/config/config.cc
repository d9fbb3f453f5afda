#include "config/config.h"

#include <toml++/toml.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <set>
#include <sstream>

#include "domain/cron.h"

namespace retention {
namespace {

struct Problems {
  std::vector<std::string> list;
  void Add(std::string p) { list.push_back(std::move(p)); }
};

// Range-checks before narrowing (issue 8 defect 3): a value outside int is refused, never wrapped
// onto a valid one.
bool FitsInt(std::int64_t v) {
  return v >= std::numeric_limits<int>::min() && v <= std::numeric_limits<int>::max();
}

enum class IntParse { kOk, kNotInteger, kOutOfRange };

IntParse ParseInt(const std::string& text, int& out) {
  std::int64_t v = 0;
  const char* first = text.data();
  const char* last = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(first, last, v);
  if (text.empty() || ptr != last) {
    return ec == std::errc::result_out_of_range ? IntParse::kOutOfRange : IntParse::kNotInteger;
  }
  if (ec == std::errc::result_out_of_range || !FitsInt(v)) return IntParse::kOutOfRange;
  if (ec != std::errc()) return IntParse::kNotInteger;
  out = static_cast<int>(v);
  return IntParse::kOk;
}

void ApplyFile(const std::string& file, Config& c, Problems& problems) {
  if (std::FILE* f = std::fopen(file.c_str(), "r"); f != nullptr) {
    std::fclose(f);
  } else {
    problems.Add("config file " + file + " cannot be read");
    return;
  }
  toml::table root;
  try {
    root = toml::parse_file(file);
  } catch (const toml::parse_error& e) {
    std::ostringstream msg;
    msg << "config " << file << ":" << e.source().begin.line << ":" << e.source().begin.column
        << ": " << e.description();
    problems.Add(msg.str());
    return;
  }
  const std::map<std::string, std::set<std::string>> known = {
      {"database", {"url"}},
      {"storage", {"url"}},
      {"logs", {"url", "environment"}},
      {"smtp", {"url", "from"}},
      {"server", {"listen", "consent_rate_per_minute", "threads"}},
      {"retention", {"default_days", "notice_days"}},
      {"scheduler", {"lease_ttl_seconds", "replica"}},
      {"platform", {"challenge_url"}},
      {"schedule", {}},
      {"evalai", {"url", "media_prefix", "write_back"}},
  };
  for (const auto& [section, node] : root) {
    const std::string name(section.str());
    auto it = known.find(name);
    if (it == known.end() || !node.is_table()) {
      problems.Add("config " + file + ": unknown section [" + name + "]");
      continue;
    }
    for (const auto& [key, value] : *node.as_table()) {
      const std::string k(key.str());
      const std::string where = "config " + file + ": " + name + "." + k;
      if (name == "schedule") {
        if (!c.schedule.contains(k)) {
          problems.Add(where + ": unknown job");
        } else if (auto s = value.value<std::string>()) {
          c.schedule[k] = *s;
        } else {
          problems.Add(where + ": must be a string");
        }
        continue;
      }
      if (!it->second.contains(k)) {
        problems.Add(where + ": unknown key");
        continue;
      }
      auto str = [&](std::string& dst) {
        if (auto s = value.value<std::string>()) {
          dst = *s;
        } else {
          problems.Add(where + ": must be a string");
        }
      };
      auto integer = [&](int& dst) {
        if (value.is_integer()) {
          const std::int64_t v = value.as_integer()->get();
          if (FitsInt(v)) {
            dst = static_cast<int>(v);
          } else {
            problems.Add(where + ": " + std::to_string(v) + " is out of range");
          }
        } else {
          problems.Add(where + ": must be an integer");
        }
      };
      if (name == "database") str(c.database_url);
      if (name == "storage") str(c.storage_url);
      if (name == "logs" && k == "url") str(c.logs_url);
      if (name == "logs" && k == "environment") str(c.environment);
      if (name == "smtp" && k == "url") str(c.smtp_url);
      if (name == "smtp" && k == "from") str(c.smtp_from);
      if (name == "server" && k == "listen") str(c.listen);
      if (name == "server" && k == "consent_rate_per_minute") integer(c.consent_rate_per_minute);
      if (name == "server" && k == "threads") integer(c.server_threads);
      if (name == "retention" && k == "default_days") integer(c.default_days);
      if (name == "retention" && k == "notice_days") integer(c.notice_days);
      if (name == "platform") str(c.challenge_url);
      if (name == "evalai" && k == "url") str(c.evalai_url);
      if (name == "evalai" && k == "media_prefix") str(c.evalai_media_prefix);
      if (name == "evalai" && k == "write_back") {
        if (auto b = value.value<bool>()) {
          c.evalai_write_back = *b;
        } else {
          problems.Add(where + ": must be a boolean");
        }
      }
      if (name == "scheduler" && k == "lease_ttl_seconds") integer(c.lease_ttl_seconds);
      if (name == "scheduler" && k == "replica") str(c.replica);
    }
  }
}

void ApplyEnv(Config& c, Problems& problems) {
  auto env = [](const char* name) -> std::optional<std::string> {
    const char* v = std::getenv(name);
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
  auto str = [&](const char* name, std::string& dst) {
    if (auto v = env(name)) dst = *v;
  };
  auto integer = [&](const char* name, int& dst) {
    if (auto v = env(name)) {
      switch (ParseInt(*v, dst)) {
        case IntParse::kOk:
          break;
        case IntParse::kNotInteger:
          problems.Add(std::string(name) + ": '" + *v + "' is not an integer");
          break;
        case IntParse::kOutOfRange:
          problems.Add(std::string(name) + ": '" + *v + "' is out of range");
          break;
      }
    }
  };
  str("RETENTION_DB", c.database_url);
  str("RETENTION_STORAGE", c.storage_url);
  str("RETENTION_LOGS", c.logs_url);
  str("RETENTION_ENVIRONMENT", c.environment);
  str("RETENTION_SMTP", c.smtp_url);
  str("RETENTION_SMTP_FROM", c.smtp_from);
  str("RETENTION_LISTEN", c.listen);
  str("RETENTION_CHALLENGE_URL", c.challenge_url);
  str("RETENTION_EVALAI_DB", c.evalai_url);
  str("RETENTION_EVALAI_MEDIA_PREFIX", c.evalai_media_prefix);
  integer("RETENTION_DEFAULT_DAYS", c.default_days);
  integer("RETENTION_NOTICE_DAYS", c.notice_days);
  integer("RETENTION_CONSENT_RATE_PER_MINUTE", c.consent_rate_per_minute);
  integer("RETENTION_LEASE_TTL_SECONDS", c.lease_ttl_seconds);
  str("RETENTION_REPLICA", c.replica);
  integer("RETENTION_CLOCK_SPEED", c.clock_speed);
  // Never fall back to the real clock on a typo: a test would act on other dates than it meant.
  if (auto v = env("RETENTION_FAKE_NOW"); v && !v->empty()) {
    auto t = ParseTime(*v);
    if (t.ok()) {
      c.fake_now = *t;
    } else {
      problems.Add("RETENTION_FAKE_NOW: " + t.status().message());
    }
  }
}

void Validate(const Config& c, Problems& problems) {
  if (c.default_days < 1 || c.default_days > 3653) {
    problems.Add("retention.default_days: " + std::to_string(c.default_days) +
                 " is out of range 1-3653");
  }
  if (c.notice_days < 0 || c.notice_days > 365) {
    problems.Add("retention.notice_days: " + std::to_string(c.notice_days) +
                 " is out of range 0-365");
  }
  if (c.consent_rate_per_minute < 1) {
    problems.Add("server.consent_rate_per_minute: must be at least 1");
  }
  if (c.server_threads < 1 || c.server_threads > 64) {
    problems.Add("server.threads: must be between 1 and 64");
  }
  if (c.environment.empty()) problems.Add("logs.environment: must not be empty");
  if (!c.evalai_url.empty() && c.evalai_url.rfind("postgresql://", 0) != 0 &&
      c.evalai_url.rfind("postgres://", 0) != 0) {
    problems.Add("evalai.url: must start with postgresql:// or postgres://");
  }
  if (c.lease_ttl_seconds < 2 || c.lease_ttl_seconds > 86400) {
    problems.Add("scheduler.lease_ttl_seconds: " + std::to_string(c.lease_ttl_seconds) +
                 " is out of range 2-86400");
  }
  if (c.replica.find_first_of("@# \t") != std::string::npos) {
    problems.Add("scheduler.replica: '" + c.replica + "' must not contain '@', '#' or spaces");
  }
  if (c.clock_speed < 1 || c.clock_speed > 3600) {
    problems.Add("RETENTION_CLOCK_SPEED: " + std::to_string(c.clock_speed) +
                 " is out of range 1-3600");
  } else if (c.clock_speed > 1 && !c.fake_now) {
    problems.Add(
        "RETENTION_CLOCK_SPEED: needs RETENTION_FAKE_NOW (the time the fast clock starts)");
  }
  for (const auto& [job, cron] : c.schedule) {
    auto parsed = CronSchedule::Parse(cron);
    if (!parsed.ok()) problems.Add("schedule." + job + ": " + parsed.status().message());
  }
}

}  // namespace

Result<Config> LoadConfig(const ConfigOverrides& overrides) {
  Config c;
  Problems problems;
  if (overrides.config_file) ApplyFile(*overrides.config_file, c, problems);
  ApplyEnv(c, problems);
  if (overrides.database_url) c.database_url = *overrides.database_url;
  if (overrides.listen) c.listen = *overrides.listen;
  Validate(c, problems);
  if (!problems.list.empty()) {
    // One line (DESIGN.md section 5), every problem listed: "; " between them.
    std::string msg = "invalid configuration: ";
    for (std::size_t i = 0; i < problems.list.size(); ++i) {
      if (i > 0) msg += "; ";
      msg += problems.list[i];
    }
    return InvalidArgument(msg);
  }
  return c;
}

Result<std::string> PathFromUrl(const std::string& url, const std::string& scheme) {
  const std::string prefix = scheme + "://";
  if (url.rfind(prefix, 0) != 0 || url.size() == prefix.size()) {
    return InvalidArgument("'" + url + "' is not a " + prefix + "PATH url");
  }
  return url.substr(prefix.size());
}

}  // namespace retention
