// `user add` and `token create | list | revoke`.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/cli_common.h"
#include "service/service.h"

namespace retention {
namespace {

using nlohmann::json;

json TokenJson(const TokenInfo& t) {
  auto time = [](const std::optional<TimePoint>& at) {
    return at ? json(FormatTime(*at)) : json(nullptr);
  };
  return {{"prefix", t.prefix.empty() ? json(nullptr) : json(t.prefix)},
          {"username", t.username},
          {"role", TokenRoleName(t.role)},
          {"state", t.state},
          {"created_at", FormatTime(t.created_at)},
          {"expires_at", time(t.expires_at)},
          {"revoked_at", time(t.revoked_at)}};
}

}  // namespace

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

  // token create | list | revoke
  auto* token_cmd = cli.add_subcommand("token", "manage API tokens");
  token_cmd->require_subcommand(1);
  auto* token_create = token_cmd->add_subcommand("create", "create a token for a user");
  static std::string token_user;
  static std::string token_role = "user";
  static std::optional<int> token_days;
  token_create->add_option("USERNAME", token_user)->required()->check(Utf8Text());
  token_create
      ->add_option("--role", token_role,
                   "platform: the platform's routes only (DESIGN section 6); default user")
      ->check(CLI::IsMember({"user", "platform"}));
  token_create->add_option("--expires-in", token_days, "days until the token expires (1-3653)");
  token_create->callback([&] {
    action = [&]() -> int {
      if (token_days && (*token_days < 1 || *token_days > kMaxTokenDays)) {
        return Fail(InvalidArgument("--expires-in " + std::to_string(*token_days) +
                                    " must be between 1 and " + std::to_string(kMaxTokenDays) +
                                    " days"));
      }
      auto app = OpenApp(g);
      if (!app.ok()) return Fail(app.status());
      TokenOptions options;
      options.role = token_role == "platform" ? TokenRole::kPlatform : TokenRole::kUser;
      options.expires_in_days = token_days;
      auto t = CreateToken((*app)->context(), token_user, "cli", options);
      if (!t.ok()) return Fail(t.status());
      if (g.json) {
        PrintJson({{"username", token_user},
                   {"token", *t},
                   {"prefix", t->substr(0, kTokenPrefixLength)},
                   {"role", token_role}});
      } else {
        std::cout << *t << "\n";
      }
      return 0;
    };
  });

  auto* token_list = token_cmd->add_subcommand("list", "list tokens (prefix, user, role, state)");
  token_list->callback([&] {
    action = [&]() -> int {
      auto app = OpenApp(g);
      if (!app.ok()) return Fail(app.status());
      auto tokens = ListTokens((*app)->context());
      if (!tokens.ok()) return Fail(tokens.status());
      if (g.json) {
        json arr = json::array();
        for (const auto& t : *tokens) arr.push_back(TokenJson(t));
        PrintJson({{"tokens", arr}});
        return 0;
      }
      std::printf("%-9s %-20s %-9s %-8s %-20s %s\n", "PREFIX", "USER", "ROLE", "STATE", "CREATED",
                  "EXPIRES");
      for (const auto& t : *tokens) {
        std::printf("%-9s %-20s %-9s %-8s %-20s %s\n", t.prefix.empty() ? "-" : t.prefix.c_str(),
                    t.username.c_str(), TokenRoleName(t.role), t.state.c_str(),
                    FormatTime(t.created_at).c_str(),
                    t.expires_at ? FormatTime(*t.expires_at).c_str() : "never");
      }
      return 0;
    };
  });

  auto* token_revoke =
      token_cmd->add_subcommand("revoke", "revoke a token, named by its prefix (`token list`)");
  static std::string revoke_prefix;
  token_revoke->add_option("TOKEN_PREFIX", revoke_prefix)->required()->check(Utf8Text());
  token_revoke->callback([&] {
    action = [&]() -> int {
      auto app = OpenApp(g);
      if (!app.ok()) return Fail(app.status());
      auto t = RevokeToken((*app)->context(), revoke_prefix, "cli");
      if (!t.ok()) return Fail(t.status());
      if (g.json) {
        PrintJson(TokenJson(*t));
      } else {
        std::cout << "revoked token " << t->prefix << " of " << t->username << "\n";
      }
      return 0;
    };
  });
}

}  // namespace retention
