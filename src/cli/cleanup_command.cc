// `retention cleanup [--dry-run] [--as-of TIME] [--challenge-id ID]`: the sweep or its dry run,
// with a report written as the sweep goes (text, or DESIGN.md section 5's one JSON document), so
// that its memory does not grow with the number of submissions listed.
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/cli_common.h"
#include "service/service.h"
#include "service/sweep.h"
#include "service/views.h"

namespace retention {
namespace {

using nlohmann::json;

std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::strict); }

// Lines for people, printed as each batch ends.
class TextSweepWriter final : public SweepListener {
 public:
  explicit TextSweepWriter(bool dry_run)
      : verb_(dry_run ? "would delete" : "deleted"), terminal_(isatty(STDOUT_FILENO) != 0) {}
  TextSweepWriter(const TextSweepWriter&) = delete;
  TextSweepWriter& operator=(const TextSweepWriter&) = delete;
  ~TextSweepWriter() override { Flush(); }
  // Findings are appended to one buffer that goes out in writes of about 64 KiB (and at the
  // end): a report of a million lines costs a few thousand writes, not one per line. On a
  // terminal each line goes out at once.
  void OnItem(const SweptSubmission& s) override {
    line_ += "challenge ";
    line_ += std::to_string(s.challenge_id);
    line_ += " submission ";
    line_ += std::to_string(s.submission_id);
    line_ += ": ";
    line_ += verb_;
    line_ += ' ';
    line_ += std::to_string(s.artifacts.size());
    line_ += " artifacts, ";
    line_ += Bytes(s.bytes);
    if (s.schedule) {  // a forecast: when, by the projection of the schedule
      line_ += "; notice ";
      line_ += s.schedule->notice_at ? FormatTime(*s.schedule->notice_at) : "none";
      line_ += s.schedule->notice_recorded ? " (sent)" : " (projected)";
      line_ += ", deletable from ";
      line_ += s.schedule->deletion_date ? FormatTime(*s.schedule->deletion_date) : "never";
      line_ += ", deleted by the sweep of ";
      line_ += s.schedule->sweep_at ? FormatTime(*s.schedule->sweep_at) : "none";
    }
    line_ += '\n';
    for (const auto& a : s.artifacts) {
      line_ += "    ";
      line_ += a.kind;
      line_ += ' ';
      line_ += a.key;
      line_ += " (";
      line_ += Bytes(a.bytes);
      line_ += ")\n";
    }
    FlushWhenFull();
  }
  void OnSkipped(const SkippedSubmission& s) override {
    line_ += "skipped submission ";
    line_ += std::to_string(s.submission_id);
    line_ += " (challenge ";
    line_ += std::to_string(s.challenge_id);
    line_ += "): ";
    line_ += s.reason;
    line_ += ": ";
    line_ += s.detail;
    line_ += '\n';
    FlushWhenFull();
  }
  void OnFailed(const FailedArtifact& f) override {
    line_ += "FAILED submission " + std::to_string(f.submission_id) + " " + f.key + ": " + f.error +
             "\n";
    FlushWhenFull();
  }
  void Finish(const SweepReport& r) {
    Flush();
    std::cout << (r.dry_run ? "Dry run as of " : "Sweep at ") << FormatTime(r.as_of) << ": "
              << r.submissions_deleted << " submissions, " << r.artifacts_deleted << " artifacts, "
              << Bytes(r.bytes_freed) << " " << verb_ << "; " << r.skipped_count << " skipped, "
              << r.failed_count << " failed; " << r.eligible_in_future << " scheduled later, "
              << r.not_eligible << " without an eligible date; " << r.kept << " kept";
    if (r.recovered_gone + r.recovered_present > 0) {
      std::cout << "; an earlier run's " << r.recovered_gone + r.recovered_present
                << " interrupted deletions recorded (" << r.recovered_gone << " gone, "
                << r.recovered_present << " still stored)";
    }
    std::cout << (r.interrupted ? " (interrupted)" : "") << "\n";
  }

  // Writes out what is buffered.
  void Flush() {
    std::cout.write(line_.data(), static_cast<std::streamsize>(line_.size()));
    std::cout.flush();
    line_.clear();
  }

 private:
  void FlushWhenFull() {
    if (terminal_ || line_.size() >= 64 * 1024) Flush();
  }

  const char* verb_;
  bool terminal_;
  std::string line_;  // the findings not written yet
};

// One JSON document on stdout: the listed submissions are written as they come; the skipped and
// failed lists go to temporary files (they come interleaved with the items) and are copied in
// after them, so memory stays flat whatever the lists hold. Nothing is written before the first
// finding or Finish, so an error found before the walk stays one line on stderr.
class JsonSweepWriter final : public SweepListener {
 public:
  explicit JsonSweepWriter(bool dry_run)
      : dry_run_(dry_run),
        skipped_(std::tmpfile(), &std::fclose),
        failed_(std::tmpfile(), &std::fclose) {}
  bool ok() const { return skipped_ != nullptr && failed_ != nullptr; }
  bool started() const { return started_; }
  void OnItem(const SweptSubmission& s) override {
    Start();
    line_.assign(items_++ > 0 ? ",\n" : "\n");
    AppendSweptSubmissionJson(line_, s);
    std::cout << line_;
  }
  void OnSkipped(const SkippedSubmission& s) override {
    Spill(skipped_.get(), skipped_count_++, Dump(SkippedSubmissionJson(s)));
  }
  void OnFailed(const FailedArtifact& f) override {
    Spill(failed_.get(), failed_count_++, Dump(FailedArtifactJson(f)));
  }
  // Closes the lists, adds the summary keys and ends the document.
  void Finish(const SweepReport& r) {
    Start();
    std::cout << "],\n\"skipped\":[";
    Copy(skipped_.get());
    std::cout << "],\n\"failed\":[";
    Copy(failed_.get());
    std::cout << "]";
    const json summary = SweepSummaryJson(r);
    for (const auto& [key, value] : summary.items()) {
      std::cout << ",\n" << Dump(json(key)) << ":" << Dump(value);
    }
    std::cout << "}\n" << std::flush;
  }

