// Validation and persistence of a submitted item.
#include "pipeline/intake.hpp"

#include <fmt/format.h>

#include <chrono>

#include "core/ids.hpp"
#include "core/utf8.hpp"
#include "pipeline/image/probe.hpp"
#include "pipeline/market/category.hpp"

namespace boomer::pipeline {
namespace {

std::string describe(std::size_t index, const intake_file& file) {
    if (file.filename.empty()) {
        return fmt::format("photo {}", index + 1);
    }
    return fmt::format("photo {} ({})", index + 1, valid_utf8(file.filename));
}

}  // namespace

result<bool> check_fields(const intake_request& request, const intake_limits& limits,
                          std::string* field) {
    const std::pair<std::string_view, const std::string*> fields[] = {
        {"title_hint", &request.title_hint},
        {"sku", &request.sku},
        {"condition", &request.condition},
    };
    for (const auto& [name, value] : fields) {
        if (value->size() > limits.max_text_field) {
            if (field != nullptr) {
                *field = name;
            }
            return fail(std::string(intake_error::field_too_long),
                        fmt::format("field '{}' is {} bytes long; the limit is {}", name,
                                    value->size(), limits.max_text_field));
        }
    }
    if (!request.category_hint.empty() && !market::is_category_id(request.category_hint)) {
        if (field != nullptr) {
            *field = "category_id";
        }
        return fail(std::string(intake_error::invalid_category),
                    fmt::format("category_id must be an eBay category id (1 to 9 digits, e.g. "
                                "15230), not '{}'",
                                valid_utf8(std::string_view(request.category_hint).substr(0, 40))));
    }
    return true;
}

namespace {

// check_file sniffs one photo's header and returns its image row (without the hash yet).
result<store::image_ref> check_file(std::size_t index, const intake_file& file,
                                    const intake_limits& limits) {
    if (file.bytes.empty()) {
        return fail(std::string(intake_error::empty_file),
                    fmt::format("{} is empty", describe(index, file)));
    }
    if (file.bytes.size() > limits.max_file_bytes) {
        return fail(std::string(intake_error::file_too_large),
                    fmt::format("{} is {} bytes; the limit is {} bytes", describe(index, file),
                                file.bytes.size(), limits.max_file_bytes));
    }
    auto info = image::probe(file.bytes);
    if (!info) {
        return fail(std::string(intake_error::unsupported_media),
                    fmt::format("{} is not a supported image; send JPEG, PNG, WebP, GIF or HEIC",
                                describe(index, file)));
    }
    auto pixels =
        static_cast<std::uint64_t>(info->width) * static_cast<std::uint64_t>(info->height);
    if (pixels > limits.max_pixels) {
        return fail(std::string(intake_error::too_many_pixels),
                    fmt::format("{} declares {}x{} pixels ({} megapixels); the limit is {} "
                                "megapixels",
                                describe(index, file), info->width, info->height,
                                pixels / 1'000'000, limits.max_pixels / 1'000'000));
    }
    store::image_ref ref;
    ref.index = static_cast<int>(index);
    ref.filename = valid_utf8(file.filename);
    ref.media_type = std::string(info->media_type);
    ref.bytes = static_cast<std::int64_t>(file.bytes.size());
    ref.width = info->width;
    ref.height = info->height;
    return ref;
}

// ms_since returns the milliseconds from `start` to now and moves `start` to now.
double ms_since(std::chrono::steady_clock::time_point& start) {
    auto now = std::chrono::steady_clock::now();
    double ms = std::chrono::duration<double, std::milli>(now - start).count();
    start = now;
    return ms;
}

// same_submission tells whether a replayed request carries what the original item holds.
bool same_submission(const store::item_record& original, const store::new_item& replay) {
    if (original.images.size() != replay.images.size() ||
        original.title_hint != replay.title_hint || original.sku != replay.sku ||
        original.condition != replay.condition || original.prio != replay.prio ||
        original.category_hint != replay.category_hint) {
        return false;
    }
    for (std::size_t i = 0; i < replay.images.size(); ++i) {
        if (original.images[i].sha256 != replay.images[i].sha256) {
            return false;
        }
    }
    return true;
}

}  // namespace

result<intake_receipt> submit(const intake_request& request, const intake_limits& limits,
                              store::store& db, store::blob_store& blobs, const clock& time) {
    auto step_start = std::chrono::steady_clock::now();
    intake_timings timings;
    if (request.files.empty()) {
        return fail(std::string(intake_error::no_files), "an item needs at least one photo");
    }
    if (request.files.size() > static_cast<std::size_t>(limits.max_files)) {
        return fail(std::string(intake_error::too_many_files),
                    fmt::format("an item takes at most {} photos; {} were sent", limits.max_files,
                                request.files.size()));
    }
    if (auto fields = check_fields(request, limits, nullptr); !fields) {
        return make_unexpected(fields.error());
    }

    // Check every photo before writing anything, so a refused item leaves nothing behind.
    std::vector<store::image_ref> images;
    for (std::size_t i = 0; i < request.files.size(); ++i) {
        auto ref = check_file(i, request.files[i], limits);
        if (!ref) {
            return make_unexpected(ref.error());
        }
        images.push_back(std::move(*ref));
    }
    timings.check_ms = ms_since(step_start);

    // Photos first (durable, content-addressed), then the rows that point at them.
    std::vector<std::string_view> photos;
    for (const auto& file : request.files) {
        photos.push_back(file.bytes);
    }
    auto names = blobs.put_all(photos);
    for (std::size_t i = 0; i < images.size(); ++i) {
        images[i].sha256 = std::move(names[i]);
    }
    timings.blobs_ms = ms_since(step_start);

    store::new_item item;
    item.now_ms = time.now_ms();
    item.tenant_id = request.tenant_id;
    item.item_id = new_id("itm", item.now_ms);
    item.job_id = new_id("job", item.now_ms);
    item.idempotency_key = request.idempotency_key;
    item.title_hint = valid_utf8(request.title_hint);
    item.sku = valid_utf8(request.sku);
    item.condition = valid_utf8(request.condition);
    item.category_hint = request.category_hint;
    item.prio = request.prio;
    item.source = request.source;
    item.images = std::move(images);
    item.max_attempts = limits.max_attempts;

    auto created = db.create_item(item);
    timings.commit_ms = ms_since(step_start);
    if (created.created) {
        return intake_receipt{true, created.item_id, created.job_id, store::job_state::queued,
                              timings};
    }

    // A replay must be the same submission; the same key with other content is a client bug.
    auto original = db.find_item(item.tenant_id, created.item_id);
    if (!original || !same_submission(*original, item)) {
        return fail(std::string(intake_error::key_reused),
                    "this Idempotency-Key was already used for a different submission");
    }
    return intake_receipt{false, created.item_id, created.job_id, original->state, timings};
}

}  // namespace boomer::pipeline
