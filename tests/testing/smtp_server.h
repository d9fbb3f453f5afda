// A real SMTP server for unit tests: tests/integration/smtp_server.py on Debian's python3-aiosmtpd
// (/usr/bin/python3), bound to a free loopback port. Part of retention::testing; header-only (it
// uses GoogleTest).
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

extern char** environ;

namespace retention::testing {

inline constexpr const char* kSmtpServerPython = "/usr/bin/python3";
// The recipient the server refuses permanently (550 5.1.1 no such user).
inline constexpr const char* kSmtpRejected = "gone@example.org";
// The recipient the server refuses temporarily (451 4.3.0 try again).
inline constexpr const char* kSmtpTempFailed = "busy@example.org";

// The whole file at `p`, or "" when it cannot be read.
inline std::string ReadWholeFile(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A loopback port on which nothing listens (bound, then closed).
inline int ClosedPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

// The smtp_server.py process: started with a pipe on its stdin (it exits when the pipe closes)
// and its first stdout line "PORT=<n>". It stores accepted mail in DIR/maildir, refuses
// kSmtpRejected with 550 and kSmtpTempFailed with 451.
class SmtpServerProcess {
 public:
  // Starts the server; on failure, error() explains why.
  explicit SmtpServerProcess(const std::filesystem::path& dir) : maildir_(dir / "maildir") {
    const std::string script =
        std::string(RETENTION_SOURCE_DIR) + "/tests/integration/smtp_server.py";
    const std::string stderr_path = (dir / "server.stderr").string();
    int in[2];
    int out[2];
    if (pipe(in) != 0 || pipe(out) != 0) {
      error_ = "pipe failed";
      return;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], 0);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    posix_spawn_file_actions_addopen(&actions, 2, stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    posix_spawn_file_actions_addclose(&actions, in[1]);
    posix_spawn_file_actions_addclose(&actions, out[0]);
    std::vector<std::string> args = {kSmtpServerPython, script,         "--maildir",
                                     maildir_.string(), "--reject",     kSmtpRejected,
                                     "--tempfail",      kSmtpTempFailed};
    std::vector<char*> argv;
    for (auto& a : args) {
      argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    const int rc = posix_spawn(&pid_, kSmtpServerPython, &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(in[0]);
    close(out[1]);
    stdin_ = in[1];
    if (rc != 0) {
      close(out[0]);
      pid_ = -1;
      error_ = std::string("cannot run ") + kSmtpServerPython + ": " + std::strerror(rc) +
               " (install Debian's python3 and python3-aiosmtpd)";
      return;
    }
    // Read the first line, waiting at most 20 s for the server to come up.
    std::string line;
    char c = 0;
    while (line.find('\n') == std::string::npos) {
      pollfd p{out[0], POLLIN, 0};
      if (poll(&p, 1, 20000) <= 0) {
        break;
      }
      if (read(out[0], &c, 1) != 1) {
        break;
      }
      line += c;
    }
    close(out[0]);
    if (line.rfind("PORT=", 0) == 0) {
      port_ = std::stoi(line.substr(5));
      return;
    }
    error_ = "smtp_server.py did not start: '" + line + "' " + ReadWholeFile(stderr_path);
    if (line.find("aiosmtpd") != std::string::npos) {
      error_ += " -- " + std::string(kSmtpServerPython) +
                " lacks aiosmtpd: apt-get install python3-aiosmtpd (the SMTP tests need it)";
    }
  }
  SmtpServerProcess(const SmtpServerProcess&) = delete;
  SmtpServerProcess& operator=(const SmtpServerProcess&) = delete;
  ~SmtpServerProcess() {
    if (stdin_ >= 0) {
      close(stdin_);
    }
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int status = 0;
      waitpid(pid_, &status, 0);
    }
  }

  int port() const { return port_; }
  const std::string& error() const { return error_; }
  const std::filesystem::path& maildir() const { return maildir_; }

  // The stored messages addressed (envelope) to `rcpt`.
  std::vector<std::string> MessagesTo(const std::string& rcpt) const {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(maildir_ / "new", ec)) {
      std::string text = ReadWholeFile(entry.path());
      if (text.find("X-RcptTo: " + rcpt + "\r\n") != std::string::npos) {
        out.push_back(text);
      }
    }
    return out;
  }

 private:
  std::filesystem::path maildir_;
  pid_t pid_ = -1;
  int stdin_ = -1;
  int port_ = 0;
  std::string error_;
};

}  // namespace retention::testing
