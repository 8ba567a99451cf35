#pragma once

#include <chrono>
#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "db/pool.hpp"
#include "services/auth/model.hpp"

namespace marquee::auth {

/// The SQL of the auth schema, as named queries. Token hashes are the 32 raw bytes of SHA-256.
class Store {
  public:
    explicit Store(db::Pool& db) : db_(db) {}

    /// Inserts a user; Problem 409 email-taken when the (lower-cased) email exists.
    boost::asio::awaitable<User> insert_user(std::string email, std::string password_hash,
                                             std::string display_name);
    boost::asio::awaitable<std::optional<Credentials>> find_credentials(std::string email);
    boost::asio::awaitable<std::optional<User>> find_user(std::string id);

    /// Starts a new family with one refresh token (a login).
    boost::asio::awaitable<void> insert_refresh_token(std::string user_id, std::string token_hash,
                                                      std::chrono::seconds ttl);
    /// In one transaction: locks the token by hash; when it is live and unused, marks it used and replaced by
    /// a new token `next_hash` of the same family (Rotated); when it was used already, revokes the family
    /// (Reused); otherwise Invalid. The row lock makes two concurrent presentations of one token a rotation
    /// and a reuse, never two rotations.
    boost::asio::awaitable<Rotation> rotate_refresh_token(std::string token_hash, std::string next_hash,
                                                          std::chrono::seconds ttl);
    /// Revokes the family of the token (logout); whether a token with that hash exists.
    boost::asio::awaitable<bool> revoke_family(std::string token_hash);

  private:
    db::Pool& db_;
};

/// bytea text input for raw bytes: "\x" and lower-case hex.
std::string bytea_hex(std::string_view bytes);

}  // namespace marquee::auth
