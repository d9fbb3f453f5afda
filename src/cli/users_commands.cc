// `user add` and `token create`.
#include <CLI/CLI.hpp>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/cli_common.h"
#include "service/service.h"

namespace retention {

void AddUserCommands(CLI::App& cli, GlobalOptions& g, CliAction& action) {
  // user add
  auto* user_cmd = cli.add_subcommand("user", "manage users");
  user_cmd->require_subcommand(1);
  auto* user_add = user_cmd->add_subcommand("add", "add a user");
  static std::string new_username;
  static std::string new_email;
  static bool new_admin = false;
  user_add->add_option("USERNAME", new_username)->required()->check(Utf8Text());
  user_add->add_option("--email", new_email)->required()->check(Utf8Text());
  user_add->add_flag("--admin", new_admin);
  user_add->callback([&] {
    action = [&]() -> int {
      auto app = OpenApp(g);
      if (!app.ok()) return Fail(app.status());
      auto u = AddUser((*app)->context(), new_username, new_email, new_admin);
      if (!u.ok()) return Fail(u.status());
      if (g.json) {
        PrintJson({{"id", u->id},
                   {"username", u->username},
                   {"email", u->email},
                   {"is_admin", u->is_admin}});
      } else {
        std::cout << "added user " << u->username << (u->is_admin ? " (admin)" : "") << "\n";
      }
      return 0;
    };
  });

  // token create
  auto* token_cmd = cli.add_subcommand("token", "manage API tokens");
  token_cmd->require_subcommand(1);
  auto* token_create = token_cmd->add_subcommand("create", "create a token for a user");
  static std::string token_user;
  token_create->add_option("USERNAME", token_user)->required()->check(Utf8Text());
  token_create->callback([&] {
    action = [&]() -> int {
      auto app = OpenApp(g);
      if (!app.ok()) return Fail(app.status());
      auto t = CreateToken((*app)->context(), token_user, "cli");
      if (!t.ok()) return Fail(t.status());
      if (g.json) {
        PrintJson({{"username", token_user}, {"token", *t}});
      } else {
        std::cout << *t << "\n";
      }
      return 0;
    };
  });
}

}  // namespace retention
