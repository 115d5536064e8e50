// Store: access tokens — issued at random (OpenSSL), kept as SHA-256, revocable.
#include <openssl/rand.h>

#include "controller/store.h"
#include "controller/store_internal.h"

namespace qfarm::controller {

StatusOr<std::string> Store::IssueToken(const std::string& name, const std::string& role, double now) {
  if (!ValidName(name)) return InvalidArgument("token name '" + Printable(name) + "' " + kNameRule);
  if (role != "agent" && role != "operator") return InvalidArgument("token role must be agent or operator");
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof bytes) != 1) return Internal("cannot draw random bytes for a token");
  std::string token = "qf_";
  static const char* hex = "0123456789abcdef";
  for (unsigned char b : bytes) {
    token += hex[b >> 4];
    token += hex[b & 15];
  }
  std::lock_guard<std::mutex> lock(mu_);
  return Guarded("IssueToken", [&]() -> StatusOr<std::string> {
    Stmt s(*db_, "INSERT INTO tokens(name, role, sha256, created_at) VALUES(?,?,?,?) "
                 "ON CONFLICT(name) DO UPDATE SET role=excluded.role, sha256=excluded.sha256, "
                 "created_at=excluded.created_at, revoked_at=NULL");
    s.Bind(1, name).Bind(2, role).Bind(3, Sha256Hex(token)).Bind(4, now).Run();
    Event("token-issued", "", 0, 0, role + " token '" + name + "'", now);
    return token;
  });
}

Status Store::RevokeToken(const std::string& name, double now) {
  std::lock_guard<std::mutex> lock(mu_);
  return Guarded("RevokeToken", [&]() -> Status {
    Stmt s(*db_, "UPDATE tokens SET revoked_at=? WHERE name=? AND revoked_at IS NULL");
    s.Bind(1, now).Bind(2, name).Run();
    if (db_->Changes() == 0) return NotFound("no active token named '" + Printable(name) + "'");
    Event("token-revoked", "", 0, 0, "token '" + name + "'", now);
    return Status::Ok();
  });
}

StatusOr<bool> Store::TokensEnabled() {
  if (tokens_seen_) return true;  // every RPC asks: skip the query once the answer is settled
  std::lock_guard<std::mutex> lock(mu_);
  return Guarded("TokensEnabled", [&]() -> StatusOr<bool> {
    Stmt s(*db_, "SELECT 1 FROM tokens LIMIT 1");
    tokens_seen_ = s.Step();
    return tokens_seen_.load();
  });
}

StatusOr<std::string> Store::Authorize(const std::string& token, const std::string& role) {
  if (token.empty()) return PermissionDenied("an " + role + " token is required");
  std::lock_guard<std::mutex> lock(mu_);
  return Guarded("Authorize", [&]() -> StatusOr<std::string> {
    Stmt s(*db_, "SELECT name, role, revoked_at IS NOT NULL FROM tokens WHERE sha256=?");
    s.Bind(1, Sha256Hex(token));
    if (!s.Step()) return PermissionDenied("unknown token");
    if (s.Int(2)) return PermissionDenied("token '" + s.Text(0) + "' was revoked");
    if (s.Text(1) != role) return PermissionDenied("token '" + s.Text(0) + "' is an " + s.Text(1) + " token, not " + role);
    return s.Text(0);
  });
}

}  // namespace qfarm::controller
