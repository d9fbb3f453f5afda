#include "cli/cli.h"

#include <CLI/CLI.hpp>
#include <iostream>
#include <string>

#include "cli/build_info.h"
#include "cli/cli_common.h"
#include "core/utf8.h"

namespace retention {
namespace {

// The subcommands in the order --help lists them; each registers itself and sets the action.
using AddCommand = void (*)(CLI::App& cli, GlobalOptions& g, CliAction& action);
constexpr AddCommand kCommands[] = {
    &AddServeCommand,        &AddJobCommands,        &AddImportCommand,  &AddSyncCommand,
    &AddConsentCommand,      &AddStatusCommand,      &AddCleanupCommand, &AddUpdateDatesCommand,
    &AddSetRetentionCommand, &AddPhasePolicyCommand, &AddHoldCommand,    &AddKeepCommand,
    &AddAuditCommand,        &AddUserCommands,       &AddMigrateCommand,
};

}  // namespace

int RunCli(int argc, char** argv) {
  CLI::App cli{"retention: consent-based data retention for challenge platforms"};
  cli.require_subcommand(1);
  GlobalOptions g;
  cli.add_option("--config", g.config_file, "TOML configuration file");
  cli.add_option("--db", g.db_url, "database URL (sqlite://PATH)");
  cli.add_flag("--json", g.json, "print exactly one JSON document on stdout");
  cli.set_version_flag("--version",
                       std::string("retention ") + kBuildVersion + " (commit " + kBuildCommit +
                           ", " + kBuildType + " build)",
                       "print the version, git commit and build type, and exit");

  CliAction action;
  for (AddCommand add : kCommands) add(cli, g, action);

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
  } catch (const CLI::CallForVersion& e) {
    return cli.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "error: " << EscapeInvalidUtf8(e.what()) << "\n";
    return 2;
  }
  if (!action) return 2;
  return action();
}

}  // namespace retention