 private:
  void Start() {
    if (started_) return;
    started_ = true;
    std::cout << "{\"" << (dry_run_ ? "deletable" : "deleted") << "\":[";
  }
  static void Spill(std::FILE* f, std::int64_t index, const std::string& text) {
    if (index > 0) std::fputs(",\n", f);
    std::fputs(text.c_str(), f);
  }
  static void Copy(std::FILE* f) {
    std::fflush(f);
    std::rewind(f);
    char buf[1 << 16];
    std::size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) std::cout.write(buf, static_cast<long>(n));
  }

  bool dry_run_;
  bool started_ = false;
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> skipped_;
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> failed_;
  std::int64_t items_ = 0, skipped_count_ = 0, failed_count_ = 0;
  std::string line_;  // reused for each listed submission
};

struct CleanupArgs {
  bool dry_run = false;
  std::string as_of;
  std::optional<std::int64_t> challenge_id;
};

int RunCleanup(const GlobalOptions& g, const CleanupArgs& args) {
  SweepOptions o;
  o.dry_run = args.dry_run;
  o.challenge_id = args.challenge_id;
  o.keep_items = false;
  o.max_listed_problems = 0;
  if (!args.as_of.empty()) {
    auto t = ParseTime(args.as_of);
    if (!t.ok()) return Fail(t.status().WithContext("--as-of"));
    o.as_of = *t;
  }
  if (o.as_of && !o.dry_run) {
    return Fail(
        InvalidArgument("--as-of is only allowed with --dry-run (a sweep acts on the "
                        "present)"));
  }
  const bool tty = !g.json && ::isatty(STDERR_FILENO) != 0;
  if (tty) {
    o.progress = [](std::int64_t done, std::int64_t total) {
      std::cerr << "\rsweep: " << done << "/" << total << " submissions examined" << std::flush;
    };
  }
  auto app = OpenApp(g);
  if (!app.ok()) return Fail(app.status());
  std::unique_ptr<JsonSweepWriter> json_writer;
  std::unique_ptr<TextSweepWriter> text_writer;
  if (g.json) {
    json_writer = std::make_unique<JsonSweepWriter>(o.dry_run);
    if (!json_writer->ok())
      return Fail(Unavailable("cannot create a temporary file for the report"));
    o.listener = json_writer.get();
  } else {
    text_writer = std::make_unique<TextSweepWriter>(o.dry_run);
    o.listener = text_writer.get();
  }
  auto r = RunSweep((*app)->context(), o);
  if (tty) std::cerr << "\n";
  if (!r.ok()) {
    if (json_writer && json_writer->started()) {
      // Close the document so that stdout stays one valid JSON value; the error is on stderr.
      SweepReport partial;
      partial.dry_run = o.dry_run;
      partial.interrupted = true;
      json_writer->Finish(partial);
    }
    if (text_writer) text_writer->Flush();  // what was found before the error, then the error
    return Fail(r.status());
  }
  if (!o.dry_run) {
    (void)RecordAdminAction((*app)->context(), o.challenge_id, "cli", "cleanup_run",
                            std::to_string(r->submissions_deleted) + " submissions, " +
                                std::to_string(r->bytes_freed) + " bytes deleted");
  }
  if (json_writer) {
    json_writer->Finish(*r);
  } else {
    text_writer->Finish(*r);
  }
  // DESIGN.md 7b: tell EvalAI's rows what was swept; its failure never fails the sweep (the next
  // sweep or sync retries what is pending).
  if (EvalaiSource* evalai = (*app)->evalai();
      !o.dry_run && evalai != nullptr && evalai->settings().write_back) {
    const EvalaiWriteBackReport wb = WriteBackToEvalai((*app)->context(), *evalai);
    if (!wb.error.empty()) {
      std::cerr << "warning: evalai write-back: " << wb.error << " (" << wb.pending
                << " submissions pending; retried by the next sweep or sync)\n";
    } else if (!g.json) {
      std::cout << "evalai write-back: " << wb.written << " submissions\n";
    }
  }
  return r->failed_count > 0 ? 1 : 0;
}

}  // namespace

void AddCleanupCommand(CLI::App& cli, GlobalOptions& g, CliAction& action) {
  auto args = std::make_shared<CleanupArgs>();
  auto* cmd = cli.add_subcommand("cleanup", "run the sweep now (or a dry run)");
  cmd->add_flag("--dry-run", args->dry_run, "list what would be deleted; change nothing");
  cmd->add_option("--as-of", args->as_of, "forecast as of this RFC 3339 time (with --dry-run)");
  cmd->add_option("--challenge-id", args->challenge_id, "only this challenge");
  cmd->callback([&g, &action, args] { action = [&g, args] { return RunCleanup(g, *args); }; });
}

}  // namespace retention
