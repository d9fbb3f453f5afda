// The strict fake CloudWatch Logs server for unit tests: tests/integration/fake_cloudwatch.py,
// run with Debian's /usr/bin/python3, which verifies every SigV4 signature with botocore. Part of
// retention::testing; header-only (it uses GoogleTest and libcurl).
#pragma once

#include <unistd.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "testing/port_process.h"

namespace retention::testing {

inline constexpr char kFakeCloudWatchPython[] = "/usr/bin/python3";
inline constexpr char kFakeAccessKey[] = "AKIDEXAMPLE";
inline constexpr char kFakeSecretKey[] = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

// A fake_cloudwatch.py process on a free loopback port, stopped (by its pid) when destroyed. It
// accepts only requests signed with kFakeAccessKey / kFakeSecretKey for region us-east-1.
class FakeCloudWatch {
 public:
  // Starts the fake; on failure error() says why.
  explicit FakeCloudWatch(std::vector<std::string> extra_args = {}) {
    if (access(kFakeCloudWatchPython, X_OK) != 0) {
      error_ = std::string(kFakeCloudWatchPython) +
               " not found: the CloudWatch tests need Debian's python3 with python3-botocore "
               "(apt-get install python3-botocore)";
      return;
    }
    const std::string script =
        std::string(RETENTION_SOURCE_DIR) + "/tests/integration/fake_cloudwatch.py";
    std::vector<std::string> args = {kFakeCloudWatchPython,
                                     script,
                                     "--port",
                                     "0",
                                     "--region",
                                     "us-east-1",
                                     "--access-key",
                                     kFakeAccessKey,
                                     "--secret-key",
                                     kFakeSecretKey};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    process_ = std::make_unique<PortProcess>(std::move(args));
    if (!process_->error().empty()) {
      error_ = process_->error() + "; it needs " + kFakeCloudWatchPython +
               " with python3-botocore (apt-get install python3-botocore)";
    }
  }
  FakeCloudWatch(const FakeCloudWatch&) = delete;
  FakeCloudWatch& operator=(const FakeCloudWatch&) = delete;

  const std::string& error() const { return error_; }
  std::string Endpoint() const {
    return "http://127.0.0.1:" + std::to_string(process_ ? process_->port() : 0);
  }
  std::string Url() const { return "cloudwatch://us-east-1?endpoint=" + Endpoint(); }

  // An unsigned call to a /_fake/ control endpoint; returns the JSON answer.
  nlohmann::json Control(const std::string& path, const nlohmann::json& body = nullptr) {
    return ControlCall(Endpoint() + path, body);
  }
  void CreateGroup(const std::string& name) { Control("/_fake/groups", {{"name", name}}); }
  void InjectErrors(const std::string& operation, const std::string& type, int count) {
    Control("/_fake/errors", {{"operation", operation}, {"type", type}, {"count", count}});
  }
  nlohmann::json Calls() { return Control("/_fake/calls"); }
  std::optional<int> StoredDays(const std::string& name) {
    const nlohmann::json groups = Control("/_fake/groups")["groups"];
    for (const nlohmann::json& g : groups) {
      if (g["name"] == name && !g["retentionInDays"].is_null()) return g["retentionInDays"];
    }
    return std::nullopt;
  }

 private:
  std::unique_ptr<PortProcess> process_;  // stopped (by its pid) when the fake goes away
  std::string error_;
};

}  // namespace retention::testing
