#include "services/gateway/static_files.hpp"

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/config.hpp"
#include "core/problem.hpp"
#include "http/router.hpp"
#include "local_services.hpp"

namespace marquee::gateway {
namespace {

namespace fs = std::filesystem;

std::string header_of(const http::Response& response, std::string_view name) {
    for (const auto& [key, value] : response.headers) {
        if (key == name) return value;
    }
    return {};
}

void write(const fs::path& path, const std::string& text) {
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << text;
}

/// A web folder of its own under the temp directory, with a secret beside it (outside the root).
class StaticFilesTest : public ::testing::Test {
  protected:
    void SetUp() override {
        base_ = fs::temp_directory_path() / test::unique_name("static_files");
        root_ = base_ / "web";
        write(root_ / "index.html", "<!doctype html><title>Marquee</title>");
        write(root_ / "app.js", "export const x = 1;\n");
        write(root_ / "style.css", "body{}");
        write(root_ / "i18n" / "ko.json", "{}");
        write(root_ / ".env", "SECRET=1");
        write(base_ / "secret.txt", "top secret");
        fs::create_symlink(base_ / "secret.txt", root_ / "link.txt");
        fs::create_directory_symlink(base_, root_ / "up");
    }
    void TearDown() override { fs::remove_all(base_); }

