#include "pg_sim/options.hpp"

#include <charconv>
#include <stdexcept>

namespace marquee::pg_sim {
namespace {

template <typename T>
T number(const std::string& flag, std::string_view text, T min, T max) {
    T value{};
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc{} || ptr != text.data() + text.size() || value < min || value > max) {
        throw std::invalid_argument(flag + ": expected a number in [" + std::to_string(min) + ", " +
                                    std::to_string(max) + "], got '" + std::string(text) + "'");
    }
    return value;
}

}  // namespace

std::optional<Options> parse_options(const std::vector<std::string>& args) {
    Options o;
    for (const auto& arg : args) {
        if (arg == "--help" || arg == "-h") return std::nullopt;
        if (arg == "--down") {
            o.faults.down = true;
            continue;
        }
        const auto eq = arg.find('=');
        if (!arg.starts_with("--") || eq == std::string::npos) {
            throw std::invalid_argument("unexpected argument '" + arg + "' (see --help)");
        }
        const std::string flag = arg.substr(0, eq);
        const std::string_view value = std::string_view(arg).substr(eq + 1);
        if (flag == "--host") {
            o.host = value;
        } else if (flag == "--port") {
            o.port = number<std::uint16_t>(flag, value, 0, 65535);
        } else if (flag == "--seed") {
            o.seed = number<std::uint64_t>(flag, value, 0, UINT64_MAX);
        } else if (flag == "--latency-ms") {
            o.faults.latency = std::chrono::milliseconds(number<int>(flag, value, 0, 600000));
        } else if (flag == "--jitter-ms") {
            o.faults.jitter = std::chrono::milliseconds(number<int>(flag, value, 0, 600000));
        } else if (flag == "--hang-ms") {
            o.faults.hang = std::chrono::milliseconds(number<int>(flag, value, 0, 600000));
        } else if (flag == "--decline-rate") {
            o.faults.decline_rate = number<double>(flag, value, 0.0, 1.0);
        } else if (flag == "--error-rate") {
            o.faults.error_rate = number<double>(flag, value, 0.0, 1.0);
        } else if (flag == "--timeout-rate") {
            o.faults.timeout_rate = number<double>(flag, value, 0.0, 1.0);
        } else if (flag == "--lost-rate") {
            o.faults.lost_rate = number<double>(flag, value, 0.0, 1.0);
        } else {
            throw std::invalid_argument("unknown flag " + flag + " (see --help)");
        }
    }
    return o;
}

std::string usage() {
    return "usage: pg-sim [--host=127.0.0.1] [--port=0] [--seed=42] [--latency-ms=0] [--jitter-ms=0]\n"
           "              [--decline-rate=0] [--error-rate=0] [--timeout-rate=0] [--lost-rate=0] "
           "[--hang-ms=30000]\n"
           "              [--down]\n\n"
           "A payment-gateway simulator for Marquee's tests and demos. Rates are probabilities in [0, 1]:\n"
           "  decline  card declined (recorded, a final answer)\n"
           "  error    503 at once, nothing recorded (safe to retry)\n"
           "  timeout  no answer for hang-ms, nothing recorded\n"
           "  lost     approved and recorded, but no answer for hang-ms (ask GET "
           "/v1/payments?idempotencyKey=)\n"
           "Faults can be changed at run time: PUT /v1/admin/faults.\n";
}

}  // namespace marquee::pg_sim
