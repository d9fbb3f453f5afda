#include "cli/cli_common.h"

#include <iostream>
#include <sstream>

#include "core/units.h"
#include "core/utf8.h"

namespace retention {

using nlohmann::json;

int Fail(const Status& s) {
  std::cerr << "error: " << EscapeInvalidUtf8(s.message()) << "\n";
  return ExitCodeFor(s);
}

void PrintJson(const json& j) {
  std::cout << j.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
}

std::string Bytes(std::int64_t b) { return HumanBytes(b); }

std::string Str(const json& j) {
  if (j.is_null()) return "-";
  if (j.is_string()) return j.get<std::string>();
  return j.dump();
}

const CLI::Validator& Utf8Text() {
  static const CLI::Validator validator(
      [](const std::string& value) -> std::string {
        return IsValidUtf8(value) ? std::string() : "value " + DescribeInvalidUtf8(value);
      },
      "UTF-8");
  return validator;
}

Result<std::unique_ptr<App>> OpenApp(const GlobalOptions& g) {
  ConfigOverrides o;
  if (!g.config_file.empty()) o.config_file = g.config_file;
  if (!g.db_url.empty()) o.database_url = g.db_url;
  ASSIGN_OR_RETURN(auto config, LoadConfig(o));
  return App::Open(config);
}

}  // namespace retention
