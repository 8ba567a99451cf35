#pragma once

#include <string>

#include "core/config.hpp"

namespace marquee::queue {

/// ADR 0026: the queue secret, which seeds the pre-queue shuffle and signs proof-of-work challenges. Every
/// queue replica must have the same one (a challenge issued by one is verified by another; the shuffle must
/// be reproducible for an audit). In order: the bytes of --queue-secret-file (surrounding whitespace trimmed;
/// at least 16 bytes, or core::ConfigError); else HMAC-SHA256 of the JWT private key file's bytes under a
/// fixed label, so one deployment's replicas that sign tokens agree without another setting; else 32 random
/// bytes for this process alone (a warning says so: challenges then verify only where they were issued).
std::string load_queue_secret(const core::Config& config);

}  // namespace marquee::queue
