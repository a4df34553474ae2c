// The stable failure codes the image module returns in boomer::failure::code. The API maps them
// to problem types; metrics use them as labels.
#pragma once

#include <string_view>

namespace boomer::image::codes {

// The image has more pixels than normalize_limits::max_pixels allows; refused before decoding.
inline constexpr std::string_view too_many_pixels = "too_many_pixels";

// The bytes are not an image format we decode, or a variant of one we do not (12-bit JPEG,
// animated WebP, ...).
inline constexpr std::string_view unsupported_format = "unsupported_format";

// The bytes claim a known format but are truncated or damaged.
inline constexpr std::string_view corrupt_image = "corrupt_image";

}  // namespace boomer::image::codes
