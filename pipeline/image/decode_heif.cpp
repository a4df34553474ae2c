// HEIC / HEIF / AVIF decoding with libheif. libheif applies the container's transforms (irot,
// imir, clap), so its output is already upright and EXIF orientation is not applied again.
#include <libheif/heif.h>

#include <memory>
#include <mutex>
#include <opencv2/imgproc.hpp>
#include <string>

#include "fmt/format.h"
#include "pipeline/image/detail/decode.hpp"
#include "pipeline/image/detail/heif_reader.hpp"
#include "pipeline/image/failure_codes.hpp"

namespace boomer::image::detail {
namespace {

// libheif wants one heif_init before use (it loads its codec plugins); we never deinit, as the
// decoders stay in use until the process ends.
void ensure_heif_initialized() {
    static std::once_flag once;
    std::call_once(once, [] { heif_init(nullptr); });
}

struct context_deleter {
    void operator()(heif_context* ctx) const { heif_context_free(ctx); }
};
struct handle_deleter {
    void operator()(heif_image_handle* handle) const { heif_image_handle_release(handle); }
};
struct image_deleter {
    void operator()(heif_image* image) const { heif_image_release(image); }
};
struct options_deleter {
    void operator()(heif_decoding_options* options) const { heif_decoding_options_free(options); }
};
using context_ptr = std::unique_ptr<heif_context, context_deleter>;
using handle_ptr = std::unique_ptr<heif_image_handle, handle_deleter>;
using image_ptr = std::unique_ptr<heif_image, image_deleter>;
using options_ptr = std::unique_ptr<heif_decoding_options, options_deleter>;

// The parsed file: the context must outlive the handle taken from it.
struct heif_file {
    context_ptr context;
    handle_ptr primary;
};

// Parses the boxes (not the coded data) and takes the primary image. `bytes` must outlive the
// result: libheif reads from them without copying.
std::optional<heif_file> open_heif(std::string_view bytes, std::string* why) {
    ensure_heif_initialized();
    heif_file file{context_ptr(heif_context_alloc()), nullptr};
    heif_error err = heif_context_read_from_memory_without_copy(file.context.get(), bytes.data(),
                                                                bytes.size(), nullptr);
    heif_image_handle* handle = nullptr;
    if (err.code == heif_error_Ok) {
        err = heif_context_get_primary_image_handle(file.context.get(), &handle);
    }
    if (err.code != heif_error_Ok) {
        *why = err.message != nullptr ? err.message : "unknown error";
        return std::nullopt;
    }
    file.primary.reset(handle);
    return file;
}

unexpected<failure> heif_corrupt(std::string_view why) {
    return fail(std::string(codes::corrupt_image),
                fmt::format("the HEIF image data is truncated or corrupt ({})", why));
}

// Copies libheif's interleaved plane into an OpenCV matrix and converts it to 8-bit BGR; an
// empty matrix when libheif produced no such plane.
cv::Mat plane_to_bgr(const heif_image* image, bool alpha, int bits) {
    int stride = 0;
    const std::uint8_t* plane =
        heif_image_get_plane_readonly(image, heif_channel_interleaved, &stride);
    const int width = heif_image_get_width(image, heif_channel_interleaved);
    const int height = heif_image_get_height(image, heif_channel_interleaved);
    if (plane == nullptr || width <= 0 || height <= 0) {
        return {};
    }
    const int depth = bits > 8 ? CV_16U : CV_8U;
    const cv::Mat view(height, width, CV_MAKETYPE(depth, alpha ? 4 : 3),
                       const_cast<std::uint8_t*>(plane), static_cast<std::size_t>(stride));
    cv::Mat eight = view;
    if (bits > 8) {
        view.convertTo(eight, CV_MAKETYPE(CV_8U, view.channels()), 255.0 / ((1 << bits) - 1));
    }
    cv::Mat bgr;
    cv::cvtColor(eight, bgr, alpha ? cv::COLOR_RGBA2BGRA : cv::COLOR_RGB2BGR);
    return alpha ? composite_on_white(bgr) : bgr;
}

heif_chroma chroma_for(bool alpha, int bits) {
    if (bits > 8) {
        return alpha ? heif_chroma_interleaved_RRGGBBAA_LE : heif_chroma_interleaved_RRGGBB_LE;
    }
    return alpha ? heif_chroma_interleaved_RGBA : heif_chroma_interleaved_RGB;
}

}  // namespace

std::optional<std::pair<int, int>> heif_primary_size(std::string_view bytes) {
    std::string why;
    const auto file = open_heif(bytes, &why);
    if (!file) {
        return std::nullopt;
    }
    return std::pair{heif_image_handle_get_width(file->primary.get()),
                     heif_image_handle_get_height(file->primary.get())};
}

result<decoded> decode_heif(std::string_view bytes, const decode_options& opt) {
    std::string why;
    const auto file = open_heif(bytes, &why);
    if (!file) {
        return heif_corrupt(why);
    }
    heif_image_handle* handle = file->primary.get();
    const auto width = static_cast<std::uint64_t>(std::max(heif_image_handle_get_width(handle), 0));
    const auto height =
        static_cast<std::uint64_t>(std::max(heif_image_handle_get_height(handle), 0));
    if (width * height > opt.max_pixels) {
        return too_many_pixels_failure(width, height, opt.max_pixels);
    }
    const bool alpha = heif_image_handle_has_alpha_channel(handle) != 0;
    const int bits = heif_image_handle_get_luma_bits_per_pixel(handle);

    options_ptr options(heif_decoding_options_alloc());
    heif_image* raw = nullptr;
    const heif_error err = heif_decode_image(handle, &raw, heif_colorspace_RGB,
                                             chroma_for(alpha, bits), options.get());
    image_ptr image(raw);
    if (err.code == heif_error_Unsupported_feature || err.code == heif_error_Unsupported_filetype) {
        return fail(std::string(codes::unsupported_format),
                    fmt::format("this HEIF image cannot be decoded here ({})", err.message));
    }
    if (err.code != heif_error_Ok || !image) {
        return heif_corrupt(err.message != nullptr ? err.message : "unknown error");
    }
    cv::Mat bgr = plane_to_bgr(image.get(), alpha, bits);
    if (bgr.empty()) {
        return heif_corrupt("no colour plane");
    }
    return decoded{std::move(bgr), 1};
}

}  // namespace boomer::image::detail
