// What the fake Anthropic server checks in an image block: strict base64, the real type of the
// bytes from their magic numbers, and the pixel size from the headers, without decoding pixels.
// Written independently of pipeline/image so that the fake does not share the client's bugs.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace boomer::fakes {

// base64_decode reads standard base64 with '=' padding and no whitespace; empty on any error
// (bad character, bad length, bad padding, non-zero bits after the last byte).
std::optional<std::string> base64_decode(std::string_view text);

struct sniffed_image {
    std::string media_type;  // image/jpeg, image/png, image/gif, image/webp
    int width = 0;
    int height = 0;
};

// sniff_media_type returns the media type the magic bytes say, or empty for none of the four.
std::string sniff_media_type(std::string_view bytes);

// sniff_image returns the type and dimensions from the file headers; empty when the type is
// unknown or the headers are truncated or inconsistent (the API's "Could not process image").
std::optional<sniffed_image> sniff_image(std::string_view bytes);

}  // namespace boomer::fakes
