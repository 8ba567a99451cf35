#pragma once

#include <chrono>
#include <cstddef>
#include <memory>

#include "core/config.hpp"
#include "http/router.hpp"
#include "services/auth/login_limits.hpp"
#include "services/auth/password_hasher.hpp"
#include "services/auth/routes.hpp"
#include "services/auth/service.hpp"
#include "services/auth/store.hpp"

namespace marquee::db {
class Pool;
}
namespace marquee::redis {
class Client;
}

namespace marquee::auth {

/// The auth service as installed in one process; keep it alive as long as the server runs.
struct Installed {
    std::unique_ptr<PasswordHasher> hasher;
    std::unique_ptr<Store> store;
    std::unique_ptr<LoginLimits> limits;
    std::unique_ptr<Service> service;
    std::unique_ptr<Routes> routes;
};

/// Logins waiting for the login lane at most; one more is answered 503 + Retry-After at once.
inline constexpr std::size_t kLoginLaneMaxWaiting = 16'384;

/// ADR 0056: the logins' lane for a pool of `pool_size` connections: half of them (at least one) at once; a
/// login waits in it at most `max_wait` (0: no bound in time; config.login_lane_max_wait).
std::shared_ptr<loop::Lane> make_login_lane(std::size_t pool_size, std::chrono::milliseconds max_wait);

/// Adds the /api/v1/auth routes to `router`. Loads the signing key from config.jwt_private_key_file
/// (jwt::KeyError naming the setting when it is missing or unusable). (Services may not include app/, so
/// app's `install_auth(ServiceContext&)` calls this with the context's parts.)
/// `on_issued` is told of every access token signed (see ServiceOptions).
std::shared_ptr<Installed> install(const core::Config& config, http::Router& router, db::Pool& db,
                                   redis::Client& redis, TokenIssued on_issued = {});

}  // namespace marquee::auth
