// JPEG decoding with libjpeg(-turbo) directly rather than through cv::imdecode, for three things
// OpenCV does not give us: the largest DCT scale that keeps enough pixels, a count of the
// warnings by which libjpeg reports truncated or damaged data (it only warns, and fills the rest
// grey), and a cap on the number of progressive scans (a known CPU bomb).

// jpeglib.h uses FILE and size_t without including their headers.
// clang-format off
#include <cstdio>
#include <jpeglib.h>
#include <jerror.h>
// clang-format on

#include <csetjmp>
#include <string>

#include "fmt/format.h"
#include "pipeline/image/detail/decode.hpp"
#include "pipeline/image/exif.hpp"
#include "pipeline/image/failure_codes.hpp"

namespace boomer::image::detail {
namespace {

// Progressive files have about ten scans; thousands of tiny ones only burn CPU.
constexpr int max_progressive_scans = 200;

// libjpeg reports errors through this struct; jpeg_error_mgr must stay its first member.
struct jpeg_error_state {
    jpeg_error_mgr mgr{};
    std::jmp_buf jump{};
    int damage_warnings = 0;
    bool too_many_scans = false;
    char message[JMSG_LENGTH_MAX] = {};
};

jpeg_error_state& state_of(j_common_ptr cinfo) {
    return *reinterpret_cast<jpeg_error_state*>(cinfo->err);
}

[[noreturn]] void on_error_exit(j_common_ptr cinfo) {
    jpeg_error_state& state = state_of(cinfo);
    (*cinfo->err->format_message)(cinfo, state.message);
    std::longjmp(state.jump, 1);
}

// Warnings that mean pixels are missing or wrong. Others (extraneous bytes between segments,
// an unknown JFIF revision, a bad ICC marker) leave the picture intact and are tolerated.
bool is_damage_warning(int code) {
    return code == JWRN_JPEG_EOF || code == JWRN_HIT_MARKER || code == JWRN_HUFF_BAD_CODE ||
           code == JWRN_ARITH_BAD_CODE || code == JWRN_MUST_RESYNC || code == JWRN_NOT_SEQUENTIAL;
}

// Counts damage warnings instead of printing them (a service must not write to stderr).
void on_emit_message(j_common_ptr cinfo, int level) {
    if (level < 0 && is_damage_warning(cinfo->err->msg_code)) {
        ++state_of(cinfo).damage_warnings;
    }
}

void on_output_message(j_common_ptr) {}

void on_progress(j_common_ptr cinfo) {
    const auto* dinfo = reinterpret_cast<j_decompress_ptr>(cinfo);
    if (dinfo->input_scan_number > max_progressive_scans) {
        jpeg_error_state& state = state_of(cinfo);
        state.too_many_scans = true;
        std::longjmp(state.jump, 1);
    }
}

// What the decoding step needs to know and what it found, kept out of the function that calls
// setjmp so that nothing with a destructor lives in it.
struct jpeg_job {
    const unsigned char* data = nullptr;
    unsigned long size = 0;
    decode_options opt;
    cv::Mat* out = nullptr;
    bool over_limit = false;
    bool adobe_cmyk = false;
    JDIMENSION width = 0;
    JDIMENSION height = 0;
};

// Picks the largest reduction (1/8, 1/4, 1/2) whose long edge is still >= min_long_edge.
void choose_scale(jpeg_decompress_struct* cinfo, int min_long_edge) {
    if (min_long_edge <= 0) {
        return;
    }
    for (const unsigned denom : {8u, 4u, 2u}) {
        cinfo->scale_num = 1;
        cinfo->scale_denom = denom;
        jpeg_calc_output_dimensions(cinfo);
        if (std::max(cinfo->output_width, cinfo->output_height) >=
            static_cast<JDIMENSION>(min_long_edge)) {
            return;
        }
    }
    cinfo->scale_num = 1;
    cinfo->scale_denom = 1;
}

void read_rows(jpeg_decompress_struct* cinfo, cv::Mat* out) {
    constexpr int batch = 16;
    JSAMPROW rows[batch];
    while (cinfo->output_scanline < cinfo->output_height) {
        const JDIMENSION first = cinfo->output_scanline;
        const int count =
            static_cast<int>(std::min<JDIMENSION>(batch, cinfo->output_height - first));
        for (int i = 0; i < count; ++i) {
            rows[i] = out->ptr(static_cast<int>(first) + i);
        }
        jpeg_read_scanlines(cinfo, rows, static_cast<JDIMENSION>(count));
    }
}

// Runs libjpeg. Returns false when libjpeg raised an error (details in `err`). Only trivially
// destructible locals live here, because libjpeg errors arrive by longjmp.
bool run_libjpeg(jpeg_decompress_struct* cinfo, jpeg_error_state* err, jpeg_progress_mgr* progress,
                 jpeg_job* job) {
    if (setjmp(err->jump) != 0) {
        return false;
    }
    jpeg_create_decompress(cinfo);
    cinfo->progress = progress;
    jpeg_mem_src(cinfo, job->data, job->size);
    jpeg_read_header(cinfo, TRUE);
    job->width = cinfo->image_width;
    job->height = cinfo->image_height;
    if (static_cast<std::uint64_t>(job->width) * job->height > job->opt.max_pixels) {
        job->over_limit = true;
        return true;
    }
    const bool cmyk = cinfo->jpeg_color_space == JCS_CMYK || cinfo->jpeg_color_space == JCS_YCCK;
    cinfo->out_color_space = cmyk ? JCS_CMYK : JCS_EXT_BGR;
    job->adobe_cmyk = cmyk && cinfo->saw_Adobe_marker;
    choose_scale(cinfo, job->opt.min_long_edge);
    jpeg_start_decompress(cinfo);
    job->out->create(static_cast<int>(cinfo->output_height), static_cast<int>(cinfo->output_width),
                     cmyk ? CV_8UC4 : CV_8UC3);
    read_rows(cinfo, job->out);
    return true;
}

// Adobe writes CMYK inverted (0 = full ink); other writers store it plain.
cv::Mat cmyk_to_bgr(const cv::Mat& cmyk, bool inverted) {
    cv::Mat bgr(cmyk.rows, cmyk.cols, CV_8UC3);
    for (int y = 0; y < cmyk.rows; ++y) {
        const auto* src = cmyk.ptr<std::uint8_t>(y);
        auto* dst = bgr.ptr<std::uint8_t>(y);
        for (int x = 0; x < cmyk.cols; ++x, src += 4, dst += 3) {
            const int c = inverted ? src[0] : 255 - src[0];
            const int m = inverted ? src[1] : 255 - src[1];
            const int yy = inverted ? src[2] : 255 - src[2];
            const int k = inverted ? src[3] : 255 - src[3];
            dst[0] = static_cast<std::uint8_t>((yy * k + 127) / 255);
            dst[1] = static_cast<std::uint8_t>((m * k + 127) / 255);
            dst[2] = static_cast<std::uint8_t>((c * k + 127) / 255);
        }
    }
    return bgr;
}

result<decoded> libjpeg_failure(const jpeg_error_state& err) {
    if (err.too_many_scans) {
        return fail(std::string(codes::corrupt_image),
                    fmt::format("the JPEG has more than {} progressive scans; re-save it as an "
                                "ordinary JPEG",
                                max_progressive_scans));
    }
    const int code = err.mgr.msg_code;
    if (code == JERR_BAD_PRECISION || code == JERR_SOF_UNSUPPORTED || code == JERR_NOT_COMPILED ||
        code == JERR_ARITH_NOTIMPL) {
        return fail(std::string(codes::unsupported_format),
                    fmt::format("this kind of JPEG cannot be read ({}); re-save it as an ordinary "
                                "8-bit JPEG",
                                err.message));
    }
    return fail(std::string(codes::corrupt_image),
                fmt::format("the image data is truncated or corrupt ({})", err.message));
}

}  // namespace

result<decoded> decode_jpeg(std::string_view bytes, const decode_options& opt) {
    cv::Mat pixels;
    jpeg_job job{reinterpret_cast<const unsigned char*>(bytes.data()),
                 static_cast<unsigned long>(bytes.size()), opt, &pixels};
    jpeg_decompress_struct cinfo{};
    jpeg_error_state err;
    jpeg_progress_mgr progress{};
    cinfo.err = jpeg_std_error(&err.mgr);
    err.mgr.error_exit = on_error_exit;
    err.mgr.emit_message = on_emit_message;
    err.mgr.output_message = on_output_message;
    progress.progress_monitor = on_progress;

    const bool ran = run_libjpeg(&cinfo, &err, &progress, &job);
    jpeg_destroy_decompress(&cinfo);  // safe on a struct that was never created
    if (!ran) {
        return libjpeg_failure(err);
    }
    if (job.over_limit) {
        return too_many_pixels_failure(job.width, job.height, opt.max_pixels);
    }
    if (err.damage_warnings > 0) {
        return fail(std::string(codes::corrupt_image),
                    "the image data is truncated or corrupt; upload the complete file");
    }
    if (pixels.channels() == 4) {
        pixels = cmyk_to_bgr(pixels, job.adobe_cmyk);
    }
    return decoded{std::move(pixels), jpeg_exif_orientation(bytes)};
}

}  // namespace boomer::image::detail
