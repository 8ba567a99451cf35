#include "http/request_reader.hpp"

#include <functional>
#include <string>

#include <gtest/gtest.h>

#include "problem_field.hpp"

namespace marquee::http {
namespace {

TEST(RequestReader, ReadsMethodTargetHeadersAndBody) {
    const auto ctx = parse_request(
        "POST /api/v1/auth/login?x=1 HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n"
        "X-Request-Id: abc-1\r\nContent-Length: 2\r\n\r\n{}GET / HTTP/1.1\r\n\r\n",
        core::HttpLimits{});
    ASSERT_TRUE(ctx.has_value());
    EXPECT_EQ(ctx->method(), "POST");
    EXPECT_EQ(ctx->path(), "/api/v1/auth/login");
    EXPECT_EQ(ctx->query("x"), "1");
    EXPECT_EQ(ctx->header("content-type"), "application/json");
    EXPECT_EQ(ctx->request_id(), "abc-1");
    EXPECT_EQ(ctx->body(), "{}");  // the pipelined request after it is not part of it
}

TEST(RequestReader, DecodesAChunkedBody) {
    const auto ctx =
        parse_request("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n1\r\n \r\n0\r\n\r\n",
                      core::HttpLimits{});
    ASSERT_TRUE(ctx.has_value());
    EXPECT_EQ(ctx->body(), "{} ");
}

TEST(RequestReader, AnIncompleteRequestIsNotARequestYet) {
    EXPECT_FALSE(parse_request("", core::HttpLimits{}).has_value());
    EXPECT_FALSE(parse_request("GET / HTTP/1.1\r\nHost: a\r\n", core::HttpLimits{}).has_value());
    EXPECT_FALSE(
        parse_request("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nab", core::HttpLimits{}).has_value());
    // Found by fuzz/http_request_fuzzer: a body shorter than its Content-Length once looped forever.
    EXPECT_FALSE(parse_request("POST /api/v1/admin/schedules/1/seat-map HTTP/1.1\r\n"
                               "Content-Type: application/json\r\nContent-Length: 181\r\n\r\n{\"zones\": [",
                               core::HttpLimits{})
                     .has_value());
    EXPECT_FALSE(
        parse_request("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", core::HttpLimits{})
            .has_value());
}

TEST(RequestReader, RefusesWhatTheServerRefusesWithTheSameStatus) {
    core::HttpLimits limits;
    limits.max_body_bytes = 8;
    limits.max_header_bytes = 64;
    EXPECT_EQ(test::status_of_problem([&] { (void)parse_request("\x16\x03\x01garbage\r\n\r\n", limits); }),
              400);
    EXPECT_EQ(test::status_of_problem(
                  [&] { (void)parse_request("POST / HTTP/1.1\r\nContent-Length: 9\r\n\r\n", limits); }),
              413);
    EXPECT_EQ(test::status_of_problem(
                  [&] { (void)parse_request("GET / HTTP/1.1\r\nX: " + std::string(80, 'a'), limits); }),
              431);
    EXPECT_EQ(test::status_of_problem([&] {
                  (void)parse_request("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
                                      limits);
              }),
              400);
    EXPECT_EQ(test::status_of_problem([&] {
                  (void)parse_request("POST / HTTP/1.1\r\nTransfer-Encoding: identity\r\n\r\n", limits);
              }),
              400);
}

}  // namespace
}  // namespace marquee::http
