// Identifiers for items, jobs and workers: a prefix, then 26 Crockford base-32 characters whose
// first ten encode the creation time, so ids sort by age (list cursors rely on that).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace boomer {

// new_id returns e.g. "itm_01J9Z3K6V8Q4WJ8X2M5N7P9R1T". Thread-safe; random part from a
// per-thread generator seeded from the OS.
std::string new_id(std::string_view prefix, std::int64_t epoch_ms);

// is_valid_id tells whether `id` has the shape new_id(prefix, ...) produces.
bool is_valid_id(std::string_view id, std::string_view prefix);

}  // namespace boomer
