// `import`, `status`, `update-dates` and `migrate`: the platform's data and the database.
#include <CLI/CLI.hpp>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/cli_common.h"
#include "service/service.h"
#include "service/views.h"
#include "store/migrations.h"

namespace retention {
namespace {

using nlohmann::json;

// ", kept: REASON", ", 7 retention days: REASON" or "" for a phase of the status view.
std::string PhasePolicyText(const json& p) {
  if (p["retention_policy"] == "keep") return ", kept: " + Str(p["retention_policy_reason"]);
  if (!p["retention_days"].is_null()) {
    return ", " + Str(p["retention_days"]) +
           " retention days: " + Str(p["retention_policy_reason"]);
  }
  return "";
}

void PrintStatusText(const json& j) {
  if (j.contains("overall")) {
    const auto& o = j["overall"];
    const auto& s = o["submissions"];
    std::cout << "Challenges with consent: " << o["challenges_with_consent"] << "/"
              << o["challenges"] << "\n"
              << "Submissions: " << s["total"] << " total, " << s["eligible_now"]
              << " eligible now, " << s["deleted"] << " deleted, " << s["on_hold"] << " on hold, "
              << s["kept"] << " kept\n"
              << "Bytes held: " << Bytes(s["bytes_stored"].get<std::int64_t>());
    if (o.value("artifacts_size_unknown", 0) > 0) {
      std::cout << " (and " << o["artifacts_size_unknown"] << " artifacts of unknown size)";
    }
    std::cout << "\n\n";
  }
  for (const auto& c : j["challenges"]) {
    std::cout << "Challenge " << c["challenge_id"] << " \"" << c["title"].get<std::string>()
              << "\"\n";
    if (c["has_consent"].get<bool>()) {
      std::cout << "  consent: active, by " << Str(c["consent_by"]) << " on "
                << Str(c["consent_date"]);
      if (!c["notes"].get<std::string>().empty())
        std::cout << " (notes: " << Str(c["notes"]) << ")";
      std::cout << "\n";
    } else {
      std::cout << "  consent: not provided (nothing will be deleted)\n";
    }
    std::cout << "  retention days: " << c["retention_days"]
              << (c["log_retention_days_override"].is_null() ? " (default)" : " (override)")
              << (c["legal_hold"].get<bool>() ? ", ON LEGAL HOLD: " + Str(c["legal_hold_reason"])
                                              : std::string())
              << "\n";
    for (const auto& p : c["phases"]) {
      std::cout << "  phase " << p["id"] << " \"" << p["name"].get<std::string>() << "\": ends "
                << Str(p["end_date"]) << (p["is_public"].get<bool>() ? ", public" : ", private")
                << PhasePolicyText(p) << "\n";
    }
    const auto& s = c["submissions"];
    std::cout << "  submissions: " << s["total"] << " total, " << s["with_eligible_date"]
              << " scheduled, " << s["eligible_now"] << " eligible now, " << s["deleted"]
              << " deleted, " << s["on_hold"] << " on hold, " << s["kept"] << " kept; "
              << Bytes(s["bytes_stored"].get<std::int64_t>()) << " stored\n"
              << "  next deletion date: " << Str(c["next_deletion_date"]) << "\n";
    const auto& l = c["log_retention"];
    std::cout << "  log group " << Str(l["log_group"]) << ": desired "
              << (l["desired_days"].is_null() ? "never expire" : Str(l["desired_days"]) + " days")
              << ", applied "
              << (l["applied_known"].get<bool>()
                      ? (l["applied_days"].is_null() ? "never expire"
                                                     : Str(l["applied_days"]) + " days")
                      : "unknown")
              << " (" << Str(l["state"]) << ")\n\n";
  }
}

}  // namespace

void AddImportCommand(CLI::App& cli, GlobalOptions& g, CliAction& action) {
  // import
  auto* import_cmd = cli.add_subcommand("import", "import users, challenges, phases, submissions");
  static std::string import_file;
  import_cmd->add_option("FILE", import_file, "import file (JSON)")->required();
  import_cmd->callback([&] {
    action = [&]() -> int {
      std::ifstream in(import_file, std::ios::binary);
      if (!in) return Fail(InvalidArgument("cannot read import file " + import_file));
      auto app = OpenApp(g);
      if (!app.ok()) return Fail(app.status());
      auto r = ImportData((*app)->context(), in);
      if (!r.ok()) return Fail(r.status().WithContext("import " + import_file));
      json j = {
          {"users", r->users},      {"host_teams", r->host_teams},   {"challenges", r->challenges},
          {"phases", r->phases},    {"submissions", r->submissions}, {"artifacts", r->artifacts},
          {"consents", r->consents}};
      if (g.json) {
        PrintJson(j);
      } else {
        std::cout << "imported " << r->users << " users, " << r->host_teams << " host teams, "
                  << r->challenges << " challenges, " << r->phases << " phases, " << r->submissions
                  << " submissions, " << r->artifacts << " artifacts\n";
      }
      return 0;
    };
  });
}

void AddStatusCommand(CLI::App& cli, GlobalOptions& g, CliAction& action) {
  // status
  auto* status_cmd = cli.add_subcommand("status", "retention status, overall or per challenge");
  static std::optional<std::int64_t> status_challenge;
  status_cmd->add_option("--challenge-id", status_challenge);
  status_cmd->callback([&] {
    action = [&]() -> int {
      auto app = OpenApp(g);
      if (!app.ok()) return Fail(app.status());
      auto j = StatusView((*app)->context(), status_challenge);
      if (!j.ok()) return Fail(j.status());
      if (g.json) {
        PrintJson(*j);
      } else {
        PrintStatusText(*j);
      }
      return 0;
    };
  });
}

void AddUpdateDatesCommand(CLI::App& cli, GlobalOptions& g, CliAction& action) {
  // update-dates
  auto* update_cmd = cli.add_subcommand("update-dates", "recompute every eligible date (R3)");
  update_cmd->callback([&] {
    action = [&]() -> int {
      auto app = OpenApp(g);
      if (!app.ok()) return Fail(app.status());
      auto n = UpdateDates((*app)->context(), std::nullopt);
      if (!n.ok()) return Fail(n.status());
      (void)RecordAdminAction((*app)->context(), std::nullopt, "cli", "update_dates",
                              std::to_string(*n) + " eligible dates changed");
      if (g.json) {
        PrintJson({{"updated", *n}});
      } else {
        std::cout << "updated " << *n << " eligible dates\n";
      }
      return 0;
    };
  });
}

void AddMigrateCommand(CLI::App& cli, GlobalOptions& g, CliAction& action) {
  // migrate
  auto* migrate_cmd = cli.add_subcommand("migrate", "apply database migrations");
  migrate_cmd->callback([&] {
    action = [&]() -> int {
      ConfigOverrides o;
      if (!g.config_file.empty()) o.config_file = g.config_file;
      if (!g.db_url.empty()) o.database_url = g.db_url;
      auto config = LoadConfig(o);
      if (!config.ok()) return Fail(config.status());
      auto conn = OpenDatabase(config->database_url);
      if (!conn.ok()) return Fail(conn.status());
      auto n = Migrate(**conn);
      if (!n.ok()) return Fail(n.status());
      if (g.json) {
        PrintJson({{"applied", *n}, {"schema_version", LatestSchemaVersion()}});
      } else {
        std::cout << "applied " << *n << " migrations; schema version " << LatestSchemaVersion()
                  << "\n";
      }
      return 0;
    };
  });
}

}  // namespace retention
