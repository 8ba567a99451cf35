// The operations of api/openapi.yaml that no other e2e suite calls, called here so that the spec check
// (ADR 0024, tests/spec/validate.mjs) sees an answer of each: the admin endpoints through the real binary
// (the catalog suite makes its data with SQL), the availability stream's head, and the web app's files with
// GET, HEAD and a revalidation. Each test also asserts what the answer must be.
#include <filesystem>
#include <fstream>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "local_services.hpp"
#include "marquee_process.hpp"

namespace marquee::test {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace json = boost::json;

/// One request whose answer is read up to the end of its head only: a HEAD (no body follows) or an event
/// stream (the body never ends). Recorded for the spec check like http_request's answers.
HttpReply head_only(std::uint16_t port, const std::string& method, const std::string& target,
                    const std::map<std::string, std::string>& headers = {}) {
    asio::io_context ioc;
    beast::tcp_stream stream(ioc);
    stream.connect(asio::ip::tcp::endpoint{asio::ip::make_address("127.0.0.1"), port});
    const timeval timeout{10, 0};
    ::setsockopt(stream.socket().native_handle(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    bhttp::request<bhttp::empty_body> request{bhttp::string_to_verb(method), target, 11};
    request.set(bhttp::field::host, "127.0.0.1");
    request.set(bhttp::field::connection, "close");
    for (const auto& [k, v] : headers) request.set(k, v);
    bhttp::write(stream.socket(), request);
    beast::flat_buffer buffer;
    bhttp::response_parser<bhttp::string_body> parser;
    if (method == "HEAD") parser.skip(true);
    bhttp::read_header(stream.socket(), buffer, parser);
    HttpReply reply;
    reply.status = parser.get().result_int();
    for (const auto& field : parser.get()) {
        std::string name(field.name_string());
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        reply.headers[name] = std::string(field.value());
    }
    record_exchange(method, target, reply);
    return reply;
}

class SpecCoverageEndToEnd : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        web_dir_ =
            new std::filesystem::path(std::filesystem::temp_directory_path() / unique_name("spec_web"));
        std::filesystem::create_directories(*web_dir_ / "icons");
        std::ofstream(*web_dir_ / "index.html") << "<!doctype html><title>spec</title>\n";
        std::ofstream(*web_dir_ / "app.js") << "export const spec = 1;\n";
        std::ofstream(*web_dir_ / "icons" / "style.css") << "body { margin: 0; }\n";
        process_ = new MarqueeProcess({}, {{"MARQUEE_WEB_DIR", web_dir_->string()}});
    }
    static void TearDownTestSuite() {
        delete process_;
        process_ = nullptr;
        std::filesystem::remove_all(*web_dir_);
        delete web_dir_;
        web_dir_ = nullptr;
    }
    static std::uint16_t port() { return process_->port(); }

    static MarqueeProcess* process_;
    static std::filesystem::path* web_dir_;
};

MarqueeProcess* SpecCoverageEndToEnd::process_ = nullptr;
std::filesystem::path* SpecCoverageEndToEnd::web_dir_ = nullptr;

TEST_F(SpecCoverageEndToEnd, AnAdminMakesAConcertAScheduleAndItsSeatMapThenFansStreamItsAvailability) {
    const auto admin = new_admin(port(), "spec-admin");
    const auto concert =
        http_request(port(), "POST", "/api/v1/admin/concerts",
                     json::serialize(json::object{
                         {"title", unique_name("spec concert")}, {"artist", "A"}, {"venue", "V"}}),
                     admin);
    ASSERT_EQ(concert.status, 201u) << concert.body;
    const auto concert_id = concert.json().at("id").as_int64();

    const auto now = std::chrono::system_clock::now();
    const auto at = [&](std::chrono::hours offset) {
        const auto t = std::chrono::system_clock::to_time_t(now + offset);
        char text[32];
        std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
        return std::string(text);
    };
    const auto schedule =
        http_request(port(), "POST", "/api/v1/admin/concerts/" + std::to_string(concert_id) + "/schedules",
                     json::serialize(json::object{{"startsAt", at(std::chrono::hours(72))},
                                                  {"bookingOpensAt", at(std::chrono::hours(-1))},
                                                  {"bookingClosesAt", at(std::chrono::hours(48))},
                                                  {"ticketLimit", 2}}),
                     admin);
    ASSERT_EQ(schedule.status, 201u) << schedule.body;
    EXPECT_EQ(schedule.json().at("ticketLimit").as_int64(), 2);  // the per-fan ticket limit (ADR 0025)
    const auto schedule_id = std::to_string(schedule.json().at("id").as_int64());

    const std::string layout = json::serialize(json::object{
        {"zones",
         json::array{json::object{
             {"name", "R"}, {"price", 90000}, {"color", "#8e44ad"}, {"rows", 2}, {"seatsPerRow", 5}}}}});
    const auto map =
        http_request(port(), "POST", "/api/v1/admin/schedules/" + schedule_id + "/seat-map", layout, admin);
    EXPECT_EQ(map.status, 201u) << map.body;
    // A schedule has one seat map: a second is refused.
    const auto again =
        http_request(port(), "POST", "/api/v1/admin/schedules/" + schedule_id + "/seat-map", layout, admin);
    EXPECT_EQ(again.status, 409u) << again.body;

    // A fan may not use the admin endpoints.
    auto fan = new_fan(port(), "spec-fan");
    fan["Content-Type"] = "application/json";
    const auto refused =
        http_request(port(), "POST", "/api/v1/admin/concerts",
                     json::serialize(json::object{{"title", "T"}, {"artist", "A"}, {"venue", "V"}}), fan);
    EXPECT_EQ(refused.status, 403u) << refused.body;

    // The availability stream of the new schedule starts (its head; the stream itself does not end).
    const auto stream = head_only(port(), "GET", "/api/v1/schedules/" + schedule_id + "/availability/events");
    EXPECT_EQ(stream.status, 200u);
    EXPECT_EQ(stream.headers.count("content-type")
                  ? stream.headers.at("content-type").rfind("text/event-stream", 0)
                  : std::string::npos,
              0u);
    EXPECT_EQ(http_request(port(), "GET", "/api/v1/schedules/abc/availability/events").status, 400u);
}

TEST_F(SpecCoverageEndToEnd, TheWebAppsFilesWithGetHeadAndRevalidation) {
    for (const std::string target : {"/", "/app/app.js", "/app/icons/style.css"}) {
        const auto got = http_request(port(), "GET", target);
        EXPECT_EQ(got.status, 200u) << target;
        EXPECT_FALSE(got.body.empty()) << target;
        ASSERT_TRUE(got.headers.count("etag")) << target;
        const auto head = head_only(port(), "HEAD", target);
        EXPECT_EQ(head.status, 200u) << target;
        EXPECT_EQ(head.headers.count("etag") ? head.headers.at("etag") : "", got.headers.at("etag"))
            << target;
        // RFC 9110 section 8.6: a Content-Length on HEAD, if any, is the length GET sends.
        if (head.headers.count("content-length")) {
            EXPECT_EQ(head.headers.at("content-length"), std::to_string(got.body.size())) << target;
        }
        const auto same =
            http_request(port(), "GET", target, {}, {{"If-None-Match", got.headers.at("etag")}});
        EXPECT_EQ(same.status, 304u) << target;
        EXPECT_TRUE(same.body.empty()) << target;
    }
    // Nothing outside the folder, and no file that is not there.
    EXPECT_EQ(http_request(port(), "GET", "/app/%2e%2e/CMakeLists.txt").status, 404u);
    EXPECT_EQ(http_request(port(), "GET", "/app/missing.js").status, 404u);
}

}  // namespace
}  // namespace marquee::test
