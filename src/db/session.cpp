#include "db/session.hpp"

#include <cassert>
#include <utility>

#include "db/detail/connection.hpp"
#include "db/detail/pool_state.hpp"

namespace marquee::db {

Session::Session(std::shared_ptr<detail::PoolState> pool, std::unique_ptr<detail::Connection> connection,
                 std::chrono::milliseconds timeout) noexcept
    : pool_(std::move(pool)), connection_(std::move(connection)), timeout_(timeout) {}

Session::Session(Session&& other) noexcept
    : pool_(std::move(other.pool_)),
      connection_(std::move(other.connection_)),
      timeout_(other.timeout_),
      discard_(other.discard_) {}

Session& Session::operator=(Session&& other) noexcept {
    if (this != &other) {
        release();
        pool_ = std::move(other.pool_);
        connection_ = std::move(other.connection_);
        timeout_ = other.timeout_;
        discard_ = other.discard_;
    }
    return *this;
}

Session::~Session() {
    release();
}

void Session::release() noexcept {
    if (!pool_) return;  // moved from
    const auto pool = std::move(pool_);
    pool->release(std::move(connection_), discard_);
}

detail::Connection& Session::connection() const noexcept {
    assert(connection_ && "use of a moved-from db::Session");
    return *connection_;
}

boost::asio::awaitable<Result> Session::query(std::string sql, Params params) {
    co_return co_await connection().query(sql, params, timeout_);
}

boost::asio::awaitable<Result> Session::execute(std::string script) {
    co_return co_await connection().execute(script, timeout_);
}

}  // namespace marquee::db
