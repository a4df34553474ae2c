// Reuse of an identification by near-duplicate photos: before the vision model is paid to look
// at an item, the tenant's earlier items that the model identified are searched for the same
// photos sent again (resized, re-encoded, brightened, turned: perceptual hashes within a Hamming
// distance). The earlier identification is reused only when the match is unambiguous and the
// earlier item asked the same question (its request context: everything its vision request
// carried but the photos' bytes, see request_context_field); otherwise the model is asked.
//
// The hash is OpenCV's 64-bit DCT pHash of the normalized photo (pipeline/image/normalize). Each
// bit says whether one of the lowest 8x8 DCT coefficients of a 32x32 grey thumbnail is above
// their mean (the DC term zeroed), so it depends on the whole picture: resizing and JPEG
// re-encoding barely touch it, and a uniform brightness change (the DC term) is left out unless
// it clips. A difference hash (dHash) instead compares
// neighbouring pixels of a 9x8 thumbnail; on the flat backgrounds of product photos many of
// those pairs are nearly equal and re-encoding noise decides them. Distances measured on real
// photos are in tests/image/phash_survey_test.cpp.
//
// The lookup reads only the band index of the store (store::similar_photos): photos offered for
// reuse are indexed by three bands of their hash (21, 21 and 22 bits); hashes within 5 bits
// agree on one band within 1 bit, so a lookup probes about 22 values per band and reads about
// 66 x N / 2^21 rows for N indexed photos (30 rows per photo at a million), then keeps those
// within the distance. See store.hpp.
//
// Copies processed at the same time would each miss here (an item is offered only once it is
// identified); near_duplicate_flight.hpp lets the later ones wait for the first instead.
//
// Thread-safety: everything here is plain functions over their arguments.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/metrics.hpp"
#include "store/store.hpp"

