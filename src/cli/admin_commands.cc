// The admins' retention actions: `set-retention` (R8), `phase-policy` (R1) and `hold`, and `keep`
// (R10), which hosts may use too (--as USERNAME).
#include <CLI/CLI.hpp>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/cli_common.h"
#include "service/log_retention_sync.h"
#include "service/service.h"

namespace retention {
namespace {

using nlohmann::json;

// Validates a day count given on the command line (R1 range); a usage error otherwise.
Status CheckDays(int days) {
  if (days < 1 || days > 3653) {
    return InvalidArgument("--days " + std::to_string(days) + " is out of range 1-3653");
  }
  return Status::Ok();
}

}  // namespace

void AddSetRetentionCommand(CLI::App& cli, GlobalOptions& g, CliAction& action) {
  // set-retention
  auto* set_cmd = cli.add_subcommand(
      "set-retention", "set (or re-apply) a challenge's retention days and log retention (admin)");
  static std::int64_t set_challenge = 0;
  static std::optional<int> set_days;
  static std::string set_reason;
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
      ctx.log_sync = nullptr;
      auto set = SetRetention(ctx, set_challenge, set_days, set_reason, "cli");
      if (!set.ok()) return Fail(set.status());
      auto outcome = (*app)->log_sync().ReconcileChallenge(set_challenge, ctx.clock->Now());
      if (!outcome.ok()) return Fail(outcome.status());
      const int requested = set_days.value_or(set->retention_days);
      json out = LogReconcileOutcomeJson(*outcome);
      out["requested_days"] = requested;
      out["retention_days"] = set->retention_days;
      out["override_stored"] = set->override_stored;
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
}

void AddPhasePolicyCommand(CLI::App& cli, GlobalOptions& g, CliAction& action) {
  // phase-policy
  auto* policy_cmd = cli.add_subcommand(
      "phase-policy", "set a phase's retention days or keep, or clear its policy (admin)");
  static std::int64_t policy_phase = 0;
  static std::optional<int> policy_days;
  static bool policy_keep = false;
  static bool policy_clear = false;
  static std::string policy_reason;
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
}

void AddHoldCommand(CLI::App& cli, GlobalOptions& g, CliAction& action) {
  // hold
  auto* hold_cmd = cli.add_subcommand("hold", "set or release a legal hold (admin)");
  static std::string hold_verb;
  static std::optional<std::int64_t> hold_challenge;
  static std::optional<std::int64_t> hold_submission;
  static std::string hold_reason;
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
}

void AddKeepCommand(CLI::App& cli, GlobalOptions& g, CliAction& action) {
  // keep
  auto* keep_cmd =
      cli.add_subcommand("keep", "keep a submission, or release its keep (R10; hosts and admins)");
  static std::string keep_verb;
  static std::int64_t keep_submission = 0;
  static std::string keep_reason;
  static std::optional<std::string> keep_as;
  keep_cmd->add_option("ACTION", keep_verb, "set or release")
      ->required()
      ->check(CLI::IsMember({"set", "release"}));
  keep_cmd->add_option("--submission-id", keep_submission)->required();
  keep_cmd->add_option("--reason", keep_reason, "why (stored in the audit log)")->check(Utf8Text());
  keep_cmd
      ->add_option("--as", keep_as,
                   "act as this user (a host of the challenge or an admin); without it the "
                   "operator acts as an admin, as for hold")
      ->check(Utf8Text());
  keep_cmd->callback([&] {
    action = [&]() -> int {
      if (keep_reason.empty()) return Fail(InvalidArgument("keep needs --reason TEXT"));
      auto app = OpenApp(g);
      if (!app.ok()) return Fail(app.status());
      const bool set = keep_verb == "set";
      auto r =
          set ? KeepSubmission((*app)->context(), keep_submission, std::nullopt, keep_reason,
                               keep_as)
              : ReleaseKeep((*app)->context(), keep_submission, std::nullopt, keep_reason, keep_as);
      if (!r.ok()) return Fail(r.status());
      if (g.json) {
        PrintJson({{"submission_id", r->submission_id},
                   {"challenge_id", r->challenge_id},
                   {"changed", r->changed},
                   {"kept", r->kept},
                   {"is_baseline", r->is_baseline},
                   {"baseline_released", r->baseline_released},
                   {"retention_eligible_date",
                    r->eligible_date ? json(FormatTime(*r->eligible_date)) : json()},
                   {"reason", keep_reason}});
      } else {
        std::cout << "submission " << r->submission_id << (r->kept ? ": kept" : ": not kept")
                  << (r->changed ? "" : " (unchanged)") << "; eligible date "
                  << (r->eligible_date ? FormatTime(*r->eligible_date) : std::string("none"))
                  << "\n";
      }
      return 0;
    };
  });
}

}  // namespace retention
