#pragma once

#include <cstddef>
#include <memory>
#include <string_view>

#include "core/clock.hpp"
#include "core/config.hpp"
#include "http/context.hpp"
#include "jwt/token.hpp"
#include "jwt/verified_cache.hpp"

namespace marquee::app {

/// The bridge from http (which knows nothing of JWT) to jwt (which knows nothing of HTTP): every service's
/// `ctx.user()` verifies bearer tokens here, with the public keys only. A token verified once is served from
/// a bounded cache until its `exp` (jwt::VerifiedCache, ADR 0015; `cache_size` 0: every request verifies).
class JwtAuthenticator final : public http::Authenticator {
  public:
    JwtAuthenticator(jwt::Verifier verifier, std::shared_ptr<const core::Clock> clock,
                     std::size_t cache_size = 0);

    /// Principal{user_id = sub, roles = roles}; Problem 401 invalid_token otherwise (see jwt::Verifier).
    http::Principal authenticate(std::string_view bearer_token) const override;

    /// Whether a token `signer` signs now is accepted by this process's verifier (its key id and public key
    /// are among MARQUEE_JWT_PUBLIC_KEYS): checked once, with a probe token, before remember_issued is wired.
    bool accepts_tokens_of(const jwt::Signer& signer) const;
    /// Remembers a token this process has just signed, with the claims it signed, as verify() would have
    /// returned them (ADR 0015): its first use is then served from the cache, not verified again. Only for
    /// a signer that accepts_tokens_of() approved.
    void remember_issued(std::string_view token, const jwt::Claims& claims) const;

  private:
    jwt::Verifier verifier_;
    std::shared_ptr<const core::Clock> clock_;
    mutable jwt::VerifiedCache cache_;
};

/// The authenticator for this process from config.jwt_public_keys, checked at start-up: throws jwt::KeyError
/// with a message naming the setting when a service that authenticates callers runs without keys, or when
/// the auth service runs without a usable signing key. Null when only the gateway runs and no keys are set.
/// `trusts_local_signer` (when given) is set to whether the auth service runs here and its tokens verify.
std::unique_ptr<JwtAuthenticator> make_authenticator(const core::Config& config,
                                                     bool* trusts_local_signer = nullptr);

}  // namespace marquee::app
