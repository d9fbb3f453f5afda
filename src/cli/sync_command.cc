// `sync evalai [--dry-run] [--full]` (DESIGN.md 7b): reads EvalAI's own database into ours.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/cli_common.h"
#include "service/evalai_sync.h"

namespace retention {
namespace {

using nlohmann::json;

struct SyncArgs {
  bool dry_run = false;
  bool full = false;
};

void PrintText(const EvalaiSyncReport& r, const json* write_back) {
  std::cout << "sync evalai" << (r.dry_run ? " (dry run: nothing changed)" : "")
            << (r.full ? ", full pass" : ", incremental") << "\n";
  for (const char* t : {"users", "host_teams", "host_team_members", "challenges", "phases",
                        "submissions", "artifacts"}) {
    const EvalaiTableCounts& c = r.tables.at(t);
    std::cout << "  " << t << ": " << c.added << " added, " << c.changed << " changed, "
              << c.unchanged << " unchanged, " << c.gone << " gone (kept)";
    if (!c.gone_ids.empty() && std::string(t) != "artifacts") {
      std::cout << ", gone ids:";
      for (std::size_t i = 0; i < c.gone_ids.size() && i < 10; ++i)
        std::cout << " " << c.gone_ids[i];
      if (c.gone_ids.size() > 10) std::cout << " ...";
    }
    std::cout << "\n";
  }
  std::cout << "  EvalAI's retention fields: " << (r.retention_columns ? "present" : "absent")
            << "; consents imported: " << r.consents_imported
            << ", overrides imported: " << r.overrides_imported << "\n";
  if (r.sizes_filled > 0 || r.sizes_unknown > 0) {
    std::cout << "  artifact sizes: " << r.sizes_filled << " filled from storage, "
              << r.sizes_unknown << " still unknown\n";
  }
  for (const std::string& w : r.warnings) std::cout << "  warning: " << w << "\n";
  if (write_back != nullptr) {
    std::cout << "  write-back: " << (*write_back)["written"] << " submissions written";
    if (!(*write_back)["error"].is_null()) {
      std::cout << "; error: " << (*write_back)["error"].get<std::string>() << " ("
                << (*write_back)["pending"] << " pending, retried next time)";
    }
    std::cout << "\n";
  }
  std::cout << (r.NothingChanged() ? "nothing changed\n"
                                   : (r.dry_run ? "changes found (not applied)\n" : ""));
}

int RunSync(const GlobalOptions& g, const SyncArgs& args) {
  auto app = OpenApp(g);
  if (!app.ok()) return Fail(app.status());
  EvalaiSource* evalai = (*app)->evalai();
  if (evalai == nullptr) {
    return Fail(InvalidArgument(
        "sync evalai: evalai.url is not set (config [evalai] url, or RETENTION_EVALAI_DB)"));
  }
  EvalaiSyncOptions o;
  o.dry_run = args.dry_run;
  o.full = args.full;
  const bool tty = !g.json && ::isatty(STDERR_FILENO) != 0;
  if (tty) {
    o.progress = [](std::string_view table, std::int64_t rows) {
      std::cerr << "\rsync evalai: " << table << ": " << rows << " rows read   " << std::flush;
    };
  }
  auto r = SyncEvalai((*app)->context(), *evalai, o);
  if (tty) std::cerr << "\n";
  if (!r.ok()) return Fail(r.status());
  std::optional<json> write_back;
  if (!o.dry_run && evalai->settings().write_back) {
    write_back = EvalaiWriteBackJson(WriteBackToEvalai((*app)->context(), *evalai));
  }
  // Audited when it changed something, so that a sync that finds nothing leaves the store as
  // it was (idempotent, byte for byte).
  if (!o.dry_run && !r->NothingChanged()) {
    (void)RecordAdminAction((*app)->context(), std::nullopt, "cli", "evalai_sync",
                            "evalai sync applied changes");
  }
  if (g.json) {
    json j = EvalaiSyncJson(*r);
    if (write_back) j["write_back"] = *write_back;
    PrintJson(j);
  } else {
    PrintText(*r, write_back ? &*write_back : nullptr);
  }
  return 0;
}

}  // namespace

void AddSyncCommand(CLI::App& cli, GlobalOptions& g, CliAction& action) {
  auto* sync = cli.add_subcommand("sync", "keep the store in step with a platform's database");
  sync->require_subcommand(1);
  auto* evalai = sync->add_subcommand("evalai", "read EvalAI's database (DESIGN.md 7b)");
  static SyncArgs args;
  evalai->add_flag("--dry-run", args.dry_run, "report what would change, change nothing");
  evalai->add_flag("--full", args.full, "a full pass now (also finds rows gone from EvalAI)");
  evalai->callback([&] { action = [&] { return RunSync(g, args); }; });
}

}  // namespace retention
