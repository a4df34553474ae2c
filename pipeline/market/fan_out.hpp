// Asking every market source at once: each source runs in its own coroutine with its own
// timeout, all under one deadline for the whole search; answers are kept as they arrive, a slow
// or failing source never holds the others, and every source's outcome is recorded. Answers are
// cached by source and normalized query through cache::tiered_cache: a sharded LRU in memory
// (bounded by entries and by bytes, comps measured deeply), then (optionally) a second level
// shared by replicas, such as the store's cache table. Concurrent searches missing on one key
// share one call to the source (single flight); failures and empty answers are never cached.
//
// Thread-safety: a fan_out may be shared by any number of coroutines on any threads; each
// search runs its sources on a strand of its own. The cache is thread-safe.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cache/lru_cache.hpp"
#include "cache/tiered_cache.hpp"
#include "core/clock.hpp"
#include "core/metrics.hpp"
#include "pipeline/market/comp_source.hpp"

namespace boomer::market {

// What one source did for one search.
struct source_outcome {
    std::string source;   // comp_source::name()
    std::string outcome;  // "ok", the source's failure code, or "source_timeout"
    std::string message;  // why, for a failure; empty for ok
    bool retryable = false;
    int count = 0;        // comps it gave (0 unless ok)
    std::string cache;    // "memory", "store", "flight" (see fan_out::search); else empty
    std::int64_t ms = 0;  // from the start of the search to its answer (or its timeout)
};

struct fan_out_result {
    // The ok sources' comps, in configured source order, each listing counted once with the
    // sources that reported it in seen_by (merge_same_listings); outcomes' counts are before.
    std::vector<comp> comps;
    std::vector<source_outcome> outcomes;  // one per source, in configured source order
    std::string category_id;               // the search's eBay category; empty when unknown
    std::string category_source;           // "hint" or the name of the source that found it
};

// The second cache level behind the memory one, e.g. the store's cache table (see
// pipeline/store_comp_cache.hpp), with the threads its blocking calls run on. A get that throws
// counts as a miss, a put that throws is skipped.
class comp_cache_backend : public cache::second_level {
public:
    // pool returns the threads get and put run on; null: inline, only for levels that never
    // block.
    virtual boost::asio::thread_pool* pool() = 0;
};

struct fan_out_options {
    std::chrono::milliseconds deadline{8'000};                  // the whole search
    std::chrono::milliseconds source_timeout{5'000};            // each source, unless listed below
    std::map<std::string, std::chrono::milliseconds> timeouts;  // by source name
    std::int64_t active_ttl_ms = 15 * 60'000;                   // answers with any active listing
    std::int64_t sold_ttl_ms = 6 * 3'600'000;                   // answers of sold comps only
    // The memory level's caps, both positive: entries, and bytes of keys and comps measured
    // deeply (heap_size below), split over shards.
    cache::lru_options memory{.max_entries = 10'000, .max_bytes = 64 * 1024 * 1024};
    std::vector<std::string> uncached = {"own_sales"};  // local sources: nothing to save
};

// normalized_query_key is the cache key part for a query: keywords and title lower-cased with
// runs of whitespace collapsed, barcodes sorted, the condition as an eBay condition id when
// the text is understood, category, currency, price bounds and limit. Queries that differ only
// in letter case, spacing or barcode order share a key. Thread-safe.
std::string normalized_query_key(const market_query& query);

// heap_size returns the bytes a comp owns on the heap (its strings' buffers), so that the
// memory cache measures comp lists deeply (cache::deep_size finds it by argument lookup).
std::size_t heap_size(const comp& c);

// comps_to_json / comps_from_json are the cache's wire form of a comp list (JSON array).
// comps_from_json returns nothing for text that is not such an array. Thread-safe.
std::string comps_to_json(const std::vector<comp>& comps);
std::optional<std::vector<comp>> comps_from_json(std::string_view text);

// The comps cache: comp lists by "comps", source and normalized query.
using comp_cache = cache::tiered_cache<std::vector<comp>>;

class fan_out {
public:
    // `sources` are asked in parallel, in this order in the results. `second_level` may be
    // null. `time`, `metrics` and the second level's pool must outlive the fan_out and its
    // searches' coroutines; `metrics` may be null, else it gets the counter
    // boomer_comps_source_outcomes_total{source,outcome} and the cache's metrics
    // (cache/cache_metrics.hpp) as cache "comps" and, with a second level, "comps_store".
    // Errors: a zero memory cap throws std::invalid_argument.
    fan_out(std::vector<std::shared_ptr<comp_source>> sources, fan_out_options options,
            const clock& time, std::shared_ptr<comp_cache_backend> second_level = nullptr,
            metrics::registry* metrics = nullptr);

    // search asks every source and returns when all have answered, timed out, or the deadline
    // passed. A source's failure (a value, or an exception thrown from search) is recorded as its
    // outcome; a source that has not answered by its timeout is cancelled (terminal cancellation
    // of its coroutine) and recorded as "source_timeout", and its late answer is ignored. The
    // query is copied: it need not outlive the sources' coroutines. Never fails; with no
    // sources it returns an empty result at once. Cancellation of the awaiting coroutine cancels
    // every source still running and returns what arrived, the others marked "canceled".
    // The search's category starts as query.category_id (the user's hint) or is the first one a
    // source publishes on the search's category_board; a source that learns categories but
    // answered from a cache publishes choose_category of its comps.
    // A cached source's outcome says where its answer came from: "memory", "store", "flight"
    // (the call of an identical search running at the same time, shared), or empty for a call
    // of this search's own. A search cancelled while it leads a call hands the call to the next
    // search waiting on it.
    boost::asio::awaitable<fan_out_result> search(const market_query& query);

    const std::vector<std::shared_ptr<comp_source>>& sources() const { return sources_; }
    cache::lru_cache<std::vector<comp>>& memory_cache() { return cache_->memory(); }

private:
    std::vector<std::shared_ptr<comp_source>> sources_;
    fan_out_options options_;
    const clock& time_;
    std::shared_ptr<comp_cache_backend> second_level_;
    std::shared_ptr<comp_cache> cache_;  // shared with running searches, which may outlive us
    metrics::family<metrics::counter>* outcomes_metric_ = nullptr;
};

}  // namespace boomer::market
