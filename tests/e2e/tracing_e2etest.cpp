// End to end: one purchase followed by its W3C trace id (issue 8, ADR 0010). A hold and a card payment sent
// with a `traceparent` answer with the same trace; the access lines of the binary name it; the payment
// gateway (pg-sim, in this process) receives it as a child span; and the events the purchase publishes to
// NATS (reservation.held from booking's store, reservation.confirmed from booking.confirm inside
// payment.finish, payment.approved) carry it in their `traceparent` header. An invalid traceparent gets a
// fresh trace and the request is still served.
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>
#include <nats/nats.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "core/trace_context.hpp"
#include "local_services.hpp"
#include "marquee_process.hpp"
#include "private_stack.hpp"

namespace marquee::test {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using Headers = std::map<std::string, std::string>;

constexpr std::int64_t kPrice = 90'000;

/// A plain NATS subscription to every Marquee event (JetStream stores them; a core subscriber sees each
/// publish too), so the test reads the headers exactly as the relay sent them.
class EventTap {
  public:
    EventTap() {
        const std::string url = nats_url();
        if (natsConnection_ConnectTo(&connection_, url.c_str()) != NATS_OK) {
            ADD_FAILURE() << "cannot connect to NATS at " << url;
            return;
        }
        if (natsConnection_SubscribeSync(&subscription_, connection_, "marquee.>") != NATS_OK) {
            ADD_FAILURE() << "cannot subscribe to marquee.>";
        }
        natsConnection_Flush(connection_);  // the subscription is registered before the test acts
    }
    ~EventTap() {
        natsSubscription_Destroy(subscription_);
        natsConnection_Destroy(connection_);
    }
    EventTap(const EventTap&) = delete;
    EventTap& operator=(const EventTap&) = delete;

    /// The traceparent header of the first `subject` message whose payload names `id`, waiting up to a
    /// deadline; "" when it has none, "missing" when no such message came.
    std::string traceparent_of(const std::string& subject, const std::string& id) {
        const auto deadline = std::chrono::steady_clock::now() + 15s;
        while (std::chrono::steady_clock::now() < deadline) {
            for (const auto& [seen_subject, seen_id, traceparent] : seen_) {
                if (seen_subject == subject && seen_id.find(id) != std::string::npos) return traceparent;
            }
            natsMsg* message = nullptr;
            if (subscription_ == nullptr ||
                natsSubscription_NextMsg(&message, subscription_, 200) != NATS_OK) {
                continue;
            }
            const char* value = nullptr;
            std::string traceparent;
            if (natsMsgHeader_Get(message, "traceparent", &value) == NATS_OK && value != nullptr) {
                traceparent = value;
            }
            seen_.push_back({natsMsg_GetSubject(message),
                             std::string(natsMsg_GetData(message),
                                         static_cast<std::size_t>(natsMsg_GetDataLength(message))),
                             traceparent});
            natsMsg_Destroy(message);
        }
        return "missing";
    }

  private:
    struct Seen {
        std::string subject;
        std::string payload;
        std::string traceparent;
    };
    natsConnection* connection_ = nullptr;
    natsSubscription* subscription_ = nullptr;
    std::vector<Seen> seen_;
};

/// The JSON log lines of `output` whose msg is `msg` and whose trace_id is `trace_id`.
std::vector<json::object> lines_of(const std::string& output, std::string_view msg,
                                   const std::string& trace_id) {
    std::vector<json::object> found;
    std::istringstream lines(output);
    std::string line;
    while (std::getline(lines, line)) {
        boost::system::error_code ec;
        auto value = json::parse(line, ec);
        if (ec || !value.is_object()) continue;
        const auto& object = value.as_object();
        const auto* m = object.if_contains("msg");
        const auto* t = object.if_contains("trace_id");
        if (m && t && m->is_string() && t->is_string() && m->as_string() == msg &&
            t->as_string() == trace_id) {
            found.push_back(object);
        }
    }
    return found;
}

std::string trace_id_of(const HttpReply& reply) {
    const auto header = reply.headers.find("traceparent");
    if (header == reply.headers.end()) return "no traceparent";
    const auto context = core::TraceContext::parse(header->second);
    return context ? context->trace_id() : "invalid traceparent " + header->second;
}

class TracingEndToEnd : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        // pg-sim runs in this process: its log lines (one access line per call) are captured here.
        gateway_log_ = new std::ostringstream;
        auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(*gateway_log_);
        sink->set_pattern("{%v");
        spdlog::default_logger()->sinks().push_back(sink);
        spdlog::default_logger()->set_level(spdlog::level::info);

