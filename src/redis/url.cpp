#include "redis/url.hpp"

#include <algorithm>
#include <charconv>

#include <boost/url/parse.hpp>

#include "core/config.hpp"

namespace marquee::redis {
namespace {

[[noreturn]] void fail(std::string_view text, std::string_view why) {
    throw core::ConfigError("redis url '" + std::string(text) + "': " + std::string(why));
}

}  // namespace

Url Url::parse(std::string_view text) {
    const auto parsed = boost::urls::parse_uri(text);
    if (!parsed) fail(text, "not a URL (expected redis://host:port[/db])");
    const boost::urls::url_view& uri = *parsed;
    if (uri.scheme() == "rediss") fail(text, "TLS (rediss://) is not supported");
    if (uri.scheme() != "redis") fail(text, "scheme must be redis://");

    Url url;
    url.host = uri.host_address();
    if (url.host.empty()) fail(text, "missing host");
    if (uri.has_port()) {
        const std::string_view port = uri.port();
        unsigned value = 0;
        const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
        if (port.empty() || ec != std::errc{} || end != port.data() + port.size() || value == 0 ||
            value > 65535) {
            fail(text, "port must be 1..65535");
        }
        url.port = static_cast<std::uint16_t>(value);
    }
    if (uri.has_userinfo()) {
        url.username = uri.user();
        url.password = uri.password();
        if (!uri.has_password()) {
            // redis://secret@host: a lone userinfo is the password, as redis-cli -u reads it.
            url.password = url.username;
            url.username.clear();
        }
    }

    std::string_view path = uri.encoded_path();
    if (path.starts_with('/')) path.remove_prefix(1);
    if (!path.empty()) {
        const auto [end, ec] = std::from_chars(path.data(), path.data() + path.size(), url.db);
        if (ec != std::errc{} || end != path.data() + path.size() || url.db < 0) {
            fail(text, "database must be a number (redis://host:port/0)");
        }
    }
    return url;
}

std::vector<Url> parse_cluster_seeds(std::string_view text) {
    std::vector<Url> seeds;
    std::size_t start = 0;
    while (start <= text.size()) {
        const std::size_t comma = std::min(text.find(',', start), text.size());
        std::string_view item = text.substr(start, comma - start);
        while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
        while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
        start = comma + 1;
        if (item.empty()) continue;
        const std::string url =
            item.find("://") == std::string_view::npos ? "redis://" + std::string(item) : std::string(item);
        Url seed = Url::parse(url);
        if (seed.db != 0) fail(item, "a Redis Cluster has only database 0");
        if (!seeds.empty()) {
            seed.username = seeds.front().username;
            seed.password = seeds.front().password;
        }
        seeds.push_back(std::move(seed));
    }
    if (seeds.empty()) {
        throw core::ConfigError("redis cluster seeds: expected host:port[,host:port...], got '" +
                                std::string(text) + "'");
    }
    return seeds;
}

}  // namespace marquee::redis
