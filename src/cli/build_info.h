// What `retention --version` prints: the project's version, the git commit it was built from
// (with "-dirty" for uncommitted changes, "unknown" outside a checkout) and the CMake build type.
// Defined in a source that cmake/BuildInfo.cmake writes at every build.
#pragma once

namespace retention {

extern const char* const kBuildVersion;
extern const char* const kBuildCommit;
extern const char* const kBuildType;

}  // namespace retention
