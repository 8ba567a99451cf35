// What a request's bearer token costs marquee (ADR 0015 and its 2026-12-07 amendment): the Ed25519 check
// of a token never seen, the same token served from the verified cache, and what remembering a token at
// issue adds to a login. Figures and how to read them: docs/performance.md, "tokens signed here".
//
//   build/bench/marquee_micro_bench --benchmark_filter=Jwt --benchmark_repetitions=5
//       --benchmark_report_aggregates_only=true   (one command line)
#include <chrono>
#include <memory>
#include <string>

#include <benchmark/benchmark.h>

#include "app/jwt_authenticator.hpp"
#include "jwt/key.hpp"

namespace {

using namespace marquee;
using namespace std::chrono_literals;

struct Setup {
    jwt::Signer signer;
    std::unique_ptr<app::JwtAuthenticator> authenticator;
};

Setup setup(std::size_t cache_size) {
    const auto secret = jwt::PrivateKey::from_raw(jwt::random_bytes(32));
    jwt::Verifier verifier;
    verifier.add_key("k1", secret.public_key());
    return {jwt::Signer(secret, "k1"),
            std::make_unique<app::JwtAuthenticator>(std::move(verifier),
                                                    std::make_shared<core::SystemClock>(), cache_size)};
}

/// A fan's first request before the amendment: the token was never seen, so it is verified (cache off).
void BM_JwtFirstUseVerified(benchmark::State& state) {
    auto s = setup(0);
    const std::string token = s.signer.issue("user-1", {"fan"}, std::chrono::system_clock::now(), 15min);
    for (auto _ : state) benchmark::DoNotOptimize(s.authenticator->authenticate(token));
}
BENCHMARK(BM_JwtFirstUseVerified);

/// A fan's first request now, in a process that signed the token: served from the cache.
void BM_JwtFirstUseRememberedAtIssue(benchmark::State& state) {
    auto s = setup(100'000);
    const auto claims = jwt::new_claims("user-1", {"fan"}, std::chrono::system_clock::now(), 15min);
    const std::string token = s.signer.sign(claims);
    s.authenticator->remember_issued(token, claims);
    for (auto _ : state) benchmark::DoNotOptimize(s.authenticator->authenticate(token));
}
BENCHMARK(BM_JwtFirstUseRememberedAtIssue);

/// What a login pays: signing the token, and remembering it (SHA-256 of the token and a map insert).
void BM_JwtIssue(benchmark::State& state) {
    auto s = setup(100'000);
    const bool remember = state.range(0) != 0;
    for (auto _ : state) {
        const auto claims = jwt::new_claims("user-1", {"fan"}, std::chrono::system_clock::now(), 15min);
        const std::string token = s.signer.sign(claims);
        if (remember) s.authenticator->remember_issued(token, claims);
        benchmark::DoNotOptimize(token);
    }
}
BENCHMARK(BM_JwtIssue)->Arg(0)->Arg(1);

}  // namespace
