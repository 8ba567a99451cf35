#include "jwt/token.hpp"

#include <fstream>
#include <optional>
#include <sstream>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "core/problem.hpp"
#include "jwt/base64url.hpp"

namespace marquee::jwt {
namespace {

namespace json = boost::json;

[[noreturn]] void reject(std::string detail) {
    throw core::Problem::unauthorized(std::move(detail), "invalid_token");
}

struct Parts {
    std::string_view header;
    std::string_view payload;
    std::string_view signature;
    std::string_view signing_input;  ///< header '.' payload, what the signature covers
};

std::optional<Parts> split(std::string_view token) {
    const auto first = token.find('.');
    if (first == std::string_view::npos) return std::nullopt;
    const auto second = token.find('.', first + 1);
    if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos) {
        return std::nullopt;
    }
    return Parts{token.substr(0, first), token.substr(first + 1, second - first - 1),
                 token.substr(second + 1), token.substr(0, second)};
}

json::object decode_object(std::string_view part, std::string_view what) {
    const auto bytes = base64url_decode(part);
    if (!bytes) reject("the token's " + std::string(what) + " is not base64url");
    boost::system::error_code ec;
    json::value value = json::parse(*bytes, ec);
    if (ec || !value.is_object()) reject("the token's " + std::string(what) + " is not a JSON object");
    return std::move(value.as_object());
}

const json::string* string_member(const json::object& object, std::string_view key) {
    const auto* value = object.if_contains(key);
    return value == nullptr ? nullptr : value->if_string();
}

std::int64_t numeric_member(const json::object& claims, std::string_view key) {
    const auto* value = claims.if_contains(key);
    if (value != nullptr) {
        if (const auto* i = value->if_int64()) return *i;
        if (const auto* u = value->if_uint64(); u != nullptr && *u <= static_cast<std::uint64_t>(INT64_MAX)) {
            return static_cast<std::int64_t>(*u);
        }
    }
    reject("the token's " + std::string(key) + " claim is missing or not an integer");
}

bool audience_matches(const json::value* aud) {
    if (aud == nullptr) return false;
    if (const auto* s = aud->if_string()) return *s == kAudience;
    if (const auto* a = aud->if_array()) {
        for (const auto& v : *a) {
            if (const auto* s = v.if_string(); s != nullptr && *s == kAudience) return true;
        }
    }
    return false;
}

std::string read_key_file(const std::string& path, std::string_view what) {
    std::ifstream file(path, std::ios::binary);
    if (!file) throw KeyError("cannot read the JWT " + std::string(what) + " file '" + path + "'");
    std::ostringstream text;
    text << file.rdbuf();
    return text.str();
}

std::string random_hex(std::size_t bytes) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (const char c : random_bytes(bytes)) {
        out += kHex[(static_cast<unsigned char>(c) >> 4) & 0xF];
        out += kHex[static_cast<unsigned char>(c) & 0xF];
    }
    return out;
}

}  // namespace

