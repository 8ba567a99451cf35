#include "core/config.hpp"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <limits>

namespace marquee::core {
namespace {

template <typename Int>
Int parse_int(std::string_view name, std::string_view text, Int min, Int max) {
    Int value{};
    const auto* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (ec != std::errc{} || ptr != end || text.empty() || value < min || value > max) {
        throw ConfigError(std::string(name) + ": expected an integer in [" + std::to_string(min) + ", " +
                          std::to_string(max) + "], got '" + std::string(text) + "'");
    }
    return value;
}

std::chrono::milliseconds parse_ms(std::string_view name, std::string_view text) {
    return std::chrono::milliseconds(parse_int<std::int64_t>(name, text, 1, 24LL * 3600 * 1000));
}

bool parse_bool(std::string_view name, std::string_view text) {
    if (text == "1" || text == "true" || text == "yes" || text == "on") return true;
    if (text == "0" || text == "false" || text == "no" || text == "off") return false;
    throw ConfigError(std::string(name) + ": expected true or false, got '" + std::string(text) + "'");
}

std::vector<std::string> split_list(std::string_view text) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start < text.size()) {
        const auto comma = std::min(text.find(',', start), text.size());
        auto item = text.substr(start, comma - start);
        while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
        while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
        if (!item.empty()) out.emplace_back(item);
        start = comma + 1;
    }
    return out;
}

