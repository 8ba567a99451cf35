#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace marquee::core {

/// A W3C Trace Context (level 1, https://www.w3.org/TR/trace-context/): the trace one unit of work belongs to
/// and that unit's own span. Requests, outbox events and job runs each carry one, so a purchase can be
/// followed across processes by its trace id. A value type: no I/O, no clock.
class TraceContext {
  public:
    /// A new trace: random trace id, random span id, sampled.
    static TraceContext start();

    /// The caller's context as written in `traceparent` (and `tracestate`, kept unchanged); nullopt when the
    /// header is not a valid version-00 (or later, forward-compatible) traceparent: lower-case hex only, a
    /// trace id and a parent id that are not all zeros, version `ff` refused.
    static std::optional<TraceContext> parse(std::string_view traceparent, std::string_view tracestate = {});

    /// The context of a unit of work that a caller started: the caller's trace with a new span whose parent
    /// is the caller's span, or a new trace when `traceparent` is absent or invalid (its `tracestate` is then
    /// dropped too, as the specification asks).
    static TraceContext continue_from(std::optional<std::string_view> traceparent,
                                      std::optional<std::string_view> tracestate = std::nullopt);

    /// The same trace, a new span whose parent is this one (an outgoing call, an event).
    TraceContext child() const;

    /// 32 lower-case hex digits.
    const std::string& trace_id() const noexcept { return trace_id_; }
    /// 16 lower-case hex digits: this unit of work's span.
    const std::string& span_id() const noexcept { return span_id_; }
    /// The span this one continues (16 hex digits); empty at the root of a trace.
    const std::string& parent_span_id() const noexcept { return parent_span_id_; }
    bool sampled() const noexcept { return (flags_ & kSampled) != 0; }
    /// The vendor list, passed through as received (empty when there was none).
    const std::string& tracestate() const noexcept { return tracestate_; }

    /// `00-<trace id>-<span id>-<flags>`: the header that makes the receiver a child of this span.
    std::string traceparent() const;

    friend bool operator==(const TraceContext&, const TraceContext&) = default;

  private:
    static constexpr std::uint8_t kSampled = 0x01;
    TraceContext() = default;

    std::string trace_id_;
    std::string span_id_;
    std::string parent_span_id_;
    std::uint8_t flags_ = kSampled;
    std::string tracestate_;
};

}  // namespace marquee::core
