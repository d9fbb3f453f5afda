// A test server process that announces its port: started with posix_spawn, its first stdout
// line must be "PORT=<n>" (read within a deadline), and it is stopped by its pid (SIGTERM, then
// waited for) when the object goes away. Plus an unsigned JSON call for fakes' control
// endpoints. Part of retention::testing; header-only.
#pragma once

#include <curl/curl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

extern char** environ;

namespace retention::testing {

class PortProcess {
 public:
  // Runs args[0] with `args`; on failure error() names the program and what the line was.
  explicit PortProcess(std::vector<std::string> args, int deadline_ms = 30000) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int out[2];
    if (pipe(out) != 0) {
      error_ = "pipe failed";
      return;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, out[0]);
    const int rc = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(out[1]);
    if (rc != 0) {
      close(out[0]);
      pid_ = -1;
      error_ = "cannot run " + args[0] + ": " + std::strerror(rc);
      return;
    }
    std::string line;
    char c = 0;
    while (line.find('\n') == std::string::npos) {
      pollfd p{out[0], POLLIN, 0};
      if (poll(&p, 1, deadline_ms) <= 0 || read(out[0], &c, 1) != 1) break;
      line += c;
    }
    close(out[0]);
    if (line.rfind("PORT=", 0) != 0) {
      error_ =
          args[args.size() > 1 ? 1 : 0] + " did not start (its stderr is above): '" + line + "'";
      return;
    }
    port_ = std::stoi(line.substr(5));
  }
  ~PortProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
  }
  PortProcess(const PortProcess&) = delete;
  PortProcess& operator=(const PortProcess&) = delete;

  const std::string& error() const { return error_; }
  int port() const { return port_; }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  std::string error_;
};

// An unsigned HTTP call to a fake's control endpoint `url` (a POST of `body` unless it is null);
// expects 200 and returns the JSON answer.
inline nlohmann::json ControlCall(const std::string& url, const nlohmann::json& body = nullptr) {
  CURL* curl = curl_easy_init();
  std::string answer;
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
  long status = 0;  // NOLINT(google-runtime-int): the type libcurl writes
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(curl);
  EXPECT_EQ(code, CURLE_OK) << url;
  EXPECT_EQ(status, 200) << url << ": " << answer;
  return nlohmann::json::parse(answer, nullptr, false);
}

}  // namespace retention::testing