std::vector<std::string> parse_services(std::string_view name, std::string_view text) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start <= text.size()) {
        const auto comma = std::min(text.find(',', start), text.size());
        const auto item = text.substr(start, comma - start);
        if (item == "all") {
            for (auto s : kServiceNames) out.emplace_back(s);
        } else if (std::find(std::begin(kServiceNames), std::end(kServiceNames), item) !=
                   std::end(kServiceNames)) {
            out.emplace_back(item);
        } else {
            std::string known = "all";
            for (auto s : kServiceNames) known += std::string("|") + std::string(s);
            throw ConfigError(std::string(name) + ": unknown service '" + std::string(item) + "' (" + known +
                              ")");
        }
        start = comma + 1;
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

struct Option {
    std::string_view flag;  // --flag=value
    std::string_view env;   // MARQUEE_...
    std::string_view help;
    std::function<void(Config&, std::string_view name, std::string_view value)> set;
};

const std::vector<Option>& options() {
    static const std::vector<Option> kOptions = {
        {"service", "MARQUEE_SERVICE",
         "services to run: all (default) or a comma list of "
         "auth,queue,catalog,wallet,booking,payment,gateway",
         [](Config& c, auto n, auto v) { c.services = parse_services(n, v); }},
        {"host", "MARQUEE_HTTP_HOST", "address to listen on (default 127.0.0.1)",
         [](Config& c, auto, auto v) { c.http_host = v; }},
        {"port", "MARQUEE_HTTP_PORT", "port to listen on (default 8080; 0 picks a free one)",
         [](Config& c, auto n, auto v) { c.http_port = parse_int<std::uint16_t>(n, v, 0, 65535); }},
        {"threads", "MARQUEE_THREADS", "I/O threads (default: one per core)",
         [](Config& c, auto n, auto v) { c.threads = parse_int<unsigned>(n, v, 0, 256); }},
        {"max-body-bytes", "MARQUEE_MAX_BODY_BYTES", "largest request body accepted (default 1 MiB)",
         [](Config& c, auto n, auto v) {
             c.http.max_body_bytes = parse_int<std::size_t>(n, v, 1, 64 << 20);
         }},
        {"read-timeout-ms", "MARQUEE_READ_TIMEOUT_MS", "time allowed to receive one request (default 10000)",
         [](Config& c, auto n, auto v) { c.http.read_timeout = parse_ms(n, v); }},
        {"idle-timeout-ms", "MARQUEE_IDLE_TIMEOUT_MS", "keep-alive idle time (default 60000)",
         [](Config& c, auto n, auto v) { c.http.idle_timeout = parse_ms(n, v); }},
        {"trusted-proxies", "MARQUEE_TRUSTED_PROXIES",
         "reverse proxies whose X-Forwarded-For names the client: address or CIDR[,...] (default none)",
         [](Config& c, auto, auto v) { c.trusted_proxies = split_list(v); }},
        {"database-url", "MARQUEE_DATABASE_URL", "PostgreSQL connection URI",
         [](Config& c, auto, auto v) { c.database_url = v; }},
        {"db-pool-size", "MARQUEE_DB_POOL_SIZE", "PostgreSQL connections (default 8)",
         [](Config& c, auto n, auto v) { c.db_pool_size = parse_int<std::size_t>(n, v, 1, 1000); }},
        {"db-timeout-ms", "MARQUEE_DB_TIMEOUT_MS", "deadline of one database call (default 5000)",
         [](Config& c, auto n, auto v) { c.db_timeout = parse_ms(n, v); }},
        {"redis-url", "MARQUEE_REDIS_URL", "Redis URI redis://host:port",
         [](Config& c, auto, auto v) { c.redis_url = v; }},
        {"redis-pool-size", "MARQUEE_REDIS_POOL_SIZE", "Redis connections (default 8)",
         [](Config& c, auto n, auto v) { c.redis_pool_size = parse_int<std::size_t>(n, v, 1, 1000); }},
        {"redis-timeout-ms", "MARQUEE_REDIS_TIMEOUT_MS", "deadline of one Redis call (default 1000)",
         [](Config& c, auto n, auto v) { c.redis_timeout = parse_ms(n, v); }},
        {"redis-max-wait-ms", "MARQUEE_REDIS_MAX_WAIT_MS",
         "longest wait of a Redis call while its connection keeps answering others (default 10000; a value "
         "at or below the timeout gives no wait past the deadline)",
         [](Config& c, auto n, auto v) { c.redis_max_wait = parse_ms(n, v); }},
        {"nats-url", "MARQUEE_NATS_URL", "NATS URL nats://host:port (a cluster: every node, comma-separated)",
         [](Config& c, auto, auto v) { c.nats_url = v; }},
        {"nats-stream-replicas", "MARQUEE_NATS_STREAM_REPLICAS",
         "copies of the MARQUEE stream in a NATS cluster (default 1; 3 in production)",
         [](Config& c, auto n, auto v) { c.nats_stream_replicas = parse_int<int>(n, v, 1, 5); }},
        {"jwt-private-key-file", "MARQUEE_JWT_PRIVATE_KEY_FILE",
         "Ed25519 private key (PEM) the auth service signs with",
         [](Config& c, auto, auto v) { c.jwt_private_key_file = v; }},
        {"jwt-key-id", "MARQUEE_JWT_KEY_ID", "kid of the signing key (default k1)",
         [](Config& c, auto, auto v) { c.jwt_key_id = v; }},
        {"jwt-public-keys", "MARQUEE_JWT_PUBLIC_KEYS", "verification keys: kid=path.pem[,kid=path.pem]",
         [](Config& c, auto, auto v) { c.jwt_public_keys = v; }},
        {"access-token-ttl-s", "MARQUEE_ACCESS_TOKEN_TTL_S", "access token lifetime (default 900)",
         [](Config& c, auto n, auto v) {
             c.access_token_ttl = std::chrono::seconds(parse_int<int>(n, v, 1, 86400));
         }},
        {"refresh-token-ttl-s", "MARQUEE_REFRESH_TOKEN_TTL_S", "refresh token lifetime (default 14 days)",
         [](Config& c, auto n, auto v) {
             c.refresh_token_ttl = std::chrono::seconds(parse_int<int>(n, v, 60, 365 * 86400));
         }},
        {"login-attempts-per-account", "MARQUEE_LOGIN_ATTEMPTS_PER_ACCOUNT",
         "failed logins per account per window",
         [](Config& c, auto n, auto v) {
             c.login_attempts_per_account = parse_int<unsigned>(n, v, 1, 1000000);
         }},
        {"login-attempts-per-ip", "MARQUEE_LOGIN_ATTEMPTS_PER_IP",
         "login attempts per client address per window",
         [](Config& c, auto n, auto v) { c.login_attempts_per_ip = parse_int<unsigned>(n, v, 1, 1000000); }},
        {"login-window-s", "MARQUEE_LOGIN_WINDOW_S", "login rate-limit window (default 60)",
         [](Config& c, auto n, auto v) {
             c.login_window = std::chrono::seconds(parse_int<int>(n, v, 1, 86400));
         }},
        {"login-lane-max-wait-ms", "MARQUEE_LOGIN_LANE_MAX_WAIT_MS",
         "longest wait of a login in the logins' lane; past it, or when the line's expected wait is longer, "
         "503 + Retry-After (default 8000; 0: no bound in time)",
         [](Config& c, auto n, auto v) {
             c.login_lane_max_wait = std::chrono::milliseconds(parse_int<std::int64_t>(n, v, 0, 600'000));
         }},
        {"queue-admit-per-second", "MARQUEE_QUEUE_ADMIT_PER_SECOND",
         "fixed waiting-room admissions per schedule per second (default auto: from measured purchases)",
         [](Config& c, auto n, auto v) {
             c.queue_admit_per_second =
                 v == "auto" ? std::nullopt : std::optional(parse_int<unsigned>(n, v, 1, 1000000));
         }},
        {"queue-max-active", "MARQUEE_QUEUE_MAX_ACTIVE",
         "fixed ACTIVE queue tokens per schedule at most (default auto: from measured purchases)",
         [](Config& c, auto n, auto v) {
             c.queue_max_active =
                 v == "auto" ? std::nullopt : std::optional(parse_int<unsigned>(n, v, 1, 10000000));
         }},
        {"queue-admission-floor", "MARQUEE_QUEUE_ADMISSION_FLOOR",
         "automatic ACTIVE bound per schedule: at least this (default 16)",
         [](Config& c, auto n, auto v) { c.queue_admission_floor = parse_int<unsigned>(n, v, 1, 10000000); }},
        {"queue-admission-ceiling", "MARQUEE_QUEUE_ADMISSION_CEILING",
         "automatic ACTIVE bound per schedule: at most this (default 2000)",
         [](Config& c, auto n, auto v) {
             c.queue_admission_ceiling = parse_int<unsigned>(n, v, 1, 10000000);
         }},
        {"queue-admission-start", "MARQUEE_QUEUE_ADMISSION_START",
         "automatic ACTIVE bound a sale starts from (default 64)",
         [](Config& c, auto n, auto v) { c.queue_admission_start = parse_int<unsigned>(n, v, 1, 10000000); }},
        {"queue-admission-budget-ms", "MARQUEE_QUEUE_ADMISSION_BUDGET_MS",
         "automatic admission: a mean purchase time above this (and above twice the fastest) narrows the "
         "bound, and the slow start stops where the database pool would pass it (default 250)",
         [](Config& c, auto n, auto v) {
             c.queue_admission_budget = std::chrono::milliseconds(parse_int<std::int64_t>(n, v, 10, 60'000));
         }},
        {"queue-admission-interval-ms", "MARQUEE_QUEUE_ADMISSION_INTERVAL_MS",
         "automatic admission: one controller step per schedule per this (default 1000)",
         [](Config& c, auto n, auto v) {
             c.queue_admission_interval =
                 std::chrono::milliseconds(parse_int<std::int64_t>(n, v, 100, 3'600'000));
         }},
        {"queue-active-ttl-s", "MARQUEE_QUEUE_ACTIVE_TTL_S", "idle time after which an ACTIVE token expires",
         [](Config& c, auto n, auto v) {
             c.queue_active_ttl = std::chrono::seconds(parse_int<int>(n, v, 1, 86400));
         }},
        {"queue-waiting-ttl-s", "MARQUEE_QUEUE_WAITING_TTL_S",
         "time after which an unpolled WAITING token expires",
         [](Config& c, auto n, auto v) {
             c.queue_waiting_ttl = std::chrono::seconds(parse_int<int>(n, v, 1, 7 * 86400));
         }},
        {"queue-tick-ms", "MARQUEE_QUEUE_TICK_MS", "admission scheduler period (default 500)",
         [](Config& c, auto n, auto v) { c.queue_tick = parse_ms(n, v); }},
        {"queue-schedules-key", "MARQUEE_QUEUE_SCHEDULES_KEY",
         "Redis key indexing the waiting rooms this deployment's schedulers serve (default queue:schedules)",
         [](Config& c, auto n, auto v) {
             const std::string_view key = v;
             const bool printable =
                 std::all_of(key.begin(), key.end(), [](char ch) { return ch > ' ' && ch < 127; });
             if (key.empty() || key.size() > 200 || !printable) {
                 throw ConfigError(std::string(n) + ": expected 1..200 printable characters without spaces");
             }
             c.queue_schedules_key = std::string(key);
         }},
        {"availability-max-age-ms", "MARQUEE_AVAILABILITY_MAX_AGE_MS",
         "availability served from process memory while younger than this (default 100; 0: always Redis)",
         [](Config& c, auto n, auto v) {
             c.availability_max_age = std::chrono::milliseconds(parse_int<std::int64_t>(n, v, 0, 60'000));
         }},
        {"availability-copy-idle-ms", "MARQUEE_AVAILABILITY_COPY_IDLE_MS",
         "a schedule's availability not read this long leaves process memory (default 60000)",
         [](Config& c, auto n, auto v) { c.availability_copy_idle = parse_ms(n, v); }},
        {"availability-copy-max", "MARQUEE_AVAILABILITY_COPY_MAX",
         "schedules whose availability one process keeps at most (default 1000)",
         [](Config& c, auto n, auto v) {
             c.availability_copy_max_schedules = parse_int<std::size_t>(n, v, 1, 1'000'000);
         }},
        {"availability-reconcile-ms", "MARQUEE_AVAILABILITY_RECONCILE_MS",
         "period of the availability reconcile against booking (default 10000)",
         [](Config& c, auto n, auto v) { c.availability_reconcile_period = parse_ms(n, v); }},
        {"availability-reconcile-batch", "MARQUEE_AVAILABILITY_RECONCILE_BATCH",
         "on-sale schedules the reconcile compares per pass (default 50)",
         [](Config& c, auto n, auto v) {
             c.availability_reconcile_schedules = parse_int<std::size_t>(n, v, 1, 100'000);
         }},
        {"hold-ttl-s", "MARQUEE_HOLD_TTL_S", "how long a seat hold lasts (default 300)",
         [](Config& c, auto n, auto v) {
             c.hold_ttl = std::chrono::seconds(parse_int<int>(n, v, 1, 86400));
         }},
        {"durable-holds", "MARQUEE_DURABLE_HOLDS",
         "holds commit synchronously, as payments do (default false: synchronous_commit off for a hold's own "
         "transaction, ADR 0052)",
         [](Config& c, auto n, auto v) { c.durable_holds = parse_bool(n, v); }},
        {"jwt-cache-size", "MARQUEE_JWT_CACHE_SIZE",
         "access tokens remembered as verified until their exp (default 100000; 0: verify every request)",
         [](Config& c, auto n, auto v) {
             c.jwt_cache_size = static_cast<std::size_t>(parse_int<std::int64_t>(n, v, 0, 10'000'000));
         }},
        {"booking-taken-memory-ms", "MARQUEE_BOOKING_TAKEN_MEMORY_MS",
         "how long a seat seen HELD or SOLD is refused from process memory (default 1000; 0: off; at most "
         "5000)",
         [](Config& c, auto n, auto v) {
             c.booking_taken_memory = std::chrono::milliseconds(parse_int<int>(n, v, 0, 5000));
         }},
        {"payment-gateway-url", "MARQUEE_PAYMENT_GATEWAY_URL",
         "the payment gateway (pg-sim locally), http://host:port",
         [](Config& c, auto, auto v) { c.payment_gateway_url = v; }},
        {"payment-gateway-timeout-ms", "MARQUEE_PAYMENT_GATEWAY_TIMEOUT_MS",
         "deadline of one gateway call (2000)",
         [](Config& c, auto n, auto v) { c.payment_gateway_timeout = parse_ms(n, v); }},
        {"recovery-age-s", "MARQUEE_RECOVERY_AGE_S",
         "age at which recovery resolves a PENDING payment or charge (default 60)",
         [](Config& c, auto n, auto v) {
             c.recovery_age = std::chrono::seconds(parse_int<int>(n, v, 1, 86400));
         }},
        {"migrations-dir", "MARQUEE_MIGRATIONS_DIR", "folder of <service>/NNNN_name.sql (default migrations)",
         [](Config& c, auto, auto v) { c.migrations_dir = v; }},
        {"migrate", "MARQUEE_MIGRATE", "apply migrations at start (default true)",
         [](Config& c, auto n, auto v) { c.migrate_on_start = parse_bool(n, v); }},
        {"openapi", "MARQUEE_OPENAPI_PATH", "OpenAPI document served at /openapi.yaml",
         [](Config& c, auto, auto v) { c.openapi_path = v; }},
        {"web-dir", "MARQUEE_WEB_DIR", "the web app's folder, served at / (default: none, not served)",
         [](Config& c, auto, auto v) { c.web_dir = v; }},
        {"log-level", "MARQUEE_LOG_LEVEL", "trace|debug|info|warn|error (default info)",
         [](Config& c, auto, auto v) { c.log_level = v; }},
        // Issue 15, 100,000 fans (ADR 0018)
        {"max-connections", "MARQUEE_MAX_CONNECTIONS",
         "HTTP connections served at once (default 0: the file limit minus headroom); beyond: 503",
         [](Config& c, auto n, auto v) {
             c.http.max_connections = parse_int<std::size_t>(n, v, 0, 10000000);
         }},
        {"queue-sold-out-check-ms", "MARQUEE_QUEUE_SOLD_OUT_CHECK_MS",
         "how often a schedule with fans waiting is checked for sold out (default 250)",
         [](Config& c, auto n, auto v) { c.queue_sold_out_check = parse_ms(n, v); }},
        // Issue 16, Redis Cluster (ADR 0020)
        {"redis-cluster", "MARQUEE_REDIS_CLUSTER",
         "Redis Cluster seed nodes host:port[,host:port...] (default none: the single Redis of --redis-url)",
         [](Config& c, auto n, auto v) {
             const std::vector<std::string> seeds = split_list(v);
             for (const std::string& seed : seeds) {
                 const auto colon = seed.rfind(':');
                 if (colon == std::string::npos || colon == 0 || colon + 1 == seed.size()) {
                     throw ConfigError(std::string(n) + ": expected host:port[,host:port...], got '" +
                                       std::string(v) + "'");
                 }
             }
             c.redis_cluster = v;
         }},
        {"redis-cluster-refresh-ms", "MARQUEE_REDIS_CLUSTER_REFRESH_MS",
         "Redis Cluster: the slot map is read again after this long (default 5000)",
         [](Config& c, auto n, auto v) {
             c.redis_cluster_refresh = std::chrono::milliseconds(parse_int<std::int64_t>(n, v, 100, 600'000));
         }},
        // Issue 17, a fair start and proof of work (ADR 0026)
        {"queue-secret-file", "MARQUEE_QUEUE_SECRET_FILE",
         "file whose bytes seed the pre-queue shuffle and sign queue challenges, the same on every replica "
         "(default: derived from the JWT private key, else random per process)",
         [](Config& c, auto, auto v) { c.queue_secret_file = v; }},
        {"queue-pow-difficulty", "MARQUEE_QUEUE_POW_DIFFICULTY",
         "proof of work asked at join, in leading zero bits of SHA-256 (default 0: off; at most 32)",
         [](Config& c, auto n, auto v) { c.queue_pow_difficulty = parse_int<int>(n, v, 0, 32); }},
        {"queue-pow-ttl-s", "MARQUEE_QUEUE_POW_TTL_S", "lifetime of a queue challenge (default 120)",
         [](Config& c, auto n, auto v) {
             c.queue_pow_ttl = std::chrono::seconds(parse_int<int>(n, v, 5, 3600));
         }},
        // Issue 15, a burst of joins (ADR 0036)
        {"queue-join-concurrency", "MARQUEE_QUEUE_JOIN_CONCURRENCY",
         "queue joins one process works on at once, the rest waiting in arrival order (default 0: no "
         "line)",
         [](Config& c, auto n, auto v) {
             c.queue_join_concurrency = parse_int<std::size_t>(n, v, 0, 100'000);
         }},
        {"queue-join-line", "MARQUEE_QUEUE_JOIN_LINE",
         "queue joins that may wait for a place before one is refused with 503 (default 50000)",
         [](Config& c, auto n, auto v) { c.queue_join_line = parse_int<std::size_t>(n, v, 1, 10'000'000); }},
    };
    return kOptions;
}

}  // namespace

bool Config::runs(std::string_view service) const {
    return std::find(services.begin(), services.end(), service) != services.end();
}

EnvLookup process_env() {
    return [](std::string_view name) -> std::optional<std::string> {
        const char* value = std::getenv(std::string(name).c_str());
        if (value == nullptr) return std::nullopt;
        return std::string(value);
    };
}

std::optional<Config> parse_config(const std::vector<std::string>& args, const EnvLookup& env) {
    Config config;
    config.services = parse_services("default", "all");
    for (const auto& option : options()) {
        if (auto value = env(option.env)) option.set(config, option.env, *value);
    }
    for (const auto& arg : args) {
        std::string_view text = arg;
        if (text == "--help" || text == "-h") return std::nullopt;
        if (text == "--migrate-only") {
            config.migrate_only = true;
            continue;
        }
        if (!text.starts_with("--")) throw ConfigError("unexpected argument '" + arg + "' (see --help)");
        text.remove_prefix(2);
        const auto eq = text.find('=');
        if (eq == std::string_view::npos) {
            throw ConfigError("--" + std::string(text) + ": expected --" + std::string(text) + "=VALUE");
        }
        const auto name = text.substr(0, eq);
        const auto it =
            std::find_if(options().begin(), options().end(), [&](const Option& o) { return o.flag == name; });
        if (it == options().end()) throw ConfigError("unknown flag --" + std::string(name) + " (see --help)");
        it->set(config, "--" + std::string(name), text.substr(eq + 1));
    }
    if (config.queue_admission_floor > config.queue_admission_ceiling) {
        throw ConfigError("queue-admission-floor (" + std::to_string(config.queue_admission_floor) +
                          ") is above queue-admission-ceiling (" +
                          std::to_string(config.queue_admission_ceiling) + ")");
    }
    return config;
}

std::string usage() {
    std::string text =
        "usage: marquee [--service=all|NAME[,NAME]] [--flag=value ...] [--migrate-only]\n\n"
        "Every flag can also be set by its environment variable; flags win.\n\n";
    for (const auto& option : options()) {
        text += "  --" + std::string(option.flag) + "=VALUE";
        text.append(std::max<std::size_t>(2, 28 - option.flag.size()), ' ');
        text += std::string(option.env) + "\n      " + std::string(option.help) + "\n";
    }
    text += "  --migrate-only                 apply migrations and exit\n";
    return text;
}

}  // namespace marquee::core
