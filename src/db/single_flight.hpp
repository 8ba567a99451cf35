#pragma once

#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/problem.hpp"

namespace marquee::db {

/// At most one load per key in flight inside this process: the first caller of a cold key runs `load`,
/// callers arriving meanwhile wait for its result (or its exception) instead of querying again, so a
/// thousand fans opening one cold seat map cost one database query (the thundering herd).
/// Thread-safe: waiters may run on any executor; each is resumed on its own through asio::post.
/// T should be cheap to copy (every waiter gets a copy): a std::string or a shared_ptr.
/// A failed load's core::Problem (a 503 when the pool sheds: a thousand waiters at once) reaches each waiter
/// as an exception object of its own, thrown from a copy the flight keeps, never one object rethrown on many
/// threads (docs/reliability.md, Issue 15, "Evening of 2026-12-07"). Other exceptions are rethrown shared.
template <class T>
class SingleFlight {
  public:
    using Load = std::function<boost::asio::awaitable<T>()>;

    /// `load` must finish (every network call in it has a deadline), or the waiters wait with it.
    boost::asio::awaitable<T> run(std::string key, Load load) {
        std::shared_ptr<Flight> flight;
        bool leader = false;
        {
            std::lock_guard lock(mutex_);
            std::shared_ptr<Flight>& slot = flights_[key];
            if (!slot) {
                slot = std::make_shared<Flight>();
                leader = true;
            }
            flight = slot;
        }
        if (!leader) {
            co_await wait(flight);
            if (flight->problem) throw core::Problem(*flight->problem);
            if (flight->error) std::rethrow_exception(flight->error);
            co_return *flight->value;
        }
        std::optional<T> value;
        std::exception_ptr error;
        std::optional<core::Problem> problem;
        try {
            value = co_await load();
        } catch (const core::Problem& failure) {
            error = std::current_exception();
            try {
                problem.emplace(failure);  // copied here, on this thread, before any waiter resumes
            } catch (...) {
                problem.reset();  // no memory for the copy: the waiters share `error`
            }
        } catch (...) {
            error = std::current_exception();
        }
        {
            std::lock_guard lock(mutex_);
            flights_.erase(key);
        }
        std::vector<std::unique_ptr<Waiter>> waiters;
        {
            std::lock_guard lock(flight->mutex);
            flight->done = true;
            flight->value = value;
            if (problem) {
                flight->problem = std::move(problem);
            } else {
                flight->error = error;
            }
            waiters.swap(flight->waiters);
        }
        for (auto& waiter : waiters) waiter->resume();
        if (error) std::rethrow_exception(error);
        co_return std::move(*value);
    }

    /// Keys being loaded right now (tests).
    std::size_t in_flight() const {
        std::lock_guard lock(mutex_);
        return flights_.size();
    }

  private:
    struct Waiter {
        virtual ~Waiter() = default;
        virtual void resume() = 0;
    };
    template <class Handler>
    struct WaiterFor final : Waiter {
        explicit WaiterFor(Handler h) : handler(std::move(h)) {}
        void resume() override {
            auto executor = boost::asio::get_associated_executor(handler);
            boost::asio::post(executor, std::move(handler));
        }
        Handler handler;
    };
    struct Flight {
        std::mutex mutex;
        bool done = false;
        std::optional<T> value;
        /// A failed load's Problem, copied for the waiters (each throws a copy of its own), or
        std::optional<core::Problem> problem;
        /// any other failure, rethrown shared.
        std::exception_ptr error;
        std::vector<std::unique_ptr<Waiter>> waiters;
    };

    static boost::asio::awaitable<void> wait(std::shared_ptr<Flight> flight) {
        // The handler is registered under the flight's mutex after this coroutine has suspended, and resumed
        // by a post to its own executor: no lost wake-up, whatever thread the leader finishes on.
        auto initiate = [flight](auto handler) {
            std::unique_lock lock(flight->mutex);
            if (flight->done) {
                lock.unlock();
                auto executor = boost::asio::get_associated_executor(handler);
                boost::asio::post(executor, std::move(handler));
                return;
            }
            flight->waiters.push_back(std::make_unique<WaiterFor<decltype(handler)>>(std::move(handler)));
        };
        co_await boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&, void()>(
            initiate, boost::asio::use_awaitable);
    }

    mutable std::mutex mutex_;
    std::unordered_map<std::string, std::shared_ptr<Flight>> flights_;
};

}  // namespace marquee::db
