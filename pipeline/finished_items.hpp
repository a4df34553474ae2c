// The count of items that reached a final state. Workers report most final states; a
// cancellation through the API is reported where it happens, so both count in one family.
#pragma once

#include "core/metrics.hpp"

namespace boomer::pipeline {

// items_finished returns boomer_items_finished_total{state} in `r` (registered on first use).
metrics::family<metrics::counter>& items_finished(metrics::registry& r);

}  // namespace boomer::pipeline
