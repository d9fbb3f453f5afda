// `retention jobs [list | run NAME]` and `retention notify [--dry-run]` (issue 4).
#include <cstdlib>
#include <iostream>
#include <memory>

#include "cli/cli_common.h"
#include "jobs/jobs.h"
#include "jobs/notices.h"
#include "scheduler/scheduler.h"

namespace retention {
namespace {

using nlohmann::json;

// What a job command needs: the App, whose job environment carries the schedule, the mail sender
// (smtp.url) and the log-retention hook.
struct JobCli {
  std::unique_ptr<App> app;
  const JobEnvironment& env() const { return app->jobs(); }
};

Result<std::unique_ptr<JobCli>> OpenJobCli(const GlobalOptions& g) {
  auto out = std::make_unique<JobCli>();
  ASSIGN_OR_RETURN(out->app, OpenApp(g));
  return out;
}

std::string Actor() {
  const char* user = std::getenv("USER");
  return std::string("cli:") + (user != nullptr && *user != '\0' ? user : "unknown");
}

std::string KnownJobs() {
  std::string s;
  for (std::string_view n : kJobNames) s += (s.empty() ? "" : ", ") + std::string(n);
  return s;
}

int ListCommand(const GlobalOptions& g) {
  auto cli = OpenJobCli(g);
  if (!cli.ok()) return Fail(cli.status());
  auto jobs = ListJobs((*cli)->env());
  if (!jobs.ok()) return Fail(jobs.status());
  if (g.json) {
    PrintJson(*jobs);
    return 0;
  }
  for (const json& j : (*jobs)["jobs"]) {
    std::cout << Str(j["name"]) << "\n  cron " << Str(j["cron"]) << " (UTC), next run "
              << Str(j["next_run"]) << "\n  last run ";
    const json& last = j["last_run"];
    if (last.is_null()) {
      std::cout << "never";
    } else {
      std::cout << Str(last["id"]) << " (" << Str(last["trigger"]) << ") " << Str(last["status"])
                << ", started " << Str(last["started_at"]) << ", finished "
                << Str(last["finished_at"]);
    }
    std::cout << "\n  last success " << Str(j["last_success"]) << "\n";
  }
  return 0;
}

int RunCommand(const GlobalOptions& g, const std::string& name) {
  if (!IsJobName(name)) {
    return Fail(InvalidArgument("unknown job '" + name + "'; known jobs: " + KnownJobs()));
  }
  auto cli = OpenJobCli(g);
  if (!cli.ok()) return Fail(cli.status());
  auto run =
      RunJobNow((*cli)->env(), name, Actor(), nullptr, SchedulerOptionsFor((*cli)->app->config()));
  if (!run.ok()) return Fail(run.status());
  const std::string status = (*run)["status"].get<std::string>();
  if (g.json) {
    PrintJson(*run);
  } else {
    std::cout << "run " << Str((*run)["run_id"]) << " of " << name << ": " << status << "\n"
              << (*run)["result"].dump(2) << "\n";
  }
  if (status == "failed") {
    std::cerr << "error: job " << name << " failed: " << Str((*run)["result"]["error"]) << "\n";
    return 1;
  }
  return status == "succeeded" ? 0 : 1;
}

void PrintNotices(const json& r) {
  const bool dry = r["dry_run"].get<bool>();
  std::cout << (dry ? "would notice " : "noticed ") << Str(r["submissions_noticed"])
            << " submissions (eligible before " << Str(r["cutoff"]) << "; next scheduled run "
            << Str(r["next_run"]) << ")\n";
  for (const json& n : r["notices"]) {
    std::cout << "  challenge " << Str(n["challenge_id"]) << " \"" << Str(n["challenge_title"])
              << "\": " << Str(n["submissions"]) << " submissions, deletion date "
              << Str(n["deletion_date"]) << ", first sweep " << Str(n["first_sweep"]) << "; ";
    if (n["suppressed"].get<bool>()) {
      std::cout << "suppressed (" << Str(n["suppressed_reason"]) << ")\n";
    } else {
      std::string to;
      for (const json& e : n["recipients"]) to += (to.empty() ? "" : ", ") + Str(e);
      std::cout << (dry ? "would mail " : "mailed ") << to << "\n";
    }
  }
  if (!dry) {
    const json& d = r["delivery"];
    std::cout << "delivery: " << Str(d["sent"]) << " sent, " << Str(d["retry_later"])
              << " to retry, " << Str(d["failed"]) << " failed";
    if (d.contains("note")) std::cout << " (" << Str(d["note"]) << ")";
    std::cout << "\n";
    for (const json& e : r["errors"]) std::cout << "  " << Str(e) << "\n";
  } else {
    std::cout << "outbox (newest first):\n";
    if (r["outbox"].empty()) std::cout << "  empty\n";
    for (const json& e : r["outbox"]) {
      std::cout << "  " << Str(e["id"]) << " " << Str(e["state"]) << " to " << Str(e["recipient"])
                << " (challenge " << Str(e["challenge_id"]) << ", " << Str(e["attempts"])
                << " attempts)";
      if (!e["last_error"].is_null()) std::cout << ": " << Str(e["last_error"]);
      std::cout << "\n";
    }
  }
}

int NotifyCommand(const GlobalOptions& g, bool dry_run) {
  auto cli = OpenJobCli(g);
  if (!cli.ok()) return Fail(cli.status());
  const TimePoint now = (*cli)->app->clock().Now();
  auto r = ProcessNotices((*cli)->env(), now, dry_run);
  if (!r.ok()) return Fail(r.status());
  if (g.json) {
    PrintJson(*r);
  } else {
    PrintNotices(*r);
  }
  // The other challenges were noticed; a challenge whose hosts got nothing needs an operator.
  if (const json& failed = (*r)["challenges_failed"]; !failed.empty()) {
    std::cerr << "error: notices of " << failed.size()
              << " challenge(s) could not be queued: " << Str(failed[0]["error"]) << "\n";
    return 1;
  }
  return 0;
}

}  // namespace

void AddJobCommands(CLI::App& cli, GlobalOptions& g, CliAction& action) {
  // Options outlive this function: the action runs after parsing.
  struct State {
    std::string job;
    bool dry_run = false;
  };
  auto state = std::make_shared<State>();

  auto* jobs = cli.add_subcommand("jobs", "list the scheduled jobs, or run one now");
  auto* list = jobs->add_subcommand("list", "each job: cron, next run, last run");
  auto* run = jobs->add_subcommand("run", "run a job now in this process, to its end");
  run->add_option("NAME", state->job, "job name: " + KnownJobs())->required();
  jobs->require_subcommand(0, 1);
  (void)list;  // `jobs` alone lists too
  jobs->callback([&g, &action, run, state] {
    if (run->parsed()) {
      action = [&g, state] { return RunCommand(g, state->job); };
    } else {
      action = [&g] { return ListCommand(g); };
    }
  });

  auto* notify = cli.add_subcommand(
      "notify", "queue and deliver the notices due now (R4); --dry-run lists them and the outbox");
  notify->add_flag("--dry-run", state->dry_run, "list what would be sent; change nothing");
  notify->callback(
      [&g, &action, state] { action = [&g, state] { return NotifyCommand(g, state->dry_run); }; });
}

}  // namespace retention
