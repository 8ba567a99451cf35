#include "app/jwt_authenticator.hpp"

#include <chrono>
#include <optional>
#include <utility>

#include "core/problem.hpp"

namespace marquee::app {

JwtAuthenticator::JwtAuthenticator(jwt::Verifier verifier, std::shared_ptr<const core::Clock> clock,
                                   std::size_t cache_size)
    : verifier_(std::move(verifier)), clock_(std::move(clock)), cache_(cache_size) {}

http::Principal JwtAuthenticator::authenticate(std::string_view bearer_token) const {
    jwt::Claims claims = jwt::verify_cached(verifier_, cache_, bearer_token, clock_->now());
    return http::Principal{std::move(claims.subject), std::move(claims.roles)};
}

bool JwtAuthenticator::accepts_tokens_of(const jwt::Signer& signer) const {
    const auto now = clock_->now();
    try {
        (void)verifier_.verify(signer.issue("probe", {}, now, std::chrono::seconds(60)), now);
        return true;
    } catch (const core::Problem&) {
        return false;
    }
}

void JwtAuthenticator::remember_issued(std::string_view token, const jwt::Claims& claims) const {
    jwt::remember_verified(cache_, token, claims, clock_->now());
}

std::unique_ptr<JwtAuthenticator> make_authenticator(const core::Config& config, bool* trusts_local_signer) {
    if (trusts_local_signer != nullptr) *trusts_local_signer = false;
    // Fail at start-up, not at the first login: the auth service must be able to sign.
    std::optional<jwt::Signer> signer;
    if (config.runs("auth")) signer.emplace(jwt::load_signer(config.jwt_private_key_file, config.jwt_key_id));
    if (config.jwt_public_keys.empty()) {
        for (const auto& service : config.services) {
            if (service != "gateway") {
                throw jwt::KeyError("the " + service +
                                    " service verifies access tokens: set MARQUEE_JWT_PUBLIC_KEYS "
                                    "(--jwt-public-keys) to kid=path.pem[,kid=path.pem] "
                                    "(./scripts/dev services writes a local key pair to .local/keys)");
            }
        }
        return nullptr;
    }
    auto authenticator =
        std::make_unique<JwtAuthenticator>(jwt::load_verifier(config.jwt_public_keys),
                                           std::make_shared<core::SystemClock>(), config.jwt_cache_size);
    if (signer && trusts_local_signer != nullptr) {
        *trusts_local_signer = authenticator->accepts_tokens_of(*signer);
    }
    return authenticator;
}

}  // namespace marquee::app
