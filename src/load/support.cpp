#include "load/support.hpp"

#include <cstdio>
#include <exception>
#include <stdexcept>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>

#include "load/process.hpp"

namespace marquee::load {

namespace asio = boost::asio;
namespace json = boost::json;

std::optional<json::object> parse_object(const std::string& body) {
    boost::system::error_code ec;
    auto value = json::parse(body, ec);
    if (ec || !value.is_object()) return std::nullopt;
    return value.as_object();
}

bool charge_failed_for_its_key(unsigned status, const std::string& body) {
    if (status != 503) return false;
    const auto doc = parse_object(body);
    return doc && !string_field(*doc, "chargeId").empty();
}

std::int64_t int_field(const json::object& o, std::string_view name) {
    const auto* v = o.if_contains(name);
    if (v == nullptr) return -1;
    if (v->is_int64()) return v->as_int64();
    if (v->is_uint64()) return static_cast<std::int64_t>(v->as_uint64());
    return -1;
}

std::string string_field(const json::object& o, std::string_view name) {
    const auto* v = o.if_contains(name);
    return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

bool bool_field(const json::object& o, std::string_view name) {
    const auto* v = o.if_contains(name);
    return v != nullptr && v->is_bool() && v->as_bool();
}

std::string quote_sql(const std::string& text) {
    std::string out = "'";
    for (char c : text) {
        out += c;
        if (c == '\'') out += '\'';
    }
    return out + "'";
}

std::string psql(const Options& o, const std::string& sql) {
    const std::vector<std::string> argv{o.psql, "-X",           "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                                        "-d",   o.database_url, "-c", sql};
    auto [status, output] = run_command(argv);
    if (status != 0) throw std::runtime_error("psql failed (" + std::to_string(status) + "): " + output);
    while (!output.empty() && (output.back() == '\n' || output.back() == '\r')) output.pop_back();
    return output;
}

asio::awaitable<void> sleep_for(std::chrono::steady_clock::duration duration) {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    timer.expires_after(duration);
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
}

std::vector<std::size_t> free_seats(const json::object& availability, std::size_t seats) {
    std::vector<std::size_t> out;
    std::string bits;
    try {
        bits = decode_base64(string_field(availability, "taken"));
    } catch (const std::invalid_argument&) {
        return out;
    }
    for (std::size_t i = 0; i < seats && i / 8 < bits.size(); ++i) {
        if ((static_cast<unsigned char>(bits[i / 8]) & (0x80u >> (i % 8))) == 0) out.push_back(i);
    }
    return out;
}

void spawn_all(asio::io_context& ioc, unsigned n, const std::function<asio::awaitable<void>(unsigned)>& make,
               unsigned& crashed, const char* who) {
    for (unsigned i = 0; i < n; ++i) {
        asio::co_spawn(ioc, make(i), [&crashed, who](const std::exception_ptr& error) {
            if (!error) return;
            if (crashed++ < 3) {
                try {
                    std::rethrow_exception(error);
                } catch (const std::exception& e) {
                    std::fprintf(stderr, "marquee-load: %s failed: %s\n", who, e.what());
                }
            }
        });
    }
}

}  // namespace marquee::load
