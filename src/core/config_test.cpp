#include "core/config.hpp"

#include <map>

#include <gtest/gtest.h>

namespace marquee::core {
namespace {

EnvLookup env_of(std::map<std::string, std::string> vars) {
    return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
        auto it = vars.find(std::string(name));
        if (it == vars.end()) return std::nullopt;
        return it->second;
    };
}

Config parse(const std::vector<std::string>& args, std::map<std::string, std::string> env = {}) {
    auto config = parse_config(args, env_of(std::move(env)));
    EXPECT_TRUE(config.has_value());
    return config.value_or(Config{});
}

TEST(Config, DefaultsRunEveryService) {
    const auto config = parse({});
    EXPECT_EQ(config.services.size(), std::size(kServiceNames));
    EXPECT_TRUE(config.runs("booking"));
    EXPECT_TRUE(config.runs("gateway"));
    EXPECT_EQ(config.http_port, 8080);
    EXPECT_TRUE(config.migrate_on_start);
    EXPECT_FALSE(config.migrate_only);
}

TEST(Config, ServiceFlagSelectsOneService) {
    const auto config = parse({"--service=booking"});
    ASSERT_EQ(config.services.size(), 1u);
    EXPECT_TRUE(config.runs("booking"));
    EXPECT_FALSE(config.runs("payment"));
}

TEST(Config, ServiceListIsDeduplicated) {
    const auto config = parse({"--service=queue,auth,queue"});
    EXPECT_EQ(config.services, (std::vector<std::string>{"auth", "queue"}));
}

TEST(Config, TrustedProxiesAreACommaList) {
    EXPECT_TRUE(parse({}).trusted_proxies.empty());
    const auto c = parse({"--trusted-proxies=10.0.0.0/8, 192.168.1.7,,fd00::/8"});
    EXPECT_EQ(c.trusted_proxies, (std::vector<std::string>{"10.0.0.0/8", "192.168.1.7", "fd00::/8"}));
    EXPECT_EQ(parse({}, {{"MARQUEE_TRUSTED_PROXIES", "127.0.0.1"}}).trusted_proxies,
              std::vector<std::string>{"127.0.0.1"});
}

TEST(Config, FlagsOverrideEnvironment) {
    const auto config =
        parse({"--port=9090"}, {{"MARQUEE_HTTP_PORT", "7070"}, {"MARQUEE_DB_POOL_SIZE", "16"}});
    EXPECT_EQ(config.http_port, 9090);
    EXPECT_EQ(config.db_pool_size, 16u);
}

TEST(Config, EnvironmentSetsUrlsAndTimeouts) {
    const auto config = parse({}, {{"MARQUEE_DATABASE_URL", "postgresql://x@127.0.0.1:1/y"},
                                   {"MARQUEE_REDIS_TIMEOUT_MS", "250"},
                                   {"MARQUEE_REDIS_MAX_WAIT_MS", "4000"},
                                   {"MARQUEE_MIGRATE", "false"}});
    EXPECT_EQ(config.database_url, "postgresql://x@127.0.0.1:1/y");
    EXPECT_EQ(config.redis_timeout.count(), 250);
    EXPECT_EQ(config.redis_max_wait.count(), 4000);
    EXPECT_EQ(parse({}).redis_max_wait.count(), 10'000);
    EXPECT_FALSE(config.migrate_on_start);
}

TEST(Config, HoldTtlIsConfigurable) {
    EXPECT_EQ(parse({}).hold_ttl, std::chrono::minutes(5));
    EXPECT_EQ(parse({"--hold-ttl-s=90"}).hold_ttl, std::chrono::seconds(90));
    EXPECT_THROW((void)parse_config({"--hold-ttl-s=0"}, env_of({})), ConfigError);
}

TEST(Config, HoldsCommitAsynchronouslyUnlessMadeDurable) {
    EXPECT_FALSE(parse({}).durable_holds);
    EXPECT_TRUE(parse({"--durable-holds=true"}).durable_holds);
    EXPECT_TRUE(parse({}, {{"MARQUEE_DURABLE_HOLDS", "on"}}).durable_holds);
    EXPECT_FALSE(parse({"--durable-holds=false"}, {{"MARQUEE_DURABLE_HOLDS", "true"}}).durable_holds);
    EXPECT_THROW((void)parse_config({"--durable-holds=maybe"}, env_of({})), ConfigError);
}

TEST(Config, AvailabilityCopyAndReconcileAreConfigurable) {
    const auto defaults = parse({});
    EXPECT_EQ(defaults.availability_max_age, std::chrono::milliseconds(100));
    EXPECT_EQ(defaults.availability_copy_idle, std::chrono::seconds(60));
    EXPECT_EQ(defaults.availability_copy_max_schedules, 1000u);
    EXPECT_EQ(defaults.availability_reconcile_period, std::chrono::seconds(10));
    EXPECT_EQ(defaults.availability_reconcile_schedules, 50u);
    const auto set =
        parse({"--availability-max-age-ms=0", "--availability-copy-max=7", "--availability-reconcile-ms=500"},
              {{"MARQUEE_AVAILABILITY_COPY_IDLE_MS", "2000"}, {"MARQUEE_AVAILABILITY_RECONCILE_BATCH", "3"}});
    EXPECT_EQ(set.availability_max_age, std::chrono::milliseconds(0));  // no copy: every read from Redis
    EXPECT_EQ(set.availability_copy_idle, std::chrono::seconds(2));
    EXPECT_EQ(set.availability_copy_max_schedules, 7u);
    EXPECT_EQ(set.availability_reconcile_period, std::chrono::milliseconds(500));
    EXPECT_EQ(set.availability_reconcile_schedules, 3u);
    EXPECT_THROW((void)parse_config({"--availability-max-age-ms=-1"}, env_of({})), ConfigError);
    EXPECT_THROW((void)parse_config({"--availability-copy-max=0"}, env_of({})), ConfigError);
    EXPECT_THROW((void)parse_config({"--availability-reconcile-ms=0"}, env_of({})), ConfigError);
}

TEST(Config, HotPathCachesAreConfigurable) {
    EXPECT_EQ(parse({}).jwt_cache_size, 100'000u);
    EXPECT_EQ(parse({}).booking_taken_memory, std::chrono::seconds(1));
    const auto config = parse({"--jwt-cache-size=0"},
                              {{"MARQUEE_BOOKING_TAKEN_MEMORY_MS", "250"}, {"MARQUEE_JWT_CACHE_SIZE", "7"}});
    EXPECT_EQ(config.jwt_cache_size, 0u);  // the flag wins over the environment
    EXPECT_EQ(config.booking_taken_memory, std::chrono::milliseconds(250));
    EXPECT_EQ(parse({"--booking-taken-memory-ms=0"}).booking_taken_memory.count(), 0);
    EXPECT_THROW((void)parse_config({"--booking-taken-memory-ms=5001"}, env_of({})), ConfigError);
    EXPECT_THROW((void)parse_config({"--booking-taken-memory-ms=-1"}, env_of({})), ConfigError);
    EXPECT_THROW((void)parse_config({"--jwt-cache-size=lots"}, env_of({})), ConfigError);
}

TEST(Config, RecoveryAgeIsConfigurable) {
    EXPECT_EQ(parse({}).recovery_age, std::chrono::seconds(60));
    EXPECT_EQ(parse({"--recovery-age-s=10"}).recovery_age, std::chrono::seconds(10));
    EXPECT_THROW((void)parse_config({"--recovery-age-s=0"}, env_of({})), ConfigError);
}

TEST(Config, QueueSchedulesKeyIsConfigurable) {
    EXPECT_EQ(parse({}).queue_schedules_key, "queue:schedules");
    EXPECT_EQ(parse({}, {{"MARQUEE_QUEUE_SCHEDULES_KEY", "queue:schedules:tenant-b"}}).queue_schedules_key,
              "queue:schedules:tenant-b");
    EXPECT_THROW((void)parse_config({"--queue-schedules-key="}, env_of({})), ConfigError);
    EXPECT_THROW((void)parse_config({"--queue-schedules-key=a b"}, env_of({})), ConfigError);
}

TEST(Config, QueueAdmissionIsAutomaticUnlessANumberIsFixed) {
    const Config defaults = parse({});
    EXPECT_FALSE(defaults.queue_max_active.has_value());
    EXPECT_FALSE(defaults.queue_admit_per_second.has_value());
    EXPECT_EQ(defaults.queue_admission_floor, 16u);
    EXPECT_EQ(defaults.queue_admission_ceiling, 2000u);
    EXPECT_EQ(defaults.queue_admission_start, 64u);
    EXPECT_EQ(defaults.queue_admission_interval, std::chrono::milliseconds(1000));
    EXPECT_EQ(defaults.queue_admission_budget, std::chrono::milliseconds(80));
    EXPECT_EQ(parse({"--queue-admission-budget-ms=250"}).queue_admission_budget,
              std::chrono::milliseconds(250));
    EXPECT_THROW((void)parse_config({"--queue-admission-budget-ms=5"}, env_of({})), ConfigError);
    const Config fixed = parse({"--queue-max-active=200"}, {{"MARQUEE_QUEUE_ADMIT_PER_SECOND", "5000"}});
    EXPECT_EQ(fixed.queue_max_active, 200u);
    EXPECT_EQ(fixed.queue_admit_per_second, 5000u);
    EXPECT_FALSE(parse({"--queue-max-active=auto"}, {{"MARQUEE_QUEUE_MAX_ACTIVE", "200"}})
                     .queue_max_active.has_value())
        << "the flag wins, and auto is a value";
    const Config tuned = parse({"--queue-admission-floor=8", "--queue-admission-ceiling=400",
                                "--queue-admission-start=32", "--queue-admission-interval-ms=500"});
    EXPECT_EQ(tuned.queue_admission_floor, 8u);
    EXPECT_EQ(tuned.queue_admission_ceiling, 400u);
    EXPECT_EQ(tuned.queue_admission_start, 32u);
    EXPECT_EQ(tuned.queue_admission_interval, std::chrono::milliseconds(500));
    EXPECT_THROW((void)parse_config({"--queue-max-active=0"}, env_of({})), ConfigError);
    EXPECT_THROW((void)parse_config({"--queue-admission-interval-ms=10"}, env_of({})), ConfigError);
    EXPECT_THROW(
        (void)parse_config({"--queue-admission-floor=500", "--queue-admission-ceiling=100"}, env_of({})),
        ConfigError);
}

// Issue 15, 100,000 fans (ADR 0018)
TEST(Config, MaxConnectionsDefaultsToDerivedAndIsConfigurable) {
    EXPECT_EQ(parse({}).http.max_connections, 0u);
    EXPECT_EQ(parse({}, {{"MARQUEE_MAX_CONNECTIONS", "2"}}).http.max_connections, 2u);
    EXPECT_EQ(parse({"--max-connections=15000"}).http.max_connections, 15000u);
    EXPECT_THROW((void)parse_config({"--max-connections=-1"}, env_of({})), ConfigError);
}

TEST(Config, QueueSoldOutCheckIsConfigurable) {
    EXPECT_EQ(parse({}).queue_sold_out_check, std::chrono::milliseconds(250));
    EXPECT_EQ(parse({"--queue-sold-out-check-ms=100"}).queue_sold_out_check, std::chrono::milliseconds(100));
    EXPECT_THROW((void)parse_config({"--queue-sold-out-check-ms=0"}, env_of({})), ConfigError);
}

// Issue 16, Redis Cluster (ADR 0020)
TEST(Config, RedisClusterSeedsAreOffByDefaultAndConfigurable) {
    EXPECT_EQ(parse({}).redis_cluster, "");
    EXPECT_EQ(parse({}).redis_cluster_refresh, std::chrono::milliseconds(5000));
    EXPECT_EQ(parse({}, {{"MARQUEE_REDIS_CLUSTER", "127.0.0.1:7000,127.0.0.1:7001"}}).redis_cluster,
              "127.0.0.1:7000,127.0.0.1:7001");
    EXPECT_EQ(parse({"--redis-cluster=h:1"}, {{"MARQUEE_REDIS_CLUSTER", "127.0.0.1:7000"}}).redis_cluster,
              "h:1");
    EXPECT_EQ(parse({"--redis-cluster-refresh-ms=1000"}).redis_cluster_refresh,
              std::chrono::milliseconds(1000));
    EXPECT_THROW((void)parse_config({"--redis-cluster=nohostport"}, env_of({})), ConfigError);
    EXPECT_THROW((void)parse_config({"--redis-cluster=h:"}, env_of({})), ConfigError);
    EXPECT_THROW((void)parse_config({"--redis-cluster-refresh-ms=10"}, env_of({})), ConfigError);
}

// Issue 17, a fair start and proof of work (ADR 0026)
TEST(Config, QueueSecretAndProofOfWorkAreOffByDefaultAndConfigurable) {
    EXPECT_EQ(parse({}).queue_secret_file, "");
    EXPECT_EQ(parse({}).queue_pow_difficulty, 0);
    EXPECT_EQ(parse({}).queue_pow_ttl, std::chrono::seconds(120));
    EXPECT_EQ(parse({}, {{"MARQUEE_QUEUE_SECRET_FILE", "/run/secret"}}).queue_secret_file, "/run/secret");
    EXPECT_EQ(parse({"--queue-pow-difficulty=16"}).queue_pow_difficulty, 16);
    EXPECT_EQ(parse({"--queue-pow-ttl-s=30"}).queue_pow_ttl, std::chrono::seconds(30));
    EXPECT_THROW((void)parse_config({"--queue-pow-difficulty=33"}, env_of({})), ConfigError);
    EXPECT_THROW((void)parse_config({"--queue-pow-difficulty=-1"}, env_of({})), ConfigError);
    EXPECT_THROW((void)parse_config({"--queue-pow-ttl-s=1"}, env_of({})), ConfigError);
}

// ADR 0056 (amended): the logins' lane bounds a login's wait in time.
TEST(Config, LoginLaneMaxWaitHasADefaultAndCanBeTurnedOff) {
    EXPECT_EQ(parse({}).login_lane_max_wait, std::chrono::milliseconds(8'000));
    EXPECT_EQ(parse({}, {{"MARQUEE_LOGIN_LANE_MAX_WAIT_MS", "3000"}}).login_lane_max_wait,
              std::chrono::milliseconds(3'000));
    EXPECT_EQ(parse({"--login-lane-max-wait-ms=0"}).login_lane_max_wait, std::chrono::milliseconds(0));
    EXPECT_THROW((void)parse_config({"--login-lane-max-wait-ms=-1"}, env_of({})), ConfigError);
    EXPECT_THROW((void)parse_config({"--login-lane-max-wait-ms=600001"}, env_of({})), ConfigError);
}

// ADR 0036: the queue's join line.
TEST(Config, QueueJoinLineHasDefaultsAndCanBeTurnedOff) {
    EXPECT_EQ(parse({}).queue_join_concurrency, 0u);  // off: measured slower (ADR 0036)
    EXPECT_EQ(parse({}).queue_join_line, 50'000u);
    EXPECT_EQ(parse({}, {{"MARQUEE_QUEUE_JOIN_CONCURRENCY", "64"}}).queue_join_concurrency, 64u);
    EXPECT_EQ(parse({"--queue-join-concurrency=32"}).queue_join_concurrency, 32u);
    EXPECT_EQ(parse({"--queue-join-line=10"}).queue_join_line, 10u);
    EXPECT_THROW((void)parse_config({"--queue-join-line=0"}, env_of({})), ConfigError);
    EXPECT_THROW((void)parse_config({"--queue-join-concurrency=-1"}, env_of({})), ConfigError);
}

TEST(Config, MigrateOnlyFlag) {
    EXPECT_TRUE(parse({"--migrate-only"}).migrate_only);
}

TEST(Config, HelpReturnsNothing) {
    EXPECT_FALSE(parse_config({"--help"}, env_of({})).has_value());
    EXPECT_NE(usage().find("--database-url"), std::string::npos);
}

TEST(Config, RejectsUnknownService) {
    try {
        (void)parse_config({"--service=tickets"}, env_of({}));
        FAIL() << "expected ConfigError";
    } catch (const ConfigError& e) {
        EXPECT_NE(std::string(e.what()).find("unknown service 'tickets'"), std::string::npos);
    }
}

TEST(Config, RejectsBadNumbersNamingTheSource) {
    EXPECT_THROW((void)parse_config({"--port=99999"}, env_of({})), ConfigError);
    EXPECT_THROW((void)parse_config({"--port=80x"}, env_of({})), ConfigError);
    EXPECT_THROW((void)parse_config({"--db-pool-size=0"}, env_of({})), ConfigError);
    try {
        (void)parse_config({}, env_of({{"MARQUEE_THREADS", "-1"}}));
        FAIL() << "expected ConfigError";
    } catch (const ConfigError& e) {
        EXPECT_NE(std::string(e.what()).find("MARQUEE_THREADS"), std::string::npos);
    }
}

TEST(Config, RejectsUnknownFlagsAndBareArguments) {
    EXPECT_THROW((void)parse_config({"--colour=red"}, env_of({})), ConfigError);
    EXPECT_THROW((void)parse_config({"serve"}, env_of({})), ConfigError);
    EXPECT_THROW((void)parse_config({"--port"}, env_of({})), ConfigError);
    EXPECT_THROW((void)parse_config({"--migrate=maybe"}, env_of({})), ConfigError);
}

}  // namespace
}  // namespace marquee::core
