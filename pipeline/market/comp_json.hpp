// A comp as JSON, one shape for every place that writes or reads it: the item's comps
// checkpoint and the comps caches (memory and store).
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <optional>

#include "pipeline/market/sales_history.hpp"

namespace boomer::market {

// comp_to_json writes every field of `c`. Thread-safe.
boost::json::object comp_to_json(const comp& c);

// comp_from_json reads what comp_to_json wrote. Fields added later (sold, condition_id, url,
// category_id, listing_id, seen_by) take their defaults when absent, so older checkpoints and cache
// entries still read; a missing or mistyped older field gives nullopt. Thread-safe.
std::optional<comp> comp_from_json(const boost::json::value& v);

}  // namespace boomer::market
