#include "services/catalog/paging.hpp"

#include <gtest/gtest.h>

#include "core/problem.hpp"
#include "services/catalog/base64.hpp"

namespace marquee::catalog {
namespace {

std::string field_of(const core::Problem& problem) {
    return std::string(problem.extensions().at("field").as_string());
}

TEST(Base64, EncodesRfc4648TestVectors) {
    EXPECT_EQ(base64_encode(""), "");
    EXPECT_EQ(base64_encode("f"), "Zg==");
    EXPECT_EQ(base64_encode("fo"), "Zm8=");
    EXPECT_EQ(base64_encode("foo"), "Zm9v");
    EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
    EXPECT_EQ(base64_encode(std::string("\xff\xfe", 2)), "//4=");
    EXPECT_EQ(base64url_encode(std::string("\xff\xfe", 2)), "__4");
}

TEST(Base64, UrlRoundTripsEveryByte) {
    std::string bytes;
    for (int i = 0; i < 256; ++i) bytes += static_cast<char>(i);
    for (std::size_t n = 0; n <= bytes.size(); n += 37) {
        EXPECT_EQ(base64url_decode(base64url_encode(bytes.substr(0, n))), bytes.substr(0, n));
    }
}

TEST(Base64, UrlDecodeRejectsForeignCharactersAndPadding) {
    EXPECT_EQ(base64url_decode("Zm9v="), std::nullopt);
    EXPECT_EQ(base64url_decode("Zm+v"), std::nullopt);
    EXPECT_EQ(base64url_decode("Z"), std::nullopt);
    EXPECT_EQ(base64url_decode("Zh"), std::nullopt);  // non-zero leftover bits
}

TEST(Cursor, RoundTripsIds) {
    for (const std::int64_t id : {0LL, 1LL, 42LL, 9'007'199'254'740'991LL}) {
        const std::string cursor = encode_cursor(id);
        EXPECT_EQ(cursor.find_first_of("+/="), std::string::npos);
        EXPECT_EQ(decode_cursor(cursor), id);
    }
}

TEST(Cursor, GarbageIsA400NamingTheCursor) {
    for (const std::string& bad :
         std::vector<std::string>{"", "!!", base64url_encode("-1"), base64url_encode("12a"),
                                  base64url_encode("007"), base64url_encode("99999999999999999999")}) {
        try {
            decode_cursor(bad);
            ADD_FAILURE() << "accepted " << bad;
        } catch (const core::Problem& problem) {
            EXPECT_EQ(problem.status(), 400);
            EXPECT_EQ(field_of(problem), "cursor");
        }
    }
}

TEST(Limit, DefaultsAndBounds) {
    EXPECT_EQ(parse_limit(std::nullopt, 20, 100), 20);
    EXPECT_EQ(parse_limit(std::string("1"), 20, 100), 1);
    EXPECT_EQ(parse_limit(std::string("100"), 20, 100), 100);
    for (const std::string bad : {"0", "101", "-1", "abc", "", "1.5", " 5"}) {
        try {
            parse_limit(bad, 20, 100);
            ADD_FAILURE() << "accepted " << bad;
        } catch (const core::Problem& problem) {
            EXPECT_EQ(problem.status(), 400);
            EXPECT_EQ(field_of(problem), "limit");
        }
    }
}

}  // namespace
}  // namespace marquee::catalog
