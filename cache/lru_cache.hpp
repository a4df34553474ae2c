// A sharded in-memory LRU cache with a time to live per entry, bounded both by a number of
// entries and by bytes. A key goes to one of N shards by its hash; each shard holds
// max_entries/N entries and max_bytes/N bytes at most, so the whole never exceeds either cap.
// An entry's size is its key's and value's deep size (deep_size.hpp, or the size function given)
// plus a fixed per-entry overhead. Expired entries are dropped when met; the least recently
// used are evicted to make room. Values are shared, immutable: get() hands out a shared_ptr.
//
// Thread-safety: every member may be called from any thread; each shard has its own mutex
// (lock-protected members are named as such), so there is no global lock. The clock, the size
// function and the registry must outlive the cache.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "cache/cache_metrics.hpp"
#include "cache/deep_size.hpp"
#include "core/clock.hpp"

namespace boomer::cache {

struct lru_options {
    std::size_t max_entries = 10'000;
    std::size_t max_bytes = 64 * 1024 * 1024;
    std::size_t shards = 16;  // fewer when max_entries is smaller
};

template <class V>
class lru_cache {
public:
    using size_function = std::function<std::size_t(const V&)>;

    // Bytes counted per entry besides its key and value: list and index nodes, the shared
    // value's control block.
    static constexpr std::size_t entry_overhead = 128;

    // `name` labels the metrics (registry may be null). Errors: a zero cap or zero shards throws
    // std::invalid_argument. Without a size function, deep_size<V> is used.
    lru_cache(std::string name, lru_options options, const clock& time,
              size_function size = nullptr, metrics::registry* registry = nullptr)
        : time_(time),
          size_(size ? std::move(size) : size_function([](const V& v) { return deep_size(v); })),
          metrics_(registry, name, entries_, bytes_) {
        if (options.max_entries == 0 || options.max_bytes == 0 || options.shards == 0) {
            throw std::invalid_argument("lru_cache: caps and shard count must be positive");
        }
        auto n = std::min(options.shards, options.max_entries);
        shards_ = std::vector<shard>(n);
        for (auto& s : shards_) {
            s.max_entries = options.max_entries / n;
            s.max_bytes = options.max_bytes / n;
        }
    }

    // get returns the live value under `key` and marks it recently used; null when absent or
    // expired (an expired entry is dropped). Counts a hit or a miss.
    std::shared_ptr<const V> get(std::string_view key) {
        auto found = peek(key);
        if (found) {
            metrics_.hit();
        } else {
            metrics_.miss();
        }
        return found;
    }

    // count_lookup counts a lookup made with peek(), once its outcome is known: a hit, a miss,
    // or a miss shared (another caller's load of the key answered it).
    enum class lookup { hit, miss, shared };
    void count_lookup(lookup outcome) {
        switch (outcome) {
            case lookup::hit:
                metrics_.hit();
                break;
            case lookup::miss:
                metrics_.miss();
                break;
            case lookup::shared:
                metrics_.shared();
                break;
        }
    }

    // peek is get() without counting a lookup (for a second look inside one lookup).
    std::shared_ptr<const V> peek(std::string_view key) {
        auto& s = shard_for(key);
        std::lock_guard lock(s.mutex);
        auto it = s.index.find(key);
        if (it == s.index.end()) {
            return nullptr;
        }
        if (it->second->expires_at_ms <= time_.now_ms()) {
            drop_locked(s, it->second);
            return nullptr;
        }
        s.order.splice(s.order.begin(), s.order, it->second);
        return it->second->value;
    }

    // put stores `value` under `key` for `ttl`, replacing an older value, and evicts the least
    // recently used entries until the shard is within both caps. Returns false (and stores
    // nothing) when the entry alone is larger than a shard's byte cap or ttl is not positive.
    bool put(std::string key, V value, std::chrono::milliseconds ttl) {
        std::size_t bytes = sizeof(std::string) + heap_size(key) + size_(value) + entry_overhead;
        auto& s = shard_for(key);
        std::lock_guard lock(s.mutex);
        if (auto old = s.index.find(key); old != s.index.end()) {
            drop_locked(s, old->second);
        }
        if (bytes > s.max_bytes || ttl.count() <= 0) {
            return false;
        }
        while (!s.order.empty() &&
               (s.order.size() + 1 > s.max_entries || s.bytes + bytes > s.max_bytes)) {
            drop_locked(s, std::prev(s.order.end()));
        }
        auto shared = std::make_shared<const V>(std::move(value));
        s.order.push_front(
            entry{std::move(key), std::move(shared), bytes, time_.now_ms() + ttl.count()});
        s.index.emplace(s.order.front().key, s.order.begin());
        s.bytes += bytes;
        entries_ += 1;
        bytes_ += static_cast<std::int64_t>(bytes);
        return true;
    }

    // erase drops `key` if present.
    void erase(std::string_view key) {
        auto& s = shard_for(key);
        std::lock_guard lock(s.mutex);
        if (auto it = s.index.find(key); it != s.index.end()) {
            drop_locked(s, it->second);
        }
    }

    // entries and bytes return what the cache holds now (expired entries not yet met count).
    std::size_t entries() const { return static_cast<std::size_t>(entries_.load()); }
    std::size_t bytes() const { return static_cast<std::size_t>(bytes_.load()); }
    std::size_t shard_count() const { return shards_.size(); }

private:
    struct entry {
        std::string key;
        std::shared_ptr<const V> value;
        std::size_t bytes = 0;
        std::int64_t expires_at_ms = 0;
    };
    using entry_list = std::list<entry>;

    struct shard {
        std::mutex mutex;
        entry_list order;  // guarded by mutex; most recently used first
        // guarded by mutex; views into the keys held by `order`
        std::unordered_map<std::string_view, typename entry_list::iterator> index;
        std::size_t bytes = 0;  // guarded by mutex
        std::size_t max_entries = 0;
        std::size_t max_bytes = 0;
    };

    shard& shard_for(std::string_view key) {
        return shards_[std::hash<std::string_view>{}(key) % shards_.size()];
    }

    void drop_locked(shard& s, typename entry_list::iterator it) {
        s.bytes -= it->bytes;
        entries_ -= 1;
        bytes_ -= static_cast<std::int64_t>(it->bytes);
        s.index.erase(std::string_view(it->key));
        s.order.erase(it);
    }

    const clock& time_;
    size_function size_;
    std::vector<shard> shards_;
    std::atomic<std::int64_t> entries_{0};
    std::atomic<std::int64_t> bytes_{0};
    cache_metrics metrics_;  // after the atomics it reads; destroyed before them
};

}  // namespace boomer::cache