    fs::path base_;
    fs::path root_;
};

TEST_F(StaticFilesTest, ServesAFileWithItsTypeAndAStrongEtag) {
    const StaticFiles files(root_);
    const auto response = files.serve("index.html", std::nullopt, false);
    EXPECT_EQ(response.status, 200u);
    EXPECT_EQ(response.content_type, "text/html; charset=utf-8");
    EXPECT_EQ(response.body, "<!doctype html><title>Marquee</title>");
    EXPECT_EQ(header_of(response, "ETag"), entity_tag(response.body));
    EXPECT_EQ(header_of(response, "Cache-Control"), "no-cache");
    EXPECT_EQ(header_of(response, "X-Content-Type-Options"), "nosniff");
    EXPECT_NE(header_of(response, "Content-Security-Policy").find("default-src 'self'"), std::string::npos);
    EXPECT_EQ(files.serve("app.js", std::nullopt, false).content_type, "text/javascript; charset=utf-8");
    EXPECT_EQ(files.serve("style.css", std::nullopt, false).content_type, "text/css; charset=utf-8");
}

TEST_F(StaticFilesTest, AnswersNotModifiedWhenIfNoneMatchNamesTheEtag) {
    const StaticFiles files(root_);
    const auto etag = header_of(files.serve("app.js", std::nullopt, false), "ETag");
    const auto again = files.serve("app.js", "\"0000000000000000\", " + etag, false);
    EXPECT_EQ(again.status, 304u);
    EXPECT_TRUE(again.body.empty());
    EXPECT_EQ(header_of(again, "ETag"), etag);
    EXPECT_EQ(files.serve("app.js", std::string("\"0000000000000000\""), false).status, 200u);
}

TEST_F(StaticFilesTest, HeadHasTheHeadersButNoBody) {
    const StaticFiles files(root_);
    const auto response = files.serve("app.js", std::nullopt, true);
    EXPECT_EQ(response.status, 200u);
    EXPECT_TRUE(response.body.empty());
    EXPECT_EQ(header_of(response, "ETag"), entity_tag("export const x = 1;\n"));
}

TEST_F(StaticFilesTest, ServesAFileInASubfolder) {
    const StaticFiles files(root_);
    EXPECT_EQ(files.serve("i18n/ko.json", std::nullopt, false).content_type, "application/json");
}

TEST_F(StaticFilesTest, RefusesDotSegmentsAbsolutePathsAndHiddenFiles) {
    const StaticFiles files(root_);
    const std::vector<std::string> refused = {"..",
                                              "../secret.txt",
                                              "i18n/../../secret.txt",
                                              "./index.html",
                                              "/etc/passwd",
                                              "",
                                              "i18n/",
                                              "i18n//ko.json",
                                              ".env",
                                              "..\\secret.txt",
                                              std::string("index.html\0x", 12),
                                              "C:secret"};
    for (const auto& name : refused) {
        EXPECT_FALSE(files.find(name)) << name;
    }
}

TEST_F(StaticFilesTest, RefusesSymlinksThatLeaveTheRoot) {
    const StaticFiles files(root_);
    EXPECT_FALSE(files.find("link.txt"));
    EXPECT_FALSE(files.find("up/secret.txt"));
}

TEST_F(StaticFilesTest, RefusesFoldersAndMissingFiles) {
    const StaticFiles files(root_);
    EXPECT_FALSE(files.find("i18n"));
    EXPECT_FALSE(files.find("missing.js"));
}

TEST_F(StaticFilesTest, PercentEncodedTraversalIsDecodedByTheRouterThenRefused) {
    const StaticFiles files(root_);
    http::Router router;
    router.get("/app/{file}", [](http::Context&) -> boost::asio::awaitable<http::Response> {
        co_return http::no_content();
    });
    for (const std::string path : {"/app/%2e%2e", "/app/%2E%2E%2Fsecret.txt", "/app/..%2fsecret.txt",
                                   "/app/%2fetc%2fpasswd", "/app/%00"}) {
        const auto match = router.match("GET", path);
        ASSERT_EQ(match.outcome, http::Router::Match::Outcome::Found) << path;
        ASSERT_EQ(match.params.size(), 1u);
        EXPECT_FALSE(files.find(match.params.front().second)) << path;
    }
}

TEST_F(StaticFilesTest, ServeOfARefusedNameIsA404Problem) {
    const StaticFiles files(root_);
    try {
        (void)files.serve("../secret.txt", std::nullopt, false);
        FAIL() << "no problem thrown";
    } catch (const core::Problem& problem) {
        EXPECT_EQ(problem.status(), 404);
        EXPECT_EQ(problem.type(), "not-found");
    }
}

TEST_F(StaticFilesTest, AMissingRootFailsTheStart) {
    EXPECT_THROW(StaticFiles(base_ / "nothing"), std::runtime_error);
}

TEST(StaticFileTypes, KnownExtensionsGetTheirTypeAndTheRestAreOctetStream) {
    EXPECT_EQ(content_type_for("a.PNG"), "image/png");
    EXPECT_EQ(content_type_for("a.svg"), "image/svg+xml");
    EXPECT_EQ(content_type_for("a.mjs"), "text/javascript; charset=utf-8");
    EXPECT_EQ(content_type_for("a.exe"), "application/octet-stream");
    EXPECT_EQ(content_type_for("Makefile"), "application/octet-stream");
}

TEST(StaticFileTags, IfNoneMatchComparesWeaklyAndAcceptsAStar) {
    const std::string tag = entity_tag("abc");
    EXPECT_EQ(tag.size(), 18u);
    EXPECT_EQ(tag.front(), '"');
    EXPECT_NE(entity_tag("abd"), tag);
    EXPECT_TRUE(none_match(tag, tag));
    EXPECT_TRUE(none_match("W/" + tag, tag));
    EXPECT_TRUE(none_match("\"x\" ,  " + tag, tag));
    EXPECT_TRUE(none_match("*", tag));
    EXPECT_FALSE(none_match("\"x\"", tag));
    EXPECT_FALSE(none_match("", tag));
}

TEST(GatewayConfig, WebDirComesFromTheFlagOrTheEnvironmentAndIsEmptyByDefault) {
    const auto none = [](std::string_view) -> std::optional<std::string> { return std::nullopt; };
    const auto env = [](std::string_view name) -> std::optional<std::string> {
        if (name == "MARQUEE_WEB_DIR") return std::string("/srv/web");
        return std::nullopt;
    };
    EXPECT_EQ(core::parse_config({}, none)->web_dir, "");
    EXPECT_EQ(core::parse_config({}, env)->web_dir, "/srv/web");
    EXPECT_EQ(core::parse_config({"--web-dir=web"}, env)->web_dir, "web");
}

}  // namespace
}  // namespace marquee::gateway
