// Registration of the cache metric families.
#include "cache/cache_metrics.hpp"

namespace boomer::cache {

namespace {

metrics::family<metrics::counter>& lookups(metrics::registry& r) {
    return r.counter_family("boomer_cache_lookups_total",
                            "Cache lookups by outcome (hit, miss, or shared: a miss that got a "
                            "concurrent caller's load of the key).",
                            {"cache", "outcome"});
}

}  // namespace

cache_metrics::cache_metrics(metrics::registry* registry, const std::string& name,
                             const std::atomic<std::int64_t>& entries,
                             const std::atomic<std::int64_t>& bytes) {
    if (registry == nullptr) {
        return;
    }
    auto& family = lookups(*registry);
    hits_ = &family.with({name, "hit"});
    misses_ = &family.with({name, "miss"});
    shared_ = &family.with({name, "shared"});
    entries_ = &registry
                    ->callback_gauge_family("boomer_cache_entries", "Entries held by the cache.",
                                            {"cache"})
                    .with({name});
    bytes_ =
        &registry
             ->callback_gauge_family("boomer_cache_bytes",
                                     "Bytes held by the cache, values measured deeply.", {"cache"})
             .with({name});
    entries_->set_callback([&entries] { return static_cast<double>(entries.load()); });
    bytes_->set_callback([&bytes] { return static_cast<double>(bytes.load()); });
}

cache_metrics::~cache_metrics() {
    if (entries_ != nullptr) {
        entries_->clear_callback();
        bytes_->clear_callback();
    }
}

lookup_counters::lookup_counters(metrics::registry* registry, const std::string& name) {
    if (registry != nullptr) {
        auto& family = lookups(*registry);
        hits_ = &family.with({name, "hit"});
        misses_ = &family.with({name, "miss"});
    }
}

}  // namespace boomer::cache
