#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "http/context.hpp"
#include "http/response.hpp"

namespace marquee::http {

/// A route handler. Not itself a coroutine lambda capturing by reference: it returns the awaitable of a
/// member function, and the session keeps `Context` alive until that awaitable completes.
using Handler = std::function<boost::asio::awaitable<Response>(Context&)>;

/// Maps (method, path pattern) to handlers. Patterns are literal segments and `{name}` parameters,
/// e.g. "/api/v1/concerts/{id}/schedules". A literal segment wins over a parameter at the same depth.
/// Routes are added at start-up, before serving; matching is then read-only and thread-safe.
class Router {
  public:
    Router();
    ~Router();
    Router(Router&&) noexcept;
    Router& operator=(Router&&) noexcept;

    /// Throws std::invalid_argument for a malformed pattern or a route added twice.
    void add(std::string_view method, std::string_view pattern, Handler handler);
    void get(std::string_view pattern, Handler handler) { add("GET", pattern, std::move(handler)); }
    void post(std::string_view pattern, Handler handler) { add("POST", pattern, std::move(handler)); }
    void put(std::string_view pattern, Handler handler) { add("PUT", pattern, std::move(handler)); }
    void patch(std::string_view pattern, Handler handler) { add("PATCH", pattern, std::move(handler)); }
    void del(std::string_view pattern, Handler handler) { add("DELETE", pattern, std::move(handler)); }

    struct Match {
        enum class Outcome { Found, NotFound, MethodNotAllowed, BadPath };
        Outcome outcome = Outcome::NotFound;
        const Handler* handler = nullptr;
        std::string_view pattern;
        Fields params;
        std::vector<std::string> allowed;  ///< for 405: the methods the path does accept
    };

    /// `path` is the percent-encoded path without the query; parameters come back decoded.
    Match match(std::string_view method, std::string_view path) const;

    /// Every (method, pattern), sorted: for start-up logs and tests.
    std::vector<std::pair<std::string, std::string>> routes() const;

  private:
    struct Node;
    std::unique_ptr<Node> root_;
};

}  // namespace marquee::http
