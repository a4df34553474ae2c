// The stages an item goes through, as plain functions from inputs to a JSON checkpoint:
// normalize → analyze → identify → comps → price → draft. Each returns the document the
// runner stores as that stage's checkpoint; the next stage reads only checkpoints, so a
// retried job resumes after the last stage that finished.
//
// All functions here block (image work, disk reads) or only compute: the runner calls them on
// the CPU pool. They are thread-safe as long as the objects in stage_env are. The comps stage's
// network part (asking the market sources) is the scheduler's: it builds the query with
// comps_query, awaits market::fan_out, and stores comps_document's output.
#pragma once

#include <array>
#include <boost/json.hpp>
#include <string>
#include <string_view>

#include "core/result.hpp"
#include "pipeline/image/normalize.hpp"
#include "pipeline/market/fan_out.hpp"
#include "pipeline/market/sales_history.hpp"
#include "store/blob_store.hpp"
#include "store/store.hpp"

namespace boomer::pipeline {

namespace json = boost::json;

inline constexpr std::array<std::string_view, 6> stage_names = {"normalize", "analyze", "identify",
                                                                "comps",     "price",   "draft"};

struct stage_env {
    store::blob_store* blobs = nullptr;
    const market::sales_history* sales = nullptr;  // null: no sales history loaded
    image::normalize_limits image_limits;
    unsigned duplicate_distance = 6;  // perceptual-hash bits for "same photo twice"
    std::string today;                // YYYY-MM-DD, for comp recency
};

// normalize decodes each photo, applies its orientation, strips metadata, resizes, stores the
// normalized JPEG in the blob store and analyses it. A photo that cannot be decoded fails the
// item with a permanent failure naming the photo.
result<json::value> run_normalize(const store::item_record& item, const stage_env& env);

// analyze merges the per-photo findings: warnings, barcodes (deduplicated), duplicate photos.
json::value run_analyze(const json::value& normalized, const stage_env& env);

// identify says what the item is from what is known locally: a barcode (and a sale with the
// same code), else the title hint. `identified` is false when there is nothing to go on.
json::value run_identify_local(const store::item_record& item, const json::value& analysis,
                               const stage_env& env);

// comps_query is what the market sources are asked for the item: the identification's search
// query (else its title) as keywords, its title, its barcodes, the seller's condition (else
// the model's guess) and the seller's category hint.
market::market_query comps_query(const store::item_record& item, const json::value& identification);

// comps_document is the comps checkpoint: the query, the search's eBay category ({"id",
// "source"}: "hint" or the source that learned it; null when unknown), every source's outcome
// ({"source", "outcome", "count", "message", "retryable", "cache", "ms"}) and the comps found.
json::value comps_document(const market::market_query& query, const market::fan_out_result& found);

// price summarises the comps (market::price_market): "price" is the recommended price with its
// basis, the sold and active summaries, the sell-through rate and the sources' outcomes; null,
// with a "reason", when there are no comps and no estimate from the vision model to fall back on.
json::value run_price(const json::value& comps, const json::value& identification,
                      const store::item_record& item, const stage_env& env);

// draft writes the listing: title (at most 80 characters), condition, specifics, description,
// price.
json::value run_draft(const store::item_record& item, const json::value& analysis,
                      const json::value& identification, const json::value& price);

}  // namespace boomer::pipeline
