#include "load/sold_out_notice.hpp"

#include <algorithm>
#include <cstdio>

#include <boost/json/array.hpp>

#include "load/histogram.hpp"
#include "load/support.hpp"

namespace marquee::load {

namespace {

std::int64_t unix_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

/// Each time's distance after `from` in µs (0 for a time before it).
Histogram after(const std::optional<Clock::time_point>& from, const std::vector<Clock::time_point>& times) {
    Histogram h;
    for (const auto& at : times) {
        const auto us = from ? std::chrono::duration_cast<std::chrono::microseconds>(at - *from).count() : 0;
        h.record(static_cast<std::uint64_t>(std::max<std::int64_t>(0, us)));
    }
    return h;
}

double ms(std::uint64_t us) {
    return static_cast<double>(us) / 1000.0;
}

}  // namespace

bool is_sold_out_answer(const Response& response) {
    if (response.status != 410) return false;
    const auto doc = parse_object(response.body);
    return doc && string_field(*doc, "type") == "https://marquee.dev/problems/sold-out";
}

void SoldOutNotice::sold(Clock::time_point at) {
    if (!last_sale_ || at > *last_sale_) {
        last_sale_ = at;
        last_sale_unix_ms_ = unix_ms();
    }
}

void SoldOutNotice::heard(SoldOutHeard how, Clock::time_point at) {
    if (how == SoldOutHeard::Told) told_.push_back(at);
    if (how == SoldOutHeard::AtJoin) refused_.push_back(at);
}

std::uint64_t count_5xx(const Recorder& recorder) {
    std::uint64_t n = 0;
    for (const auto& [name, stats] : recorder.endpoints()) {
        for (const auto& [status, count] : stats.statuses) {
            if (status >= 500) n += count;
        }
    }
    return n;
}

void SoldOutNotice::report(boost::json::object& outcome, const Recorder& recorder) const {
    const Histogram told = after(last_sale_, told_);
    const Histogram refused = after(last_sale_, refused_);
    outcome["told_sold_out"] = told_.size();
    outcome["joins_refused_sold_out"] = refused_.size();
    outcome["never_told"] = never_told_;
    outcome["last_sale_unix_ms"] = last_sale_unix_ms_;
    outcome["told_after_last_sale_p50_ms"] = ms(told.percentile(50));
    outcome["told_after_last_sale_p99_ms"] = ms(told.percentile(99));
    outcome["told_after_last_sale_max_ms"] = ms(told.max());
    outcome["refused_join_after_last_sale_max_ms"] = ms(refused.max());
    outcome["responses_5xx"] = count_5xx(recorder);
}

void SoldOutNotice::unix_times(boost::json::object& outcome) const {
    const auto now_unix = unix_ms();
    const auto now = Clock::now();
    const auto to_unix = [&](const std::vector<Clock::time_point>& times) {
        boost::json::array out;
        out.reserve(times.size());
        for (const auto& at : times) {
            out.emplace_back(now_unix -
                             std::chrono::duration_cast<std::chrono::milliseconds>(now - at).count());
        }
        return out;
    };
    outcome["told_unix_ms"] = to_unix(told_);
    outcome["refused_unix_ms"] = to_unix(refused_);
}

std::string SoldOutNotice::summary(const Recorder& recorder) const {
    const Histogram told = after(last_sale_, told_);
    char line[320];
    std::snprintf(
        line, sizeof line,
        "sold-out notice: last seat sold -> fan told p50 %.0f ms, p99 %.0f ms, max %.0f ms (target 2,000 "
        "ms); %zu told, %zu joins refused sold-out, %u never told; %llu 5xx answers",
        ms(told.percentile(50)), ms(told.percentile(99)), ms(told.max()), told_.size(), refused_.size(),
        never_told_, static_cast<unsigned long long>(count_5xx(recorder)));
    return line;
}

}  // namespace marquee::load
