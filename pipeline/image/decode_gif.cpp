// GIF decoding with giflib (OpenCV 4.6 has no GIF reader): the first frame only, drawn on a
// white canvas the size of the logical screen, transparent pixels left white.
#include <gif_lib.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "fmt/format.h"
#include "pipeline/image/detail/decode.hpp"
#include "pipeline/image/failure_codes.hpp"

namespace boomer::image::detail {
namespace {

struct gif_source {
    const GifByteType* data = nullptr;
    std::size_t size = 0;
    std::size_t pos = 0;
};

int read_from_memory(GifFileType* gif, GifByteType* out, int wanted) {
    auto* src = static_cast<gif_source*>(gif->UserData);
    const std::size_t count =
        std::min(static_cast<std::size_t>(std::max(wanted, 0)), src->size - src->pos);
    std::memcpy(out, src->data + src->pos, count);
    src->pos += count;
    return static_cast<int>(count);
}

struct gif_closer {
    void operator()(GifFileType* gif) const {
        int error = 0;
        DGifCloseFile(gif, &error);
    }
};
using gif_ptr = std::unique_ptr<GifFileType, gif_closer>;

unexpected<failure> gif_corrupt(int error) {
    const char* reason = GifErrorString(error);
    return fail(std::string(codes::corrupt_image),
                fmt::format("the GIF image data is truncated or corrupt ({})",
                            reason != nullptr ? reason : "unknown error"));
}

// Reads one extension and its sub-blocks; a graphics control block sets `transparent` to the
// colour index the next image leaves see-through. Returns false on a read error.
bool read_extension(GifFileType* gif, int* transparent) {
    int code = 0;
    GifByteType* block = nullptr;
    if (DGifGetExtension(gif, &code, &block) == GIF_ERROR) {
        return false;
    }
    if (code == GRAPHICS_EXT_FUNC_CODE && block != nullptr) {
        GraphicsControlBlock gcb{};
        if (DGifExtensionToGCB(block[0], block + 1, &gcb) == GIF_OK) {
            *transparent = gcb.TransparentColor;
        }
    }
    while (block != nullptr) {
        if (DGifGetExtensionNext(gif, &block) == GIF_ERROR) {
            return false;
        }
    }
    return true;
}

// The rows of an interlaced frame arrive in four passes.
std::vector<int> row_order(int height, bool interlaced) {
    std::vector<int> order;
    order.reserve(static_cast<std::size_t>(height));
    if (!interlaced) {
        for (int y = 0; y < height; ++y) {
            order.push_back(y);
        }
        return order;
    }
    constexpr int start[] = {0, 4, 2, 1};
    constexpr int step[] = {8, 8, 4, 2};
    for (int pass = 0; pass < 4; ++pass) {
        for (int y = start[pass]; y < height; y += step[pass]) {
            order.push_back(y);
        }
    }
    return order;
}

void draw_row(cv::Mat* canvas, int y, int left, const std::vector<GifPixelType>& line,
              const ColorMapObject& colors, int transparent) {
    if (y < 0 || y >= canvas->rows) {
        return;
    }
    auto* dst = canvas->ptr<std::uint8_t>(y);
    for (std::size_t i = 0; i < line.size(); ++i) {
        const int x = left + static_cast<int>(i);
        const int index = line[i];
        if (x < 0 || x >= canvas->cols || index == transparent) {
            continue;
        }
        const GifColorType c = index < colors.ColorCount ? colors.Colors[index] : GifColorType{};
        dst[3 * x] = c.Blue;
        dst[3 * x + 1] = c.Green;
        dst[3 * x + 2] = c.Red;
    }
}

// Reads the first frame onto the canvas. A frame may declare more pixels than the screen (they
// are clipped), so its own size is held to the pixel limit too: LZW data can expand that far.
result<decoded> read_first_frame(GifFileType* gif, int transparent, std::uint64_t max_pixels) {
    if (DGifGetImageDesc(gif) == GIF_ERROR) {
        return gif_corrupt(gif->Error);
    }
    const GifImageDesc& desc = gif->Image;
    const ColorMapObject* colors = desc.ColorMap != nullptr ? desc.ColorMap : gif->SColorMap;
    if (colors == nullptr || desc.Width <= 0 || desc.Height <= 0) {
        return fail(std::string(codes::corrupt_image), "the GIF image has no colour table");
    }
    const auto frame_width = static_cast<std::uint64_t>(desc.Width);
    const auto frame_height = static_cast<std::uint64_t>(desc.Height);
    if (frame_width * frame_height > max_pixels) {
        return too_many_pixels_failure(frame_width, frame_height, max_pixels);
    }
    cv::Mat canvas(gif->SHeight, gif->SWidth, CV_8UC3, cv::Scalar(255, 255, 255));
    std::vector<GifPixelType> line(static_cast<std::size_t>(desc.Width));
    for (const int y : row_order(desc.Height, desc.Interlace)) {
        if (DGifGetLine(gif, line.data(), desc.Width) == GIF_ERROR) {
            return gif_corrupt(gif->Error);
        }
        draw_row(&canvas, desc.Top + y, desc.Left, line, *colors, transparent);
    }
    return decoded{std::move(canvas), 1};
}

}  // namespace

result<decoded> decode_gif(std::string_view bytes, const decode_options& opt) {
    gif_source source{reinterpret_cast<const GifByteType*>(bytes.data()), bytes.size(), 0};
    int error = 0;
    gif_ptr gif(DGifOpen(&source, read_from_memory, &error));
    if (!gif) {
        return gif_corrupt(error);
    }
    const auto width = static_cast<std::uint64_t>(std::max(gif->SWidth, 0));
    const auto height = static_cast<std::uint64_t>(std::max(gif->SHeight, 0));
    if (width == 0 || height == 0) {
        return fail(std::string(codes::corrupt_image), "the GIF file declares an empty screen");
    }
    if (width * height > opt.max_pixels) {
        return too_many_pixels_failure(width, height, opt.max_pixels);
    }
    int transparent = NO_TRANSPARENT_COLOR;
    while (true) {
        GifRecordType record = UNDEFINED_RECORD_TYPE;
        if (DGifGetRecordType(gif.get(), &record) == GIF_ERROR) {
            return gif_corrupt(gif->Error);
        }
        if (record == IMAGE_DESC_RECORD_TYPE) {
            return read_first_frame(gif.get(), transparent, opt.max_pixels);
        }
        if (record == TERMINATE_RECORD_TYPE) {
            return fail(std::string(codes::corrupt_image), "the GIF file contains no image");
        }
        if (record == EXTENSION_RECORD_TYPE && !read_extension(gif.get(), &transparent)) {
            return gif_corrupt(gif->Error);
        }
    }
}

}  // namespace boomer::image::detail
