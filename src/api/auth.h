// Signing a caller in from the Authorization header: `Token <key>` or `Bearer <key>` (the scheme
// in any case), the key checked against the stored token hashes by the service on every request,
// so a token revoked or expired, or its owner demoted or removed, by any process is refused
// at once (no cache).
//
// Thread-safe: free functions without state.
#pragma once

#include <string>

#include "core/status.h"
#include "service/service.h"

namespace retention {

// The key of an Authorization header value. Unauthenticated with the message the caller shows:
// "Authentication credentials were not provided." when `header` is empty, "use 'Authorization:
// Token <key>' or 'Bearer <key>'" for another scheme or a scheme without a key.
Result<std::string> TokenFromAuthorization(const std::string& header);

// The user behind an Authorization header value. Unauthenticated as TokenFromAuthorization, as
// Authenticate ("Invalid token.", "Token has been revoked.", "Token has expired."), and
// "Invalid token." when the lookup fails.
Result<User> SignIn(const ServiceContext& ctx, const std::string& header);

}  // namespace retention
