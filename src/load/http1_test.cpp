#include "load/http1.hpp"

#include <gtest/gtest.h>

#include "load/connection.hpp"
#include "load/scenario.hpp"

namespace marquee::load {
namespace {

TEST(Http1, ParsesAContentLengthResponseAndLeavesTheNextOne) {
    const std::string wire =
        "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 7\r\nETag: "
        "\"3\"\r\n\r\n{\"a\":1}"
        "HTTP/1.1 304 Not Modified\r\nETag: \"3\"\r\n\r\n";
    Response r;
    const auto used = parse_response(wire, r);
    ASSERT_TRUE(used.has_value());
    EXPECT_EQ(r.status, 201u);
    EXPECT_EQ(r.body, "{\"a\":1}");
    EXPECT_EQ(r.header("etag").value_or(""), "\"3\"");
    EXPECT_TRUE(r.keep_alive);
    Response next;
    const auto rest = parse_response(std::string_view(wire).substr(*used), next);
    ASSERT_TRUE(rest.has_value());
    EXPECT_EQ(next.status, 304u);
    EXPECT_TRUE(next.body.empty());
}

TEST(Http1, WaitsForTheWholeBody) {
    const std::string wire = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345";
    Response r;
    EXPECT_FALSE(parse_response(wire, r).has_value());
    EXPECT_FALSE(parse_response("HTTP/1.1 200 OK\r\nContent-Le", r).has_value());
}

TEST(Http1, DecodesChunkedBodies) {
    const std::string wire =
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n5\r\npedia\r\n0\r\n\r\n";
    Response r;
    const auto used = parse_response(wire, r);
    ASSERT_TRUE(used.has_value());
    EXPECT_EQ(*used, wire.size());
    EXPECT_EQ(r.body, "Wikipedia");
    EXPECT_FALSE(parse_response(wire.substr(0, wire.size() - 2), r).has_value());
}

TEST(Http1, ConnectionCloseEndsKeepAlive) {
    Response r;
    ASSERT_TRUE(parse_response(
        "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", r));
    EXPECT_EQ(r.status, 503u);
    EXPECT_FALSE(r.keep_alive);
}

TEST(Http1, RejectsGarbage) {
    Response r;
    EXPECT_THROW(parse_response("SSH-2.0-OpenSSH\r\n\r\n", r), std::runtime_error);
    EXPECT_THROW(parse_response("HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", r), std::runtime_error);
}

TEST(Http1, FormatsARequestWithBodyLength) {
    const Headers headers{{"Authorization", "Bearer t"}};
    const auto wire = format_request("POST", "/api/v1/reservations", "127.0.0.1:80", headers, "{}");
    EXPECT_EQ(wire,
              "POST /api/v1/reservations HTTP/1.1\r\nHost: 127.0.0.1:80\r\nAuthorization: Bearer t\r\n"
              "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}");
}

TEST(Target, AcceptsOnlyLoopback) {
    EXPECT_EQ(parse_target("http://127.0.0.1:8080").endpoint.port(), 8080);
    EXPECT_EQ(parse_target("http://localhost:81").host, "localhost:81");
    EXPECT_NO_THROW(parse_target("http://[::1]:8080"));
    EXPECT_THROW(parse_target("http://10.0.0.5:8080"), std::invalid_argument);
    EXPECT_THROW(parse_target("http://example.com:80"), std::invalid_argument);
    EXPECT_THROW(parse_target("https://127.0.0.1:443"), std::invalid_argument);
    EXPECT_THROW(parse_target("http://127.0.0.1"), std::invalid_argument);
}

TEST(Base64, DecodesTheAvailabilityBitset) {
    EXPECT_EQ(decode_base64("gAA="), std::string("\x80\x00", 2));
    EXPECT_EQ(decode_base64("TWFu"), "Man");
    EXPECT_EQ(decode_base64("TQ=="), "M");
    EXPECT_THROW(decode_base64("TQ="), std::invalid_argument);
    EXPECT_THROW(decode_base64("T*=="), std::invalid_argument);
}

}  // namespace
}  // namespace marquee::load
