// libFuzzer harness: the HTTP request path without any I/O. Raw bytes are read as the server reads a
// connection (http::parse_request: Beast's parser with the server's default limits), routed by a Router
// holding every route, and decoded by that route's own decoding (request_decoders.cpp). Every refusal must
// be a core::Problem with a 4xx status; anything else (a 5xx, another exception, a sanitizer report) is a
// crash. Run by scripts/fuzz; corpus in fuzz/corpus/http_request.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <optional>
#include <string_view>

#include "core/config.hpp"
#include "http/request_reader.hpp"
#include "request_decoders.hpp"

using namespace marquee;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const http::Router router = fuzz::make_router();
    static const core::HttpLimits limits;  // what marquee runs with unless configured otherwise
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);

    std::optional<http::Context> ctx;
    try {
        ctx = http::parse_request(bytes, limits);
    } catch (...) {
        fuzz::expect_client_error(std::current_exception(), "parse_request");
        return 0;
    }
    if (!ctx) return 0;
    try {
        auto match = router.match(ctx->method(), ctx->path());
        if (match.outcome != http::Router::Match::Outcome::Found) return 0;  // 404, 405, 400 from the server
        const fuzz::DecodedRoute* route = fuzz::find_route(ctx->method(), match.pattern);
        if (route == nullptr) std::abort();
        ctx->set_route(match.pattern, std::move(match.params));
        route->decode(*ctx);
    } catch (...) {
        fuzz::expect_client_error(std::current_exception(), ctx->route());
    }
    return 0;
}
