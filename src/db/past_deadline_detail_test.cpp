// The 503 of a statement past its deadline inside a transaction says what became of its server-side cancel
// (db/cancels.hpp, ADR 0003): "too many cancels are in flight" only when that was the reason. A null
// PQgetCancel or a thread that cannot start cannot be made against a real server here, so the texts are
// checked where they are chosen.
#include <chrono>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "db/detail/connection.hpp"

namespace marquee::db::detail {
namespace {

using namespace std::chrono_literals;

bool has(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

TEST(PastDeadlineDetailTest, EachCancelOutcomeIsNamedAsItHappened) {
    const std::string sent = past_deadline_detail(150ms, CancelStart::Sent);
    const std::string again = past_deadline_detail(150ms, CancelStart::AlreadySent);
    const std::string too_many = past_deadline_detail(150ms, CancelStart::TooManyInFlight);
    const std::string no_handle = past_deadline_detail(150ms, CancelStart::NoCancelHandle);
    const std::string no_thread = past_deadline_detail(150ms, CancelStart::NoThread);

    for (const std::string& text : {sent, again, too_many, no_handle, no_thread}) {
        EXPECT_TRUE(has(text, "the statement took longer than 150 ms")) << text;
    }
    EXPECT_TRUE(has(sent, "was cancelled")) << sent;
    EXPECT_TRUE(has(too_many, "too many cancels are in flight, so the server's statement_timeout stops it"))
        << too_many;
    EXPECT_TRUE(has(no_handle, "libpq could not make a cancel request")) << no_handle;
    EXPECT_TRUE(has(no_thread, "no thread could be started")) << no_thread;
    // Only the skipped cancel blames the cancels in flight; only the one sent says it was cancelled.
    for (const std::string& text : {sent, again, no_handle, no_thread}) {
        EXPECT_FALSE(has(text, "too many cancels")) << text;
    }
    for (const std::string& text : {again, too_many, no_handle, no_thread}) {
        EXPECT_FALSE(has(text, "was cancelled")) << text;
    }
    // The server's statement_timeout is named wherever no cancel went out for this statement.
    for (const std::string& text : {too_many, no_handle, no_thread}) {
        EXPECT_TRUE(has(text, "statement_timeout stops it")) << text;
    }
    EXPECT_EQ((std::set<std::string>{sent, again, too_many, no_handle, no_thread}).size(), 5U);
}

}  // namespace
}  // namespace marquee::db::detail
