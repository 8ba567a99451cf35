#include "jwt/base64url.hpp"

#include <gtest/gtest.h>

namespace marquee::jwt {
namespace {

TEST(Base64Url, EncodesRfc4648VectorsWithoutPadding) {
    EXPECT_EQ(base64url_encode(""), "");
    EXPECT_EQ(base64url_encode("f"), "Zg");
    EXPECT_EQ(base64url_encode("fo"), "Zm8");
    EXPECT_EQ(base64url_encode("foo"), "Zm9v");
    EXPECT_EQ(base64url_encode("foob"), "Zm9vYg");
    EXPECT_EQ(base64url_encode("fooba"), "Zm9vYmE");
    EXPECT_EQ(base64url_encode("foobar"), "Zm9vYmFy");
}

TEST(Base64Url, UsesTheUrlSafeAlphabet) {
    EXPECT_EQ(base64url_encode(std::string("\xfb\xff\xbf", 3)), "-_-_");
    EXPECT_EQ(base64url_decode("-_-_"), std::string("\xfb\xff\xbf", 3));
}

TEST(Base64Url, RoundTripsEveryByte) {
    std::string all;
    for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
    for (std::size_t n = 0; n < all.size(); n += 37) {
        const std::string part = all.substr(n);
        EXPECT_EQ(base64url_decode(base64url_encode(part)), part);
    }
}

TEST(Base64Url, RejectsPaddingAndForeignCharacters) {
    EXPECT_FALSE(base64url_decode("Zg=="));
    EXPECT_FALSE(base64url_decode("Zm9v+w"));
    EXPECT_FALSE(base64url_decode("Zm9v/w"));
    EXPECT_FALSE(base64url_decode("Zm 9v"));
}

TEST(Base64Url, RejectsImpossibleLengthsAndNonCanonicalTrailingBits) {
    EXPECT_FALSE(base64url_decode("Z"));
    EXPECT_FALSE(base64url_decode("Zh"));  // "Zg" with a stray low bit
    EXPECT_TRUE(base64url_decode("Zg"));
}

}  // namespace
}  // namespace marquee::jwt
