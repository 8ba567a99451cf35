#pragma once

#include <atomic>
#include <chrono>
#include <string>

namespace marquee::core {

using TimePoint = std::chrono::system_clock::time_point;

/// Wall-clock time for business rules, injectable so rules are testable. Expiry decisions that
/// must agree across processes use the database clock instead (see docs/architecture.md).
class Clock {
  public:
    virtual ~Clock() = default;
    virtual TimePoint now() const = 0;
};

class SystemClock final : public Clock {
  public:
    TimePoint now() const override { return std::chrono::system_clock::now(); }
};

/// A clock that moves only when told to; for tests.
class ManualClock final : public Clock {
  public:
    explicit ManualClock(TimePoint start) : now_(start.time_since_epoch().count()) {}
    TimePoint now() const override { return TimePoint(TimePoint::duration(now_.load())); }
    void advance(std::chrono::system_clock::duration by) { now_ += by.count(); }

  private:
    std::atomic<TimePoint::rep> now_;
};

/// RFC 3339 in UTC with milliseconds, e.g. 2026-11-26T10:00:00.000Z.
std::string to_rfc3339(TimePoint t);

}  // namespace marquee::core
