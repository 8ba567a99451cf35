#include "services/auth/install.hpp"

#include <algorithm>
#include <utility>

#include "db/pool.hpp"
#include "jwt/token.hpp"

namespace marquee::auth {

std::shared_ptr<loop::Lane> make_login_lane(std::size_t pool_size, std::chrono::milliseconds max_wait) {
    // Half the pool's connections at most (ADR 0056): the other half stays for the purchase path whatever the
    // logins do. The line is bounded near the server's connection cap: a login beyond it is refused at once;
    // and in time: a login answered 503 after `max_wait` in line rather than a client's timeout after more.
    return std::make_shared<loop::Lane>(
        std::max<std::size_t>(1, pool_size / 2), kLoginLaneMaxWaiting, "postgres",
        "too many logins are waiting for the database; retry shortly", max_wait);
}

std::shared_ptr<Installed> install(const core::Config& config, http::Router& router, db::Pool& db,
                                   redis::Client& redis, TokenIssued on_issued) {
    auto installed = std::make_shared<Installed>();
    jwt::Signer signer = jwt::load_signer(config.jwt_private_key_file, config.jwt_key_id);
    installed->hasher = std::make_unique<PasswordHasher>();
    installed->store = std::make_unique<Store>(db);
    installed->limits = std::make_unique<LoginLimits>(
        redis, LoginLimitOptions{.failures_per_account = config.login_attempts_per_account,
                                 .attempts_per_ip = config.login_attempts_per_ip,
                                 .window = config.login_window});
    installed->service = std::make_unique<Service>(
        *installed->store, *installed->limits, *installed->hasher, std::move(signer),
        std::make_shared<core::SystemClock>(),
        ServiceOptions{.access_token_ttl = config.access_token_ttl,
                       .refresh_token_ttl = config.refresh_token_ttl,
                       .on_issued = std::move(on_issued),
                       .login_lane = make_login_lane(db.options().size, config.login_lane_max_wait)});
    installed->routes = std::make_unique<Routes>(*installed->service);
    installed->routes->add_to(router);
    return installed;
}

}  // namespace marquee::auth
