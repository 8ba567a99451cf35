#include "services/auth/store.hpp"

#include <utility>

#include "core/ids.hpp"
#include "core/problem.hpp"
#include "db/sql_error.hpp"

namespace marquee::auth {
namespace {

namespace asio = boost::asio;

constexpr std::string_view kUserColumns = "id, email, display_name, role, created_at";

User user_of(const db::Result& r, int row) {
    return User{r.get<std::string>(row, "id"), r.get<std::string>(row, "email"),
                r.get<std::string>(row, "display_name"), r.get<std::string>(row, "role"),
                r.get<core::TimePoint>(row, "created_at")};
}

std::string interval(std::chrono::seconds ttl) {
    return std::to_string(ttl.count()) + " seconds";
}

}  // namespace

std::string bytea_hex(std::string_view bytes) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out = "\\x";
    for (const char c : bytes) {
        out += kHex[(static_cast<unsigned char>(c) >> 4) & 0xF];
        out += kHex[static_cast<unsigned char>(c) & 0xF];
    }
    return out;
}

asio::awaitable<User> Store::insert_user(std::string email, std::string password_hash,
                                         std::string display_name) {
    try {
        const db::Result r = co_await db_.query(
            "INSERT INTO auth.users (email, password_hash, display_name) VALUES ($1, $2, $3) "
            "RETURNING id, email, display_name, role, created_at",
            db::params(email, password_hash, display_name));
        co_return user_of(r, 0);
    } catch (const db::SqlError& e) {
        // The unique index decides, under any number of concurrent sign-ups with one email.
        if (e.is_unique_violation("users_email_key")) {
            throw core::Problem::conflict("email-taken", "an account with this email exists");
        }
        throw;
    }
}

asio::awaitable<std::optional<Credentials>> Store::find_credentials(std::string email) {
    const db::Result r = co_await db_.query(
        "SELECT id, email, display_name, role, created_at, password_hash FROM auth.users WHERE email = $1",
        db::params(email));
    if (r.empty()) co_return std::nullopt;
    co_return Credentials{user_of(r, 0), r.get<std::string>(0, "password_hash")};
}

asio::awaitable<std::optional<User>> Store::find_user(std::string id) {
    // A subject that is not a uuid names no user (and must not become a 22P02 SQL error).
    if (!core::is_uuid(id)) co_return std::nullopt;
    const db::Result r = co_await db_.query(
        "SELECT " + std::string(kUserColumns) + " FROM auth.users WHERE id = $1", db::params(id));
    if (r.empty()) co_return std::nullopt;
    co_return user_of(r, 0);
}

asio::awaitable<void> Store::insert_refresh_token(std::string user_id, std::string token_hash,
                                                  std::chrono::seconds ttl) {
    co_await db_.query(
        "INSERT INTO auth.refresh_tokens (user_id, family_id, token_hash, expires_at) "
        "VALUES ($1, gen_random_uuid(), $2, now() + $3::interval)",
        db::params(user_id, bytea_hex(token_hash), interval(ttl)));
}

asio::awaitable<Rotation> Store::rotate_refresh_token(std::string token_hash, std::string next_hash,
                                                      std::chrono::seconds ttl) {
    const std::string hash = bytea_hex(token_hash);
    const std::string next = bytea_hex(next_hash);
    const std::string lifetime = interval(ttl);
    co_return co_await db_.transaction([&](db::Transaction& tx) -> asio::awaitable<Rotation> {
        const db::Result token = co_await tx.query(
            "SELECT id, user_id, family_id, used_at IS NOT NULL AS used, revoked_at IS NOT NULL AS revoked, "
            "expires_at <= now() AS expired FROM auth.refresh_tokens WHERE token_hash = $1 FOR UPDATE",
            db::params(hash));
        if (token.empty()) co_return Rotation{RotationOutcome::Invalid, {}};
        const auto family = token.get<std::string>(0, "family_id");
        if (token.get<bool>(0, "revoked")) co_return Rotation{RotationOutcome::Invalid, {}};
        if (token.get<bool>(0, "used")) {
            co_await tx.query(
                "UPDATE auth.refresh_tokens SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS "
                "NULL",
                db::params(family));
            co_return Rotation{RotationOutcome::Reused, {}};
        }
        if (token.get<bool>(0, "expired")) co_return Rotation{RotationOutcome::Invalid, {}};
        const auto id = token.get<std::string>(0, "id");
        const auto user_id = token.get<std::string>(0, "user_id");
        const db::Result inserted = co_await tx.query(
            "INSERT INTO auth.refresh_tokens (user_id, family_id, token_hash, expires_at) "
            "VALUES ($1, $2, $3, now() + $4::interval) RETURNING id",
            db::params(user_id, family, next, lifetime));
        co_await tx.query("UPDATE auth.refresh_tokens SET used_at = now(), replaced_by = $2 WHERE id = $1",
                          db::params(id, inserted.get<std::string>(0, "id")));
        const db::Result user = co_await tx.query(
            "SELECT " + std::string(kUserColumns) + " FROM auth.users WHERE id = $1", db::params(user_id));
        co_return Rotation{RotationOutcome::Rotated, user_of(user, 0)};
    });
}

asio::awaitable<bool> Store::revoke_family(std::string token_hash) {
    const db::Result r = co_await db_.query(
        "WITH family AS (SELECT family_id FROM auth.refresh_tokens WHERE token_hash = $1) "
        "UPDATE auth.refresh_tokens t SET revoked_at = coalesce(t.revoked_at, now()) FROM family "
        "WHERE t.family_id = family.family_id RETURNING t.id",
        db::params(bytea_hex(token_hash)));
    co_return !r.empty();
}

}  // namespace marquee::auth
