#include "services/gateway/install.hpp"

#include <string>
#include <utility>

#include <boost/asio/awaitable.hpp>

#include "core/log.hpp"
#include "services/gateway/static_files.hpp"

namespace marquee::gateway {

namespace {

namespace asio = boost::asio;

class Routes {
  public:
    explicit Routes(StaticFiles files) : files_(std::move(files)) {}

    void add_to(http::Router& router) {
        for (const char* method : {"GET", "HEAD"}) {
            router.add(method, "/", [this](http::Context& ctx) { return index(ctx); });
            router.add(method, "/app/{file}", [this](http::Context& ctx) { return file(ctx); });
            router.add(method, "/app/{folder}/{file}", [this](http::Context& ctx) { return nested(ctx); });
        }
    }

  private:
    // GET / : the app's entry page.
    asio::awaitable<http::Response> index(http::Context& ctx) { co_return serve(ctx, "index.html"); }

    // GET /app/{file}: a file at the top of the web folder. The router has percent-decoded the name, so
    // `%2e%2e` arrives as ".." and `%2f` as '/'; StaticFiles refuses both.
    asio::awaitable<http::Response> file(http::Context& ctx) {
        co_return serve(ctx, std::string(ctx.param("file")));
    }

    asio::awaitable<http::Response> nested(http::Context& ctx) {
        co_return serve(ctx, std::string(ctx.param("folder")) + "/" + std::string(ctx.param("file")));
    }

    http::Response serve(const http::Context& ctx, const std::string& name) const {
        return files_.serve(name, ctx.header("If-None-Match"), ctx.method() == "HEAD");
    }

    StaticFiles files_;
};

}  // namespace

std::shared_ptr<void> install(const core::Config& config, http::Router& router) {
    if (config.web_dir.empty()) return nullptr;
    auto routes = std::make_shared<Routes>(StaticFiles(config.web_dir));
    routes->add_to(router);
    core::log_info("serving the web app", {{"web_dir", config.web_dir}});
    return routes;
}

}  // namespace marquee::gateway
