// Hashing and secrets on libsodium: SHA-256 in hex, random tokens, constant-time comparison.
// Thread-safe once InitCrypto() has returned (call it once at start-up; it is idempotent).
#pragma once

#include <string>
#include <string_view>

namespace retention {

void InitCrypto();
// Lower-case hex SHA-256 of `data`.
std::string Sha256Hex(std::string_view data);
// A random URL-safe token of 40 hex characters (160 bits).
std::string RandomToken();
// True when a == b, in time that depends only on the length.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace retention
