// `audit [list|verify] [--challenge-id ID] [--format table|json|csv]`: the ledger (R7).
#include <CLI/CLI.hpp>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/cli_common.h"
#include "core/utf8.h"
#include "service/audit_log.h"
#include "service/views.h"

namespace retention {

using nlohmann::json;

void AddAuditCommand(CLI::App& cli, GlobalOptions& g, CliAction& action) {
  // audit
  auto* audit_cmd = cli.add_subcommand("audit", "list or verify the audit ledger");
  static std::string audit_verb = "list";
  static std::optional<std::int64_t> audit_challenge;
  static std::string audit_format = "table";
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
}

}  // namespace retention
