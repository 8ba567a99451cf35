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
                                   {"MARQUEE_MIGRATE", "false"}});
    EXPECT_EQ(config.database_url, "postgresql://x@127.0.0.1:1/y");
    EXPECT_EQ(config.redis_timeout.count(), 250);
    EXPECT_FALSE(config.migrate_on_start);
}

TEST(Config, HoldTtlIsConfigurable) {
    EXPECT_EQ(parse({}).hold_ttl, std::chrono::minutes(5));
    EXPECT_EQ(parse({"--hold-ttl-s=90"}).hold_ttl, std::chrono::seconds(90));
    EXPECT_THROW((void)parse_config({"--hold-ttl-s=0"}, env_of({})), ConfigError);
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
