#pragma once

#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include <boost/json/object.hpp>

#include "core/trace_context.hpp"

namespace marquee::core {

/// What every log line of one unit of work carries: an HTTP request, one run of a background job, one
/// consumed message. core::log adds `trace_id`, `span_id` and `fields` (e.g. `request_id`) to each line
/// written while it is current; outgoing calls and outbox rows take their `traceparent` from it.
struct LogContext {
    TraceContext trace;
    boost::json::object fields;
};

/// The context of the code running on this thread right now, or null (start-up, a loop between runs).
const LogContext* current_log_context() noexcept;

/// `traceparent` of the current context's span (what an outbox row or a callee continues), or nullopt.
std::optional<std::string> current_traceparent();

/// Makes `context` current on this thread until the scope ends, then restores the previous one. Scopes nest.
/// Coroutines hop threads and interleave on one thread, so a scope must never stay open across a suspension:
/// open one around each resumption, which is what LogContextExecutor does (docs/decisions/0010).
class LogContextScope {
  public:
    explicit LogContextScope(std::shared_ptr<const LogContext> context) noexcept;
    ~LogContextScope();
    LogContextScope(const LogContextScope&) = delete;
    LogContextScope& operator=(const LogContextScope&) = delete;

  private:
    std::shared_ptr<const LogContext> context_;
    const LogContext* previous_;
};

/// An executor adapter that runs every function submitted through it, i.e. every resumption of a coroutine
/// spawned on it and every completion handler bound to it, inside a LogContextScope. The inner executor does
/// the work (a strand stays a strand). Written against the standard executor concept only, so core needs no
/// Asio: `co_spawn(with_log_context(executor, context), work(), use_awaitable)` gives `work` and everything
/// it awaits the context, on whatever thread it resumes.
template <class Executor>
class LogContextExecutor {
  public:
    LogContextExecutor(Executor inner, std::shared_ptr<const LogContext> context) noexcept
        : inner_(std::move(inner)), context_(std::move(context)) {}

    const Executor& inner() const noexcept { return inner_; }
    const std::shared_ptr<const LogContext>& context() const noexcept { return context_; }

    template <class Function>
    void execute(Function&& function) const {
        inner_.execute([context = context_, f = std::forward<Function>(function)]() mutable {
            LogContextScope scope(context);
            std::move(f)();
        });
    }

    template <class Property, class E = Executor>
    auto query(const Property& property) const noexcept(noexcept(std::declval<const E&>().query(property)))
        -> decltype(std::declval<const E&>().query(property)) {
        return inner_.query(property);
    }

    template <class Property, class E = Executor>
    auto require(const Property& property) const
        -> LogContextExecutor<std::decay_t<decltype(std::declval<const E&>().require(property))>> {
        return {inner_.require(property), context_};
    }

    template <class Property, class E = Executor>
    auto prefer(const Property& property) const
        -> LogContextExecutor<std::decay_t<decltype(std::declval<const E&>().prefer(property))>> {
        return {inner_.prefer(property), context_};
    }

    friend bool operator==(const LogContextExecutor& a, const LogContextExecutor& b) noexcept {
        return a.context_ == b.context_ && a.inner_ == b.inner_;
    }
    friend bool operator!=(const LogContextExecutor& a, const LogContextExecutor& b) noexcept {
        return !(a == b);
    }

  private:
    Executor inner_;
    std::shared_ptr<const LogContext> context_;
};

template <class Executor>
LogContextExecutor<Executor> with_log_context(Executor executor, std::shared_ptr<const LogContext> context) {
    return LogContextExecutor<Executor>(std::move(executor), std::move(context));
}

/// A shared LogContext for `trace` with `fields`, ready for with_log_context.
std::shared_ptr<const LogContext> make_log_context(TraceContext trace, boost::json::object fields = {});

}  // namespace marquee::core
