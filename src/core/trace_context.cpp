#include "core/trace_context.hpp"

#include <array>
#include <random>

namespace marquee::core {
namespace {

constexpr char kHex[] = "0123456789abcdef";
/// A longer tracestate may be dropped (the specification asks vendors to propagate at least 512 characters);
/// dropping also keeps a client from making every log line and event of its request large.
constexpr std::size_t kMaxTracestate = 512;

/// Ids must be unique across every process that ever runs, so each thread's generator is seeded from the
/// operating system's entropy with its whole state, not from a clock or a single 32-bit word.
std::mt19937_64& generator() {
    thread_local std::mt19937_64 engine = [] {
        std::random_device device;
        std::array<std::uint32_t, 16> seed{};
        for (auto& word : seed) word = device();
        std::seed_seq sequence(seed.begin(), seed.end());
        return std::mt19937_64(sequence);
    }();
    return engine;
}

/// `digits` random lower-case hex digits, never all zeros (the specification makes zeros invalid).
std::string random_hex(std::size_t digits) {
    std::string out(digits, '0');
    bool zero = true;
    while (zero) {
        for (std::size_t i = 0; i < digits; i += 16) {
            auto bits = generator()();
            for (std::size_t j = i; j < i + 16 && j < digits; ++j, bits >>= 4) {
                out[j] = kHex[bits & 0xF];
                zero = zero && out[j] == '0';
            }
        }
    }
    return out;
}

bool is_lower_hex(std::string_view text) {
    for (const char c : text) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return true;
}

bool all_zeros(std::string_view text) {
    return text.find_first_not_of('0') == std::string_view::npos;
}

int hex_value(char c) {
    return c <= '9' ? c - '0' : c - 'a' + 10;
}

bool is_propagatable(std::string_view tracestate) {
    if (tracestate.size() > kMaxTracestate) return false;
    for (const char c : tracestate) {
        if (c < 0x20 || c > 0x7e) return false;
    }
    return true;
}

}  // namespace

TraceContext TraceContext::start() {
    TraceContext context;
    context.trace_id_ = random_hex(32);
    context.span_id_ = random_hex(16);
    return context;
}

std::optional<TraceContext> TraceContext::parse(std::string_view traceparent, std::string_view tracestate) {
    // version "-" trace-id "-" parent-id "-" trace-flags: 2 + 1 + 32 + 1 + 16 + 1 + 2 = 55 characters.
    constexpr std::size_t kLength = 55;
    if (traceparent.size() < kLength) return std::nullopt;
    const auto version = traceparent.substr(0, 2);
    if (!is_lower_hex(version) || version == "ff") return std::nullopt;
    // Version 00 is exactly 55 characters; a later version may append fields after another dash, and is read
    // as far as version 00 goes (the specification's forward compatibility).
    if (version == "00" ? traceparent.size() != kLength
                        : traceparent.size() > kLength && traceparent[kLength] != '-') {
        return std::nullopt;
    }
    if (traceparent[2] != '-' || traceparent[35] != '-' || traceparent[52] != '-') return std::nullopt;
    const auto trace_id = traceparent.substr(3, 32);
    const auto parent_id = traceparent.substr(36, 16);
    const auto flags = traceparent.substr(53, 2);
    if (!is_lower_hex(trace_id) || !is_lower_hex(parent_id) || !is_lower_hex(flags)) return std::nullopt;
    if (all_zeros(trace_id) || all_zeros(parent_id)) return std::nullopt;

    TraceContext context;
    context.trace_id_ = std::string(trace_id);
    context.span_id_ = std::string(parent_id);
    // Only the sampled flag is defined in level 1; flags we do not know are not passed on.
    context.flags_ = static_cast<std::uint8_t>((hex_value(flags[0]) << 4 | hex_value(flags[1])) & kSampled);
    if (is_propagatable(tracestate)) context.tracestate_ = std::string(tracestate);
    return context;
}

TraceContext TraceContext::continue_from(std::optional<std::string_view> traceparent,
                                         std::optional<std::string_view> tracestate) {
    if (traceparent) {
        if (auto caller = parse(*traceparent, tracestate.value_or(std::string_view{}))) {
            return caller->child();
        }
    }
    return start();
}

TraceContext TraceContext::child() const {
    TraceContext next = *this;
    next.parent_span_id_ = span_id_;
    next.span_id_ = random_hex(16);
    return next;
}

std::string TraceContext::traceparent() const {
    std::string out;
    out.reserve(55);
    out += "00-";
    out += trace_id_;
    out += '-';
    out += span_id_;
    out += '-';
    out += kHex[flags_ >> 4];
    out += kHex[flags_ & 0xF];
    return out;
}

}  // namespace marquee::core
