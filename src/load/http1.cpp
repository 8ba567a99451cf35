#include "load/http1.hpp"

#include <charconv>
#include <stdexcept>

namespace marquee::load {

namespace {

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; };
        if (lower(a[i]) != lower(b[i])) return false;
    }
    return true;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

[[noreturn]] void malformed(const std::string& what) {
    throw std::runtime_error("malformed HTTP response: " + what);
}

// Chunked body starting at `pos`; returns the end of the message or nullopt if incomplete.
std::optional<std::size_t> parse_chunked(std::string_view buffer, std::size_t pos, std::string& body) {
    body.clear();
    for (;;) {
        const auto eol = buffer.find("\r\n", pos);
        if (eol == std::string_view::npos) return std::nullopt;
        std::string_view size_text = buffer.substr(pos, eol - pos);
        if (const auto semi = size_text.find(';'); semi != std::string_view::npos) {
            size_text = size_text.substr(0, semi);
        }
        size_text = trim(size_text);
        std::size_t size = 0;
        const auto [end, ec] =
            std::from_chars(size_text.data(), size_text.data() + size_text.size(), size, 16);
        if (ec != std::errc() || end != size_text.data() + size_text.size() || size_text.empty()) {
            malformed("chunk size");
        }
        pos = eol + 2;
        if (size == 0) {
            // Trailers (none expected) end with an empty line.
            const auto last = buffer.find("\r\n", pos);
            if (last == std::string_view::npos) return std::nullopt;
            if (last == pos) return pos + 2;
            const auto trailer_end = buffer.find("\r\n\r\n", pos);
            if (trailer_end == std::string_view::npos) return std::nullopt;
            return trailer_end + 4;
        }
        if (buffer.size() < pos + size + 2) return std::nullopt;
        body.append(buffer.substr(pos, size));
        pos += size + 2;
    }
}

}  // namespace

std::optional<std::string_view> Response::header(std::string_view name) const {
    for (const auto& [key, value] : headers) {
        if (iequals(key, name)) return std::string_view(value);
    }
    return std::nullopt;
}

std::string format_request(std::string_view method, std::string_view target, std::string_view host,
                           const Headers& headers, std::string_view body) {
    std::string out;
    out.reserve(128 + target.size() + body.size());
    out.append(method).append(" ").append(target).append(" HTTP/1.1\r\nHost: ").append(host).append("\r\n");
    for (const auto& [name, value] : headers) out.append(name).append(": ").append(value).append("\r\n");
    if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
        if (!body.empty()) out.append("Content-Type: application/json\r\n");
        out.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
    }
    out.append("\r\n").append(body);
    return out;
}

std::optional<std::size_t> parse_response(std::string_view buffer, Response& out) {
    const auto head_end = buffer.find("\r\n\r\n");
    if (head_end == std::string_view::npos) {
        if (buffer.size() > std::size_t{64} * 1024) malformed("head over 64 KiB");
        return std::nullopt;
    }
    const std::string_view head = buffer.substr(0, head_end);
    const auto first_eol = head.find("\r\n");
    const std::string_view status_line = head.substr(0, first_eol);
    if (status_line.size() < 12 || status_line.substr(0, 7) != "HTTP/1.") malformed("status line");
    unsigned status = 0;
    const auto [end, ec] = std::from_chars(status_line.data() + 9, status_line.data() + 12, status);
    if (ec != std::errc() || end != status_line.data() + 12 || status < 100 || status > 599) {
        malformed("status code");
    }

    Response response;
    response.status = status;
    response.keep_alive = status_line.substr(0, 8) == "HTTP/1.1";
    std::optional<std::size_t> content_length;
    bool chunked = false;
    std::size_t pos = first_eol == std::string_view::npos ? head.size() : first_eol + 2;
    while (pos < head.size()) {
        auto eol = head.find("\r\n", pos);
        if (eol == std::string_view::npos) eol = head.size();
        const std::string_view line = head.substr(pos, eol - pos);
        pos = eol + 2;
        const auto colon = line.find(':');
        if (colon == std::string_view::npos || colon == 0) malformed("header line");
        const std::string_view name = line.substr(0, colon);
        const std::string_view value = trim(line.substr(colon + 1));
        if (iequals(name, "content-length")) {
            std::size_t length = 0;
            const auto [e, err] = std::from_chars(value.data(), value.data() + value.size(), length);
            if (err != std::errc() || e != value.data() + value.size()) malformed("Content-Length");
            content_length = length;
        } else if (iequals(name, "transfer-encoding")) {
            chunked = value.find("chunked") != std::string_view::npos;
        } else if (iequals(name, "connection")) {
            if (iequals(value, "close")) response.keep_alive = false;
            if (iequals(value, "keep-alive")) response.keep_alive = true;
        }
        response.headers.emplace_back(name, value);
    }

    const std::size_t body_start = head_end + 4;
    std::size_t message_end = body_start;
    if (status < 200 || status == 204 || status == 304) {
        // no body
    } else if (chunked) {
        const auto done = parse_chunked(buffer, body_start, response.body);
        if (!done) return std::nullopt;
        message_end = *done;
    } else if (content_length) {
        if (buffer.size() < body_start + *content_length) return std::nullopt;
        response.body.assign(buffer.substr(body_start, *content_length));
        message_end = body_start + *content_length;
    } else {
        malformed("a body with neither Content-Length nor chunked encoding");
    }
    out = std::move(response);
    return message_end;
}

}  // namespace marquee::load
