#include "db/result.hpp"

#include <chrono>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <libpq-fe.h>

namespace marquee::db {
namespace {

// A result as the server would send it, built with libpq's own constructors: no server needed.
Result make_result(const std::vector<std::string>& names,
                   const std::vector<std::vector<std::optional<std::string>>>& rows) {
    PGresult* raw = PQmakeEmptyPGresult(nullptr, PGRES_TUPLES_OK);
    std::vector<PGresAttDesc> columns(names.size());
    for (std::size_t i = 0; i < names.size(); ++i) {
        columns[i] = PGresAttDesc{const_cast<char*>(names[i].c_str()), 0, 0, 0, 25 /* text */, -1, -1};
    }
    PQsetResultAttrs(raw, static_cast<int>(columns.size()), columns.data());
    for (std::size_t r = 0; r < rows.size(); ++r) {
        for (std::size_t c = 0; c < rows[r].size(); ++c) {
            const auto& value = rows[r][c];
            PQsetvalue(raw, static_cast<int>(r), static_cast<int>(c),
                       value ? const_cast<char*>(value->c_str()) : nullptr,
                       value ? static_cast<int>(value->size()) : -1);
        }
    }
    return Result(detail::ResultPtr(raw));
}

TEST(Result, ReadsTypedValuesByNameAndIndex) {
    const Result r = make_result({"id", "email", "active", "ratio", "small"},
                                 {{"9007199254740993", "a@example.com", "t", "0.25", "-7"}});
    EXPECT_EQ(r.rows(), 1);
    EXPECT_EQ(r.columns(), 5);
    EXPECT_EQ(r.get<std::int64_t>(0, "id"), 9007199254740993);
    EXPECT_EQ(r.get<std::string>(0, "email"), "a@example.com");
    EXPECT_EQ(r.get<std::string_view>(0, 1), "a@example.com");
    EXPECT_TRUE(r.get<bool>(0, "active"));
    EXPECT_DOUBLE_EQ(r.get<double>(0, "ratio"), 0.25);
    EXPECT_EQ(r.get<std::int16_t>(0, "small"), -7);
    EXPECT_EQ(r.column("email"), 1);
    EXPECT_EQ(r.column_name(2), "active");
}

TEST(Result, NullReadsAsNulloptAndRefusesNonOptional) {
    const Result r = make_result({"note"}, {{std::nullopt}, {"x"}});
    EXPECT_TRUE(r.is_null(0, "note"));
    EXPECT_EQ(r.get<std::optional<std::string>>(0, "note"), std::nullopt);
    EXPECT_EQ(r.get<std::optional<std::string>>(1, "note"), "x");
    try {
        r.get<std::string>(0, "note");
        FAIL() << "expected ResultError";
    } catch (const ResultError& error) {
        EXPECT_NE(std::string(error.what()).find("'note' is NULL"), std::string::npos) << error.what();
    }
}

TEST(Result, MissingColumnNamesTheColumnsThereAre) {
    const Result r = make_result({"id", "name"}, {{"1", "a"}});
    try {
        r.get<std::int64_t>(0, "ID");
        FAIL() << "expected ResultError";
    } catch (const ResultError& error) {
        const std::string message = error.what();
        EXPECT_NE(message.find("'ID'"), std::string::npos) << message;
        EXPECT_NE(message.find("id, name"), std::string::npos) << message;
    }
    EXPECT_THROW(r.text(1, 0), ResultError);
    EXPECT_THROW(r.text(0, 2), ResultError);
}

TEST(Result, TextThatIsNotTheTypeIsRefused) {
    const Result r = make_result({"n", "big", "flag"}, {{"12x", "3000000000", "yes"}});
    EXPECT_THROW(r.get<std::int64_t>(0, "n"), ResultError);
    EXPECT_THROW(r.get<std::int32_t>(0, "big"), ResultError);
    EXPECT_EQ(r.get<std::int64_t>(0, "big"), 3000000000);
    EXPECT_THROW(r.get<bool>(0, "flag"), ResultError);
}

TEST(Result, ParsesIsoTimestampsWithAndWithoutZone) {
    using namespace std::chrono;
    const Result r = make_result({"t"}, {{"2026-11-26 09:05:07.123456+00"},
                                         {"2026-11-26 14:35:07.5+05:30"},
                                         {"2026-11-26 09:05:07"},
                                         {"infinity"}});
    const core::TimePoint expected =
        sys_days{year{2026} / 11 / 26} + hours{9} + minutes{5} + seconds{7} + microseconds{123456};
    EXPECT_EQ(r.get<core::TimePoint>(0, "t"), expected);
    EXPECT_EQ(r.get<core::TimePoint>(1, "t"), expected - microseconds{123456} + milliseconds{500});
    EXPECT_EQ(r.get<core::TimePoint>(2, "t"), expected - microseconds{123456});
    EXPECT_THROW(r.get<core::TimePoint>(3, "t"), ResultError);
}

TEST(Result, DefaultIsEmpty) {
    const Result r;
    EXPECT_TRUE(r.empty());
    EXPECT_EQ(r.columns(), 0);
    EXPECT_EQ(r.affected(), 0);
}

}  // namespace
}  // namespace marquee::db
