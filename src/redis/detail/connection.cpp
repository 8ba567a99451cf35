#include "redis/detail/connection.hpp"

namespace marquee::redis::detail {

NodePool::NodePool(asio::any_io_executor executor, Url url, const ClientOptions& options,
                   std::shared_ptr<Counters> counters)
    : executor_(std::move(executor)),
      url_(std::move(url)),
      timeout_(options.timeout),
      max_wait_(std::max(options.timeout, options.max_wait)),
      max_pending_per_connection_(options.max_pending_per_connection),
      counters_(std::move(counters)),
      connections_(options.pool_size) {
    if (options.pool_size == 0) throw core::ConfigError("redis pool size must be at least 1");
    if (options.max_pending_per_connection == 0) {
        throw core::ConfigError("redis max pending calls per connection must be at least 1");
    }
}

NodePool::~NodePool() {
    // Connections keep themselves alive while their reads run; closing them ends those reads.
    std::lock_guard lock(mutex_);
    for (auto& connection : connections_) {
        if (connection) connection->shutdown();
    }
}

std::shared_ptr<Connection> NodePool::submit(const std::shared_ptr<Call>& call) {
    std::lock_guard lock(mutex_);
    for (std::size_t tried = 0; tried < connections_.size(); ++tried) {
        std::shared_ptr<Connection>& slot = connections_[next_];
        next_ = (next_ + 1) % connections_.size();
        for (int attempt = 0; attempt < 2; ++attempt) {
            if (!slot || slot->closed()) {
                slot = std::make_shared<Connection>(executor_, url_, timeout_, counters_);
                slot->start();
            }
            const Connection::Submitted submitted = slot->submit(call, max_pending_per_connection_);
            if (submitted == Connection::Submitted::Queued) return slot;
            if (submitted == Connection::Submitted::Full) break;
        }
    }
    counters_->shed.fetch_add(1, std::memory_order_relaxed);
    counters_->errors.fetch_add(1, std::memory_order_relaxed);
    throw core::Problem::unavailable(
        kDependency, "redis is busy: " + std::to_string(max_pending_per_connection_) +
                         " calls waiting on each of " + std::to_string(connections_.size()) + " connections");
}

awaitable<std::vector<Reply>> NodePool::execute(std::string payload, std::size_t expected) {
    auto call = std::make_shared<Call>();
    call->payload = std::move(payload);
    call->expected = expected;
    // One deadline for the whole call: connecting, waiting behind earlier calls and the round trip. Past
    // it the call waits on only while its connection answers, up to max_wait_ (ADR 0053).
    const auto give_up_at = call->entered + max_wait_;
    asio::steady_timer deadline(executor_, call->entered + timeout_);
    const std::shared_ptr<Connection> connection = submit(call);
    auto token = asio::as_tuple(asio::use_awaitable);
    auto initiation = [&connection, &call, &deadline](auto handler) {
        connection->wait(*call, deadline, std::move(handler));
    };
    for (;;) {
        co_await asio::async_initiate<decltype(token), void(error_code)>(initiation, token);
        const Connection::Verdict verdict = connection->finish(call, give_up_at);
        if (verdict.kind == Connection::Verdict::Kind::Done) break;
        if (verdict.kind == Connection::Verdict::Kind::Wait) {
            deadline.expires_at(verdict.recheck);
            continue;
        }
        counters_->errors.fetch_add(1, std::memory_order_relaxed);
        if (verdict.kind == Connection::Verdict::Kind::Dropped) {
            throw core::Problem::unavailable(
                kDependency, "redis did not answer within " + std::to_string(timeout_.count()) + " ms");
        }
        counters_->abandoned.fetch_add(1, std::memory_order_relaxed);
        throw core::Problem::unavailable(kDependency, "redis answered other calls but not this one within " +
                                                          std::to_string(max_wait_.count()) + " ms");
    }
    // Taken out of the shared Call: the exception is then released on this thread, not wherever the
    // connection drops its copy of the Call.
    if (std::exception_ptr failure = std::exchange(call->failure, nullptr)) std::rethrow_exception(failure);
    co_return std::move(call->replies);
}

}  // namespace marquee::redis::detail
