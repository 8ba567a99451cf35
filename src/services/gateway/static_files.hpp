#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "http/response.hpp"

namespace marquee::gateway {

/// The media type for a file name by its extension (text types with charset=utf-8); unknown ones are
/// application/octet-stream, which browsers never run or render.
std::string content_type_for(std::string_view file_name);

/// A strong entity tag for a representation: a quoted 64-bit FNV-1a hash of the bytes (RFC 9110
/// section 8.8.3).
std::string entity_tag(std::string_view bytes);

/// True when an If-None-Match value (a list of tags, or `*`) names `etag` by the weak comparison GET uses
/// (RFC 9110 section 13.1.2).
bool none_match(std::string_view if_none_match, std::string_view etag);

/// Serves the files of one folder, read-only: the web app (issue 9). Only names that stay inside the root
/// are served: every segment is checked (no empty, `.`, `..`, hidden or backslash segment, no NUL), and the
/// resolved path, symlinks followed, must still lie under the canonical root. Files are read on each request
/// (they are small), so an edited file is served at once; the ETag lets browsers revalidate cheaply.
class StaticFiles {
  public:
    /// Throws std::runtime_error when `root` is not a readable folder.
    explicit StaticFiles(const std::filesystem::path& root);

    /// The file a request-relative `name` (segments separated by '/', already percent-decoded) names, or
    /// nullopt when it is outside the root, hidden, not a regular file or absent.
    std::optional<std::filesystem::path> find(std::string_view name) const;

    /// The response for GET (`head` false) or HEAD of `name`: 200 with the bytes (none for HEAD), or 304 when
    /// `if_none_match` names the current ETag. Throws core::Problem 404 for anything find() refuses.
    http::Response serve(std::string_view name, std::optional<std::string_view> if_none_match,
                         bool head) const;

    const std::filesystem::path& root() const noexcept { return root_; }

  private:
    std::filesystem::path root_;  ///< canonical
};

}  // namespace marquee::gateway
