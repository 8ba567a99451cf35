// libFuzzer harness: every request-body decoder. The first byte picks a route with a JSON body (signup,
// login, refresh, logout, hold, pay, top-up, the three admin bodies), the rest is its body, sent as
// application/json with a valid Idempotency-Key and path parameters of 1. Every refusal must be a
// core::Problem with a 4xx status. Run by scripts/fuzz; corpus in fuzz/corpus/body_decoders (the first
// byte of each seed names its route: fuzz/seed_corpus.py).

#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include "request_decoders.hpp"

using namespace marquee;

namespace {

std::vector<const fuzz::DecodedRoute*> body_routes() {
    std::vector<const fuzz::DecodedRoute*> out;
    for (const auto& route : fuzz::decoded_routes())
        if (route.has_body) out.push_back(&route);
    return out;
}

// Every {name} of a pattern, bound to "1".
http::Fields params_of(std::string_view pattern) {
    http::Fields params;
    for (auto open = pattern.find('{'); open != std::string_view::npos; open = pattern.find('{', open + 1)) {
        const auto close = pattern.find('}', open);
        params.emplace_back(std::string(pattern.substr(open + 1, close - open - 1)), "1");
    }
    return params;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const std::vector<const fuzz::DecodedRoute*> routes = body_routes();
    if (size == 0) return 0;
    const fuzz::DecodedRoute& route = *routes[data[0] % routes.size()];
    http::Context ctx(std::string(route.method), std::string(route.pattern),
                      http::Fields{{"Content-Type", "application/json"}, {"Idempotency-Key", "fuzz-key-1"}},
                      std::string(reinterpret_cast<const char*>(data) + 1, size - 1), "fuzz");
    ctx.set_route(route.pattern, params_of(route.pattern));
    try {
        route.decode(ctx);
    } catch (...) {
        fuzz::expect_client_error(std::current_exception(), route.pattern);
    }
    return 0;
}
