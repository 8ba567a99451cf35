#include "services/auth/password_hasher.hpp"

#include <stdexcept>
#include <vector>

#include <argon2.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "jwt/key.hpp"

namespace marquee::auth {
namespace {

constexpr std::size_t kSaltBytes = 16;
constexpr std::size_t kHashBytes = 32;

// Coroutines by value on the pool's executor: co_spawn(pool, ...) starts them there, and use_awaitable
// resumes the caller on its own executor.
boost::asio::awaitable<std::string> hash_on_pool(std::string password, Argon2Params params) {
    co_return hash_password(password, params);
}

boost::asio::awaitable<bool> verify_on_pool(std::string phc, std::string password) {
    co_return password_matches(phc, password);
}

}  // namespace

std::string hash_password(std::string_view password, const Argon2Params& params) {
    const std::string salt = jwt::random_bytes(kSaltBytes);
    const std::size_t length = argon2_encodedlen(params.time_cost, params.memory_kib, params.parallelism,
                                                 kSaltBytes, kHashBytes, Argon2_id);
    std::vector<char> encoded(length);
    const int rc = argon2id_hash_encoded(params.time_cost, params.memory_kib, params.parallelism,
                                         password.data(), password.size(), salt.data(), salt.size(),
                                         kHashBytes, encoded.data(), encoded.size());
    if (rc != ARGON2_OK) throw std::runtime_error(std::string("argon2id: ") + argon2_error_message(rc));
    return std::string(encoded.data());
}

bool password_matches(const std::string& phc, std::string_view password) {
    return ::argon2id_verify(phc.c_str(), password.data(), password.size()) == ARGON2_OK;
}

PasswordHasher::PasswordHasher(Argon2Params params, std::size_t threads) : params_(params), pool_(threads) {}

PasswordHasher::~PasswordHasher() {
    pool_.join();
}

boost::asio::awaitable<std::string> PasswordHasher::hash(std::string password) {
    co_return co_await boost::asio::co_spawn(pool_, hash_on_pool(std::move(password), params_),
                                             boost::asio::use_awaitable);
}

boost::asio::awaitable<bool> PasswordHasher::verify(std::string phc, std::string password) {
    co_return co_await boost::asio::co_spawn(pool_, verify_on_pool(std::move(phc), std::move(password)),
                                             boost::asio::use_awaitable);
}

}  // namespace marquee::auth
