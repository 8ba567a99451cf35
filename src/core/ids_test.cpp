#include "core/ids.hpp"

#include <gtest/gtest.h>

namespace marquee::core {
namespace {

TEST(Ids, NormalizesUuidsToLowerCase) {
    EXPECT_EQ(normalize_uuid("123E4567-E89B-12D3-A456-426614174000"), "123e4567-e89b-12d3-a456-426614174000");
    EXPECT_TRUE(is_uuid("123e4567-e89b-12d3-a456-426614174000"));
}

TEST(Ids, RejectsWhatIsNotAUuid) {
    for (const char* text :
         {"", "123e4567e89b12d3a456426614174000", "123e4567-e89b-12d3-a456-42661417400g",
          "123e4567-e89b-12d3-a456-4266141740000", "123e4567+e89b-12d3-a456-426614174000", "' OR 1=1 --"}) {
        EXPECT_FALSE(is_uuid(text)) << text;
    }
}

}  // namespace
}  // namespace marquee::core
