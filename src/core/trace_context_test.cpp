#include "core/trace_context.hpp"

#include <regex>

#include <gtest/gtest.h>

namespace marquee::core {
namespace {

// The examples of W3C Trace Context level 1, section 3.2.
constexpr const char* kSampled = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
constexpr const char* kNotSampled = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";

bool is_traceparent(const std::string& text) {
    static const std::regex kShape("00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]");
    return std::regex_match(text, kShape);
}

TEST(TraceContext, ParsesTheSpecificationExamples) {
    const auto sampled = TraceContext::parse(kSampled);
    ASSERT_TRUE(sampled);
    EXPECT_EQ(sampled->trace_id(), "0af7651916cd43dd8448eb211c80319c");
    EXPECT_EQ(sampled->span_id(), "b7ad6b7169203331");
    EXPECT_TRUE(sampled->sampled());
    EXPECT_EQ(sampled->traceparent(), kSampled);

    const auto not_sampled = TraceContext::parse(kNotSampled);
    ASSERT_TRUE(not_sampled);
    EXPECT_EQ(not_sampled->trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
    EXPECT_EQ(not_sampled->span_id(), "00f067aa0ba902b7");
    EXPECT_FALSE(not_sampled->sampled());
    EXPECT_EQ(not_sampled->traceparent(), kNotSampled);
}

TEST(TraceContext, KeepsTracestateUnchanged) {
    const auto context = TraceContext::parse(kSampled, "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
    ASSERT_TRUE(context);
    EXPECT_EQ(context->tracestate(), "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
    EXPECT_EQ(context->child().tracestate(), "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
}

TEST(TraceContext, DropsATracestateItCannotPassOnSafely) {
    EXPECT_EQ(TraceContext::parse(kSampled, std::string(513, 'a'))->tracestate(), "");
    EXPECT_EQ(TraceContext::parse(kSampled, "a=b\nc=d")->tracestate(), "");
}

TEST(TraceContext, RefusesWhatIsNotAValidTraceparent) {
    for (const char* text : {
             "",
             "00",
             "00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-01",   // upper-case hex
             "00-0af7651916cd43dd8448eb211c80319c-B7AD6B7169203331-01",   // upper-case parent id
             "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",   // version ff
             "00-00000000000000000000000000000000-b7ad6b7169203331-01",   // all-zero trace id
             "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",   // all-zero parent id
             "00-0af7651916cd43dd8448eb211c8031-b7ad6b7169203331-01",     // short trace id
             "00-0af7651916cd43dd8448eb211c80319c00-b7ad6b71692033-01",   // lengths shifted
             "00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333-01",    // short parent id
             "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-1",    // short flags
             "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0g",   // flags not hex
             "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-",  // version 00 is exactly 55
             "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-010",
             "00_0af7651916cd43dd8448eb211c80319c_b7ad6b7169203331_01",   // not dashes
             "0x-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",   // version not hex
             "cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01x",  // later version, no dash after
             " 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
         }) {
        EXPECT_FALSE(TraceContext::parse(text)) << text;
    }
}

TEST(TraceContext, ReadsALaterVersionAsFarAsVersionZeroGoes) {
    const auto context =
        TraceContext::parse("cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-what-the-future-holds");
    ASSERT_TRUE(context);
    EXPECT_EQ(context->trace_id(), "0af7651916cd43dd8448eb211c80319c");
    EXPECT_EQ(context->traceparent(), kSampled);  // we speak version 00
    EXPECT_TRUE(TraceContext::parse("cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"));
}

TEST(TraceContext, PassesOnOnlyTheFlagsItKnows) {
    const auto context = TraceContext::parse("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-ff");
    ASSERT_TRUE(context);
    EXPECT_TRUE(context->sampled());
    EXPECT_EQ(context->traceparent(), kSampled);
}

TEST(TraceContext, ContinuesTheCallersTraceInANewSpan) {
    const auto context = TraceContext::continue_from(kSampled, "rojo=00f067aa0ba902b7");
    EXPECT_EQ(context.trace_id(), "0af7651916cd43dd8448eb211c80319c");
    EXPECT_EQ(context.parent_span_id(), "b7ad6b7169203331");
    EXPECT_NE(context.span_id(), "b7ad6b7169203331");
    EXPECT_TRUE(is_traceparent(context.traceparent())) << context.traceparent();
    EXPECT_EQ(context.tracestate(), "rojo=00f067aa0ba902b7");
}

TEST(TraceContext, StartsANewTraceWhenTheCallersIsAbsentOrInvalid) {
    const auto absent = TraceContext::continue_from(std::nullopt);
    EXPECT_TRUE(is_traceparent(absent.traceparent())) << absent.traceparent();
    EXPECT_TRUE(absent.sampled());
    EXPECT_EQ(absent.parent_span_id(), "");

    const auto invalid = TraceContext::continue_from(
        "00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-01", "rojo=00f067aa0ba902b7");
    EXPECT_NE(invalid.trace_id(), "0af7651916cd43dd8448eb211c80319c");
    EXPECT_TRUE(is_traceparent(invalid.traceparent())) << invalid.traceparent();
    EXPECT_EQ(invalid.tracestate(), "");  // a tracestate without a valid traceparent is dropped
}

TEST(TraceContext, NewIdsAreValidAndDistinct) {
    const auto a = TraceContext::start();
    const auto b = TraceContext::start();
    EXPECT_NE(a.trace_id(), b.trace_id());
    EXPECT_NE(a.span_id(), b.span_id());
    const auto round_trip = TraceContext::parse(a.traceparent());
    ASSERT_TRUE(round_trip);
    EXPECT_EQ(*round_trip, a);
}

TEST(TraceContext, AChildKeepsTheTraceAndNamesItsParent) {
    const auto parent = TraceContext::start();
    const auto child = parent.child();
    EXPECT_EQ(child.trace_id(), parent.trace_id());
    EXPECT_EQ(child.parent_span_id(), parent.span_id());
    EXPECT_NE(child.span_id(), parent.span_id());
    EXPECT_TRUE(is_traceparent(child.traceparent()));
}

}  // namespace
}  // namespace marquee::core
