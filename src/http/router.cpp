#include "http/router.hpp"

#include <algorithm>
#include <stdexcept>

#include <boost/url/pct_string_view.hpp>

namespace marquee::http {

struct Router::Node {
    std::map<std::string, std::unique_ptr<Node>, std::less<>> literals;
    std::unique_ptr<Node> param;
    struct Endpoint {
        std::string pattern;
        Handler handler;
        std::vector<std::string> param_names;  ///< in path order: routes may name one position differently
    };
    std::map<std::string, Endpoint, std::less<>> endpoints;  // by method
};

namespace {

std::vector<std::string_view> split(std::string_view path) {
    std::vector<std::string_view> segments;
    // The leading '/' is required; an empty path or one without it never matches.
    std::size_t start = 1;
    while (start <= path.size()) {
        const auto slash = std::min(path.find('/', start), path.size());
        segments.push_back(path.substr(start, slash - start));
        start = slash + 1;
    }
    return segments;
}

bool is_param(std::string_view segment) {
    return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

}  // namespace

Router::Router() : root_(std::make_unique<Node>()) {}
Router::~Router() = default;
Router::Router(Router&&) noexcept = default;
Router& Router::operator=(Router&&) noexcept = default;

void Router::add(std::string_view method, std::string_view pattern, Handler handler) {
    if (pattern.empty() || pattern.front() != '/') {
        throw std::invalid_argument("route pattern must start with '/': " + std::string(pattern));
    }
    Node* node = root_.get();
    std::vector<std::string> param_names;
    if (pattern != "/") {
        for (const auto segment : split(pattern)) {
            if (segment.empty()) {
                throw std::invalid_argument("empty segment in route " + std::string(pattern));
            }
            if (is_param(segment)) {
                param_names.emplace_back(segment.substr(1, segment.size() - 2));
                if (!node->param) node->param = std::make_unique<Node>();
                node = node->param.get();
            } else {
                if (segment.find_first_of("{}") != std::string_view::npos) {
                    throw std::invalid_argument("malformed segment in route " + std::string(pattern));
                }
                auto& child = node->literals[std::string(segment)];
                if (!child) child = std::make_unique<Node>();
                node = child.get();
            }
        }
    }
    const auto [it, inserted] = node->endpoints.try_emplace(
        std::string(method),
        Node::Endpoint{std::string(pattern), std::move(handler), std::move(param_names)});
    if (!inserted) {
        throw std::invalid_argument("route added twice: " + std::string(method) + " " + std::string(pattern));
    }
}

namespace {

using RawParams = std::vector<std::string_view>;  // values in path order; the endpoint names them

// Depth-first: a literal beats a parameter, and we fall back to the parameter when the literal branch
// dead-ends (e.g. "/concerts/popular" vs "/concerts/{id}/schedules"). Depth is the number of segments.
template <typename NodeT>
const NodeT* find_node(const NodeT* node, const std::vector<std::string_view>& segments, std::size_t depth,
                       RawParams& params) {
    if (depth == segments.size()) return node->endpoints.empty() ? nullptr : node;
    const auto segment = segments[depth];
    if (segment.empty()) return nullptr;  // "//" or a trailing '/' never matches
    if (const auto it = node->literals.find(segment); it != node->literals.end()) {
        if (const auto* found = find_node(it->second.get(), segments, depth + 1, params)) return found;
    }
    if (node->param) {
        params.push_back(segment);
        if (const auto* found = find_node(node->param.get(), segments, depth + 1, params)) return found;
        params.pop_back();
    }
    return nullptr;
}

}  // namespace

Router::Match Router::match(std::string_view method, std::string_view path) const {
    Match result;
    if (path.empty() || path.front() != '/') {
        result.outcome = Match::Outcome::BadPath;
        return result;
    }
    RawParams raw;
    const Node* found = path == "/" ? (root_->endpoints.empty() ? nullptr : root_.get())
                                    : find_node(root_.get(), split(path), 0, raw);
    if (found == nullptr) {
        result.outcome = Match::Outcome::NotFound;
        return result;
    }
    const auto it = found->endpoints.find(method);
    if (it == found->endpoints.end()) {
        result.outcome = Match::Outcome::MethodNotAllowed;
        for (const auto& [m, endpoint] : found->endpoints) result.allowed.push_back(m);
        return result;
    }
    const auto& names = it->second.param_names;
    for (std::size_t i = 0; i < raw.size(); ++i) {
        const auto valid = boost::urls::make_pct_string_view(raw[i]);
        if (!valid) {
            result.outcome = Match::Outcome::BadPath;
            return result;
        }
        result.params.emplace_back(names[i], valid->decode());
    }
    result.outcome = Match::Outcome::Found;
    result.handler = &it->second.handler;
    result.pattern = it->second.pattern;
    return result;
}

namespace {

template <typename NodeT>
void collect(const NodeT& node, std::vector<std::pair<std::string, std::string>>& out) {
    for (const auto& [method, endpoint] : node.endpoints) out.emplace_back(method, endpoint.pattern);
    for (const auto& [segment, child] : node.literals) collect(*child, out);
    if (node.param) collect(*node.param, out);
}

}  // namespace

std::vector<std::pair<std::string, std::string>> Router::routes() const {
    std::vector<std::pair<std::string, std::string>> out;
    collect(*root_, out);
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
        return a.second != b.second ? a.second < b.second : a.first < b.first;
    });
    return out;
}

}  // namespace marquee::http
