#include "load/histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace marquee::load {

int Histogram::bucket_of(std::uint64_t value) noexcept {
    if (value < static_cast<std::uint64_t>(kLinear)) return static_cast<int>(value);
    const int msb = 63 - std::countl_zero(value);  // >= 7
    const int shift = msb - 6;                     // value >> shift is in [64, 127]
    const auto top = static_cast<int>(value >> shift);
    return kLinear + (shift - 1) * kSubBuckets + (top - kSubBuckets);
}

std::uint64_t Histogram::lowest_in(int bucket) noexcept {
    if (bucket < kLinear) return static_cast<std::uint64_t>(bucket);
    const int shift = (bucket - kLinear) / kSubBuckets + 1;
    const auto top = static_cast<std::uint64_t>((bucket - kLinear) % kSubBuckets) + kSubBuckets;
    return top << shift;
}

std::uint64_t Histogram::highest_in(int bucket) noexcept {
    if (bucket < kLinear) return static_cast<std::uint64_t>(bucket);
    const int shift = (bucket - kLinear) / kSubBuckets + 1;
    const auto top = static_cast<std::uint64_t>((bucket - kLinear) % kSubBuckets) + kSubBuckets;
    return ((top + 1) << shift) - 1;
}

void Histogram::record(std::uint64_t value, std::uint64_t times) {
    if (times == 0) return;
    buckets_[static_cast<std::size_t>(bucket_of(value))] += times;
    count_ += times;
    sum_ += value * times;
    min_ = std::min(min_, value);
    max_ = std::max(max_, value);
}

void Histogram::merge(const Histogram& other) {
    for (std::size_t i = 0; i < buckets_.size(); ++i) buckets_[i] += other.buckets_[i];
    count_ += other.count_;
    sum_ += other.sum_;
    min_ = std::min(min_, other.min_);
    max_ = std::max(max_, other.max_);
}

std::uint64_t Histogram::percentile(double percent) const {
    if (count_ == 0) return 0;
    const double wanted = std::ceil(std::clamp(percent, 0.0, 100.0) / 100.0 * static_cast<double>(count_));
    const auto rank = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(wanted));
    std::uint64_t seen = 0;
    for (int b = 0; b < kBuckets; ++b) {
        seen += buckets_[static_cast<std::size_t>(b)];
        if (seen >= rank) return std::clamp(highest_in(b), min(), max_);
    }
    return max_;
}

}  // namespace marquee::load
