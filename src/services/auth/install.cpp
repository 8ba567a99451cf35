#include "services/auth/install.hpp"

#include <utility>

#include "jwt/token.hpp"

namespace marquee::auth {

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
    installed->service =
        std::make_unique<Service>(*installed->store, *installed->limits, *installed->hasher,
                                  std::move(signer), std::make_shared<core::SystemClock>(),
                                  ServiceOptions{.access_token_ttl = config.access_token_ttl,
                                                 .refresh_token_ttl = config.refresh_token_ttl,
                                                 .on_issued = std::move(on_issued)});
    installed->routes = std::make_unique<Routes>(*installed->service);
    installed->routes->add_to(router);
    return installed;
}

}  // namespace marquee::auth