namespace boomer::pipeline {

namespace json = boost::json;

// The default reuse distance (--near-duplicate-distance), from the distances measured in
// tests/image/phash_survey_test.cpp on the 22 item photos of the shared set: copies resized to
// 50% or 150%, saved at JPEG quality 40 or 95 or as PNG, brightened or darkened by 15 levels, or
// rotated through EXIF moved the hash by 0 to 4 bits (4 only thrice in 220 copies); the 990
// pairs of 45 photos of different things were 17 to 47 bits apart (median 32). 5 is one bit
// above the copies and 12 below the closest different pair, and keeps the lookup to probes of
// radius 1 (see above). A re-shot photo is not a copy: cropping 3% already moved hashes 4 to 14
// bits, so such photos are left to the model.
inline constexpr int near_duplicate_default_distance = 5;

// The largest reuse distance the configuration accepts. Up to 5 a lookup probes each band with
// the values within 1 bit; from 6 on, within 2 bits (~700 values per band), and on 400,000
// indexed photos Postgres then chose a sequential scan (~0.5 s) over the band indexes.
inline constexpr int near_duplicate_distance_limit = 5;

struct near_duplicate_options {
    // Photos count as the same when their hashes differ in at most this many bits. Every photo
    // of the new item must match a photo of the earlier item and every photo of the earlier
    // item one of the new item, and no other item with another identification may have a photo
    // this close. 0 or less turns reuse off.
    int max_distance = 0;
    int row_limit = 200;          // matching photo rows read at most; more: unsure
    int max_candidate_items = 8;  // earlier items weighed at most; more: unsure
    // Answers older than this (since their identify checkpoint) are not lent: as long as the
    // paid answers themselves are kept (--vision-answer-days; the service turns reuse off when
    // they are not kept at all).
    std::int64_t max_age_ms = 30LL * 24 * 3'600'000;
};

// hamming returns the number of differing bits.
int hamming(std::uint64_t a, std::uint64_t b);

// The identify checkpoint's field that holds the request context of a model answer: the
// fingerprint (scheduler_deps::vision_context) of everything the vision request carried besides
// the photos' bytes: models and their settings, prompt version, title hint, condition note,
// barcodes, number of photos. Checkpoints written before it existed lack it and are not
// offered.
inline constexpr std::string_view request_context_field = "request_context";

// offers_for_reuse is true when an identify checkpoint came from a successful vision model
// answer: identified, with the model's calls and its request context, no fallback to the local
// identification after a model error ("vision_error"), no fallback to the cheap model's answer
// after the strong model failed (escalation {"outcome": "fallback"}), and not itself reused from
// another item (so reuse never chains and drifts).
bool offers_for_reuse(const json::value& identification);

// photo_hashes reads each photo's hash from the normalize checkpoint ({"images": [{"index",
// "phash"}, ...]}); std::nullopt when a photo has no valid hash.
std::optional<std::vector<store::photo_hash>> photo_hashes(const json::value& normalized);

// has_unsure_photo is true when the normalize checkpoint marks a photo "phash_unsure" (its
// content covers a small part of the frame, so its hash mostly describes the background: see
// image::phash_unsure_below). Such an item neither reuses an identification nor offers its own.
// Checkpoints written before the mark existed have none.
bool has_unsure_photo(const json::value& normalized);

// An earlier item offered for reuse, as decide_reuse weighs it.
struct reuse_candidate {
    std::string item_id;
    std::int64_t created_ms = 0;
    std::vector<std::uint64_t> phashes;  // all of its photos
    std::string title_hint;
    json::value identification;  // its identify checkpoint (with its request_context_field)
};

// The item about to be identified.
struct reuse_subject {
    std::vector<std::uint64_t> phashes;  // all of its photos
    std::string title_hint;
    std::vector<std::string> barcodes;  // texts read from its photos
    std::string context;                // its request context (see request_context_field)
    bool unsure = false;                // a photo's hash is unsure (has_unsure_photo)
};

// reuse_subject_of is `item` as decide_reuse weighs it, from its normalize checkpoint, its
// local identification (barcodes) and the context of the vision request it would make;
// std::nullopt when a photo has no valid hash.
std::optional<reuse_subject> reuse_subject_of(const store::item_record& item,
                                              const json::value& normalized,
                                              const json::value& local, std::string context);

// Outcomes of a lookup, stable (metrics labels and the identify checkpoint):
namespace reuse_outcomes {
inline constexpr std::string_view reused = "reused";
inline constexpr std::string_view no_match = "no_match";  // no photo within the distance
// Some photo of either item is unmatched (one photo of a two-item lot, or the lot of a photo).
inline constexpr std::string_view partial_match = "partial_match";
inline constexpr std::string_view conflicting = "conflicting_candidates";
inline constexpr std::string_view hint_differs = "hint_differs";
inline constexpr std::string_view barcodes_differ = "barcodes_differ";
// The vision request would differ besides the photos (condition note, models, settings).
inline constexpr std::string_view context_differs = "context_differs";
inline constexpr std::string_view too_many = "too_many_candidates";
inline constexpr std::string_view unhashed = "unhashed";          // a photo of the item has no hash
inline constexpr std::string_view unsure_photo = "unsure_photo";  // see has_unsure_photo
inline constexpr std::string_view store_error = "store_error";
}  // namespace reuse_outcomes

struct reuse_decision {
    std::string outcome;  // one of reuse_outcomes
    std::string item_id;  // the earlier item, when reused
    int distance = -1;  // its distance, when reused: the worst of the best photo matches, both ways
};

// decide_reuse picks the earlier item whose identification the subject may reuse. It is reused
// only when all of these hold, else the outcome names the first that failed:
//   - no photo of the subject is unsure;
//   - every photo of the subject is within max_distance of a photo of that item and every
//     photo of that item within max_distance of one of the subject, and it is the closest such
//     item (then the oldest);
//   - no other candidate with a photo within max_distance of a subject photo has a different
//     identification (title, or brand and model);
//   - the subject has the title hint that item had (none if it had none), exactly as both
//     were sent to the model;
//   - the barcodes read from the subject's photos are those the earlier item's had;
//   - the subject's request context is that of the item's identification.
// Candidates may include items farther than max_distance (they are ignored).
reuse_decision decide_reuse(const reuse_subject& subject,
                            const std::vector<reuse_candidate>& candidates,
                            const near_duplicate_options& options);

// reused_identification is the identify checkpoint of an item that reuses `source`: its fields,
// the subject's own barcodes, cost 0, one call of outcome "near_duplicate" (free, counted with
// the reused answers), and "reused_from" {item_id, distance, max_distance}.
json::value reused_identification(const json::value& source, const reuse_decision& decision,
                                  const json::value& local, const near_duplicate_options& options);

// What lookup_near_duplicate found: the decision, and the identification to store when reused
// (null otherwise).
struct near_duplicate_lookup {
    reuse_decision decision;
    json::value identification;
};

// lookup_near_duplicate searches `db` for an earlier item of `item`'s tenant whose
// identification `item` may reuse (see decide_reuse); `subject` is `item` as reuse_subject_of
// made it (std::nullopt: unhashed), `local` its local identification (barcodes). Blocking: run
// it on the store pool. Errors: store_error from the store. Earlier items identified more than
// options.max_age_ms before `now_ms` (epoch ms) are not candidates.
near_duplicate_lookup lookup_near_duplicate(store::store& db, const store::item_record& item,
                                            const std::optional<reuse_subject>& subject,
                                            const json::value& local,
                                            const near_duplicate_options& options,
                                            std::int64_t now_ms);

// Outcomes of waiting for a copy being identified at the same time (near_duplicate_flight.hpp),
// stable (metrics labels):
namespace wait_outcomes {
inline constexpr std::string_view joined = "joined";        // its identification was reused
inline constexpr std::string_view fell_back = "fell_back";  // not reused: the item asked itself
}  // namespace wait_outcomes

// The lookups' metrics: boomer_near_duplicate_lookups_total{outcome}, and
// boomer_cache_lookups_total{cache="vision_near_duplicate"} hit (reused) or miss (anything else);
// items that waited for a copy in flight first are counted there like any other, and also in
// boomer_near_duplicate_waits_total{outcome} (wait_outcomes); boomer_near_duplicate_waiting
// gauges the items waiting now. Thread-safe; with a null registry it counts nothing.
class near_duplicate_metrics {
public:
    explicit near_duplicate_metrics(metrics::registry* registry);
    void count(std::string_view outcome);
    void count_wait(std::string_view outcome);
    void waiting(int change);  // +1 as an item starts waiting, -1 as it stops

private:
    metrics::family<metrics::counter>* outcomes_ = nullptr;
    metrics::family<metrics::counter>* waits_ = nullptr;
    metrics::gauge* waiting_ = nullptr;
    metrics::counter* hits_ = nullptr;
    metrics::counter* misses_ = nullptr;
};

}  // namespace boomer::pipeline
