// libFuzzer harness: the access-token verifier (src/jwt) on arbitrary tokens. The first byte picks a mode:
//   0: the rest is the whole token;
//   1: the rest is the payload (claims JSON), signed with the verifier's own key under a valid header, so
//      the claim checks (dates, issuer, audience, subject, roles) are reached past the signature;
//   2: the rest is the protected header, signed over valid claims with the verifier's key.
// Every refusal must be a core::Problem 401 (invalid_token); any other outcome is a crash.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/problem.hpp"
#include "jwt/token.hpp"

using namespace marquee;

namespace {

const jwt::PrivateKey& private_key() {
    static const jwt::PrivateKey key = jwt::PrivateKey::from_raw(std::string(32, '\x2a'));
    return key;
}

const jwt::Verifier& verifier() {
    static const jwt::Verifier v = [] {
        jwt::Verifier out;
        out.add_key("k1", private_key().public_key());
        return out;
    }();
    return v;
}

constexpr std::string_view kHeader = R"({"alg":"EdDSA","typ":"JWT","kid":"k1"})";
constexpr std::string_view kClaims =
    R"({"iss":"marquee","aud":"marquee-api","sub":"u","roles":["fan"],"iat":1800000000,"nbf":1800000000,)"
    R"("exp":1800000900,"jti":"j"})";
const core::TimePoint kNow{std::chrono::seconds(1'800'000'060)};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
    std::string token;
    switch (data[0] % 3) {
        case 0:
            token = std::string(rest);
            break;
        case 1:
            token = jwt::sign_compact(private_key(), kHeader, rest);
            break;
        default:
            token = jwt::sign_compact(private_key(), rest, kClaims);
            break;
    }
    try {
        const jwt::Claims claims = verifier().verify(token, kNow);
        if (claims.subject.empty()) std::abort();  // an accepted token always names its user
    } catch (const core::Problem& problem) {
        if (problem.status() != 401) {
            std::fprintf(stderr, "verify: a %d problem where only 401 is allowed\n", problem.status());
            std::abort();
        }
    }
    return 0;
}
