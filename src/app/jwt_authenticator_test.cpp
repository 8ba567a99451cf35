#include "app/jwt_authenticator.hpp"

#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "core/problem.hpp"
#include "jwt/key.hpp"

namespace marquee::app {
namespace {

using namespace std::chrono_literals;

constexpr core::TimePoint kNow = core::TimePoint(std::chrono::seconds(1'800'000'000));

struct Keys {
    jwt::Signer signer;
    jwt::Verifier verifier;
};

Keys keys(const std::string& kid) {
    const auto secret = jwt::PrivateKey::from_raw(jwt::random_bytes(32));
    jwt::Verifier verifier;
    verifier.add_key(kid, secret.public_key());
    return {jwt::Signer(secret, kid), std::move(verifier)};
}

bool refused(const JwtAuthenticator& authenticator, const std::string& token) {
    try {
        (void)authenticator.authenticate(token);
        return false;
    } catch (const core::Problem& p) {
        return p.status() == 401;
    }
}

TEST(JwtAuthenticator, AcceptsTokensOfASignerOnlyWhenItsKeyIsAmongThePublicKeys) {
    auto [signer, verifier] = keys("k1");
    const JwtAuthenticator authenticator(verifier, std::make_shared<core::ManualClock>(kNow), 100);
    EXPECT_TRUE(authenticator.accepts_tokens_of(signer));
    // Another private key under the same kid (a rotation half done) or under an unknown kid: not trusted.
    EXPECT_FALSE(authenticator.accepts_tokens_of(keys("k1").signer));
    EXPECT_FALSE(authenticator.accepts_tokens_of(keys("k2").signer));
}

TEST(JwtAuthenticator, ATokenSignedHereIsServedWithTheClaimsItWasSignedWith) {
    auto [signer, verifier] = keys("k1");
    const auto clock = std::make_shared<core::ManualClock>(kNow);
    const JwtAuthenticator authenticator(verifier, clock, 100);
    const jwt::Claims claims = jwt::new_claims("user-7", {"fan"}, kNow, 15min);
    const std::string token = signer.sign(claims);
    // What is remembered at issue is exactly what verify() would return for the token.
    const jwt::Claims verified = verifier.verify(token, kNow);
    EXPECT_EQ(verified.subject, claims.subject);
    EXPECT_EQ(verified.roles, claims.roles);
    EXPECT_EQ(verified.issued_at, claims.issued_at);
    EXPECT_EQ(verified.not_before, claims.not_before);
    EXPECT_EQ(verified.expires_at, claims.expires_at);
    EXPECT_EQ(verified.token_id, claims.token_id);

    authenticator.remember_issued(token, claims);
    const http::Principal principal = authenticator.authenticate(token);
    EXPECT_EQ(principal.user_id, "user-7");
    EXPECT_EQ(principal.roles, std::vector<std::string>{"fan"});
}

TEST(JwtAuthenticator, ARememberedTokenIsServedByItsExactBytesOnlyAndNeverPastExp) {
    auto [signer, verifier] = keys("k1");
    const auto clock = std::make_shared<core::ManualClock>(kNow);
    const JwtAuthenticator authenticator(verifier, clock, 100);
    // Claims remembered for a token the verifier would refuse (signed by an unknown key): served from memory,
    // which shows a remembered token skips the signature check. That is why main wires remember_issued only
    // for a signer accepts_tokens_of() approved.
    auto stranger = keys("k9").signer;
    const jwt::Claims claims = jwt::new_claims("user-8", {"fan"}, kNow, 15min);
    const std::string token = stranger.sign(claims);
    EXPECT_TRUE(refused(authenticator, token));
    authenticator.remember_issued(token, claims);
    EXPECT_EQ(authenticator.authenticate(token).user_id, "user-8");

    // Any other bytes are verified again (and refused).
    std::string tampered = token;
    tampered.back() = tampered.back() == 'A' ? 'B' : 'A';
    EXPECT_TRUE(refused(authenticator, tampered));
    // At exp the memory no longer answers; the verifier refuses the stranger's token again.
    clock->advance(15min);
    EXPECT_TRUE(refused(authenticator, token));
}

TEST(JwtAuthenticator, WithTheCacheOffNothingIsRemembered) {
    auto [signer, verifier] = keys("k1");
    const JwtAuthenticator authenticator(verifier, std::make_shared<core::ManualClock>(kNow), 0);
    auto stranger = keys("k9").signer;
    const jwt::Claims claims = jwt::new_claims("user-9", {"fan"}, kNow, 15min);
    const std::string token = stranger.sign(claims);
    authenticator.remember_issued(token, claims);
    EXPECT_TRUE(refused(authenticator, token));
}

}  // namespace
}  // namespace marquee::app