        stack_ = std::make_unique<PrivateStack>(PrivateStack::Options{
            "--service=auth,queue,booking,wallet,payment", {{"MARQUEE_LOG_LEVEL", "info"}}});
    }
    static void TearDownTestSuite() {
        stack_.reset();
        spdlog::default_logger()->sinks().pop_back();
        delete gateway_log_;
        gateway_log_ = nullptr;
    }
    static std::uint16_t port() { return stack_->port(); }

    static inline std::unique_ptr<PrivateStack> stack_;
    static inline std::ostringstream* gateway_log_ = nullptr;
};

TEST_F(TracingEndToEnd, OnePurchaseCanBeFollowedByItsTraceIdAcrossServicesAndEvents) {
    EventTap events;
    const auto fan = admitted_fan(port(), 2, kPrice, stack_->database_url(), "trace-fan");
    const std::string trace_id = core::TraceContext::start().trace_id();

    // The hold, as a client span of the purchase's trace.
    Headers hold_headers = fan.headers;
    hold_headers["Content-Type"] = "application/json";
    hold_headers["traceparent"] = "00-" + trace_id + "-1111111111111111-01";
    const auto held = http_request(port(), "POST", "/api/v1/reservations",
                                   hold_body(fan.seats.schedule, {fan.seats.ids[0]}), hold_headers);
    ASSERT_EQ(held.status, 201u) << held.body;
    EXPECT_EQ(trace_id_of(held), trace_id);
    const std::string reservation(held.json().at("id").as_string());

    // The card payment, another client span of the same trace.
    Headers pay_headers = fan.headers;
    pay_headers["Content-Type"] = "application/json";
    pay_headers["Idempotency-Key"] = unique_name("trace-pay");
    pay_headers["traceparent"] = "00-" + trace_id + "-2222222222222222-01";
    const json::object pay{{"reservationId", reservation}, {"method", "CARD"}};
    const auto paid = http_request(port(), "POST", "/api/v1/payments", json::serialize(pay), pay_headers);
    ASSERT_EQ(paid.status, 201u) << paid.body;
    EXPECT_EQ(trace_id_of(paid), trace_id);
    const std::string payment(paid.json().at("id").as_string());

    // The events of the purchase carry the trace to their consumers.
    for (const auto& [subject, id] :
         std::vector<std::pair<std::string, std::string>>{{"marquee.reservation.held", reservation},
                                                          {"marquee.reservation.confirmed", reservation},
                                                          {"marquee.payment.approved", payment}}) {
        const std::string traceparent = events.traceparent_of(subject, id);
        const auto context = core::TraceContext::parse(traceparent);
        ASSERT_TRUE(context) << subject << ": " << traceparent;
        EXPECT_EQ(context->trace_id(), trace_id) << subject;
    }

    // The binary's access lines name the trace, each with a span of its own whose parent is the client's.
    // (Each access line is written before its response; the poll only covers the pipe's buffering.)
    std::vector<json::object> access;
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while ((access = lines_of(stack_->process().output(), "access", trace_id)).size() < 2 &&
           std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(50ms);
    }
    std::set<std::string> routes;
    std::set<std::string> parents;
    for (const auto& line : access) {
        routes.insert(std::string(line.at("route").as_string()));
        parents.insert(std::string(line.at("parent_span_id").as_string()));
        EXPECT_EQ(line.at("span_id").as_string().size(), 16u);
    }
    EXPECT_TRUE(routes.count("/api/v1/reservations")) << stack_->process().output();
    EXPECT_TRUE(routes.count("/api/v1/payments")) << stack_->process().output();
    EXPECT_EQ(parents, (std::set<std::string>{"1111111111111111", "2222222222222222"}));

    // The gateway received the trace as a child span of the payment request's span.
    const auto charged = lines_of(gateway_log_->str(), "access", trace_id);
    ASSERT_FALSE(charged.empty()) << gateway_log_->str();
    EXPECT_EQ(charged.front().at("route").as_string(), "/v1/payments");
    EXPECT_NE(charged.front().at("parent_span_id").as_string(), "2222222222222222");
}

TEST_F(TracingEndToEnd, AnInvalidTraceparentGetsAFreshTraceAndTheRequestIsServed) {
    const std::string upper = "00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-01";
    const auto reply = http_request(port(), "GET", "/healthz", {}, {{"traceparent", upper}});
    EXPECT_EQ(reply.status, 200u);
    const auto answered =
        core::TraceContext::parse(reply.headers.count("traceparent") ? reply.headers.at("traceparent") : "");
    ASSERT_TRUE(answered);
    EXPECT_NE(answered->trace_id(), "0af7651916cd43dd8448eb211c80319c");
    EXPECT_EQ(lines_of(stack_->process().output(), "access", answered->trace_id()).size(), 1u)
        << stack_->process().output();
}

}  // namespace
}  // namespace marquee::test
