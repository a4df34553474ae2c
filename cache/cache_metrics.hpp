// The metrics every cache exports under its name:
//   boomer_cache_lookups_total{cache,outcome}  lookups by outcome: "hit", "miss", or "shared"
//                                              (a miss that joined a concurrent caller's load
//                                              of the key, and got its value without loading);
//   boomer_cache_entries{cache}                entries held now;
//   boomer_cache_bytes{cache}                  bytes held now, measured deeply.
// Thread-safety: as metrics::registry; the counters are lock-free.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "core/metrics.hpp"

namespace boomer::cache {

class cache_metrics {
public:
    // Registers the children for `name` in `registry` (may be null: nothing is exported). The
    // gauges read `entries` and `bytes`, which must outlive this object; the registry too.
    cache_metrics(metrics::registry* registry, const std::string& name,
                  const std::atomic<std::int64_t>& entries, const std::atomic<std::int64_t>& bytes);
    ~cache_metrics();
    cache_metrics(const cache_metrics&) = delete;
    cache_metrics& operator=(const cache_metrics&) = delete;

    void hit() {
        if (hits_ != nullptr) {
            hits_->inc();
        }
    }
    void miss() {
        if (misses_ != nullptr) {
            misses_->inc();
        }
    }
    void shared() {
        if (shared_ != nullptr) {
            shared_->inc();
        }
    }

private:
    metrics::counter* hits_ = nullptr;
    metrics::counter* misses_ = nullptr;
    metrics::counter* shared_ = nullptr;
    metrics::callback_gauge* entries_ = nullptr;
    metrics::callback_gauge* bytes_ = nullptr;
};

// lookup_counters counts hits and misses only (a cache level without its own entries).
class lookup_counters {
public:
    lookup_counters(metrics::registry* registry, const std::string& name);
    void hit() {
        if (hits_ != nullptr) {
            hits_->inc();
        }
    }
    void miss() {
        if (misses_ != nullptr) {
            misses_->inc();
        }
    }

private:
    metrics::counter* hits_ = nullptr;
    metrics::counter* misses_ = nullptr;
};

}  // namespace boomer::cache
