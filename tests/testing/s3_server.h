// The S3 of the unit tests: tests/integration/s3_server.py, which runs s3rver (npm, installed by
// tools/install-deps.sh) behind a proxy that verifies every SigV4 signature with botocore,
// checks Content-MD5, counts requests and injects faults (see that script). Started once per
// test binary on free loopback ports, with a temp folder; stopped at exit (and it dies with the
// test process). Part of retention::testing; header-only.
#pragma once

#include <atomic>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "artifacts/s3/s3_artifact_store.h"
#include "testing/port_process.h"

namespace retention::testing {

inline constexpr char kS3Python[] = "/usr/bin/python3";
inline constexpr char kS3AccessKey[] = "S3RVER";  // the only key s3rver accepts
inline constexpr char kS3SecretKey[] = "S3RVER";
inline constexpr char kS3Bucket[] = "retention-test";
inline constexpr char kS3Region[] = "us-east-1";

class S3Server {
 public:
  S3Server()
      : process_({kS3Python, std::string(RETENTION_SOURCE_DIR) + "/tests/integration/s3_server.py",
                  "--port", "0", "--bucket", kS3Bucket, "--region", kS3Region}) {}

  // The server of this test binary, started at the first call.
  static S3Server& Shared() {
    static S3Server server;
    return server;
  }

  // Why the server is not running ("" when it is): it needs /usr/bin/python3 with
  // python3-botocore and tests/s3rver/node_modules (tools/install-deps.sh).
  std::string error() const {
    if (process_.error().empty()) return "";
    return process_.error() + " (the S3 tests need " + kS3Python +
           " with python3-botocore and npm's s3rver: run tools/install-deps.sh)";
  }
  std::string Endpoint() const { return "http://127.0.0.1:" + std::to_string(process_.port()); }
  // A storage URL for objects under `prefix` in the test bucket.
  std::string Url(const std::string& prefix) const {
    return "s3://" + std::string(kS3Bucket) + "/" + prefix + "?region=" + kS3Region +
           "&endpoint=" + Endpoint();
  }
  // Options with the test credentials and millisecond backoff.
  static S3Options FastOptions() {
    S3Options options;
    options.credentials = AwsCredentials{kS3AccessKey, kS3SecretKey, ""};
    options.base_delay = std::chrono::milliseconds(1);
    options.max_delay = std::chrono::milliseconds(4);
    return options;
  }
  // A prefix no other test of this binary uses.
  static std::string FreshPrefix() {
    static std::atomic<int> next{0};
    return "t" + std::to_string(getpid()) + "-" + std::to_string(next++);
  }

  // The proxy's record of signed requests: {"calls": [{"method", "path", "query", "keys",
  // "status"}]}; faults and reset as documented in s3_server.py.
  nlohmann::json Calls() const { return ControlCall(Endpoint() + "/_s3/calls")["calls"]; }
  void Faults(const nlohmann::json& faults) const {
    ControlCall(Endpoint() + "/_s3/faults", faults);
  }
  void Reset() const { ControlCall(Endpoint() + "/_s3/reset", nlohmann::json::object()); }

 private:
  PortProcess process_;
};

// An empty S3 store under a fresh prefix of the shared server (the artifact contract suite's
// entry); Unavailable naming the reason when the server cannot start.
inline Result<std::unique_ptr<ArtifactStore>> OpenS3TestStore(const std::filesystem::path&) {
  S3Server& server = S3Server::Shared();
  if (!server.error().empty()) return Unavailable(server.error());
  ASSIGN_OR_RETURN(auto store, S3ArtifactStore::Open(server.Url(S3Server::FreshPrefix()),
                                                     S3Server::FastOptions()));
  return std::unique_ptr<ArtifactStore>(std::move(store));
}

}  // namespace retention::testing
