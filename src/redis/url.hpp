#pragma once

#include <cstdint>
#include <string>
#include <string_view>

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

}  // namespace marquee::redis
