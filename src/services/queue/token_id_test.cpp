#include "services/queue/token_id.hpp"

#include <set>

#include <gtest/gtest.h>

namespace marquee::queue {
namespace {

TEST(TokenId, IsCanonicalUuidVersionFour) {
    const std::string id = new_token_id();
    ASSERT_EQ(id.size(), 36u);
    EXPECT_EQ(id[8], '-');
    EXPECT_EQ(id[13], '-');
    EXPECT_EQ(id[18], '-');
    EXPECT_EQ(id[23], '-');
    EXPECT_EQ(id[14], '4') << id;
    EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos) << id;
    EXPECT_EQ(normalize_token_id(id), id);
}

TEST(TokenId, TenThousandIdsAreDistinct) {
    std::set<std::string> ids;
    for (int i = 0; i < 10'000; ++i) ids.insert(new_token_id());
    EXPECT_EQ(ids.size(), 10'000u);
}

TEST(TokenId, NormalizeLowerCasesAndRefusesMalformedText) {
    EXPECT_EQ(normalize_token_id("0F8FAD5B-D9CB-469F-A165-70867728950E"),
              "0f8fad5b-d9cb-469f-a165-70867728950e");
    EXPECT_EQ(normalize_token_id(""), std::nullopt);
    EXPECT_EQ(normalize_token_id("0f8fad5b-d9cb-469f-a165-70867728950"), std::nullopt);
    EXPECT_EQ(normalize_token_id("0f8fad5b-d9cb-469f-a165-70867728950ex"), std::nullopt);
    EXPECT_EQ(normalize_token_id("0f8fad5bxd9cb-469f-a165-70867728950e"), std::nullopt);
    EXPECT_EQ(normalize_token_id("0f8fad5b-d9cb-469f-a165-70867728950g"), std::nullopt);
    EXPECT_EQ(normalize_token_id("queue:{1}:token:0f8fad5b-d9cb-469f"), std::nullopt);
}

}  // namespace
}  // namespace marquee::queue
