// What the proof of work at the waiting room's door costs (ADR 0026): the server verifies a join's answer
// with one HMAC-SHA256 and one SHA-256 (BM_VerifyChallenge, microseconds), while the fan pays about
// 2^difficulty SHA-256 (BM_SolveChallenge/<difficulty>, one core with OpenSSL, as marquee-load solves it).
// Figures: docs/performance.md, "Issue 17: fair start and proof of work".
//
//   build/bench/marquee_micro_bench --benchmark_filter='Challenge' --benchmark_repetitions=3
#include <chrono>
#include <string>

#include <benchmark/benchmark.h>

#include "services/queue/pow.hpp"

namespace {

using marquee::queue::pow_solve;
using marquee::queue::PowChallenge;
using marquee::queue::PowVerdict;
using marquee::queue::ProofOfWork;

constexpr std::int64_t kNow = 1'800'000'000'000;
const std::string kUser = "0b7f3a52-8a4e-4c1e-9b59-2f1f4c3d9a10";

void BM_VerifyChallenge(benchmark::State& state) {
    const ProofOfWork pow("a queue secret of 16+ bytes", 16, std::chrono::seconds(120));
    const PowChallenge challenge = pow.issue(kUser, 42, 16, kNow);
    const std::string nonce = pow_solve(challenge.challenge, 16);
    for (auto _ : state) {
        const PowVerdict verdict = pow.verify(challenge.challenge, nonce, kUser, 42, 16, kNow);
        benchmark::DoNotOptimize(verdict);
    }
}
BENCHMARK(BM_VerifyChallenge);

void BM_IssueChallenge(benchmark::State& state) {
    const ProofOfWork pow("a queue secret of 16+ bytes", 16, std::chrono::seconds(120));
    for (auto _ : state) benchmark::DoNotOptimize(pow.issue(kUser, 42, 16, kNow));
}
BENCHMARK(BM_IssueChallenge);

// A fresh challenge per iteration (the salt differs), so the hashes needed vary as a fan's would: the mean
// over many is about 2^difficulty. items_per_second is challenges solved per second on one core.
void BM_SolveChallenge(benchmark::State& state) {
    const int difficulty = static_cast<int>(state.range(0));
    const ProofOfWork pow("a queue secret of 16+ bytes", difficulty, std::chrono::seconds(120));
    std::int64_t hashes = 0;
    for (auto _ : state) {
        const PowChallenge challenge = pow.issue(kUser, 42, difficulty, kNow);
        const std::string nonce = pow_solve(challenge.challenge, difficulty);
        hashes += std::stoll(nonce) + 1;
    }
    state.SetItemsProcessed(state.iterations());
    state.counters["hashes_per_solve"] =
        benchmark::Counter(static_cast<double>(hashes) / static_cast<double>(state.iterations()));
    state.counters["hashes_per_second"] =
        benchmark::Counter(static_cast<double>(hashes), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_SolveChallenge)->Arg(12)->Arg(16)->Arg(17)->Unit(benchmark::kMillisecond);

}  // namespace
