// Internal to boomer_image: the HEIF-family (HEIC, HEIF, AVIF) header read that probe needs,
// kept apart so probe.cpp does not depend on libheif's header.
#pragma once

#include <optional>
#include <string_view>
#include <utility>

namespace boomer::image::detail {

// heif_primary_size returns the primary image's (width, height) after its transforms (rotation,
// mirror, crop), read from the item properties without decoding pixels; nullopt when libheif
// cannot parse the boxes. Thread-safe.
std::optional<std::pair<int, int>> heif_primary_size(std::string_view bytes);

}  // namespace boomer::image::detail
