#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/clock.hpp"
#include "jwt/key.hpp"

namespace marquee::jwt {

inline constexpr std::string_view kIssuer = "marquee";
inline constexpr std::string_view kAudience = "marquee-api";
/// Longer tokens are refused before any decoding or signature check.
inline constexpr std::size_t kMaxTokenBytes = std::size_t{8} * 1024;
/// Clock skew tolerated on `exp`, `nbf` and `iat` between the signing and the verifying process.
inline constexpr std::chrono::seconds kLeeway{30};
/// The longest lifetime (`exp` - `iat`) a token may claim: the largest access-token TTL the configuration
/// allows (--access-token-ttl is at most 86400 s). A token without `iat` is measured from the verifier's now.
inline constexpr std::chrono::seconds kMaxLifetime{24 * 3600};

/// The claims of a Marquee access token (RFC 7519 section 4.1; NumericDate in seconds).
struct Claims {
    std::string subject;             ///< sub: auth.users.id
    std::vector<std::string> roles;  ///< "fan", "admin"
    std::int64_t issued_at = 0;      ///< iat
    std::int64_t not_before = 0;     ///< nbf
    std::int64_t expires_at = 0;     ///< exp
    std::string token_id;            ///< jti: 128 random bits, hex
};

/// Seconds since the epoch, as JWT NumericDate.
std::int64_t numeric_date(core::TimePoint t);

/// The claims of a new token for `subject` with `roles`, valid from `now` for `ttl`, with a fresh jti.
Claims new_claims(std::string subject, std::vector<std::string> roles, core::TimePoint now,
                  std::chrono::seconds ttl);

/// Issues EdDSA (Ed25519) JWS compact tokens (RFC 7515, RFC 8037) with the header
/// {"alg":"EdDSA","typ":"JWT","kid":key_id} and iss "marquee", aud "marquee-api".
class Signer {
  public:
    Signer(PrivateKey key, std::string key_id);

    /// A token carrying new_claims(subject, roles, now, ttl).
    std::string issue(std::string subject, std::vector<std::string> roles, core::TimePoint now,
                      std::chrono::seconds ttl) const;
    /// A token carrying exactly these claims.
    std::string sign(const Claims& claims) const;

    const std::string& key_id() const noexcept { return key_id_; }

  private:
    PrivateKey key_;
    std::string key_id_;
};

/// Verifies tokens against the public keys it knows, chosen by the header's `kid` (two during a key
/// rotation). Immutable after set-up; verify() is safe from any number of threads.
class Verifier {
  public:
    void add_key(std::string key_id, PublicKey key);
    bool empty() const noexcept { return keys_.empty(); }
    std::size_t size() const noexcept { return keys_.size(); }

    /// The token's claims, or throws core::Problem::unauthorized(detail, "invalid_token") when the token is
    /// oversized, malformed, not alg EdDSA, signed with an unknown kid, forged or tampered with, expired or
    /// not yet valid (beyond kLeeway), issued in the future (`iat` beyond kLeeway), claiming a lifetime
    /// longer than kMaxLifetime, or not for iss "marquee" and aud "marquee-api".
    Claims verify(std::string_view token, core::TimePoint now) const;

  private:
    std::map<std::string, PublicKey, std::less<>> keys_;
};

/// The signature check alone, for known-answer tests (RFC 8037 appendix A.4): whether `token` is a
/// three-part JWS compact serialisation whose signature verifies under `key`. Checks no header or claim.
bool signature_verifies(std::string_view token, const PublicKey& key);

/// JWS compact serialisation of `payload` under `protected_header` (exact bytes, as given), signed with
/// Ed25519.
std::string sign_compact(const PrivateKey& key, std::string_view protected_header, std::string_view payload);

/// The Signer for the PEM private key in `path`, writing `key_id` as kid. Throws KeyError naming the file.
Signer load_signer(const std::string& path, std::string key_id);

/// A Verifier with every public key of `spec` ("kid=path.pem[,kid=path.pem]", config.jwt_public_keys).
/// Throws KeyError naming the file or entry that cannot be used.
Verifier load_verifier(std::string_view spec);

/// "kid=path[,kid=path]" (config.jwt_public_keys) as (kid, path) pairs, in order. Throws KeyError for an
/// entry without '=', an empty kid or path, or a kid given twice.
std::vector<std::pair<std::string, std::string>> parse_key_list(std::string_view spec);

}  // namespace marquee::jwt
