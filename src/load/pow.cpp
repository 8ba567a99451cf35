#include "load/pow.hpp"

#include <atomic>
#include <chrono>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "pow/pow.hpp"

namespace marquee::load {
namespace {

std::atomic<std::uint64_t> g_solved{0};
std::atomic<std::uint64_t> g_hashes{0};
std::atomic<std::uint64_t> g_total_us{0};
std::atomic<std::uint64_t> g_max_us{0};

}  // namespace

std::string solve_pow(std::string_view challenge, int difficulty) {
    const auto started = std::chrono::steady_clock::now();
    const std::uint64_t nonce = pow::solve(challenge, difficulty);
    const auto us = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started)
            .count());
    ++g_solved;
    g_hashes += nonce + 1;
    g_total_us += us;
    std::uint64_t seen = g_max_us.load();
    while (us > seen && !g_max_us.compare_exchange_weak(seen, us)) {
    }
    return std::to_string(nonce);
}

std::string pow_join_body(std::string_view challenge_body) {
    boost::system::error_code ec;
    const boost::json::value doc = boost::json::parse(challenge_body, ec);
    if (ec || !doc.is_object()) return {};
    const auto& o = doc.as_object();
    const auto* challenge = o.if_contains("challenge");
    const auto* difficulty = o.if_contains("difficulty");
    if (challenge == nullptr || !challenge->is_string() || difficulty == nullptr || !difficulty->is_int64() ||
        difficulty->as_int64() <= 0) {
        return {};
    }
    const std::string text(challenge->as_string());
    return boost::json::serialize(boost::json::object{
        {"challenge", text}, {"nonce", solve_pow(text, static_cast<int>(difficulty->as_int64()))}});
}

boost::json::object pow_report() {
    const std::uint64_t solved = g_solved.load();
    if (solved == 0) return {};
    const double total_ms = static_cast<double>(g_total_us.load()) / 1000.0;
    const double hashes = static_cast<double>(g_hashes.load());
    return boost::json::object{{"solved", solved},
                               {"hashes", g_hashes.load()},
                               {"cpu_ms_total", total_ms},
                               {"ms_mean", total_ms / static_cast<double>(solved)},
                               {"ms_max", static_cast<double>(g_max_us.load()) / 1000.0},
                               {"hashes_per_second", total_ms > 0 ? hashes / (total_ms / 1000.0) : 0.0}};
}

}  // namespace marquee::load
