// Reads the EXIF orientation tag (how the stored pixels must be turned to display upright) from
// JPEG APP1 segments, WebP EXIF chunks and raw TIFF/EXIF blocks. A small bounded parser of our
// own: it reads only IFD0 and never leaves the bytes it is given.
#pragma once

#include <string_view>

namespace boomer::image {

// tiff_orientation returns the Orientation tag (0x0112) of IFD0 in a TIFF structure (the payload
// of an EXIF block after its "Exif\0\0" prefix): 1..8, or 1 when the tag is absent, malformed or
// out of range. Thread-safe; `tiff` need only live during the call.
int tiff_orientation(std::string_view tiff);

// jpeg_exif_orientation walks a JPEG's segments up to the first scan and returns the orientation
// of the first APP1 "Exif" segment, or 1 when there is none. Thread-safe.
int jpeg_exif_orientation(std::string_view jpeg);

// webp_exif_orientation returns the orientation in a WebP file's EXIF chunk, or 1 when there is
// none. Thread-safe.
int webp_exif_orientation(std::string_view webp);

}  // namespace boomer::image
