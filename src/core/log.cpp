#include "core/log.hpp"

#include <stdexcept>
#include <string>

#include <boost/json/serialize.hpp>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "core/log_context.hpp"

namespace marquee::core {
namespace {

spdlog::level::level_enum to_spdlog(LogLevel level) {
    switch (level) {
        case LogLevel::Trace:
            return spdlog::level::trace;
        case LogLevel::Debug:
            return spdlog::level::debug;
        case LogLevel::Info:
            return spdlog::level::info;
        case LogLevel::Warn:
            return spdlog::level::warn;
        case LogLevel::Error:
            return spdlog::level::err;
        case LogLevel::Critical:
            return spdlog::level::critical;
        case LogLevel::Off:
            return spdlog::level::off;
    }
    return spdlog::level::info;
}

}  // namespace

LogLevel parse_log_level(std::string_view text) {
    if (text == "trace") return LogLevel::Trace;
    if (text == "debug") return LogLevel::Debug;
    if (text == "info") return LogLevel::Info;
    if (text == "warn" || text == "warning") return LogLevel::Warn;
    if (text == "error") return LogLevel::Error;
    if (text == "critical") return LogLevel::Critical;
    if (text == "off") return LogLevel::Off;
    throw std::invalid_argument("unknown log level '" + std::string(text) +
                                "' (trace|debug|info|warn|error|critical|off)");
}

void init_logging(LogLevel level) {
    auto logger = spdlog::get("marquee");
    if (!logger) {
        logger = spdlog::stdout_logger_mt("marquee");
        // The pattern opens the JSON object; log() supplies the rest of it, so each line parses as JSON.
        logger->set_pattern(R"({"ts":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l",%v)",
                            spdlog::pattern_time_type::utc);
        logger->flush_on(spdlog::level::warn);
        spdlog::set_default_logger(logger);
    }
    logger->set_level(to_spdlog(level));
}

bool log_enabled(LogLevel level) {
    return spdlog::default_logger_raw()->should_log(to_spdlog(level));
}

void log(LogLevel level, std::string_view msg, const boost::json::object& fields) {
    auto* logger = spdlog::default_logger_raw();
    const auto lvl = to_spdlog(level);
    if (!logger->should_log(lvl)) return;
    boost::json::object line;
    line.reserve(fields.size() + 4);
    line["msg"] = msg;
    // The unit of work running now (a request, a job run, a message) names its trace on every line it logs;
    // fields passed explicitly win over it.
    if (const LogContext* context = current_log_context()) {
        line["trace_id"] = context->trace.trace_id();
        line["span_id"] = context->trace.span_id();
        for (const auto& [key, value] : context->fields) line[key] = value;
    }
    for (const auto& [key, value] : fields) line[key] = value;
    std::string text = boost::json::serialize(line);
    // Drop the leading '{': the pattern already wrote it before ts and level.
    logger->log(lvl, std::string_view(text).substr(1));
}

std::function<void(std::exception_ptr)> log_failure(std::string msg, boost::json::object fields) {
    return [msg = std::move(msg), fields = std::move(fields)](const std::exception_ptr& failure) {
        if (!failure) return;
        boost::json::object line = fields;
        try {
            std::rethrow_exception(failure);
        } catch (const std::exception& e) {
            line["error"] = e.what();
        } catch (...) {
            line["error"] = "unknown exception";
        }
        log_error(msg, line);
    };
}

}  // namespace marquee::core
