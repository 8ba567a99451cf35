#include "load/pool.hpp"

#include <optional>
#include <stdexcept>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace marquee::load {

namespace asio = boost::asio;

std::vector<asio::ip::address> parse_source_addresses(const std::string& list) {
    std::vector<asio::ip::address> out;
    std::size_t start = 0;
    while (start <= list.size()) {
        const auto comma = std::min(list.find(',', start), list.size());
        const std::string item = list.substr(start, comma - start);
        start = comma + 1;
        if (item.empty()) continue;
        boost::system::error_code ec;
        const auto address = asio::ip::make_address(item, ec);
        if (ec || !address.is_loopback()) {
            throw std::invalid_argument("--source-addresses takes loopback addresses, got '" + item + "'");
        }
        out.push_back(address);
    }
    return out;
}

struct SharedPool::Waiter {
    asio::steady_timer timer;
    std::optional<std::size_t> slot;
};

SharedPool::SharedPool(asio::any_io_executor executor, const Target& target, std::size_t size,
                       std::vector<asio::ip::address> sources, std::chrono::milliseconds timeout)
    : executor_(std::move(executor)) {
    if (size == 0) throw std::invalid_argument("a shared pool needs at least one connection");
    connections_.reserve(size);
    for (std::size_t i = 0; i < size; ++i) {
        auto connection = std::make_unique<Connection>(executor_, target, timeout);
        if (!sources.empty()) connection->bind_to(sources[i % sources.size()]);
        connections_.push_back(std::move(connection));
        free_.push_back(size - 1 - i);  // the lowest index is taken first
    }
}

std::uint64_t SharedPool::connects() const {
    std::uint64_t total = 0;
    for (const auto& c : connections_) total += c->connects();
    return total;
}

asio::awaitable<std::size_t> SharedPool::acquire() {
    if (!free_.empty()) {
        const std::size_t index = free_.back();
        free_.pop_back();
        co_return index;
    }
    ++waits_;
    Waiter waiter{asio::steady_timer(executor_, asio::steady_timer::time_point::max()), std::nullopt};
    waiting_.push_back(&waiter);
    most_waiting_ = std::max(most_waiting_, waiting_.size());
    while (!waiter.slot) {
        co_await waiter.timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    co_return *waiter.slot;
}

void SharedPool::release(std::size_t index) {
    if (waiting_.empty()) {
        free_.push_back(index);
        return;
    }
    Waiter* next = waiting_.front();
    waiting_.pop_front();
    next->slot = index;
    next->timer.cancel();
}

asio::awaitable<Response> SharedPool::request(std::string method, std::string target, std::string body,
                                              Headers headers) {
    const std::size_t index = co_await acquire();
    struct Give {
        SharedPool& pool;
        std::size_t index;
        ~Give() { pool.release(index); }
    } give{*this, index};
    co_return co_await connections_[index]->request(std::move(method), std::move(target), std::move(body),
                                                    std::move(headers));
}

}  // namespace marquee::load