std::int64_t numeric_date(core::TimePoint t) {
    return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

std::string sign_compact(const PrivateKey& key, std::string_view protected_header, std::string_view payload) {
    std::string token = base64url_encode(protected_header);
    token += '.';
    token += base64url_encode(payload);
    const std::string signature = key.sign(token);
    token += '.';
    token += base64url_encode(signature);
    return token;
}

bool signature_verifies(std::string_view token, const PublicKey& key) {
    const auto parts = split(token);
    if (!parts) return false;
    const auto signature = base64url_decode(parts->signature);
    return signature && key.verify(parts->signing_input, *signature);
}

Signer::Signer(PrivateKey key, std::string key_id) : key_(std::move(key)), key_id_(std::move(key_id)) {}

Claims new_claims(std::string subject, std::vector<std::string> roles, core::TimePoint now,
                  std::chrono::seconds ttl) {
    const std::int64_t iat = numeric_date(now);
    return Claims{.subject = std::move(subject),
                  .roles = std::move(roles),
                  .issued_at = iat,
                  .not_before = iat,
                  .expires_at = iat + ttl.count(),
                  .token_id = random_hex(16)};
}

std::string Signer::issue(std::string subject, std::vector<std::string> roles, core::TimePoint now,
                          std::chrono::seconds ttl) const {
    return sign(new_claims(std::move(subject), std::move(roles), now, ttl));
}

std::string Signer::sign(const Claims& claims) const {
    const json::object header{{"alg", "EdDSA"}, {"typ", "JWT"}, {"kid", key_id_}};
    json::array roles;
    for (const auto& r : claims.roles) roles.emplace_back(r);
    const json::object payload{{"iss", kIssuer},           {"aud", kAudience},
                               {"sub", claims.subject},    {"roles", std::move(roles)},
                               {"iat", claims.issued_at},  {"nbf", claims.not_before},
                               {"exp", claims.expires_at}, {"jti", claims.token_id}};
    return sign_compact(key_, json::serialize(header), json::serialize(payload));
}

void Verifier::add_key(std::string key_id, PublicKey key) {
    keys_.insert_or_assign(std::move(key_id), std::move(key));
}

Claims Verifier::verify(std::string_view token, core::TimePoint now) const {
    if (token.size() > kMaxTokenBytes) reject("the token is too long");
    const auto parts = split(token);
    if (!parts) reject("the token is not a JWS compact serialisation");

    // The header decides nothing by itself: only "EdDSA" is accepted (never "none", HS256 with the public
    // key as an HMAC secret, or RS256), and the key comes from our own table by kid, never from the token.
    const json::object header = decode_object(parts->header, "header");
    const auto* alg = string_member(header, "alg");
    if (alg == nullptr || *alg != "EdDSA") reject("the token's alg is not EdDSA");
    if (header.contains("crit")) reject("the token has critical header parameters");
    const auto* kid = string_member(header, "kid");
    if (kid == nullptr) reject("the token has no kid");
    const auto key = keys_.find(std::string_view(*kid));
    if (key == keys_.end()) reject("the token's kid is unknown");
    const auto signature = base64url_decode(parts->signature);
    if (!signature) reject("the token's signature is not base64url");
    if (!key->second.verify(parts->signing_input, *signature)) reject("the token's signature is invalid");

    const json::object payload = decode_object(parts->payload, "payload");
    const auto* iss = string_member(payload, "iss");
    if (iss == nullptr || *iss != kIssuer) reject("the token's issuer is not marquee");
    if (!audience_matches(payload.if_contains("aud"))) reject("the token's audience is not marquee-api");
    Claims claims;
    claims.expires_at = numeric_member(payload, "exp");
    claims.not_before = payload.contains("nbf") ? numeric_member(payload, "nbf") : 0;
    claims.issued_at = payload.contains("iat") ? numeric_member(payload, "iat") : 0;
    // `t` is a sane present; the claims may be any int64, so only `t` takes the arithmetic (no overflow).
    const std::int64_t t = numeric_date(now);
    if (t - kLeeway.count() >= claims.expires_at) reject("the token has expired");
    if (t + kLeeway.count() < claims.not_before) reject("the token is not valid yet");
    if (t + kLeeway.count() < claims.issued_at) reject("the token was issued in the future");
    // Past here `start` <= t + kLeeway, so `start + kMaxLifetime` cannot overflow.
    const std::int64_t start = payload.contains("iat") ? claims.issued_at : t;
    if (claims.expires_at > start + kMaxLifetime.count()) reject("the token's lifetime is too long");

    const auto* sub = string_member(payload, "sub");
    if (sub == nullptr || sub->empty()) reject("the token has no subject");
    claims.subject = std::string(*sub);
    if (const auto* roles = payload.if_contains("roles")) {
        const auto* array = roles->if_array();
        if (array == nullptr) reject("the token's roles claim is not an array");
        for (const auto& r : *array) {
            const auto* s = r.if_string();
            if (s == nullptr) reject("the token's roles claim holds a non-string");
            claims.roles.emplace_back(*s);
        }
    }
    if (const auto* jti = string_member(payload, "jti")) claims.token_id = std::string(*jti);
    return claims;
}

Signer load_signer(const std::string& path, std::string key_id) {
    if (path.empty()) {
        throw KeyError(
            "the auth service signs access tokens: set MARQUEE_JWT_PRIVATE_KEY_FILE "
            "(--jwt-private-key-file) to an Ed25519 PEM private key");
    }
    if (key_id.empty()) throw KeyError("MARQUEE_JWT_KEY_ID (--jwt-key-id) is empty");
    const std::string pem = read_key_file(path, "private key");
    try {
        return Signer(PrivateKey::from_pem(pem), std::move(key_id));
    } catch (const KeyError& e) {
        throw KeyError(std::string(e.what()) + " in '" + path + "'");
    }
}

Verifier load_verifier(std::string_view spec) {
    Verifier verifier;
    for (auto& [kid, path] : parse_key_list(spec)) {
        const std::string pem = read_key_file(path, "public key");
        try {
            verifier.add_key(kid, PublicKey::from_pem(pem));
        } catch (const KeyError& e) {
            throw KeyError(
                std::string(e.what()).append(" in '").append(path).append("' (kid ").append(kid).append(")"));
        }
    }
    return verifier;
}

std::vector<std::pair<std::string, std::string>> parse_key_list(std::string_view spec) {
    std::vector<std::pair<std::string, std::string>> out;
    while (!spec.empty()) {
        const auto comma = spec.find(',');
        const std::string_view entry = spec.substr(0, comma);
        spec = comma == std::string_view::npos ? std::string_view{} : spec.substr(comma + 1);
        const auto eq = entry.find('=');
        if (eq == std::string_view::npos || eq == 0 || eq + 1 == entry.size()) {
            throw KeyError("jwt public keys: expected kid=path.pem, got '" + std::string(entry) + "'");
        }
        std::string kid(entry.substr(0, eq));
        for (const auto& [k, path] : out) {
            if (k == kid) throw KeyError("jwt public keys: kid '" + kid + "' is given twice");
        }
        out.emplace_back(std::move(kid), std::string(entry.substr(eq + 1)));
    }
    return out;
}

}  // namespace marquee::jwt
