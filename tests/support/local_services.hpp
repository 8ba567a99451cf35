#pragma once

#include <string>
#include <string_view>

namespace marquee::test {

/// The value of a MARQUEE_* setting for tests that talk to the real local PostgreSQL, Redis and NATS.
/// Looks in the environment first, then in the env file that `scripts/dev services` writes
/// (.local/env in the source tree, or $MARQUEE_ENV_FILE). If neither has it, the calling test FAILS
/// (never skips) with a message saying how to start the services.
std::string local_setting(std::string_view name);

inline std::string database_url() {
    return local_setting("MARQUEE_DATABASE_URL");
}
inline std::string redis_url() {
    return local_setting("MARQUEE_REDIS_URL");
}
inline std::string nats_url() {
    return local_setting("MARQUEE_NATS_URL");
}

/// The source tree this build was configured from (CMake's PROJECT_SOURCE_DIR), for tests that read the
/// repository's own files; unlike __FILE__ it stays absolute under a compiler cache's base directory.
std::string source_dir();

/// A name unique to this process and call, so tests can run in parallel and in any order.
std::string unique_name(std::string_view prefix);

/// A redis-server of the test's own on a free loopback port, without persistence, for tests that stall,
/// pause or drop every client of a Redis (CLIENT PAUSE, CLIENT KILL, a busy script): done to the shared
/// local Redis, those hit every test that runs beside them under `ctest -j`. Started by the constructor
/// (which waits until it answers PING, or fails the test), stopped by the destructor.
class PrivateRedis {
  public:
    PrivateRedis();
    ~PrivateRedis();
    PrivateRedis(const PrivateRedis&) = delete;
    PrivateRedis& operator=(const PrivateRedis&) = delete;

    std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }

  private:
    int pid_ = -1;
    unsigned port_ = 0;
};

}  // namespace marquee::test
