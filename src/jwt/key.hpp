#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

struct evp_pkey_st;  // OpenSSL's EVP_PKEY; only key.cpp sees its definition

namespace marquee::jwt {

/// A key that cannot be loaded (bad PEM, not Ed25519, wrong raw length): a configuration error.
class KeyError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

class PublicKey;

/// An Ed25519 private key (RFC 8032). Immutable, cheap to copy, safe to share between threads.
class PrivateKey {
  public:
    /// PKCS#8 PEM, as `openssl genpkey -algorithm ed25519` writes it. Throws KeyError.
    static PrivateKey from_pem(std::string_view pem);
    /// The 32-byte seed (a JWK's `d`, RFC 8037 section 2). Throws KeyError.
    static PrivateKey from_raw(std::string_view seed);

    /// The 64-byte Ed25519 signature of `message` (deterministic: same key and message, same bytes).
    std::string sign(std::string_view message) const;
    /// The matching public key.
    PublicKey public_key() const;

  private:
    explicit PrivateKey(std::shared_ptr<evp_pkey_st> key) : key_(std::move(key)) {}
    std::shared_ptr<evp_pkey_st> key_;
};

/// An Ed25519 public key. Immutable, cheap to copy, safe to share between threads.
class PublicKey {
  public:
    /// SubjectPublicKeyInfo PEM (`openssl pkey -pubout`). Throws KeyError.
    static PublicKey from_pem(std::string_view pem);
    /// The 32-byte public key (a JWK's `x`). Throws KeyError.
    static PublicKey from_raw(std::string_view x);

    /// Whether `signature` is a valid Ed25519 signature of `message` under this key.
    bool verify(std::string_view message, std::string_view signature) const;

  private:
    explicit PublicKey(std::shared_ptr<evp_pkey_st> key) : key_(std::move(key)) {}
    std::shared_ptr<evp_pkey_st> key_;
};

/// `n` bytes from OpenSSL's CSPRNG (RAND_bytes); throws std::runtime_error if it fails.
std::string random_bytes(std::size_t n);

/// SHA-256 of `bytes` (32 raw bytes).
std::string sha256(std::string_view bytes);

/// Compares without an early exit (CRYPTO_memcmp), for secrets and digests of secrets.
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace marquee::jwt
