// Identifies an image file from its first bytes and reads its declared pixel size without
// decoding pixels. Runs at intake on untrusted uploads, so it reads only headers and never
// past the end of the bytes.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace boomer::image {

// The file formats we recognise. heic is HEVC-coded HEIF, heif is any other HEIF brand
// (mif1/msf1 without an HEVC brand), avif is AV1-coded HEIF.
enum class image_format { unknown, jpeg, png, webp, gif, heic, heif, avif };

// What probe learned from a file's headers.
struct probe_info {
    image_format format = image_format::unknown;
    int width = 0;   // as declared by the file, before any EXIF orientation
    int height = 0;  // for HEIF family: of the primary image after its transforms
    std::string media_type;
};

// media_type returns the IANA media type of `format` ("image/jpeg", ...), or
// "application/octet-stream" for unknown. Thread-safe.
std::string_view media_type(image_format format);

// format_name returns a short lowercase name ("jpeg", "png", ...; "unknown"). Thread-safe.
std::string_view format_name(image_format format);

// sniff_format identifies the format from magic bytes alone (JPEG SOI, PNG signature, RIFF/WEBP,
// GIF87a/89a, ISO-BMFF ftyp brands). It does not check that the rest of the header is sound.
// Returns image_format::unknown when the bytes match none. Thread-safe.
image_format sniff_format(std::string_view bytes);

// probe identifies the format and reads the declared width and height: JPEG from the first SOFn
// segment, PNG from IHDR, GIF from the logical screen, WebP from the VP8/VP8L/VP8X header, HEIF
// family from the primary image's properties (via libheif, which reads boxes, not pixels).
// Returns nullopt when the format is not recognised or its header is missing, truncated or
// declares a zero size. Never reads outside `bytes`, which need only live during the call.
// Thread-safe.
std::optional<probe_info> probe(std::string_view bytes);

}  // namespace boomer::image
