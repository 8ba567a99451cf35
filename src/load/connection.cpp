#include "load/connection.hpp"

#include <array>
#include <span>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

namespace marquee::load {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

Target parse_target(const std::string& url) {
    constexpr std::string_view kScheme = "http://";
    if (url.rfind(kScheme, 0) != 0) {
        throw std::invalid_argument("target must be http://HOST:PORT, got '" + url + "'");
    }
    std::string rest = url.substr(kScheme.size());
    if (const auto slash = rest.find('/'); slash != std::string::npos) rest.resize(slash);
    const auto colon = rest.rfind(':');
    if (colon == std::string::npos) throw std::invalid_argument("target needs a port: '" + url + "'");
    std::string host = rest.substr(0, colon);
    const std::string port_text = rest.substr(colon + 1);
    unsigned long port = 0;
    try {
        port = std::stoul(port_text);
    } catch (const std::exception&) {
        throw std::invalid_argument("bad port in '" + url + "'");
    }
    if (port == 0 || port > 65535) throw std::invalid_argument("bad port in '" + url + "'");
    std::string address = host;
    if (address == "localhost") address = "127.0.0.1";
    if (address.size() > 2 && address.front() == '[' && address.back() == ']') {
        address = address.substr(1, address.size() - 2);
    }
    boost::system::error_code ec;
    const auto ip = asio::ip::make_address(address, ec);
    if (ec) throw std::invalid_argument("target host must be a loopback address, got '" + host + "'");
    if (!ip.is_loopback()) {
        throw std::invalid_argument("refusing a non-loopback target '" + host +
                                    "': load stays on this machine");
    }
    return Target{tcp::endpoint(ip, static_cast<std::uint16_t>(port)), rest};
}

Connection::Connection(const asio::any_io_executor& executor, Target target,
                       std::chrono::milliseconds timeout, SendTurns* turns)
    : target_(std::move(target)), timeout_(timeout), socket_(executor), watchdog_(executor), turns_(turns) {}

namespace {

/// Where every connection's reads land before their bytes are appended to its own buffer: one thread runs
/// the load generator, and a read is taken at once, so one buffer serves all of them. A connection's buffer
/// then holds only what arrived (10,000 connections used to keep 64 KiB each, zeroed before every read).
std::span<char> read_scratch() {
    thread_local std::array<char, std::size_t{64} * 1024> scratch;
    return scratch;
}

}  // namespace

void Connection::close() {
    boost::system::error_code ignored;
    socket_.close(ignored);
    buffer_.clear();
}

asio::awaitable<Response> Connection::request(std::string method, std::string target, std::string body,
                                              Headers headers) {
    std::string wire = format_request(method, target, target_.host, headers, body);
    // A keep-alive connection the server closed while idle fails on first use: reconnect once and resend,
    // but only when the server cannot have acted on the request: a GET, or nothing was written.
    const bool reused = socket_.is_open();
    try {
        co_return co_await exchange(wire);
    } catch (const TransportError&) {
        if (!reused || timed_out_ || (written_ && method != "GET")) throw;
    }
    co_return co_await exchange(std::move(wire));
}

asio::awaitable<Response> Connection::exchange(std::string wire) {
    constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
    // The request's turn first (connecting is sending too); its latency counts from here, not from the wait.
    const auto asked = std::chrono::steady_clock::now();
    if (turns_ != nullptr) {
        co_await turns_->take();
    }
    const auto sent = std::chrono::steady_clock::now();
    timed_out_ = false;
    written_ = false;
    const std::uint64_t generation = ++generation_;
    watchdog_.expires_after(timeout_);
    watchdog_.async_wait([this, generation](boost::system::error_code ec) {
        // A timer that fired just as the exchange finished must not close the next one's socket.
        if (!ec && generation == generation_) {
            timed_out_ = true;
            boost::system::error_code ignored;
            socket_.close(ignored);
        }
    });
    struct Disarm {
        asio::steady_timer& timer;
        ~Disarm() { timer.cancel(); }
    } disarm{watchdog_};
    struct Retire {
        std::uint64_t& generation;
        ~Retire() { ++generation; }
    } retire{generation_};

    if (!socket_.is_open()) {
        buffer_.clear();
        if (source_) {
            boost::system::error_code bind_ec;
            socket_.open(target_.endpoint.protocol(), bind_ec);
            if (!bind_ec) socket_.bind(tcp::endpoint(*source_, 0), bind_ec);
            if (bind_ec) {
                close();
                throw TransportError("bind " + source_->to_string() + ": " + bind_ec.message());
            }
        }
        auto [ec] = co_await socket_.async_connect(target_.endpoint, kTuple);
        if (ec) {
            close();
            throw TransportError(timed_out_ ? "connect: timeout" : "connect: " + ec.message());
        }
        ++connects_;
        socket_.set_option(tcp::no_delay(true), ec);
        socket_.non_blocking(true, ec);  // read_some below takes what is there and never blocks the thread
    }
    auto [write_ec, written] = co_await asio::async_write(socket_, asio::buffer(wire), kTuple);
    if (write_ec) {
        close();
        throw TransportError(timed_out_ ? "write: timeout" : "write: " + write_ec.message());
    }
    written_ = true;
    Response response;
    for (;;) {
        std::optional<std::size_t> used;
        try {
            used = parse_response(buffer_, response);
        } catch (const std::runtime_error& e) {
            close();
            throw TransportError(e.what());
        }
        if (used) {
            buffer_.erase(0, *used);
            break;
        }
        // Wait until the socket is readable, then take what is there without blocking. The watchdog's close
        // ends the wait with an error, as it ended a pending read.
        auto [wait_ec] = co_await socket_.async_wait(tcp::socket::wait_read, kTuple);
        std::size_t n = 0;
        boost::system::error_code read_ec = wait_ec;
        if (!read_ec) {
            const auto scratch = read_scratch();
            n = socket_.read_some(asio::buffer(scratch.data(), scratch.size()), read_ec);
            if (read_ec == asio::error::would_block || read_ec == asio::error::try_again) continue;
            buffer_.append(scratch.data(), n);
        }
        if (read_ec) {
            close();
            throw TransportError(timed_out_ ? "read: timeout" : "read: " + read_ec.message());
        }
    }
    response.sent = sent;
    response.turn_wait = sent - asked;
    if (!response.keep_alive) close();
    co_return response;
}

}  // namespace marquee::load
