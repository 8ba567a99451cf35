#include "core/log_context.hpp"

namespace marquee::core {
namespace {

// Only ever set by a LogContextScope, which restores it before returning: never left across a suspension.
thread_local const LogContext* current = nullptr;

}  // namespace

const LogContext* current_log_context() noexcept {
    return current;
}

std::optional<std::string> current_traceparent() {
    if (current == nullptr) return std::nullopt;
    return current->trace.traceparent();
}

LogContextScope::LogContextScope(std::shared_ptr<const LogContext> context) noexcept
    : context_(std::move(context)), previous_(current) {
    current = context_.get();
}

LogContextScope::~LogContextScope() {
    current = previous_;
}

std::shared_ptr<const LogContext> make_log_context(TraceContext trace, boost::json::object fields) {
    return std::make_shared<const LogContext>(LogContext{std::move(trace), std::move(fields)});
}

}  // namespace marquee::core
