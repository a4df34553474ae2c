// Small-object shots for the tests of unsure perceptual hashes: a photo shrunk and centred on a
// large plain canvas, the way a small item photographed from afar on a backdrop looks.
#pragma once

#include <string>

namespace boomer::test {

// on_plain_canvas returns a JPEG (quality 90) of `photo` (any format OpenCV reads) scaled so that
// its long edge is `long_edge` px, centred on a 1200x1200 canvas of grey #f4f4f4. Precondition:
// 0 < long_edge <= 1200. Errors: std::runtime_error when `photo` cannot be decoded.
std::string on_plain_canvas(const std::string& photo, int long_edge);

}  // namespace boomer::test
