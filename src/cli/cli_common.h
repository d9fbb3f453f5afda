// Helpers shared by the command-line files: global options, error printing with exit codes, JSON
// output, and opening the App. Used only inside cli/.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "app/app.h"
#include "core/status.h"

namespace retention {

struct GlobalOptions {
  std::string config_file;
  std::string db_url;
  bool json = false;
};

// The action chosen by the parsed subcommand; RunCli runs it after parsing.
using CliAction = std::function<int()>;

// Prints "error: message" on stderr (bytes that are not UTF-8 written as \xNN); returns the exit
// code for the status.
int Fail(const Status& s);
// Prints one JSON document on stdout.
void PrintJson(const nlohmann::json& j);
// "1.5 MiB".
std::string Bytes(std::int64_t b);
// A JSON scalar for text output ("-" for null).
std::string Str(const nlohmann::json& j);
// A CLI11 check for text the service stores or echoes (notes, reasons, names): refuses a value
// that is not valid UTF-8, so that a usage error (exit 2) names the option before anything runs.
const CLI::Validator& Utf8Text();
// Loads the configuration (file, environment, --db) and opens the App.
Result<std::unique_ptr<App>> OpenApp(const GlobalOptions& g);

// Subcommands defined in other files of cli/: each registers itself on `cli` and sets `action`
// when chosen.
void AddServeCommand(CLI::App& cli, GlobalOptions& g, CliAction& action);
void AddJobCommands(CLI::App& cli, GlobalOptions& g, CliAction& action);
void AddCleanupCommand(CLI::App& cli, GlobalOptions& g, CliAction& action);
void AddImportCommand(CLI::App& cli, GlobalOptions& g, CliAction& action);
void AddSyncCommand(CLI::App& cli, GlobalOptions& g, CliAction& action);
void AddStatusCommand(CLI::App& cli, GlobalOptions& g, CliAction& action);
void AddUpdateDatesCommand(CLI::App& cli, GlobalOptions& g, CliAction& action);
void AddMigrateCommand(CLI::App& cli, GlobalOptions& g, CliAction& action);
void AddConsentCommand(CLI::App& cli, GlobalOptions& g, CliAction& action);
void AddSetRetentionCommand(CLI::App& cli, GlobalOptions& g, CliAction& action);
void AddPhasePolicyCommand(CLI::App& cli, GlobalOptions& g, CliAction& action);
void AddHoldCommand(CLI::App& cli, GlobalOptions& g, CliAction& action);
void AddKeepCommand(CLI::App& cli, GlobalOptions& g, CliAction& action);
void AddAuditCommand(CLI::App& cli, GlobalOptions& g, CliAction& action);
void AddUserCommands(CLI::App& cli, GlobalOptions& g, CliAction& action);

}  // namespace retention
