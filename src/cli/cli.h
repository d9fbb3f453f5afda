// The `retention` command line (DESIGN.md section 5) on CLI11: parses arguments, opens the App,
// calls the service functions, and prints text or (with --json) exactly one JSON document on
// stdout. Errors are one line on stderr; exit codes 0 done, 1 failed, 2 usage, 3 refused.
#pragma once

namespace retention {

// Runs the command line; returns the process exit code.
int RunCli(int argc, char** argv);

}  // namespace retention
