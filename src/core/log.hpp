#pragma once

#include <exception>
#include <functional>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>

namespace marquee::core {

enum class LogLevel { Trace, Debug, Info, Warn, Error, Critical, Off };

/// Parses "trace|debug|info|warn|error|critical|off"; nullopt-free: throws std::invalid_argument.
LogLevel parse_log_level(std::string_view text);

/// Every line Marquee writes is one JSON object: {"ts":..., "level":..., "msg":..., <fields>}.
/// Call once at start-up; safe to call again (tests).
void init_logging(LogLevel level);

bool log_enabled(LogLevel level);

/// Writes one structured line. `fields` carry request_id / trace_id and whatever the event needs.
void log(LogLevel level, std::string_view msg, const boost::json::object& fields = {});

inline void log_info(std::string_view msg, const boost::json::object& fields = {}) {
    log(LogLevel::Info, msg, fields);
}
inline void log_warn(std::string_view msg, const boost::json::object& fields = {}) {
    log(LogLevel::Warn, msg, fields);
}
inline void log_error(std::string_view msg, const boost::json::object& fields = {}) {
    log(LogLevel::Error, msg, fields);
}
inline void log_debug(std::string_view msg, const boost::json::object& fields = {}) {
    log(LogLevel::Debug, msg, fields);
}

/// The completion handler of a background loop started with co_spawn (sweeper, recovery job, relay,
/// consumer): when the loop ends with an exception, logs `msg` at error level with `fields` and the error.
std::function<void(std::exception_ptr)> log_failure(std::string msg, boost::json::object fields = {});

}  // namespace marquee::core
