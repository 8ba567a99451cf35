#include "core/clock.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>

namespace marquee::core {

std::string to_rfc3339(TimePoint t) {
    const auto ms = std::chrono::time_point_cast<std::chrono::milliseconds>(t);
    const auto secs = std::chrono::time_point_cast<std::chrono::seconds>(ms);
    const auto frac = (ms - secs).count();
    return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03d}Z",
                       fmt::gmtime(std::chrono::system_clock::to_time_t(secs)), frac);
}

}  // namespace marquee::core
