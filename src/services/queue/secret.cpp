#include "services/queue/secret.hpp"

#include <fstream>
#include <sstream>
#include <stdexcept>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "core/log.hpp"

namespace marquee::queue {
namespace {

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw core::ConfigError("queue secret: cannot read " + path);
    std::ostringstream bytes;
    bytes << in.rdbuf();
    return bytes.str();
}

std::string trim(const std::string& text) {
    const auto first = text.find_first_not_of(" \t\r\n");
    if (first == std::string::npos) return {};
    const auto last = text.find_last_not_of(" \t\r\n");
    return text.substr(first, last - first + 1);
}

}  // namespace

std::string load_queue_secret(const core::Config& config) {
    if (!config.queue_secret_file.empty()) {
        std::string secret = trim(read_file(config.queue_secret_file));
        if (secret.size() < 16) {
            throw core::ConfigError("queue-secret-file: " + config.queue_secret_file +
                                    " holds fewer than 16 bytes");
        }
        return secret;
    }
    if (!config.jwt_private_key_file.empty()) {
        const std::string key = read_file(config.jwt_private_key_file);
        const std::string label = "marquee-queue-secret";
        unsigned char out[EVP_MAX_MD_SIZE];
        unsigned int length = 0;
        if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
                 reinterpret_cast<const unsigned char*>(label.data()), label.size(), out,
                 &length) == nullptr) {
            throw std::runtime_error("queue secret: HMAC-SHA256 failed");
        }
        return std::string(reinterpret_cast<const char*>(out), length);
    }
    std::string secret(32, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(secret.data()), static_cast<int>(secret.size())) != 1) {
        throw std::runtime_error("queue secret: RAND_bytes failed");
    }
    core::log_warn(
        "queue secret is random for this process: set MARQUEE_QUEUE_SECRET_FILE on every queue "
        "replica, or challenges verify only where they were issued",
        {});
    return secret;
}

}  // namespace marquee::queue
