#pragma once

#include <array>
#include <cstdint>

namespace marquee::load {

/// A log-linear latency histogram in the style of HdrHistogram: exact below 128, then 64 linear sub-buckets
/// per power of two, so any recorded value is reported within 1/64 (1.6 %) of itself, from 1 µs to hours, in
/// a fixed 30 KB array. Values are whole microseconds. Not thread-safe (one per endpoint per thread; merge
/// them).
class Histogram {
  public:
    static constexpr int kLinear = 128;  ///< values below this have a bucket each
    static constexpr int kSubBuckets = 64;
    static constexpr int kBuckets = kLinear + 57 * kSubBuckets;

    void record(std::uint64_t value, std::uint64_t times = 1);
    void merge(const Histogram& other);

    std::uint64_t count() const noexcept { return count_; }
    std::uint64_t min() const noexcept { return count_ == 0 ? 0 : min_; }
    std::uint64_t max() const noexcept { return max_; }
    double mean() const noexcept {
        return count_ == 0 ? 0 : static_cast<double>(sum_) / static_cast<double>(count_);
    }
    /// The smallest value v such that at least `percent` % of the recorded values are <= v, up to the
    /// bucket's resolution (the highest value of its bucket, never above max()). 0 when empty.
    std::uint64_t percentile(double percent) const;

    static int bucket_of(std::uint64_t value) noexcept;
    /// The highest value that falls into `bucket`.
    static std::uint64_t highest_in(int bucket) noexcept;
    static std::uint64_t lowest_in(int bucket) noexcept;

  private:
    std::array<std::uint64_t, kBuckets> buckets_{};
    std::uint64_t count_ = 0;
    std::uint64_t sum_ = 0;
    std::uint64_t min_ = ~std::uint64_t{0};
    std::uint64_t max_ = 0;
};

}  // namespace marquee::load
