#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace marquee::core {

/// The services one binary can run; `--service=all` runs every one of them in one process.
inline constexpr std::string_view kServiceNames[] = {"auth",    "queue",   "catalog", "wallet",
                                                     "booking", "payment", "gateway"};

struct HttpLimits {
    std::size_t max_body_bytes = 1024 * 1024;  ///< larger bodies get 413
    std::size_t max_header_bytes = 16 * 1024;  ///< larger request heads get 431
    std::chrono::milliseconds read_timeout{
        10'000};  ///< a request must arrive whole within this (slow clients get 408)
    std::chrono::milliseconds idle_timeout{60'000};  ///< keep-alive connection with no request is closed
    std::size_t max_connections = 20'000;
};

struct Config {
    std::vector<std::string> services;  ///< expanded: never contains "all"
    std::string http_host = "127.0.0.1";
    std::uint16_t http_port = 8080;
    unsigned threads = 0;  ///< 0: one per core
    HttpLimits http;

    std::string database_url = "postgresql://marquee@127.0.0.1:5432/marquee";
    std::size_t db_pool_size = 8;
    std::chrono::milliseconds db_timeout{5'000};
    std::string redis_url = "redis://127.0.0.1:6379";
    std::size_t redis_pool_size = 8;
    std::chrono::milliseconds redis_timeout{1'000};
    std::string nats_url = "nats://127.0.0.1:4222";

    std::string migrations_dir = "migrations";
    bool migrate_on_start = true;
    bool migrate_only = false;  ///< apply migrations and exit (the Kubernetes migration Job)
    std::string openapi_path = "api/openapi.yaml";
    std::string log_level = "info";

    bool runs(std::string_view service) const;
};

class ConfigError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

/// Looks up an environment variable; injectable so parsing is testable.
using EnvLookup = std::function<std::optional<std::string>(std::string_view)>;
EnvLookup process_env();

/// Builds the config from MARQUEE_* environment variables, then command-line flags
/// (`--name=value`, which win). Throws ConfigError naming the bad flag or variable.
/// Returns nullopt when `--help` was asked for (the caller prints usage()).
std::optional<Config> parse_config(const std::vector<std::string>& args, const EnvLookup& env);

std::string usage();

}  // namespace marquee::core
