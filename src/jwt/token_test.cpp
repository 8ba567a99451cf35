#include "jwt/token.hpp"

#include <cstdint>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include "core/problem.hpp"
#include "jwt/base64url.hpp"

namespace marquee::jwt {
namespace {

using namespace std::chrono_literals;

// RFC 8037 appendix A.1 (the Ed25519 key as a JWK) and A.4 (the signed example).
constexpr std::string_view kRfcD = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
constexpr std::string_view kRfcX = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
constexpr std::string_view kRfcJws =
    "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc."
    "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";

constexpr core::TimePoint kNow = core::TimePoint(std::chrono::seconds(1'800'000'000));

PrivateKey fresh_private_key() {
    return PrivateKey::from_raw(random_bytes(32));
}

struct KeyPair {
    PrivateKey secret;
    PublicKey pub;
};

KeyPair rfc_pair() {
    return {PrivateKey::from_raw(*base64url_decode(kRfcD)), PublicKey::from_raw(*base64url_decode(kRfcX))};
}

// One key pair generated with `openssl genpkey -algorithm ed25519` and `openssl pkey -pubout`.
constexpr std::string_view kPrivatePem = R"(-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIFXcNIffFy8TSBL5hwkt6lboq+aKOAFS79zZlnkD+ouf
-----END PRIVATE KEY-----
)";
constexpr std::string_view kPublicPem = R"(-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAUIO3Wm7gpVcvRRwofgA+KfM6ht4wNqFOIiQTzoNjUSA=
-----END PUBLIC KEY-----
)";

void expect_invalid_token(const Verifier& verifier, std::string_view token, std::string_view detail_part,
                          core::TimePoint now = kNow) {
    try {
        (void)verifier.verify(token, now);
        ADD_FAILURE() << "accepted: " << token;
    } catch (const core::Problem& p) {
        EXPECT_EQ(p.status(), 401);
        EXPECT_NE(p.detail().find(detail_part), std::string::npos) << p.detail();
        bool challenge = false;
        for (const auto& [name, value] : p.headers()) {
            if (name == "WWW-Authenticate" && value.find("invalid_token") != std::string::npos) {
                challenge = true;
            }
        }
        EXPECT_TRUE(challenge);
    }
}

Claims valid_claims() {
    return Claims{.subject = "user-1",
                  .roles = {"fan"},
                  .issued_at = numeric_date(kNow),
                  .not_before = numeric_date(kNow),
                  .expires_at = numeric_date(kNow + 15min),
                  .token_id = "jti-1"};
}

std::string payload_json(const Claims& c) {
    return boost::json::serialize(boost::json::object{{"iss", "marquee"},
                                                      {"aud", "marquee-api"},
                                                      {"sub", c.subject},
                                                      {"roles", boost::json::array{"fan"}},
                                                      {"iat", c.issued_at},
                                                      {"nbf", c.not_before},
                                                      {"exp", c.expires_at}});
}

TEST(Rfc8037, ExampleSignatureVerifiesWithThePublicKey) {
    EXPECT_TRUE(signature_verifies(kRfcJws, rfc_pair().pub));
}

TEST(Rfc8037, SigningTheExampleWithThePrivateKeyIsByteExact) {
    EXPECT_EQ(sign_compact(rfc_pair().secret, R"({"alg":"EdDSA"})", "Example of Ed25519 signing"), kRfcJws);
}

TEST(Rfc8037, AnyChangedByteFailsTheSignature) {
    std::string tampered(kRfcJws);
    tampered[25] = tampered[25] == 'A' ? 'B' : 'A';
    EXPECT_FALSE(signature_verifies(tampered, rfc_pair().pub));
    EXPECT_FALSE(signature_verifies(kRfcJws, PublicKey::from_raw(random_bytes(32))));
}

TEST(Keys, LoadsPemKeysOfOnePair) {
    const auto secret = PrivateKey::from_pem(kPrivatePem);
    const auto pub = PublicKey::from_pem(kPublicPem);
    EXPECT_TRUE(pub.verify("message", secret.sign("message")));
    EXPECT_FALSE(pub.verify("massage", secret.sign("message")));
}

TEST(Keys, RefusesGarbageAndWrongLengths) {
    EXPECT_THROW(PrivateKey::from_pem("not a pem"), KeyError);
    EXPECT_THROW(PublicKey::from_pem(kPrivatePem), KeyError);
    EXPECT_THROW(PrivateKey::from_raw("short"), KeyError);
    EXPECT_THROW(PublicKey::from_raw(std::string(33, 'x')), KeyError);
}

TEST(Keys, ConstantTimeEqualComparesContentAndLength) {
    EXPECT_TRUE(constant_time_equal("abc", "abc"));
    EXPECT_FALSE(constant_time_equal("abc", "abd"));
    EXPECT_FALSE(constant_time_equal("abc", "abcd"));
    EXPECT_EQ(sha256("abc").size(), 32u);
    EXPECT_EQ(base64url_encode(sha256("abc")), "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0");
}

class TokenTest : public ::testing::Test {
  protected:
    TokenTest() : signer_(PrivateKey::from_pem(kPrivatePem), "k1") {
        verifier_.add_key("k1", PublicKey::from_pem(kPublicPem));
    }
    std::string signed_with_header(std::string_view header, const Claims& claims = valid_claims()) {
        return sign_compact(PrivateKey::from_pem(kPrivatePem), header, payload_json(claims));
    }
    Signer signer_;
    Verifier verifier_;
};

TEST_F(TokenTest, IssuedTokenRoundTrips) {
    const std::string token = signer_.issue("user-42", {"fan", "admin"}, kNow, 15min);
    const Claims claims = verifier_.verify(token, kNow + 1min);
    EXPECT_EQ(claims.subject, "user-42");
    EXPECT_EQ(claims.roles, (std::vector<std::string>{"fan", "admin"}));
    EXPECT_EQ(claims.issued_at, numeric_date(kNow));
    EXPECT_EQ(claims.expires_at, numeric_date(kNow) + 900);
    EXPECT_EQ(claims.token_id.size(), 32u);
    EXPECT_NE(claims.token_id, verifier_.verify(signer_.issue("user-42", {}, kNow, 15min), kNow).token_id);
}

TEST_F(TokenTest, HeaderNamesAlgTypAndKid) {
    const std::string token = signer_.sign(valid_claims());
    const auto header = base64url_decode(token.substr(0, token.find('.')));
    EXPECT_EQ(*header, R"({"alg":"EdDSA","typ":"JWT","kid":"k1"})");
}

TEST_F(TokenTest, RejectsAlgNone) {
    const std::string unsigned_token = base64url_encode(R"({"alg":"none","typ":"JWT","kid":"k1"})") + "." +
                                       base64url_encode(payload_json(valid_claims())) + ".";
    expect_invalid_token(verifier_, unsigned_token, "alg");
}

TEST_F(TokenTest, RejectsOtherAlgorithmsAndMissingAlg) {
    expect_invalid_token(verifier_, signed_with_header(R"({"alg":"HS256","typ":"JWT","kid":"k1"})"), "alg");
    expect_invalid_token(verifier_, signed_with_header(R"({"alg":"RS256","typ":"JWT","kid":"k1"})"), "alg");
    expect_invalid_token(verifier_, signed_with_header(R"({"alg":"eddsa","typ":"JWT","kid":"k1"})"), "alg");
    expect_invalid_token(verifier_, signed_with_header(R"({"typ":"JWT","kid":"k1"})"), "alg");
}

TEST_F(TokenTest, RejectsUnknownOrMissingKid) {
    expect_invalid_token(verifier_, signed_with_header(R"({"alg":"EdDSA","typ":"JWT","kid":"k9"})"), "kid");
    expect_invalid_token(verifier_, signed_with_header(R"({"alg":"EdDSA","typ":"JWT"})"), "kid");
}

TEST_F(TokenTest, RejectsASignatureOfAnotherKey) {
    const Signer impostor(fresh_private_key(), "k1");
    expect_invalid_token(verifier_, impostor.sign(valid_claims()), "signature");
}

TEST_F(TokenTest, RejectsTamperedPayloadAndHeader) {
    const std::string token = signer_.sign(valid_claims());
    const auto dot1 = token.find('.');
    const auto dot2 = token.find('.', dot1 + 1);
    Claims elevated = valid_claims();
    elevated.subject = "someone-else";
    const std::string forged_payload =
        token.substr(0, dot1 + 1) + base64url_encode(payload_json(elevated)) + token.substr(dot2);
    expect_invalid_token(verifier_, forged_payload, "signature");
    const std::string forged_header =
        base64url_encode(R"({"alg":"EdDSA","typ":"JWS","kid":"k1"})") + token.substr(dot1);
    expect_invalid_token(verifier_, forged_header, "signature");
    std::string flipped = token;
    flipped.back() = flipped.back() == 'A' ? 'Q' : 'A';
    expect_invalid_token(verifier_, flipped, "signature");
}

TEST_F(TokenTest, RejectsMalformedTokens) {
    expect_invalid_token(verifier_, "", "JWS");
    expect_invalid_token(verifier_, "abc", "JWS");
    expect_invalid_token(verifier_, "a.b", "JWS");
    expect_invalid_token(verifier_, "a.b.c.d", "JWS");
    expect_invalid_token(verifier_, "!!!.e30.AAAA", "base64url");
    expect_invalid_token(verifier_, base64url_encode("not json") + ".e30.AAAA", "JSON");
    expect_invalid_token(verifier_, base64url_encode("[1]") + ".e30.AAAA", "JSON");
    const std::string token = signer_.sign(valid_claims());
    expect_invalid_token(verifier_, token.substr(0, token.rfind('.') + 1) + "*", "signature");
}

TEST_F(TokenTest, RejectsASignedPayloadThatIsNotJson) {
    const std::string token =
        sign_compact(PrivateKey::from_pem(kPrivatePem), R"({"alg":"EdDSA","kid":"k1"})", "plain text");
    expect_invalid_token(verifier_, token, "payload");
}

TEST_F(TokenTest, RejectsOversizedTokensBeforeParsing) {
    Claims big = valid_claims();
    big.subject = std::string(kMaxTokenBytes, 'a');
    expect_invalid_token(verifier_, signer_.sign(big), "too long");
}

TEST_F(TokenTest, ExpiryHonoursTheLeeway) {
    const std::string token = signer_.sign(valid_claims());  // exp = kNow + 15 min
    EXPECT_NO_THROW((void)verifier_.verify(token, kNow + 15min + 29s));
    expect_invalid_token(verifier_, token, "expired", kNow + 15min + 30s);
    expect_invalid_token(verifier_, token, "expired", kNow + 1h);
}

TEST_F(TokenTest, NotBeforeHonoursTheLeeway) {
    Claims future = valid_claims();
    future.not_before = numeric_date(kNow + 5min);
    future.expires_at = numeric_date(kNow + 20min);
    const std::string token = signer_.sign(future);
    expect_invalid_token(verifier_, token, "not valid yet");
    EXPECT_NO_THROW((void)verifier_.verify(token, kNow + 5min - 30s));
    expect_invalid_token(verifier_, token, "not valid yet", kNow + 5min - 31s);
}

TEST_F(TokenTest, IssuedAtInTheFutureIsRefusedBeyondTheLeeway) {
    Claims ahead = valid_claims();  // nbf now, as a forger with the key would set it
    ahead.issued_at = numeric_date(kNow + 365 * 24h);
    ahead.expires_at = ahead.issued_at + 900;
    expect_invalid_token(verifier_, signer_.sign(ahead), "issued in the future");
    Claims skewed = valid_claims();
    skewed.issued_at = numeric_date(kNow + 30s);
    EXPECT_NO_THROW((void)verifier_.verify(signer_.sign(skewed), kNow));
    skewed.issued_at = numeric_date(kNow + 31s);
    expect_invalid_token(verifier_, signer_.sign(skewed), "issued in the future");
}

TEST_F(TokenTest, LifetimeLongerThanTheMaximumIsRefused) {
    Claims day = valid_claims();
    day.expires_at = day.issued_at + kMaxLifetime.count();
    EXPECT_NO_THROW((void)verifier_.verify(signer_.sign(day), kNow));
    Claims longer = day;
    longer.expires_at += 1;
    expect_invalid_token(verifier_, signer_.sign(longer), "lifetime");
    Claims decade = valid_claims();
    decade.issued_at = numeric_date(kNow - 24h);  // long ago, still valid for ten years
    decade.expires_at = numeric_date(kNow + 3650 * 24h);
    expect_invalid_token(verifier_, signer_.sign(decade), "lifetime");
}

TEST_F(TokenTest, WithoutIssuedAtTheLifetimeCountsFromNow) {
    const auto with = [&](const boost::json::object& payload) {
        return sign_compact(PrivateKey::from_pem(kPrivatePem), R"({"alg":"EdDSA","kid":"k1"})",
                            boost::json::serialize(payload));
    };
    boost::json::object payload{{"iss", "marquee"}, {"aud", "marquee-api"}, {"sub", "u"}};
    payload["exp"] = numeric_date(kNow + 1h);
    EXPECT_EQ(verifier_.verify(with(payload), kNow).subject, "u");
    payload["exp"] = numeric_date(kNow + 3650 * 24h);
    expect_invalid_token(verifier_, with(payload), "lifetime");
}

TEST_F(TokenTest, ExtremeNumericDatesAreRefusedWithoutOverflow) {
    // Found by reading the verifier for the fuzzer: `exp + leeway` overflowed for exp near INT64_MAX.
    const auto with = [&](const boost::json::object& payload) {
        return sign_compact(PrivateKey::from_pem(kPrivatePem), R"({"alg":"EdDSA","kid":"k1"})",
                            boost::json::serialize(payload));
    };
    boost::json::object payload{{"iss", "marquee"}, {"aud", "marquee-api"}, {"sub", "u"}};
    payload["exp"] = INT64_MAX;
    expect_invalid_token(verifier_, with(payload), "lifetime");
    payload["iat"] = INT64_MIN;
    expect_invalid_token(verifier_, with(payload), "lifetime");
    payload["iat"] = INT64_MAX;
    expect_invalid_token(verifier_, with(payload), "issued in the future");
    payload["exp"] = INT64_MIN;
    expect_invalid_token(verifier_, with(payload), "expired");
    payload["exp"] = numeric_date(kNow + 1min);
    payload["nbf"] = INT64_MAX;
    expect_invalid_token(verifier_, with(payload), "not valid yet");
}

TEST_F(TokenTest, RejectsWrongIssuerOrAudience) {
    const auto with = [&](const boost::json::object& payload) {
        return sign_compact(PrivateKey::from_pem(kPrivatePem), R"({"alg":"EdDSA","kid":"k1"})",
                            boost::json::serialize(payload));
    };
    const boost::json::object base{
        {"iss", "marquee"}, {"aud", "marquee-api"}, {"sub", "u"}, {"exp", numeric_date(kNow + 1min)}};
    boost::json::object wrong_iss = base;
    wrong_iss["iss"] = "evil";
    expect_invalid_token(verifier_, with(wrong_iss), "issuer");
    boost::json::object wrong_aud = base;
    wrong_aud["aud"] = "other-api";
    expect_invalid_token(verifier_, with(wrong_aud), "audience");
    boost::json::object no_exp = base;
    no_exp.erase("exp");
    expect_invalid_token(verifier_, with(no_exp), "exp");
    boost::json::object aud_list = base;
    aud_list["aud"] = boost::json::array{"x", "marquee-api"};
    EXPECT_EQ(verifier_.verify(with(aud_list), kNow).subject, "u");
}

TEST(KeyRotation, TokenOfEitherKeyVerifiesAndAThirdFails) {
    const PrivateKey key1 = fresh_private_key();
    const PrivateKey key2 = fresh_private_key();
    const PrivateKey key3 = fresh_private_key();
    Verifier rotating;
    rotating.add_key("k1", key1.public_key());
    rotating.add_key("k2", key2.public_key());
    EXPECT_EQ(rotating.size(), 2u);
    EXPECT_EQ(rotating.verify(Signer(key1, "k1").issue("u1", {"fan"}, kNow, 15min), kNow).subject, "u1");
    EXPECT_EQ(rotating.verify(Signer(key2, "k2").issue("u2", {"fan"}, kNow, 15min), kNow).subject, "u2");
    expect_invalid_token(rotating, Signer(key3, "k3").issue("u3", {"fan"}, kNow, 15min), "kid");
    // A third key that claims a known kid is a forgery, not a rotation.
    expect_invalid_token(rotating, Signer(key3, "k1").issue("u3", {"fan"}, kNow, 15min), "signature");
}

TEST(KeyList, ParsesKidPathPairs) {
    const auto keys = parse_key_list("k1=/keys/a.pem,k2=/keys/b.pem");
    ASSERT_EQ(keys.size(), 2u);
    EXPECT_EQ(keys[0], (std::pair<std::string, std::string>{"k1", "/keys/a.pem"}));
    EXPECT_EQ(keys[1], (std::pair<std::string, std::string>{"k2", "/keys/b.pem"}));
    EXPECT_TRUE(parse_key_list("").empty());
    EXPECT_THROW(parse_key_list("k1"), KeyError);
    EXPECT_THROW(parse_key_list("=/a.pem"), KeyError);
    EXPECT_THROW(parse_key_list("k1="), KeyError);
    EXPECT_THROW(parse_key_list("k1=/a,k1=/b"), KeyError);
}

}  // namespace
}  // namespace marquee::jwt
