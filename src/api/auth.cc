#include "api/auth.h"

#include <algorithm>
#include <cctype>

namespace retention {

Result<std::string> TokenFromAuthorization(const std::string& header) {
  if (header.empty()) return Unauthenticated("Authentication credentials were not provided.");
  const auto space = header.find(' ');
  std::string scheme = space == std::string::npos ? header : header.substr(0, space);
  std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if ((scheme != "token" && scheme != "bearer") || space == std::string::npos) {
    return Unauthenticated("use 'Authorization: Token <key>' or 'Bearer <key>'");
  }
  return header.substr(space + 1);
}

Result<User> SignIn(const ServiceContext& ctx, const std::string& header) {
  ASSIGN_OR_RETURN(const std::string token, TokenFromAuthorization(header));
  auto user = Authenticate(ctx, token);
  if (!user.ok() && user.status().code() != StatusCode::kUnauthenticated) {
    return Unauthenticated("Invalid token.");  // a failed lookup signs nobody in
  }
  return user;
}

}  // namespace retention
