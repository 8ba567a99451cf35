#include "app/jwt_authenticator.hpp"

#include <utility>

namespace marquee::app {

JwtAuthenticator::JwtAuthenticator(jwt::Verifier verifier, std::shared_ptr<const core::Clock> clock,
                                   std::size_t cache_size)
    : verifier_(std::move(verifier)), clock_(std::move(clock)), cache_(cache_size) {}

http::Principal JwtAuthenticator::authenticate(std::string_view bearer_token) const {
    jwt::Claims claims = jwt::verify_cached(verifier_, cache_, bearer_token, clock_->now());
    return http::Principal{std::move(claims.subject), std::move(claims.roles)};
}

std::unique_ptr<JwtAuthenticator> make_authenticator(const core::Config& config) {
    // Fail at start-up, not at the first login: the auth service must be able to sign.
    if (config.runs("auth")) (void)jwt::load_signer(config.jwt_private_key_file, config.jwt_key_id);
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
    return std::make_unique<JwtAuthenticator>(jwt::load_verifier(config.jwt_public_keys),
                                              std::make_shared<core::SystemClock>(), config.jwt_cache_size);
}

}  // namespace marquee::app
