#include "services/gateway/static_files.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "core/problem.hpp"

namespace marquee::gateway {

namespace fs = std::filesystem;

namespace {

// Every file is revalidated (its ETag makes that a 304 with no body): the names carry no content hash, so a
// cached copy must never outlive an edit.
constexpr std::string_view kCacheControl = "no-cache";
// The app loads only its own files and talks only to its own origin; nothing inline, no framing.
constexpr std::string_view kContentSecurityPolicy =
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

bool is_safe_segment(std::string_view segment) {
    if (segment.empty() || segment.front() == '.') return false;  // also ".", ".." and hidden files
    for (const char c : segment) {
        if (c == '\\' || c == '\0' || c == ':') return false;
    }
    return true;
}

std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw core::Problem::not_found("no such file");
    std::ostringstream bytes;
    bytes << in.rdbuf();
    return std::move(bytes).str();
}

std::string_view trim(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
    return text;
}

}  // namespace

std::string content_type_for(std::string_view file_name) {
    static constexpr std::array<std::pair<std::string_view, std::string_view>, 12> kTypes = {{
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".json", "application/json"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
        {".webp", "image/webp"},
        {".woff2", "font/woff2"},
        {".txt", "text/plain; charset=utf-8"},
        {".map", "application/json"},
    }};
    const auto dot = file_name.rfind('.');
    if (dot != std::string_view::npos) {
        std::string extension(file_name.substr(dot));
        for (auto& c : extension) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        for (const auto& [ext, type] : kTypes) {
            if (extension == ext) return std::string(type);
        }
    }
    return "application/octet-stream";
}

std::string entity_tag(std::string_view bytes) {
    std::uint64_t hash = 14695981039346656037ull;
    for (const char c : bytes) {
        hash ^= static_cast<unsigned char>(c);
        hash *= 1099511628211ull;
    }
    static constexpr char kHex[] = "0123456789abcdef";
    std::string tag(18, '"');
    for (int i = 0; i < 16; ++i) tag[static_cast<std::size_t>(16 - i)] = kHex[(hash >> (4 * i)) & 0xf];
    return tag;
}

bool none_match(std::string_view if_none_match, std::string_view etag) {
    const auto opaque = [](std::string_view tag) {
        tag = trim(tag);
        if (tag.starts_with("W/")) tag.remove_prefix(2);
        return tag;
    };
    while (!if_none_match.empty()) {
        const auto comma = if_none_match.find(',');
        const auto item = trim(if_none_match.substr(0, comma));
        if (item == "*" || (!item.empty() && opaque(item) == opaque(etag))) return true;
        if (comma == std::string_view::npos) break;
        if_none_match.remove_prefix(comma + 1);
    }
    return false;
}

StaticFiles::StaticFiles(const fs::path& root) {
    std::error_code ec;
    root_ = fs::canonical(root, ec);
    if (ec || !fs::is_directory(root_, ec)) {
        throw std::runtime_error("web folder " + root.string() + " is not a readable folder");
    }
}

std::optional<fs::path> StaticFiles::find(std::string_view name) const {
    fs::path candidate = root_;
    std::string_view rest = name;
    while (true) {
        const auto slash = rest.find('/');
        const auto segment = rest.substr(0, slash);
        if (!is_safe_segment(segment)) return std::nullopt;
        candidate /= fs::path(std::string(segment));
        if (slash == std::string_view::npos) break;
        rest.remove_prefix(slash + 1);
    }
    // Symlinks are followed, then the result must still be inside the root: a link out of it is refused.
    std::error_code ec;
    const fs::path resolved = fs::canonical(candidate, ec);
    if (ec || !fs::is_regular_file(resolved, ec)) return std::nullopt;
    const auto [root_end, ignored] =
        std::mismatch(root_.begin(), root_.end(), resolved.begin(), resolved.end());
    if (root_end != root_.end()) return std::nullopt;
    return resolved;
}

http::Response StaticFiles::serve(std::string_view name, std::optional<std::string_view> if_none_match,
                                  bool head) const {
    const auto path = find(name);
    if (!path) throw core::Problem::not_found("no such file: " + std::string(name));
    std::string bytes = read_file(*path);
    const std::string etag = entity_tag(bytes);
    http::Response response;
    response.headers.emplace_back("ETag", etag);
    response.headers.emplace_back("Cache-Control", std::string(kCacheControl));
    response.headers.emplace_back("X-Content-Type-Options", "nosniff");
    if (if_none_match && none_match(*if_none_match, etag)) {
        response.status = 304;
        response.content_type.clear();
        return response;
    }
    response.content_type = content_type_for(path->filename().string());
    if (response.content_type.starts_with("text/html")) {
        response.headers.emplace_back("Content-Security-Policy", std::string(kContentSecurityPolicy));
    }
    if (!head) response.body = std::move(bytes);
    return response;
}

}  // namespace marquee::gateway
