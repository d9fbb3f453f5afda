#include "core/crypto.h"

#include <sodium.h>

#include <array>
#include <cstdlib>

namespace retention {

void InitCrypto() {
  if (sodium_init() < 0) std::abort();  // Only fails when the OS has no entropy source.
}

namespace {
std::string Hex(const unsigned char* bytes, std::size_t n) {
  std::string out(n * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), bytes, n);
  out.pop_back();
  return out;
}
}  // namespace

std::string Sha256Hex(std::string_view data) {
  std::array<unsigned char, crypto_hash_sha256_BYTES> digest{};
  crypto_hash_sha256(digest.data(), reinterpret_cast<const unsigned char*>(data.data()),
                     data.size());
  return Hex(digest.data(), digest.size());
}

std::string RandomToken() {
  std::array<unsigned char, 20> bytes{};
  randombytes_buf(bytes.data(), bytes.size());
  return Hex(bytes.data(), bytes.size());
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace retention
