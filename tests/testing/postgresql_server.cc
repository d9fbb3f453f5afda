#include "testing/postgresql_server.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include "store/postgresql/postgresql_connection.h"

extern char** environ;

namespace retention::testing {
namespace {

constexpr const char* kBinDir = "/usr/lib/postgresql/15/bin/";

// A loopback port that was free a moment ago (bound to port 0, then released).
int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

}  // namespace

PostgresqlServer& PostgresqlServer::Shared() {
  static PostgresqlServer server;
  return server;
}

PostgresqlServer::PostgresqlServer() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "retention-pg-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) {
    error_ = "postgresql test server: cannot make a temp folder";
    return;
  }
  dir_ = tmpl;
  if (geteuid() == 0) {
    const passwd* pw = getpwnam("postgres");
    if (pw == nullptr || chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      error_ = "postgresql test server: no `postgres` user to own " + dir_.string() +
               " (apt-get install postgresql-15)";
      return;
    }
  }
  if (Run({std::string(kBinDir) + "initdb", "-D", (dir_ / "data").string(), "--no-sync", "-U",
           "postgres", "--auth=trust", "-E", "UTF8", "--locale=C"}) != 0) {
    error_ = "postgresql test server: initdb failed: " + LogTail();
    return;
  }
  // A port taken between FreePort and the start makes pg_ctl fail: try a few.
  for (int attempt = 0; attempt < 3 && !running_; ++attempt) {
    port_ = FreePort();
    const std::string options = "-p " + std::to_string(port_) + " -k " + dir_.string() +
                                " -c listen_addresses=127.0.0.1 -c fsync=off"
                                " -c synchronous_commit=off -c full_page_writes=off";
    running_ = Run({std::string(kBinDir) + "pg_ctl", "-D", (dir_ / "data").string(), "-w", "-l",
                    (dir_ / "server.log").string(), "-o", options, "start"}) == 0;
  }
  if (!running_) error_ = "postgresql test server: pg_ctl start failed: " + LogTail();
}

PostgresqlServer::~PostgresqlServer() {
  if (running_) {
    Run({std::string(kBinDir) + "pg_ctl", "-D", (dir_ / "data").string(), "-m", "immediate",
         "stop"});
  }
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

Result<std::string> PostgresqlServer::NewDatabase() {
  if (!error_.empty()) return Unavailable(error_);
  const std::string base = "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/";
  ASSIGN_OR_RETURN(auto admin, OpenPostgresql(base + "postgres"));
  const std::string name = "test_" + std::to_string(++databases_);
  // FILE_COPY: a small template is copied faster than it is written to the WAL (the default).
  RETURN_IF_ERROR(admin->ExecScript("CREATE DATABASE " + name + " STRATEGY = FILE_COPY"));
  return base + name;
}

int PostgresqlServer::Run(std::vector<std::string> argv) {
  if (geteuid() == 0) argv.insert(argv.begin(), {"/usr/sbin/runuser", "-u", "postgres", "--"});
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  const std::string log = (dir_ / "setup.log").string();
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return -1;
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string PostgresqlServer::LogTail() const {
  std::string all;
  for (const char* name : {"setup.log", "server.log"}) {
    std::ifstream in(dir_ / name);
    std::stringstream text;
    text << in.rdbuf();
    all += text.str();
  }
  return all.size() > 2000 ? all.substr(all.size() - 2000) : all;
}

Result<std::unique_ptr<SqlConnection>> OpenTestPostgresql(const std::filesystem::path& scratch,
                                                          bool read_only) {
  static std::map<std::filesystem::path, std::string> urls;
  auto it = urls.find(scratch);
  if (it == urls.end()) {
    ASSIGN_OR_RETURN(std::string url, PostgresqlServer::Shared().NewDatabase());
    it = urls.emplace(scratch, std::move(url)).first;
  }
  return OpenPostgresql(it->second, read_only);
}

}  // namespace retention::testing
