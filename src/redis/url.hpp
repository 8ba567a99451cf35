#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace marquee::redis {

/// Where and how to reach Redis: `redis://[[user]:password@]host[:port][/db]`.
struct Url {
    std::string host;
    std::uint16_t port = 6379;
    int db = 0;
    std::string username;  ///< empty: AUTH with the password only (Redis < 6 style)
    std::string password;  ///< empty: no AUTH

    /// Throws core::ConfigError saying what is wrong (scheme, host, port, db).
    static Url parse(std::string_view text);

    friend bool operator==(const Url&, const Url&) = default;
};

/// The seed nodes of a Redis Cluster (`--redis-cluster`): `host:port[,host:port...]`; an item may also be a
/// `redis://[user:password@]host:port` URL (credentials of the first one apply to every node). The database
/// must be 0 (a cluster has only that one). Throws core::ConfigError; an empty list is an error.
std::vector<Url> parse_cluster_seeds(std::string_view text);

}  // namespace marquee::redis
