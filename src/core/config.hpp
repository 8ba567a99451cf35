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
    std::size_t max_body_bytes = std::size_t{1024} * 1024;  ///< larger bodies get 413
    std::size_t max_header_bytes = std::size_t{16} * 1024;  ///< larger request heads get 431
    std::chrono::milliseconds read_timeout{
        10'000};  ///< a request must arrive whole within this (slow clients get 408)
    std::chrono::milliseconds idle_timeout{60'000};  ///< keep-alive connection with no request is closed
    /// Connections served at once; 0 (the default): derived from RLIMIT_NOFILE minus headroom. Never above
    /// the file limit minus headroom; beyond it a connection gets 503 + Retry-After (http/server.hpp).
    std::size_t max_connections = 0;
};

struct Config {
    std::vector<std::string> services;  ///< expanded: never contains "all"
    std::string http_host = "127.0.0.1";
    std::uint16_t http_port = 8080;
    unsigned threads = 0;  ///< 0: one per core
    HttpLimits http;
    /// Reverse proxies (addresses or CIDR networks) whose X-Forwarded-For names the client; empty: none.
    std::vector<std::string> trusted_proxies;

    std::string database_url = "postgresql://marquee@127.0.0.1:5432/marquee";
    std::size_t db_pool_size = 8;
    std::chrono::milliseconds db_timeout{5'000};
    std::string redis_url = "redis://127.0.0.1:6379";
    std::size_t redis_pool_size = 8;
    std::chrono::milliseconds redis_timeout{1'000};
    /// The longest a Redis call waits while its connection keeps answering others (ADR 0053).
    std::chrono::milliseconds redis_max_wait{10'000};
    std::string nats_url = "nats://127.0.0.1:4222";
    int nats_stream_replicas = 1;  ///< copies of the MARQUEE stream in a NATS cluster

    // auth: Ed25519 JWTs. The auth service signs with the private key; every service verifies with the
    // public keys (two during a rotation), chosen by the token's `kid`.
    std::string jwt_private_key_file;  ///< PEM; needed only where the auth service runs
    std::string jwt_key_id = "k1";     ///< `kid` written into tokens signed with that key
    std::string jwt_public_keys;       ///< "kid=path.pem[,kid=path.pem]"
    std::chrono::seconds access_token_ttl{15 * 60};
    std::chrono::seconds refresh_token_ttl{14 * 24 * 3600};
    unsigned login_attempts_per_account = 5;  ///< failed logins allowed per account per window
    unsigned login_attempts_per_ip = 30;      ///< login attempts allowed per client address per window
    std::chrono::seconds login_window{60};
    /// ADR 0056 (amended): the longest a login waits in the logins' lane for a place; a login still in line
    /// after it, or whose expected wait is already longer, is answered 503 + Retry-After. 0: no bound in
    /// time (the line's length only). 8 s: under the 10 s many HTTP clients wait by default, with room
    /// for the login's own work; the hogged run of ADR 0056 waited 5.0 s at p50 and 9.8 s at p99.
    std::chrono::milliseconds login_lane_max_wait{8'000};

    // queue (waiting room, 대기열). Admission sizes itself (ADR 0016): unless the operator fixes admits/s or
    // the ACTIVE bound, a controller derives them from measured purchases; nullopt = automatic.
    std::optional<unsigned> queue_admit_per_second;  ///< fixed tokens admitted per schedule per second
    std::optional<unsigned> queue_max_active;        ///< fixed ACTIVE tokens per schedule at most
    unsigned queue_admission_floor = 16;             ///< automatic ACTIVE bound: never below
    unsigned queue_admission_ceiling = 2000;         ///< automatic ACTIVE bound: never above
    unsigned queue_admission_start = 64;             ///< automatic ACTIVE bound of a new sale
    std::chrono::milliseconds queue_admission_interval{1000};  ///< one controller step per schedule per this
    std::chrono::milliseconds queue_admission_budget{
        80};                                       ///< automatic bound: purchases slower than this narrow it
    std::chrono::seconds queue_active_ttl{600};    ///< an ACTIVE token idle this long expires
    std::chrono::seconds queue_waiting_ttl{3600};  ///< a WAITING token not polled this long expires
    std::chrono::milliseconds queue_tick{500};     ///< admission scheduler period
    /// The Redis key indexing the waiting rooms this deployment's admission schedulers serve. Deployments (or
    /// test processes with other limits) sharing one Redis use their own, so one's scheduler never admits
    /// another's fans under its own limits.
    std::string queue_schedules_key = "queue:schedules";

    // catalog: availability from each process's copy of the Redis bitsets, and the reconcile that repairs the
    // bitsets from booking (docs/decisions/0014-availability-from-process-memory.md)
    std::chrono::milliseconds availability_max_age{100};       ///< staleness bound of the copy; 0: no copy
    std::chrono::milliseconds availability_copy_idle{60'000};  ///< a schedule not read this long is dropped
    std::size_t availability_copy_max_schedules = 1000;        ///< schedules kept at most per process
    std::chrono::milliseconds availability_reconcile_period{10'000};  ///< one pass per period, one replica
    std::size_t availability_reconcile_schedules = 50;                ///< schedules compared per pass

    // booking: a seat hold (좌석 임시 예약) lasts this long, by the database clock
    std::chrono::milliseconds hold_ttl{5 * 60 * 1000};
    /// false (ADR 0052): a hold commits with synchronous_commit off for its own transaction; a crash of
    /// PostgreSQL may lose the last fraction of a second of holds, never one a payment has seen. true: holds
    /// commit as durably as payments.
    bool durable_holds = false;

    // hot-path caches (ADR 0015)
    /// Access tokens remembered as verified, each until its `exp`; 0: every request verifies its token.
    std::size_t jwt_cache_size = 100'000;
    /// How long a seat this process saw HELD or SOLD is refused from memory (409 without Redis or
    /// PostgreSQL); a seat released elsewhere can be held again at most this much later. 0: off.
    std::chrono::milliseconds booking_taken_memory{1'000};

    // the external payment gateway ("PG"; pg-sim locally)
    std::string payment_gateway_url = "http://127.0.0.1:8090";
    std::chrono::milliseconds payment_gateway_timeout{2'000};  ///< one call; retried by idempotency key
    /// A PENDING payment or wallet charge younger than this is left to the request that made it; older ones
    /// are resolved by the recovery jobs (fault drills shorten it).
    std::chrono::seconds recovery_age{60};

    std::string migrations_dir = "migrations";
    bool migrate_on_start = true;
    bool migrate_only = false;  ///< apply migrations and exit (the Kubernetes migration Job)
    std::string openapi_path = "api/openapi.yaml";
    /// The web app's folder (web/), served at / and /app/ by the gateway service; empty: not served.
    std::string web_dir;
    std::string log_level = "info";

    // Issue 15, 100,000 fans (ADR 0018): how often a queue process checks whether a schedule with fans in its
    // waiting room has sold every seat (one process per schedule and period does the database read).
    std::chrono::milliseconds queue_sold_out_check{250};

    // Issue 16, Redis Cluster (ADR 0020): seed nodes host:port[,host:port...]; non-empty: cluster mode, and
    // redis_url is not used. The slot map is read again by the first call after `redis_cluster_refresh`.
    std::string redis_cluster;
    std::chrono::milliseconds redis_cluster_refresh{5'000};

    // Issue 17, a fair start and proof of work at the queue's door (ADR 0026). The queue secret seeds the
    // opening's shuffle and signs challenges: the same file on every queue replica. Empty: derived from the
    // JWT private key file when this process has one, else random per process (logged as a warning).
    std::string queue_secret_file;
    int queue_pow_difficulty = 0;             ///< leading zero bits of SHA-256 asked at join; 0 = off
    std::chrono::seconds queue_pow_ttl{120};  ///< a challenge's lifetime

    // Issue 15, a burst of joins (ADR 0036): the queue joins one process works on at once (0: no line, all at
    // once), and how many may wait in arrival order for a place before a join is refused with 503.
    std::size_t queue_join_concurrency = 0;
    std::size_t queue_join_line = 50'000;

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
