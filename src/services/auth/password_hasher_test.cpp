#include "services/auth/password_hasher.hpp"

#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

namespace marquee::auth {
namespace {

namespace asio = boost::asio;

// Cheap parameters keep the unit tests fast; production uses the Argon2Params defaults.
constexpr Argon2Params kFast{.time_cost = 1, .memory_kib = 256, .parallelism = 1};

TEST(PasswordHash, IsAnArgon2idPhcStringWithTheGivenCost) {
    const std::string phc = hash_password("correct horse 1", kFast);
    EXPECT_EQ(phc.rfind("$argon2id$v=19$m=256,t=1,p=1$", 0), 0u) << phc;
    EXPECT_EQ(hash_password("x", Argon2Params{}).rfind("$argon2id$v=19$m=19456,t=2,p=1$", 0), 0u);
}

TEST(PasswordHash, MatchesOnlyTheSamePassword) {
    const std::string phc = hash_password("correct horse 1", kFast);
    EXPECT_TRUE(password_matches(phc, "correct horse 1"));
    EXPECT_FALSE(password_matches(phc, "correct horse 2"));
    EXPECT_FALSE(password_matches(phc, ""));
}

TEST(PasswordHash, SaltsEveryHash) {
    EXPECT_NE(hash_password("same password 1", kFast), hash_password("same password 1", kFast));
}

TEST(PasswordHash, MalformedHashNeverMatches) {
    EXPECT_FALSE(password_matches("", "pw"));
    EXPECT_FALSE(password_matches("$argon2id$garbage", "pw"));
}

TEST(PasswordHasher, ResumesTheCallerOnItsOwnThread) {
    asio::io_context io;
    PasswordHasher hasher(kFast, 1);
    std::thread::id caller, after;
    auto work = [&]() -> asio::awaitable<bool> {
        caller = std::this_thread::get_id();
        std::string phc = co_await hasher.hash("correct horse 1");
        after = std::this_thread::get_id();
        co_return co_await hasher.verify(std::move(phc), "correct horse 1");
    };
    auto result = asio::co_spawn(io, work(), asio::use_future);
    io.run();
    EXPECT_TRUE(result.get());
    EXPECT_TRUE(caller == after);
}

}  // namespace
}  // namespace marquee::auth
