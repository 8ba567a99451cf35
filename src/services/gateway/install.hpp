#pragma once

#include <memory>

#include "core/config.hpp"
#include "http/router.hpp"

namespace marquee::gateway {

/// Serves the web app (issue 9) from `config.web_dir` when it is set: `GET|HEAD /` is its index.html and
/// `GET|HEAD /app/{file}` (and `/app/{folder}/{file}`) its other files. Nothing when `web_dir` is empty.
/// Returns what must stay alive while the server runs (null when nothing was installed). Throws
/// std::runtime_error when `web_dir` is set but is not a folder, so a wrong path fails the start.
std::shared_ptr<void> install(const core::Config& config, http::Router& router);

}  // namespace marquee::gateway
