// Intake: the one path by which an item enters boomer, shared by the HTTP API and the watched
// folder. It checks every photo's header, writes the photos to the blob store, then writes the
// item, its image rows and its queued job in one transaction. When it returns an item id, the
// item survives a crash.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "store/blob_store.hpp"
#include "store/store.hpp"

namespace boomer::pipeline {

struct intake_limits {
    int max_files = 12;
    std::uint64_t max_file_bytes = 25 * 1024 * 1024;
    std::uint64_t max_pixels = 50'000'000;  // per photo, from its declared dimensions
    int max_attempts = 5;
    std::size_t max_text_field = 1000;  // title hint, sku, condition
};

struct intake_file {
    std::string filename;
    std::string_view bytes;  // must stay alive during submit()
};

struct intake_request {
    std::string tenant_id;
    std::string idempotency_key;
    std::string title_hint;
    std::string sku;
    std::string condition;
    std::string category_hint;  // an eBay category id (1-9 digits); empty: none
    store::priority prio = store::priority::normal;
    std::string source;  // "api" or "watch"
    std::vector<intake_file> files;
};

// Where the time of one submission went, in milliseconds (for metrics and logs).
struct intake_timings {
    double check_ms = 0;   // fields and photo headers checked
    double blobs_ms = 0;   // photos hashed, written and flushed
    double commit_ms = 0;  // item, image rows and job committed (group commit wait included)
};

struct intake_receipt {
    bool created = false;  // false: an idempotent replay of an earlier submission
    std::string item_id;
    std::string job_id;
    store::job_state state = store::job_state::queued;  // the original item's, on a replay
    intake_timings timings;
};

// Failure codes submit() returns; the API maps each to an HTTP status.
namespace intake_error {
inline constexpr std::string_view no_files = "no_files";                         // 400
inline constexpr std::string_view too_many_files = "too_many_files";             // 413
inline constexpr std::string_view file_too_large = "file_too_large";             // 413
inline constexpr std::string_view empty_file = "empty_file";                     // 400
inline constexpr std::string_view unsupported_media = "unsupported_media_type";  // 415
inline constexpr std::string_view too_many_pixels = "too_many_pixels";           // 413
inline constexpr std::string_view field_too_long = "field_too_long";             // 400
inline constexpr std::string_view key_reused = "idempotency_key_reused";         // 422
inline constexpr std::string_view invalid_category = "invalid_category";         // 400
}  // namespace intake_error

// check_fields checks the request's text fields and category hint, as submit() does first; on
// a failure (field_too_long, invalid_category) `field` (may be null) receives the name of the
// field at fault. Thread-safe.
result<bool> check_fields(const intake_request& request, const intake_limits& limits,
                          std::string* field);

// submit validates and persists one item. Blocking (disk and database): call it on the store
// pool. Thread-safe. Throws store::store_error when the database fails.
result<intake_receipt> submit(const intake_request& request, const intake_limits& limits,
                              store::store& db, store::blob_store& blobs, const clock& time);

}  // namespace boomer::pipeline
