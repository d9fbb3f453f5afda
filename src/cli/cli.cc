#include "cli/cli.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "app/app.h"
#include "cli/cli_common.h"
#include "core/utf8.h"
#include "domain/log_policy.h"
#include "logs/sync/log_retention_sync.h"
#include "service/audit_log.h"
#include "service/service.h"
#include "service/sweep.h"
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
              << " eligible now, " << s["deleted"] << " deleted, " << s["on_hold"] << " on hold\n"
              << "Bytes held: " << Bytes(s["bytes_stored"].get<std::int64_t>()) << "\n\n";
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
              << " deleted, " << s["on_hold"] << " on hold; "
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

// Validates a day count given on the command line (R1 range); a usage error otherwise.
Status CheckDays(int days) {
  if (days < 1 || days > 3653) {
    return InvalidArgument("--days " + std::to_string(days) + " is out of range 1-3653");
  }
  return Status::Ok();
}

}  // namespace

int RunCli(int argc, char** argv) {
  CLI::App cli{"retention: consent-based data retention for challenge platforms"};
  cli.require_subcommand(1);
  GlobalOptions g;
  cli.add_option("--config", g.config_file, "TOML configuration file");
  cli.add_option("--db", g.db_url, "database URL (sqlite://PATH)");
  cli.add_flag("--json", g.json, "print exactly one JSON document on stdout");

  CliAction action;
  AddServeCommand(cli, g, action);
  AddJobCommands(cli, g, action);

  // import
  auto* import_cmd = cli.add_subcommand("import", "import users, challenges, phases, submissions");
  std::string import_file;
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

  // consent
  auto* consent_cmd = cli.add_subcommand("consent", "record (or withdraw) a host's consent");
  std::int64_t consent_challenge = 0;
  std::string consent_user;
  std::optional<std::string> consent_notes;
  bool withdraw = false;
  consent_cmd->add_option("CHALLENGE_ID", consent_challenge)->required();
  consent_cmd->add_option("USERNAME", consent_user)->required()->check(Utf8Text());
  consent_cmd->add_option("--notes", consent_notes, "notes stored with the consent")
      ->check(Utf8Text());
  consent_cmd->add_flag("--withdraw", withdraw, "withdraw consent instead");
  consent_cmd->callback([&] {
    action = [&]() -> int {
      auto app = OpenApp(g);
      if (!app.ok()) return Fail(app.status());
      auto r =
          withdraw
              ? WithdrawConsent((*app)->context(), consent_challenge, consent_user, consent_notes)
              : GrantConsent((*app)->context(), consent_challenge, consent_user, consent_notes);
      if (!r.ok()) return Fail(r.status());
      if (g.json) {
        PrintJson({{"challenge_id", r->challenge_id},
                   {"challenge_title", r->challenge_title},
                   {"has_consent", r->has_consent},
                   {"changed", r->changed},
                   {"consent_date", JsonTime(r->consent_date)},
                   {"consent_by", r->consent_by.empty() ? json() : json(r->consent_by)},
                   {"notes", r->notes},
                   {"eligible_dates_changed", r->eligible_dates_changed},
                   {"notices_cancelled", r->notices_cancelled}});
      } else if (withdraw) {
        std::cout << (r->changed ? "consent withdrawn" : "consent was not given")
                  << " for challenge " << r->challenge_id << " \"" << r->challenge_title << "\"; "
                  << r->eligible_dates_changed << " eligible dates cleared\n";
      } else {
        std::cout << (r->changed ? "consent recorded" : "consent was already given")
                  << " for challenge " << r->challenge_id << " \"" << r->challenge_title << "\" by "
                  << r->consent_by << " on " << FormatTime(*r->consent_date) << "; "
                  << r->eligible_dates_changed << " eligible dates set\n";
      }
      return 0;
    };
  });

  // status
  auto* status_cmd = cli.add_subcommand("status", "retention status, overall or per challenge");
  std::optional<std::int64_t> status_challenge;
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

  AddCleanupCommand(cli, g, action);

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

  // set-retention
  auto* set_cmd = cli.add_subcommand(
      "set-retention", "set (or re-apply) a challenge's retention days and log retention (admin)");
  std::int64_t set_challenge = 0;
  std::optional<int> set_days;
  std::string set_reason;
  set_cmd->add_option("CHALLENGE_ID", set_challenge)->required();
  set_cmd->add_option("--days", set_days, "retention days (1-3653), stored as the override");
  set_cmd->add_option("--reason", set_reason, "why (stored in the audit log)")->check(Utf8Text());
  set_cmd->callback([&] {
    action = [&]() -> int {
      if (set_days) {
        if (auto s = CheckDays(*set_days); !s.ok()) return Fail(s);
      }
      auto app = OpenApp(g);
      if (!app.ok()) return Fail(app.status());
      // The explicit reconcile below applies the policy; the service's trigger would only
      // repeat it.
      ServiceContext ctx = (*app)->context();
      ctx.on_log_policy_input_changed = nullptr;
      auto status = StatusView(ctx, set_challenge);
      if (!status.ok()) return Fail(status.status());
      const json& c = (*status)["challenges"][0];
      if (!c["has_consent"].get<bool>()) {
        return Fail(FailedPrecondition(
            "challenge " + std::to_string(set_challenge) +
            " has no retention consent from its hosts; nothing changed (set-retention needs "
            "consent)"));
      }
      if (set_days) {
        const std::string reason = set_reason.empty() ? "set-retention" : set_reason;
        if (auto s = SetOverride(ctx, set_challenge, set_days, reason, "cli"); !s.ok()) {
          return Fail(s);
        }
      } else {
        if (auto s =
                RecordAdminAction(ctx, set_challenge, "cli", "set_retention_reapplied", set_reason);
            !s.ok()) {
          return Fail(s);
        }
      }
      auto outcome = (*app)->log_sync().ReconcileChallenge(set_challenge, ctx.clock->Now());
      if (!outcome.ok()) return Fail(outcome.status());
      auto after = StatusView(ctx, set_challenge);
      if (!after.ok()) return Fail(after.status());
      const json& a = (*after)["challenges"][0];
      const int requested = set_days.value_or(a["retention_days"].get<int>());
      json out = LogReconcileOutcomeJson(*outcome);
      out["requested_days"] = requested;
      out["retention_days"] = a["retention_days"];
      out["override_stored"] = set_days.has_value();
      if (g.json) {
        PrintJson(out);
      } else {
        std::cout << "log group " << outcome->log_group << ": requested " << requested << " days, ";
        if (outcome->state == "in_step") {
          std::cout << "applied "
                    << (outcome->applied_days ? std::to_string(*outcome->applied_days) + " days"
                                              : std::string("never expire"))
                    << (outcome->changed ? "" : " (already in step)") << "\n";
        } else if (outcome->state == "pending") {
          std::cout << "pending: the log group does not exist yet; the next reconcile applies "
                    << (outcome->desired_days ? std::to_string(*outcome->desired_days) + " days"
                                              : std::string("never expire"))
                    << "\n";
        } else {
          std::cout << "not applied\n";
        }
        std::cout << "  " << outcome->explanation << "\n";
      }
      if (outcome->state == "error") {
        return Fail(outcome->error.WithContext(
            std::string(set_days ? "override stored, but " : "") + "applying log retention to " +
            outcome->log_group + " failed (the next reconcile retries)"));
      }
      return 0;
    };
  });

  // phase-policy
  auto* policy_cmd = cli.add_subcommand(
      "phase-policy", "set a phase's retention days or keep, or clear its policy (admin)");
  std::int64_t policy_phase = 0;
  std::optional<int> policy_days;
  bool policy_keep = false;
  bool policy_clear = false;
  std::string policy_reason;
  policy_cmd->add_option("PHASE_ID", policy_phase)->required();
  policy_cmd->add_option("--days", policy_days, "retention days (1-3653) for this phase");
  policy_cmd->add_flag("--keep", policy_keep, "never delete this phase's submissions");
  policy_cmd->add_flag("--clear", policy_clear, "remove the phase's policy");
  policy_cmd->add_option("--reason", policy_reason, "why (stored in the audit log)")
      ->check(Utf8Text());
  policy_cmd->callback([&] {
    action = [&]() -> int {
      const int modes = (policy_days ? 1 : 0) + (policy_keep ? 1 : 0) + (policy_clear ? 1 : 0);
      if (modes != 1) {
        return Fail(InvalidArgument("phase-policy needs exactly one of --days N, --keep, --clear"));
      }
      if (policy_days) {
        if (auto s = CheckDays(*policy_days); !s.ok()) return Fail(s);
      }
      if (policy_reason.empty()) return Fail(InvalidArgument("phase-policy needs --reason TEXT"));
      auto app = OpenApp(g);
      if (!app.ok()) return Fail(app.status());
      const PhasePolicy policy{policy_days, policy_keep};
      if (auto s = SetPhasePolicy((*app)->context(), policy_phase, policy, policy_reason, "cli");
          !s.ok()) {
        return Fail(s);
      }
      const std::string what = policy_keep   ? "keep"
                               : policy_days ? std::to_string(*policy_days) + " retention days"
                                             : "cleared";
      if (g.json) {
        PrintJson({{"phase_id", policy_phase},
                   {"retention_days", policy_days ? json(*policy_days) : json()},
                   {"retention_policy", policy_keep ? json("keep") : json()},
                   {"reason", policy_reason}});
      } else {
        std::cout << "phase " << policy_phase << " policy: " << what << "\n";
      }
      return 0;
    };
  });

  // hold
  auto* hold_cmd = cli.add_subcommand("hold", "set or release a legal hold (admin)");
  std::string hold_verb;
  std::optional<std::int64_t> hold_challenge;
  std::optional<std::int64_t> hold_submission;
  std::string hold_reason;
  hold_cmd->add_option("ACTION", hold_verb, "set or release")
      ->required()
      ->check(CLI::IsMember({"set", "release"}));
  auto* hc = hold_cmd->add_option("--challenge-id", hold_challenge);
  auto* hs = hold_cmd->add_option("--submission-id", hold_submission);
  hc->excludes(hs);
  hold_cmd->add_option("--reason", hold_reason)->check(Utf8Text());
  hold_cmd->callback([&] {
    action = [&]() -> int {
      if (!hold_challenge && !hold_submission) {
        return Fail(InvalidArgument("hold needs --challenge-id or --submission-id"));
      }
      auto app = OpenApp(g);
      if (!app.ok()) return Fail(app.status());
      const bool on = hold_verb == "set";
      Status s =
          hold_challenge
              ? SetChallengeHold((*app)->context(), *hold_challenge, on, hold_reason, "cli")
              : SetSubmissionHold((*app)->context(), *hold_submission, on, hold_reason, "cli");
      if (!s.ok()) return Fail(s);
      const std::string what = hold_challenge ? "challenge " + std::to_string(*hold_challenge)
                                              : "submission " + std::to_string(*hold_submission);
      if (g.json) {
        PrintJson({{"target", what}, {"legal_hold", on}, {"reason", hold_reason}});
      } else {
        std::cout << "legal hold " << (on ? "set on " : "released on ") << what << "\n";
      }
      return 0;
    };
  });

  // audit
  auto* audit_cmd = cli.add_subcommand("audit", "list or verify the audit ledger");
  std::string audit_verb = "list";
  std::optional<std::int64_t> audit_challenge;
  std::string audit_format = "table";
  audit_cmd->add_option("ACTION", audit_verb, "list or verify")
      ->check(CLI::IsMember({"list", "verify"}));
  audit_cmd->add_option("--challenge-id", audit_challenge);
  audit_cmd->add_option("--format", audit_format)->check(CLI::IsMember({"table", "json", "csv"}));
  audit_cmd->callback([&] {
    action = [&]() -> int {
      auto app = OpenApp(g);
      if (!app.ok()) return Fail(app.status());
      auto conn = (*app)->db().Lock();
      if (audit_verb == "verify") {
        auto v = VerifyAuditChain(*conn);
        if (!v.ok()) return Fail(v.status());
        if (g.json || audit_format == "json") {
          PrintJson({{"ok", v->ok},
                     {"count", v->count},
                     {"bad_event_id", v->bad_event_id ? json(*v->bad_event_id) : json()},
                     {"error", v->ok ? json() : json(v->error)}});
        } else if (v->ok) {
          std::cout << "audit ledger verifies: " << v->count << " events\n";
        }
        if (!v->ok) {
          std::cerr << "error: audit ledger does not verify: " << EscapeInvalidUtf8(v->error)
                    << "\n";
          return 1;
        }
        return 0;
      }
      AuditFilter f;
      f.challenge_id = audit_challenge;
      f.limit = 100000;
      auto events = ListAuditEvents(*conn, f);
      if (!events.ok()) return Fail(events.status());
      if (g.json || audit_format == "json") {
        json arr = json::array();
        for (const auto& e : *events) arr.push_back(AuditEventJson(e));
        PrintJson({{"events", arr}});
      } else if (audit_format == "csv") {
        std::cout << AuditCsv(*events);
      } else {
        for (const auto& e : *events) {
          std::cout << e.id << "  " << FormatTime(e.at) << "  " << e.ledger << "  "
                    << (e.challenge_id ? "challenge " + std::to_string(*e.challenge_id)
                                       : std::string("-"))
                    << "  " << e.actor << "  " << e.action
                    << (e.notes.empty() ? "" : "  \"" + e.notes + "\"") << "\n";
        }
      }
      return 0;
    };
  });

  // user add
  auto* user_cmd = cli.add_subcommand("user", "manage users");
  user_cmd->require_subcommand(1);
  auto* user_add = user_cmd->add_subcommand("add", "add a user");
  std::string new_username;
  std::string new_email;
  bool new_admin = false;
  user_add->add_option("USERNAME", new_username)->required()->check(Utf8Text());
  user_add->add_option("--email", new_email)->required()->check(Utf8Text());
  user_add->add_flag("--admin", new_admin);
  user_add->callback([&] {
    action = [&]() -> int {
      auto app = OpenApp(g);
      if (!app.ok()) return Fail(app.status());
      auto u = AddUser((*app)->context(), new_username, new_email, new_admin);
      if (!u.ok()) return Fail(u.status());
      if (g.json) {
        PrintJson({{"id", u->id},
                   {"username", u->username},
                   {"email", u->email},
                   {"is_admin", u->is_admin}});
      } else {
        std::cout << "added user " << u->username << (u->is_admin ? " (admin)" : "") << "\n";
      }
      return 0;
    };
  });

  // token create
  auto* token_cmd = cli.add_subcommand("token", "manage API tokens");
  token_cmd->require_subcommand(1);
  auto* token_create = token_cmd->add_subcommand("create", "create a token for a user");
  std::string token_user;
  token_create->add_option("USERNAME", token_user)->required()->check(Utf8Text());
  token_create->callback([&] {
    action = [&]() -> int {
      auto app = OpenApp(g);
      if (!app.ok()) return Fail(app.status());
      auto t = CreateToken((*app)->context(), token_user, "cli");
      if (!t.ok()) return Fail(t.status());
      if (g.json) {
        PrintJson({{"username", token_user}, {"token", *t}});
      } else {
        std::cout << *t << "\n";
      }
      return 0;
    };
  });

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

  // Name an unknown command plainly (CLI11 would only say that a subcommand is required).
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--config" || arg == "--db") {
      ++i;
      continue;
    }
    if (arg.rfind('-', 0) == 0) continue;
    bool known = false;
    for (const auto* sub : cli.get_subcommands([](CLI::App*) { return true; })) {
      known = known || sub->get_name() == arg;
    }
    if (!known) {
      std::cerr << "error: unknown command '" << EscapeInvalidUtf8(arg)
                << "' (see retention --help)\n";
      return 2;
    }
    break;
  }
  try {
    cli.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return cli.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return cli.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "error: " << EscapeInvalidUtf8(e.what()) << "\n";
    return 2;
  }
  if (!action) return 2;
  return action();
}

}  // namespace retention
