// The auth store against the real local PostgreSQL (migrated here with the repository's migrations).
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include "core/problem.hpp"
#include "coroutines.hpp"
#include "db/migrations.hpp"
#include "jwt/key.hpp"
#include "local_services.hpp"
#include "services/auth/service.hpp"
#include "services/auth/store.hpp"

namespace marquee::auth {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

constexpr char kHash[] = "$argon2id$v=19$m=256,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";

class AuthStoreDbTest : public ::testing::Test {
  protected:
    template <typename T>
    T run(asio::awaitable<T> task) {
        return test::run_here(io_, std::move(task));
    }

    void SetUp() override {
        const std::vector<std::string> services{"auth"};
        (void)run(db::migrate(pool_, test::local_setting("MARQUEE_MIGRATIONS_DIR"), services));
    }

    std::string unique_email() { return test::unique_name("fan") + "@example.com"; }

    User new_user() { return run(store_.insert_user(unique_email(), kHash, "Fan")); }

    std::int64_t count(const std::string& sql, const std::string& param) {
        const db::Result r = run(pool_.query(sql, db::params(param)));
        return r.get<std::int64_t>(0, 0);
    }

    asio::io_context io_;
    db::Pool pool_{io_.get_executor(), db::PoolOptions{.url = test::database_url(), .size = 4}};
    Store store_{pool_};
};

TEST_F(AuthStoreDbTest, InsertedUserIsAFanFoundByEmailAndId) {
    const std::string email = unique_email();
    const User user = run(store_.insert_user(email, kHash, "Kim"));
    EXPECT_EQ(user.id.size(), 36u);
    EXPECT_EQ(user.role, "fan");
    const auto credentials = run(store_.find_credentials(email));
    ASSERT_TRUE(credentials);
    EXPECT_EQ(credentials->user.id, user.id);
    EXPECT_EQ(credentials->password_hash, kHash);
    EXPECT_EQ(run(store_.find_user(user.id))->email, email);
    EXPECT_FALSE(run(store_.find_user("not-a-uuid")));
    EXPECT_FALSE(run(store_.find_user("00000000-0000-0000-0000-000000000000")));
}

TEST_F(AuthStoreDbTest, SecondUserWithTheSameEmailIsEmailTaken) {
    const std::string email = unique_email();
    (void)run(store_.insert_user(email, kHash, "First"));
    try {
        (void)run(store_.insert_user(email, kHash, "Second"));
        FAIL() << "a second user with one email";
    } catch (const core::Problem& p) {
        EXPECT_EQ(p.status(), 409);
        EXPECT_EQ(p.type(), "email-taken");
    }
}

TEST_F(AuthStoreDbTest, TheDatabaseRefusesUpperCaseEmailsAndUnknownRoles) {
    EXPECT_THROW((void)run(store_.insert_user("Upper" + unique_email(), kHash, "X")), db::SqlError);
    const User user = new_user();
    EXPECT_THROW(
        (void)run(pool_.query("UPDATE auth.users SET role = 'root' WHERE id = $1", db::params(user.id))),
        db::SqlError);
}

TEST_F(AuthStoreDbTest, RotationUsesTheTokenAndLinksItsSuccessor) {
    const User user = new_user();
    const std::string first = refresh_token_hash(new_refresh_token());
    const std::string second = refresh_token_hash(new_refresh_token());
    run(store_.insert_refresh_token(user.id, first, 1h));
    const Rotation rotation = run(store_.rotate_refresh_token(first, second, 1h));
    ASSERT_EQ(rotation.outcome, RotationOutcome::Rotated);
    EXPECT_EQ(rotation.user.id, user.id);
    EXPECT_EQ(
        count("SELECT count(*) FROM auth.refresh_tokens o JOIN auth.refresh_tokens n ON o.replaced_by = n.id "
              "WHERE o.token_hash = $1::bytea AND o.used_at IS NOT NULL AND n.family_id = o.family_id",
              bytea_hex(first)),
        1);
}

TEST_F(AuthStoreDbTest, ReusingARotatedTokenRevokesTheWholeFamily) {
    const User user = new_user();
    const std::string first = refresh_token_hash(new_refresh_token());
    const std::string second = refresh_token_hash(new_refresh_token());
    const std::string third = refresh_token_hash(new_refresh_token());
    run(store_.insert_refresh_token(user.id, first, 1h));
    ASSERT_EQ(run(store_.rotate_refresh_token(first, second, 1h)).outcome, RotationOutcome::Rotated);
    EXPECT_EQ(run(store_.rotate_refresh_token(first, third, 1h)).outcome, RotationOutcome::Reused);
    // The legitimate successor is revoked too: whoever holds it must log in again.
    EXPECT_EQ(run(store_.rotate_refresh_token(second, third, 1h)).outcome, RotationOutcome::Invalid);
    EXPECT_EQ(
        count("SELECT count(*) FROM auth.refresh_tokens WHERE user_id = $1 AND revoked_at IS NULL", user.id),
        0);
}

TEST_F(AuthStoreDbTest, TwoConcurrentRotationsOfOneTokenAreOneRotationAndOneReuse) {
    const User user = new_user();
    const std::string token = refresh_token_hash(new_refresh_token());
    run(store_.insert_refresh_token(user.id, token, 1h));
    const std::string next_a = refresh_token_hash(new_refresh_token());
    const std::string next_b = refresh_token_hash(new_refresh_token());
    auto a = asio::co_spawn(io_, store_.rotate_refresh_token(token, next_a, 1h), asio::use_future);
    auto b = asio::co_spawn(io_, store_.rotate_refresh_token(token, next_b, 1h), asio::use_future);
    io_.restart();
    io_.run();
    const RotationOutcome first = a.get().outcome;
    const RotationOutcome second = b.get().outcome;
    // The row lock serialises them: never two successors of one token.
    EXPECT_EQ((first == RotationOutcome::Rotated) + (second == RotationOutcome::Rotated), 1);
    EXPECT_EQ((first == RotationOutcome::Reused) + (second == RotationOutcome::Reused), 1);
    EXPECT_EQ(
        count("SELECT count(*) FROM auth.refresh_tokens WHERE user_id = $1 AND revoked_at IS NULL", user.id),
        0);
}

TEST_F(AuthStoreDbTest, UnknownAndExpiredTokensAreInvalid) {
    const User user = new_user();
    const std::string expired = refresh_token_hash(new_refresh_token());
    run(store_.insert_refresh_token(user.id, expired, 1s));
    (void)run(
        pool_.query("UPDATE auth.refresh_tokens SET issued_at = now() - interval '2 hours', "
                    "expires_at = now() - interval '1 hour' WHERE token_hash = $1::bytea",
                    db::params(bytea_hex(expired))));
    const std::string next = refresh_token_hash(new_refresh_token());
    EXPECT_EQ(run(store_.rotate_refresh_token(expired, next, 1h)).outcome, RotationOutcome::Invalid);
    EXPECT_EQ(run(store_.rotate_refresh_token(refresh_token_hash("never issued"), next, 1h)).outcome,
              RotationOutcome::Invalid);
}

TEST_F(AuthStoreDbTest, LogoutRevokesTheFamilyAndIsIdempotent) {
    const User user = new_user();
    const std::string token = refresh_token_hash(new_refresh_token());
    run(store_.insert_refresh_token(user.id, token, 1h));
    EXPECT_TRUE(run(store_.revoke_family(token)));
    EXPECT_TRUE(run(store_.revoke_family(token)));
    EXPECT_FALSE(run(store_.revoke_family(refresh_token_hash("never issued"))));
    const std::string next = refresh_token_hash(new_refresh_token());
    EXPECT_EQ(run(store_.rotate_refresh_token(token, next, 1h)).outcome, RotationOutcome::Invalid);
}

}  // namespace
}  // namespace marquee::auth
