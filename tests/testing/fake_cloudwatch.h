// The strict fake CloudWatch Logs server for unit tests: tests/integration/fake_cloudwatch.py,
// run with Debian's /usr/bin/python3, which verifies every SigV4 signature with botocore. Part of
// retention::testing; header-only (it uses GoogleTest and libcurl).
#pragma once

#include <curl/curl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

extern char** environ;

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
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int fds[2];
    if (pipe(fds) != 0) {
      error_ = "pipe failed";
      return;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    const int rc =
        posix_spawn(&pid_, kFakeCloudWatchPython, &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    if (rc != 0) {
      close(fds[0]);
      pid_ = -1;
      error_ = "cannot start " + script;
      return;
    }
    FILE* out = fdopen(fds[0], "r");
    char line[64] = {0};
    const bool got = fgets(line, sizeof line, out) != nullptr;
    fclose(out);
    if (!got || std::string(line).rfind("PORT=", 0) != 0) {
      error_ = script + " did not start (see its stderr above); it needs " + kFakeCloudWatchPython +
               " with python3-botocore (apt-get install python3-botocore)";
      return;
    }
    port_ = std::atoi(line + 5);
  }
  ~FakeCloudWatch() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
  }
  FakeCloudWatch(const FakeCloudWatch&) = delete;
  FakeCloudWatch& operator=(const FakeCloudWatch&) = delete;

  const std::string& error() const { return error_; }
  std::string Endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string Url() const { return "cloudwatch://us-east-1?endpoint=" + Endpoint(); }

  // An unsigned call to a /_fake/ control endpoint; returns the JSON answer.
  nlohmann::json Control(const std::string& path, const nlohmann::json& body = nullptr) {
    CURL* curl = curl_easy_init();
    std::string answer;
    const std::string url = Endpoint() + path;
    const std::string data = body.is_null() ? "" : body.dump();
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    if (!body.is_null()) curl_easy_setopt(curl, CURLOPT_POSTFIELDS, data.c_str());
    curl_easy_setopt(
        curl, CURLOPT_WRITEFUNCTION, +[](char* p, size_t s, size_t n, void* u) -> size_t {
          static_cast<std::string*>(u)->append(p, s * n);
          return s * n;
        });
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &answer);
    const CURLcode code = curl_easy_perform(curl);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(curl);
    EXPECT_EQ(code, CURLE_OK) << path;
    EXPECT_EQ(status, 200) << path << ": " << answer;
    return nlohmann::json::parse(answer, nullptr, false);
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
  pid_t pid_ = -1;
  int port_ = 0;
  std::string error_;
};

}  // namespace retention::testing
