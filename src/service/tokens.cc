// API tokens: creation with a role and an expiry, sign-in, listing and revocation (DESIGN
// section 6). Only a token's SHA-256 and its first kTokenPrefixLength characters are stored.
#include <string>
#include <utility>
#include <vector>

#include "core/crypto.h"
#include "service/audit_log.h"
#include "service/service.h"

namespace retention {
namespace {

constexpr std::size_t kMinRevokePrefix = 6;

std::string State(const std::optional<TimePoint>& expires, const std::optional<TimePoint>& revoked,
                  TimePoint now) {
  if (revoked) return "revoked";
  if (expires && *expires <= now) return "expired";
  return "active";
}

// The columns TokenFromRow reads, of api_tokens t joined with users u, and the hash last.
constexpr const char* kTokenColumns =
    "COALESCE(t.prefix, ''), u.username, t.role, t.created_at, t.expires_at, t.revoked_at, "
    "t.token_hash";

TokenInfo TokenFromRow(const SqlRow& r, TimePoint now) {
  TokenInfo t;
  t.prefix = r.Text(0);
  t.username = r.Text(1);
  t.role = r.Text(2) == "platform" ? TokenRole::kPlatform : TokenRole::kUser;
  t.created_at = FromUnix(r.Int(3));
  if (auto e = r.OptInt(4)) t.expires_at = FromUnix(*e);
  if (auto v = r.OptInt(5)) t.revoked_at = FromUnix(*v);
  t.state = State(t.expires_at, t.revoked_at, now);
  return t;
}

}  // namespace

const char* TokenRoleName(TokenRole role) {
  return role == TokenRole::kPlatform ? "platform" : "user";
}

Result<std::string> CreateToken(const ServiceContext& ctx, const std::string& username,
                                const std::string& actor, const TokenOptions& options) {
  if (options.expires_in_days &&
      (*options.expires_in_days < 1 || *options.expires_in_days > kMaxTokenDays)) {
    return InvalidArgument("expires-in " + std::to_string(*options.expires_in_days) +
                           " must be between 1 and " + std::to_string(kMaxTokenDays) + " days");
  }
  const TimePoint now = ctx.clock->Now();
  std::optional<std::int64_t> expires;
  if (options.expires_in_days) {
    expires = ToUnix(now + std::chrono::hours(24) * *options.expires_in_days);
  }
  auto conn = ctx.db->Lock();
  ASSIGN_OR_RETURN(auto tx, Transaction::Start(*conn, TxMode::kWrite));
  ASSIGN_OR_RETURN(auto user, FindUser(*conn, username));
  std::string token = RandomToken();
  const std::string role = TokenRoleName(options.role);
  RETURN_IF_ERROR(conn->Exec(
      "INSERT INTO api_tokens (token_hash, user_id, created_at, role, prefix, expires_at) "
      "VALUES (?, ?, ?, ?, ?, ?)",
      {Sha256Hex(token), user.id, ToUnix(now), role, token.substr(0, kTokenPrefixLength),
       expires ? SqlValue(*expires) : SqlValue()}));
  std::string notes =
      "for " + username + ", role " + role + ", prefix " + token.substr(0, kTokenPrefixLength);
  if (expires) notes += ", expires " + FormatTime(FromUnix(*expires));
  RETURN_IF_ERROR(
      AppendEvent(*conn, "admin", std::nullopt, std::nullopt, actor, "token_created", notes, now));
  RETURN_IF_ERROR(tx.Commit());
  return token;
}

Result<User> Authenticate(const ServiceContext& ctx, const std::string& token) {
  if (token.empty() || token.size() > 512) return Unauthenticated("Invalid token.");
  const std::string digest = Sha256Hex(token);
  auto conn = ctx.db->LockRead();
  ASSIGN_OR_RETURN(auto row, conn->QueryOne("SELECT t.token_hash, u.id, u.username, u.email, "
                                            "u.is_admin, t.role, t.expires_at, t.revoked_at "
                                            "FROM api_tokens t JOIN users u ON "
                                            "u.id = t.user_id WHERE t.token_hash = ?",
                                            {digest}));
  // The indexed lookup finds the row; the digest is then compared in constant time.
  if (!row || !ConstantTimeEquals(row->Text(0), digest)) return Unauthenticated("Invalid token.");
  if (!row->IsNull(7)) return Unauthenticated("Token has been revoked.");
  if (auto expires = row->OptInt(6); expires && FromUnix(*expires) <= ctx.clock->Now()) {
    return Unauthenticated("Token has expired.");
  }
  return User{row->Int(1), row->Text(2), row->Text(3), row->Bool(4), row->Text(5) == "platform"};
}

Result<std::vector<TokenInfo>> ListTokens(const ServiceContext& ctx) {
  auto conn = ctx.db->LockRead();
  ASSIGN_OR_RETURN(auto rows, conn->Query(std::string("SELECT ") + kTokenColumns +
                                          " FROM api_tokens t JOIN users u ON u.id = t.user_id "
                                          "ORDER BY t.created_at DESC, t.prefix"));
  std::vector<TokenInfo> out;
  out.reserve(rows.size());
  const TimePoint now = ctx.clock->Now();
  for (const auto& r : rows) out.push_back(TokenFromRow(r, now));
  return out;
}

Result<TokenInfo> RevokeToken(const ServiceContext& ctx, const std::string& prefix,
                              const std::string& actor) {
  if (prefix.size() < kMinRevokePrefix || prefix.size() > kTokenPrefixLength) {
    return InvalidArgument(
        "token prefix '" + prefix + "' must be " + std::to_string(kMinRevokePrefix) + " to " +
        std::to_string(kTokenPrefixLength) + " characters (the PREFIX column of `token list`)");
  }
  const TimePoint now = ctx.clock->Now();
  auto conn = ctx.db->Lock();
  ASSIGN_OR_RETURN(auto tx, Transaction::Start(*conn, TxMode::kWrite));
  // substr with the length in the text: PostgreSQL has no substr(text, int, bigint), and a
  // range or LIKE would follow the collation (or case) instead of the characters.
  ASSIGN_OR_RETURN(auto rows,
                   conn->Query(std::string("SELECT ") + kTokenColumns +
                                   " FROM api_tokens t JOIN users u ON u.id = t.user_id "
                                   "WHERE t.revoked_at IS NULL AND substr(t.prefix, 1, " +
                                   std::to_string(prefix.size()) + ") = ?",
                               {prefix}));
  if (rows.empty()) return NotFound("no token that is not revoked starts with '" + prefix + "'");
  if (rows.size() > 1) {
    return InvalidArgument(std::to_string(rows.size()) + " tokens start with '" + prefix +
                           "': give more of it");
  }
  RETURN_IF_ERROR(conn->Exec("UPDATE api_tokens SET revoked_at = ? WHERE token_hash = ?",
                             {ToUnix(now), rows[0].Text(6)}));
  TokenInfo info = TokenFromRow(rows[0], now);
  info.revoked_at = now;
  info.state = "revoked";
  RETURN_IF_ERROR(AppendEvent(*conn, "admin", std::nullopt, std::nullopt, actor, "token_revoked",
                              "prefix " + info.prefix + " of " + info.username, now));
  RETURN_IF_ERROR(tx.Commit());
  return info;
}

}  // namespace retention
