#include "jwt/verified_cache.hpp"

#include <string>

#include <gtest/gtest.h>

#include "core/problem.hpp"
#include "jwt/key.hpp"

namespace marquee::jwt {
namespace {

using namespace std::chrono_literals;

constexpr core::TimePoint kVerifiedAt = core::TimePoint(std::chrono::seconds(1'800'000'000));

Claims claims_for(std::string subject, core::TimePoint expires) {
    return Claims{.subject = std::move(subject),
                  .roles = {"fan"},
                  .issued_at = numeric_date(kVerifiedAt),
                  .not_before = numeric_date(kVerifiedAt),
                  .expires_at = numeric_date(expires),
                  .token_id = "jti"};
}

TEST(VerifiedCache, KeysAreTheSha256OfTheWholeToken) {
    const auto a = VerifiedCache::key_of("header.payload.signature");
    EXPECT_EQ(a, VerifiedCache::key_of("header.payload.signature"));
    EXPECT_NE(a, VerifiedCache::key_of("header.payload.signaturE"));
    // SHA-256("abc"), FIPS 180-2 appendix B.1.
    const auto abc = VerifiedCache::key_of("abc");
    EXPECT_EQ(abc[0], 0xba);
    EXPECT_EQ(abc[1], 0x78);
    EXPECT_EQ(abc[31], 0xad);
}

TEST(VerifiedCache, ServesRememberedClaimsUntilExpAndNeverPastIt) {
    VerifiedCache cache(10);
    const auto key = VerifiedCache::key_of("t1");
    EXPECT_FALSE(cache.find(key, kVerifiedAt));
    cache.remember(key, claims_for("user-1", kVerifiedAt + 15min), kVerifiedAt);
    const auto hit = cache.find(key, kVerifiedAt + 14min + 59s);
    ASSERT_TRUE(hit);
    EXPECT_EQ(hit->subject, "user-1");
    EXPECT_EQ(hit->roles, std::vector<std::string>{"fan"});
    // At exp (the verifier would still allow its leeway): not served, and the entry is gone.
    EXPECT_FALSE(cache.find(key, kVerifiedAt + 15min));
    EXPECT_EQ(cache.size(), 0u);
    EXPECT_FALSE(cache.find(key, kVerifiedAt + 1min));
    EXPECT_EQ(cache.hits(), 1u);
    EXPECT_EQ(cache.misses(), 3u);
}

TEST(VerifiedCache, NeverRemembersATokenAlreadyPastExp) {
    VerifiedCache cache(10);
    const auto key = VerifiedCache::key_of("t1");
    // verify() accepts it within its 30 s leeway; the cache does not keep it.
    cache.remember(key, claims_for("user-1", kVerifiedAt - 10s), kVerifiedAt);
    EXPECT_EQ(cache.size(), 0u);
    EXPECT_FALSE(cache.find(key, kVerifiedAt - 20s));
}

TEST(VerifiedCache, IsBoundedAndEvictsTheLeastRecentlyUsed) {
    VerifiedCache cache(2);
    const auto a = VerifiedCache::key_of("a");
    const auto b = VerifiedCache::key_of("b");
    const auto c = VerifiedCache::key_of("c");
    cache.remember(a, claims_for("a", kVerifiedAt + 15min), kVerifiedAt);
    cache.remember(b, claims_for("b", kVerifiedAt + 15min), kVerifiedAt);
    ASSERT_TRUE(cache.find(a, kVerifiedAt));  // a is now the most recently used
    cache.remember(c, claims_for("c", kVerifiedAt + 15min), kVerifiedAt);
    EXPECT_EQ(cache.size(), 2u);
    EXPECT_TRUE(cache.find(a, kVerifiedAt));
    EXPECT_FALSE(cache.find(b, kVerifiedAt));
    EXPECT_TRUE(cache.find(c, kVerifiedAt));
    // Remembering a key again replaces its claims without growing.
    cache.remember(c, claims_for("c2", kVerifiedAt + 15min), kVerifiedAt);
    EXPECT_EQ(cache.size(), 2u);
    EXPECT_EQ(cache.find(c, kVerifiedAt)->subject, "c2");
}

TEST(VerifiedCache, CapacityZeroIsOff) {
    VerifiedCache cache(0);
    const auto key = VerifiedCache::key_of("t1");
    cache.remember(key, claims_for("user-1", kVerifiedAt + 15min), kVerifiedAt);
    EXPECT_EQ(cache.size(), 0u);
    EXPECT_FALSE(cache.find(key, kVerifiedAt));
}

class VerifyCachedTest : public ::testing::Test {
  protected:
    VerifyCachedTest() : secret_(PrivateKey::from_raw(random_bytes(32))), signer_(secret_, "k1") {
        verifier_.add_key("k1", secret_.public_key());
    }
    std::string token(std::string subject, std::chrono::seconds ttl = 900s) {
        return signer_.issue(std::move(subject), {"fan"}, kVerifiedAt, ttl);
    }
    static bool refused(const Verifier& v, VerifiedCache& cache, const std::string& t, core::TimePoint now) {
        try {
            (void)verify_cached(v, cache, t, now);
            return false;
        } catch (const core::Problem& p) {
            return p.status() == 401;
        }
    }
    PrivateKey secret_;
    Signer signer_;
    Verifier verifier_;
};

TEST_F(VerifyCachedTest, ASecondPresentationIsServedFromTheCache) {
    VerifiedCache cache(10);
    const auto t = token("user-1");
    EXPECT_EQ(verify_cached(verifier_, cache, t, kVerifiedAt).subject, "user-1");
    EXPECT_EQ(cache.size(), 1u);
    // Proof that the second answer did not verify: a verifier without keys would refuse the token.
    const Verifier no_keys;
    EXPECT_EQ(verify_cached(no_keys, cache, t, kVerifiedAt + 1min).subject, "user-1");
    EXPECT_EQ(cache.hits(), 1u);
}

TEST_F(VerifyCachedTest, ATamperedOrForeignTokenIsVerifiedAndRefusedEveryTime) {
    VerifiedCache cache(10);
    const auto t = token("user-1");
    (void)verify_cached(verifier_, cache, t, kVerifiedAt);
    std::string tampered = t;
    tampered.back() = tampered.back() == 'A' ? 'B' : 'A';
    EXPECT_TRUE(refused(verifier_, cache, tampered, kVerifiedAt));
    EXPECT_TRUE(refused(verifier_, cache, tampered, kVerifiedAt));
    const Signer impostor(PrivateKey::from_raw(random_bytes(32)), "k1");
    const auto foreign = impostor.issue("user-1", {"fan"}, kVerifiedAt, 900s);
    EXPECT_TRUE(refused(verifier_, cache, foreign, kVerifiedAt));
    EXPECT_EQ(cache.size(), 1u);
}

TEST_F(VerifyCachedTest, ACachedTokenIsRefusedOnceExpired) {
    VerifiedCache cache(10);
    const auto t = token("user-1", 60s);
    (void)verify_cached(verifier_, cache, t, kVerifiedAt);
    EXPECT_FALSE(refused(verifier_, cache, t, kVerifiedAt + 59s));
    // Past exp the cache does not answer; the verifier applies its leeway and then refuses.
    EXPECT_FALSE(refused(verifier_, cache, t, kVerifiedAt + 60s + kLeeway - 1s));
    EXPECT_TRUE(refused(verifier_, cache, t, kVerifiedAt + 60s + kLeeway));
    EXPECT_TRUE(refused(verifier_, cache, t, kVerifiedAt + 1h));
}

TEST_F(VerifyCachedTest, ARememberedTokenIsServedWithoutVerifying) {
    VerifiedCache cache(10);
    const auto t = token("user-1");
    remember_verified(cache, t, claims_for("user-1", kVerifiedAt + 15min), kVerifiedAt);
    EXPECT_EQ(cache.size(), 1u);
    // A verifier without keys refuses every token: an answer proves it came from the cache.
    const Verifier no_keys;
    EXPECT_EQ(verify_cached(no_keys, cache, t, kVerifiedAt + 1min).subject, "user-1");
    EXPECT_EQ(cache.hits(), 1u);
}

TEST_F(VerifyCachedTest, RememberKeepsNothingWhenTheCacheIsOffOrTheTokenTooLong) {
    VerifiedCache off(0);
    remember_verified(off, token("user-1"), claims_for("user-1", kVerifiedAt + 15min), kVerifiedAt);
    EXPECT_EQ(off.size(), 0u);

    // verify_cached never looks a token over kMaxTokenBytes up, so remembering one would only take room; and
    // the verifier refuses it (not from the cache).
    VerifiedCache cache(10);
    const std::string too_long = token("user-1") + std::string(kMaxTokenBytes, 'A');
    remember_verified(cache, too_long, claims_for("user-1", kVerifiedAt + 15min), kVerifiedAt);
    EXPECT_EQ(cache.size(), 0u);
    EXPECT_TRUE(refused(verifier_, cache, too_long, kVerifiedAt));

    // At the limit it is remembered (the rule is "over", as the verifier's).
    const std::string at_limit(kMaxTokenBytes, 'a');
    remember_verified(cache, at_limit, claims_for("user-1", kVerifiedAt + 15min), kVerifiedAt);
    EXPECT_EQ(cache.size(), 1u);
}

}  // namespace
}  // namespace marquee::jwt
