// `retention serve`: the HTTP API, the browser UI and the scheduler in one process, until SIGTERM
// or SIGINT; then in-flight requests finish and the process exits 0.
#include <iostream>

#include "api/api.h"
#include "api/http_server.h"
#include "cli/cli_common.h"

namespace retention {
namespace {

Result<std::pair<std::string, int>> ParseListen(const std::string& listen) {
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == listen.size()) {
    return InvalidArgument("listen address '" + listen + "' must be HOST:PORT");
  }
  std::string host = listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  try {
    std::size_t used = 0;
    const int port = std::stoi(listen.substr(colon + 1), &used);
    if (used != listen.size() - colon - 1 || port < 0 || port > 65535) throw std::out_of_range("");
    return std::make_pair(host, port);
  } catch (...) {
    return InvalidArgument("listen address '" + listen + "': port must be 0-65535");
  }
}

int Serve(const GlobalOptions& g, const std::string& listen_flag) {
  ConfigOverrides o;
  if (!g.config_file.empty()) o.config_file = g.config_file;
  if (!g.db_url.empty()) o.database_url = g.db_url;
  if (!listen_flag.empty()) o.listen = listen_flag;
  auto config = LoadConfig(o);
  if (!config.ok()) return Fail(config.status());
  auto listen = ParseListen(config->listen);
  if (!listen.ok()) return Fail(listen.status());
  auto app = App::Open(*config);
  if (!app.ok()) return Fail(app.status());

  ApiOptions api_options;
  api_options.consent_rate_per_minute = config->consent_rate_per_minute;
  ApiHooks hooks = (*app)->ApiHooksForServe();
  Api api((*app)->context(), api_options, std::move(hooks));

  HttpServerOptions options;
  options.host = listen->first;
  options.port = listen->second;
  options.threads = config->server_threads;
  auto server = HttpServer::Start(options, [&api](const HttpRequest& r) { return api.Handle(r); });
  if (!server.ok()) return Fail(server.status());
  if (auto s = (*app)->StartBackground(); !s.ok()) return Fail(s);
  if (config->fake_now) {
    std::cerr << "warning: RETENTION_FAKE_NOW is set: the clock "
              << (config->clock_speed > 1
                      ? "runs " + std::to_string(config->clock_speed) + " times as fast from "
                      : std::string("is fixed at "))
              << FormatTime(*config->fake_now) << " (a test setting; unset it in production)"
              << std::endl;
  }
  std::cout << "retention serving on http://" << listen->first << ":" << (*server)->port()
            << "/ (database " << config->database_url << ")" << std::endl;
  WaitForShutdownSignal();
  std::cerr << "retention: shutting down" << std::endl;
  (*app)->StopBackground();
  (*server)->Stop();
  return 0;
}

}  // namespace

void AddServeCommand(CLI::App& cli, GlobalOptions& g, CliAction& action) {
  auto* cmd = cli.add_subcommand("serve", "run the HTTP API, the browser UI and the scheduler");
  static std::string listen;
  cmd->add_option("--listen", listen, "HOST:PORT to listen on (default 127.0.0.1:8000)");
  cmd->callback([&g, &action] { action = [&g] { return Serve(g, listen); }; });
}

}  // namespace retention
