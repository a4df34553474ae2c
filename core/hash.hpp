// Content hashes (SHA-256, HMAC-SHA256) on OpenSSL, returned as lowercase hex.
#pragma once

#include <string>
#include <string_view>

namespace boomer {

// sha256_hex returns the SHA-256 of `bytes` as 64 lowercase hex characters. Thread-safe.
std::string sha256_hex(std::string_view bytes);

// hmac_sha256_hex returns HMAC-SHA256(key, message) as lowercase hex. Thread-safe.
std::string hmac_sha256_hex(std::string_view key, std::string_view message);

// to_hex encodes bytes as lowercase hex.
std::string to_hex(std::string_view bytes);

}  // namespace boomer
