#include "db/server_error.hpp"

#include <chrono>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "db/detail/connection.hpp"

namespace marquee::db {
namespace {

TEST(ClassifySqlstate, ConnectionExceptionsDropTheConnection) {
    for (const char* state : {"08000", "08003", "08006", "08001", "08004", "08P01"}) {
        EXPECT_EQ(classify_sqlstate(state), ServerFault::ConnectionLost) << state;
    }
}

TEST(ClassifySqlstate, ShutdownsAndStartupsDropTheConnection) {
    EXPECT_EQ(classify_sqlstate("57P01"),
              ServerFault::ConnectionLost);  // admin_shutdown (fast stop, demotion)
    EXPECT_EQ(classify_sqlstate("57P02"), ServerFault::ConnectionLost);  // crash_shutdown
    EXPECT_EQ(classify_sqlstate("57P03"), ServerFault::ConnectionLost);  // cannot_connect_now (starting up)
}

TEST(ClassifySqlstate, AWriteOnADemotedPrimaryDropsTheConnection) {
    // read_only_sql_transaction: the node this connection reached is a standby now; reconnecting walks the
    // host list (target_session_attrs=read-write) to the new primary.
    EXPECT_EQ(classify_sqlstate("25006"), ServerFault::ConnectionLost);
}

TEST(ClassifySqlstate, OverloadAndCancelKeepTheConnection) {
    EXPECT_EQ(classify_sqlstate("53300"), ServerFault::Busy);  // too_many_connections
    EXPECT_EQ(classify_sqlstate("53100"), ServerFault::Busy);  // disk_full
    EXPECT_EQ(classify_sqlstate("57014"), ServerFault::Busy);  // query_canceled (statement_timeout)
}

TEST(ClassifySqlstate, StatementErrorsAreTheStatements) {
    for (const char* state :
         {"23505", "23503", "40001", "40P01", "P0001", "42601", "25P02", "25001", "57000", "58030", ""}) {
        EXPECT_EQ(classify_sqlstate(state), ServerFault::None) << state;
    }
}

TEST(ClassifySqlstate, MalformedCodesAreNotServerFaults) {
    EXPECT_EQ(classify_sqlstate("08"), ServerFault::None);
    EXPECT_EQ(classify_sqlstate("080000"), ServerFault::None);
    EXPECT_EQ(classify_sqlstate("2500"), ServerFault::None);
}

using detail::hosts_after;
using detail::Keywords;
using detail::per_host_timeout;

std::string value_of(const Keywords& keywords, std::string_view key) {
    for (const auto& [k, v] : keywords) {
        if (k == key) return v;
    }
    return "<absent>";
}

TEST(PerHostTimeout, ComesFromConnectTimeoutWithLibpqsFloor) {
    EXPECT_EQ(per_host_timeout({{"connect_timeout", "3"}}), std::chrono::seconds(3));
    EXPECT_EQ(per_host_timeout({{"connect_timeout", "1"}}), std::chrono::seconds(2));
    EXPECT_EQ(per_host_timeout({{"connect_timeout", "0"}}), std::nullopt);
    EXPECT_EQ(per_host_timeout({{"connect_timeout", "soon"}}), std::nullopt);
    EXPECT_EQ(per_host_timeout({{"host", "a"}}), std::nullopt);
}

TEST(HostsAfter, SkipsTheHostThatDidNotAnswer) {
    const Keywords url{{"host", "10.0.0.1,10.0.0.2,10.0.0.3"},
                       {"port", "5432,5433,5434"},
                       {"target_session_attrs", "read-write"}};
    const auto rest = hosts_after(url, "10.0.0.1", "5432", "10.0.0.1");
    ASSERT_TRUE(rest.has_value());
    EXPECT_EQ(value_of(*rest, "host"), "10.0.0.2,10.0.0.3");
    EXPECT_EQ(value_of(*rest, "port"), "5433,5434");
    EXPECT_EQ(value_of(*rest, "target_session_attrs"), "read-write");

    const auto last = hosts_after(*rest, "10.0.0.2", "5433", "");
    ASSERT_TRUE(last.has_value());
    EXPECT_EQ(value_of(*last, "host"), "10.0.0.3");
    EXPECT_EQ(value_of(*last, "port"), "5434");
    EXPECT_FALSE(hosts_after(*last, "10.0.0.3", "5434", "").has_value());
}

TEST(HostsAfter, TellsOneHostOnTwoPortsApartAndKeepsASharedPort) {
    const Keywords same_host{{"host", "127.0.0.1,127.0.0.1"}, {"port", "5432,5433"}};
    const auto rest = hosts_after(same_host, "127.0.0.1", "5432", "");
    ASSERT_TRUE(rest.has_value());
    EXPECT_EQ(value_of(*rest, "host"), "127.0.0.1");
    EXPECT_EQ(value_of(*rest, "port"), "5433");
    EXPECT_FALSE(hosts_after(same_host, "127.0.0.1", "5433", "").has_value());

    const Keywords shared_port{{"host", "db-a,db-b"}, {"hostaddr", "10.0.0.1,10.0.0.2"}, {"port", "5432"}};
    const auto after_a = hosts_after(shared_port, "db-a", "5432", "10.0.0.1");
    ASSERT_TRUE(after_a.has_value());
    EXPECT_EQ(value_of(*after_a, "host"), "db-b");
    EXPECT_EQ(value_of(*after_a, "hostaddr"), "10.0.0.2");
    EXPECT_EQ(value_of(*after_a, "port"), "5432");
}

TEST(HostsAfter, AnUnknownHostEndsTheWalk) {
    EXPECT_FALSE(hosts_after({{"host", "a,b"}, {"port", "1,2"}}, "c", "1", "").has_value());
    EXPECT_FALSE(hosts_after({{"dbname", "x"}}, "a", "1", "").has_value());
}

}  // namespace
}  // namespace marquee::db
