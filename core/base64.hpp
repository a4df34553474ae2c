// Base64 (RFC 4648 section 4, the standard alphabet) for photos sent inside JSON requests.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace boomer {

// base64_encode writes `bytes` in standard base64 with '=' padding. Thread-safe.
std::string base64_encode(std::string_view bytes);

// base64_decoded_size_bound returns an upper bound of the bytes `encoded_size` characters of
// base64 decode to, so that an oversized photo is refused before it is decoded.
std::size_t base64_decoded_size_bound(std::size_t encoded_size);

// base64_decode reads standard base64. ASCII whitespace (line breaks of MIME-style encoders) is
// skipped; '=' padding is optional, but when present it must complete the last group. Returns
// nothing on any other character, a lone trailing character, or non-zero bits after the last
// byte. Thread-safe.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace boomer
