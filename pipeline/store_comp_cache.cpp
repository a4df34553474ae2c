// The store-backed second level of the comps cache (see store_comp_cache.hpp).
#include "pipeline/store_comp_cache.hpp"

namespace boomer::pipeline {

std::optional<std::string> store_comp_cache::get(std::string_view key, std::int64_t now_ms) {
    return level_.get(key, now_ms);
}

void store_comp_cache::put(std::string_view key, std::string_view value,
                           std::int64_t expires_at_ms) {
    level_.put(key, value, expires_at_ms);
}

}  // namespace boomer::pipeline
