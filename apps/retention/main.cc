// The `retention` binary: composition only.
#include "cli/cli.h"

int main(int argc, char** argv) { return retention::RunCli(argc, argv); }
