#pragma once

// Issue 15, target 3 (ADR 0018): fans told the sale is over within 2 s of the last seat selling. What the
// `fans` scenario (shared connections, plain polls) and the flash sale (a connection per fan, held polls, ADR
// 0049) both measure: when the last seat sold, when each fan that did not buy learnt the sale is over, and
// the 5xx answers on the way.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "load/http1.hpp"
#include "load/rate.hpp"
#include "load/stats.hpp"

namespace marquee::load {

/// How a fan heard that the sale is over, if it did.
enum class SoldOutHeard {
    No,
    Told,    ///< in the queue or at the seats: a body with `soldOut`, a 410 sold-out, an empty availability
    AtJoin,  ///< its join was answered 410 sold-out: it never had a place
};

/// Whether an answer is the 410 `sold-out` problem (ADR 0018).
bool is_sold_out_answer(const Response& response);

/// When the last seat sold and when each fan that did not buy was told; on the run's one thread.
class SoldOutNotice {
  public:
    /// A payment answered 201 at `at` (the last one is the last seat sold, as the load generator saw it).
    void sold(Clock::time_point at);
    /// A fan heard the sale is over at `at` (No: nothing recorded).
    void heard(SoldOutHeard how, Clock::time_point at);
    /// A fan that ended without a seat and without being told.
    void never_told() { ++never_told_; }

    std::optional<Clock::time_point> last_sale() const { return last_sale_; }
    std::size_t told() const { return told_.size(); }
    std::size_t refused_at_join() const { return refused_.size(); }
    unsigned never() const { return never_told_; }

    /// The outcome's fields: told_sold_out, joins_refused_sold_out, never_told, last_sale_unix_ms,
    /// told_after_last_sale_{p50,p99,max}_ms (a fan told before the last sale counts 0),
    /// refused_join_after_last_sale_max_ms, responses_5xx (from `recorder`).
    void report(boost::json::object& outcome, const Recorder& recorder) const;
    /// told_unix_ms and refused_unix_ms: when each fan heard it, wall clock (ms since the epoch), so the
    /// reports of several processes on one machine merge against the last sale of any of them.
    void unix_times(boost::json::object& outcome) const;
    /// One line for the text report: the notice against the 2 s target, told / never told, 5xx.
    std::string summary(const Recorder& recorder) const;

  private:
    std::optional<Clock::time_point> last_sale_;
    std::int64_t last_sale_unix_ms_ = 0;
    std::vector<Clock::time_point> told_;
    std::vector<Clock::time_point> refused_;
    unsigned never_told_ = 0;
};

/// Answers with a 5xx status in `recorder`, every endpoint.
std::uint64_t count_5xx(const Recorder& recorder);

}  // namespace marquee::load
