// `consent CHALLENGE_ID USERNAME [--notes TEXT] [--withdraw]` (R7).
#include <CLI/CLI.hpp>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/cli_common.h"
#include "service/service.h"
#include "service/views.h"

namespace retention {

using nlohmann::json;

void AddConsentCommand(CLI::App& cli, GlobalOptions& g, CliAction& action) {
  // consent
  auto* consent_cmd = cli.add_subcommand("consent", "record (or withdraw) a host's consent");
  static std::int64_t consent_challenge = 0;
  static std::string consent_user;
  static std::optional<std::string> consent_notes;
  static bool withdraw = false;
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
}

}  // namespace retention
