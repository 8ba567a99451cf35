#include "jwt/key.hpp"

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

namespace marquee::jwt {
namespace {

std::shared_ptr<evp_pkey_st> own(EVP_PKEY* key) {
    return std::shared_ptr<evp_pkey_st>(key, EVP_PKEY_free);
}

std::shared_ptr<evp_pkey_st> require_ed25519(EVP_PKEY* key, std::string_view what) {
    if (key == nullptr) throw KeyError("cannot read the " + std::string(what));
    auto owned = own(key);
    if (EVP_PKEY_get_id(key) != EVP_PKEY_ED25519) {
        throw KeyError("the " + std::string(what) + " is not Ed25519");
    }
    return owned;
}

struct BioFree {
    void operator()(BIO* bio) const { BIO_free(bio); }
};
struct MdCtxFree {
    void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

std::unique_ptr<BIO, BioFree> memory_bio(std::string_view pem) {
    std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    if (!bio) throw KeyError("out of memory reading a PEM key");
    return bio;
}

const unsigned char* bytes(std::string_view s) {
    return reinterpret_cast<const unsigned char*>(s.data());
}

}  // namespace

PrivateKey PrivateKey::from_pem(std::string_view pem) {
    auto bio = memory_bio(pem);
    return PrivateKey(
        require_ed25519(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr), "private key PEM"));
}

PrivateKey PrivateKey::from_raw(std::string_view seed) {
    if (seed.size() != 32) throw KeyError("an Ed25519 private key has 32 bytes");
    return PrivateKey(
        require_ed25519(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, bytes(seed), seed.size()),
                        "raw private key"));
}

std::string PrivateKey::sign(std::string_view message) const {
    // Ed25519 is a one-shot signature: EVP_DigestSign with a null digest (OpenSSL 3, EVP_SIGNATURE-ED25519).
    std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
    if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key_.get()) != 1) {
        throw std::runtime_error("EVP_DigestSignInit failed");
    }
    std::string signature(64, '\0');
    std::size_t length = signature.size();
    if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &length, bytes(message),
                       message.size()) != 1 ||
        length != 64) {
        throw std::runtime_error("EVP_DigestSign failed");
    }
    return signature;
}

PublicKey PrivateKey::public_key() const {
    std::string x(32, '\0');
    std::size_t length = x.size();
    if (EVP_PKEY_get_raw_public_key(key_.get(), reinterpret_cast<unsigned char*>(x.data()), &length) != 1 ||
        length != 32) {
        throw KeyError("cannot derive the Ed25519 public key");
    }
    return PublicKey::from_raw(x);
}

PublicKey PublicKey::from_pem(std::string_view pem) {
    auto bio = memory_bio(pem);
    return PublicKey(
        require_ed25519(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr), "public key PEM"));
}

PublicKey PublicKey::from_raw(std::string_view x) {
    if (x.size() != 32) throw KeyError("an Ed25519 public key has 32 bytes");
    return PublicKey(require_ed25519(
        EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, bytes(x), x.size()), "raw public key"));
}

bool PublicKey::verify(std::string_view message, std::string_view signature) const {
    if (signature.size() != 64) return false;
    std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
    if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key_.get()) != 1) return false;
    return EVP_DigestVerify(ctx.get(), bytes(signature), signature.size(), bytes(message), message.size()) ==
           1;
}

std::string random_bytes(std::size_t n) {
    std::string out(n, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
        throw std::runtime_error("RAND_bytes failed");
    }
    return out;
}

std::string sha256(std::string_view input) {
    std::string digest(32, '\0');
    unsigned int length = 0;
    if (EVP_Digest(input.data(), input.size(), reinterpret_cast<unsigned char*>(digest.data()), &length,
                   EVP_sha256(), nullptr) != 1 ||
        length != 32) {
        throw std::runtime_error("SHA-256 failed");
    }
    return digest;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace marquee::jwt
