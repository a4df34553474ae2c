// A two-level cache: memory first (a sharded LRU), then a shared second level (the store's
// cache table, which every replica on one database sees), then the loader. Concurrent misses on
// one key share one pass through the second level and the loader (single flight). Only values
// are cached, and only those the `cacheable` test accepts (by default: not empty): errors and
// empty answers are never stored, at either level.
//
// The second level is an interface (second_level) so that this module needs nothing of the
// store's engines: store_second_level adapts store::store. Its calls block (SQL), so they run
// on the thread pool given; without one they run inline, which is only for levels that do not
// block (test doubles).
//
// Processes sharing the second level (replicas on one database) can also load each key once
// between them: see tiered_options::claim_for.
//
// Thread-safety: get_or_load() may be called from any thread. The clock, second level, pool,
// codec functions and registry must outlive the cache.
//
// Used by the comps cache (pipeline/market/fan_out) and by the paid answers of the vision model
// (clients/claude_vision, in front of the store's table: service/vision_answers).
#pragma once

#include <algorithm>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <charconv>
#include <chrono>
#include <concepts>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "cache/cache_metrics.hpp"
#include "cache/lru_cache.hpp"
#include "cache/single_flight.hpp"
#include "core/async.hpp"
#include "core/clock.hpp"
#include "core/log.hpp"
#include "core/result.hpp"

namespace boomer::store {
class store;
}

namespace boomer::cache {

// A shared cache level that holds encoded values with an expiry time.
class second_level {
public:
    virtual ~second_level() = default;
    // get returns the value under `key` unless it expired at or before `now_ms`. May block.
    virtual std::optional<std::string> get(std::string_view key, std::int64_t now_ms) = 0;
    // put stores `value` under `key` until `expires_at_ms`. May block.
    virtual void put(std::string_view key, std::string_view value, std::int64_t expires_at_ms) = 0;
    // shared tells whether other processes see this level too; only then are claims made.
    virtual bool shared() const { return false; }
    // claim stores `value` under `key` until `expires_at_ms` only when no entry under `key` is
    // visible at `now_ms`, and returns whether it did: of concurrent claims (from any process
    // sharing the level) one wins. May block. By default every claim wins: a level only one
    // process sees needs none.
    virtual bool claim(std::string_view /*key*/, std::string_view /*value*/,
                       std::int64_t /*expires_at_ms*/, std::int64_t /*now_ms*/) {
        return true;
    }
};

// The store's cache_get/cache_put as a second level. The store must outlive it.
class store_second_level final : public second_level {
public:
    explicit store_second_level(store::store& s) : store_(s) {}
    std::optional<std::string> get(std::string_view key, std::int64_t now_ms) override;
    void put(std::string_view key, std::string_view value, std::int64_t expires_at_ms) override;
    bool shared() const override { return true; }
    bool claim(std::string_view key, std::string_view value, std::int64_t expires_at_ms,
               std::int64_t now_ms) override;

private:
    store::store& store_;
};

// is_empty_answer: true for empty strings and containers and unset optionals; false for other
// types. The default `cacheable` test is its negation.
template <class V>
bool is_empty_answer(const V& v) {
    if constexpr (requires { v.empty(); }) {
        return v.empty();
    } else if constexpr (requires { v.has_value(); }) {
        return !v.has_value();
    } else {
        return false;
    }
}

// Where get_or_load found its answer.
enum class found_in {
    memory,   // the memory level
    second,   // the second level (then copied into memory)
    loader,   // this caller's own load
    flight,   // a concurrent caller's load of the same key, shared (its second-level hit: second)
    expired,  // none: the caller stopped waiting for a concurrent caller's load at its max_wait
};

template <class V>
struct tiered_options {
    std::string name;  // metrics label; the second level reports as "<name>_store"
    lru_options memory;
    std::chrono::milliseconds ttl{24 * 3600 * 1000};
    // The time to live of one value, at both levels; empty: `ttl` for every value.
    std::function<std::chrono::milliseconds(const V&)> ttl_of;
    // Turning values into the second level's text and back; without both, no second level.
    std::function<std::string(const V&)> encode;
    std::function<std::optional<V>(std::string_view)> decode;
    typename lru_cache<V>::size_function size;  // empty: deep_size
    std::function<bool(const V&)> cacheable;    // empty: !is_empty_answer
    // One load per key across processes: before loading a key missing at both levels of a
    // shared second level (second_level::shared), the caller claims it in the second level (under
    // "claim:" + key) for this long (0: never). A caller that finds it claimed, by another process
    // loading it, polls the second level for that value until the claim ends, then claims it
    // itself. A load that gives nothing to keep (an error, an uncacheable value) releases its claim
    // at once. While its load runs, the holder renews the claim every `claim_renew_every` (0: a
    // third of claim_for), so a slow load keeps it; a holder that dies stops renewing and keeps
    // the others waiting until its claim ends, so the claim should last about a load's usual
    // time, not its longest.
    std::chrono::milliseconds claim_for{0};
    std::chrono::milliseconds claim_renew_every{0};
    // Who holds a claim. A claim names `claim_owner` (empty: nobody in particular) and when it
    // ends; a caller that finds a claim whose owner `claim_owner_gone` says has died (a process
    // of this host that has exited, see core/process_token.hpp: a restarted service finding
    // its predecessor's claims) takes it over at once instead of waiting for it to end. Of
    // callers taking over one claim at once, one wins. Called on the second level's pool.
    std::string claim_owner;
    std::function<bool(std::string_view owner)> claim_owner_gone;
};

// claim_text is a claim's stored value: "1" when it names no owner, else "<end ms> <owner>".
inline std::string claim_text(const std::string& owner, std::int64_t until_ms) {
    return owner.empty() ? std::string("1") : std::to_string(until_ms) + " " + owner;
}

template <class V>
class tiered_cache {
public:
    using loader = std::function<boost::asio::awaitable<result<V>>()>;

    // `level2` and `pool` may be null (memory only; second level inline).
    tiered_cache(tiered_options<V> options, const clock& time, second_level* level2,
                 boost::asio::thread_pool* pool, metrics::registry* registry)
        : options_(std::move(options)),
          time_(time),
          level2_(options_.encode && options_.decode ? level2 : nullptr),
          pool_(pool),
          memory_(options_.name, options_.memory, time, options_.size, registry),
          level2_lookups_(level2_ != nullptr ? registry : nullptr, options_.name + "_store") {
        if (!options_.cacheable) {
            options_.cacheable = [](const V& v) { return !is_empty_answer(v); };
        }
    }

    // get_or_load returns the cached value for `key`, or loads it once for every concurrent
    // caller and caches it (both levels) when it is a cacheable value. `key` and `load` must
    // outlive the call (pass named objects). A second level that throws counts as a miss.
    // `where` (may be null) tells where the answer, value or error, came from. With `max_wait`,
    // a caller that finds another's load in flight waits for it at most that long (a real
    // timer), then returns the failure cache::flight_wait_expired (where: expired); that load
    // goes on and caches its value for later callers. `claim` false skips the claim across
    // processes for this load (a loader with cross-process coordination of its own).
    boost::asio::awaitable<result<V>> get_or_load(
        const std::string& key, const loader& load, found_in* where = nullptr,
        std::optional<std::chrono::milliseconds> max_wait = {}, bool claim = true) {
        using lookup = typename lru_cache<V>::lookup;
        if (auto hit = memory_.peek(key)) {
            memory_.count_lookup(lookup::hit);
            tell(where, found_in::memory);
            co_return *hit;
        }
        bool led = false;
        typename single_flight<found>::loader fill = [this, &key, &load, &led, claim] {
            led = true;
            return fill_miss(key, load, claim);
        };
        bool expired = false;
        auto got = co_await flights_.run(key, fill, max_wait, &expired);
        // Counted once the outcome is known: a caller that joined another's load got its value
        // without a load of its own.
        memory_.count_lookup(led || expired || !got ? lookup::miss : lookup::shared);
        if (!got) {
            tell(where, expired ? found_in::expired : led ? found_in::loader : found_in::flight);
            co_return make_unexpected(got.error());
        }
        auto from = got->from;
        tell(where, !led && from == found_in::loader ? found_in::flight : from);
        co_return std::move(got->value);
    }

    // find returns the value kept for `key`: in memory, else at the second level (kept in memory
    // from then on); nothing on a miss. Neither loads nor joins a flight. `where` (may be null)
    // says which level had it. `key` must outlive the call.
    boost::asio::awaitable<std::optional<V>> find(const std::string& key, found_in* where) {
        if (auto hit = memory_.get(key)) {
            tell(where, found_in::memory);
            co_return std::move(*hit);
        }
        if (level2_ == nullptr) {
            co_return std::nullopt;
        }
        auto stored = co_await read_second(key);
        if (!stored) {
            level2_lookups_.miss();
            co_return std::nullopt;
        }
        level2_lookups_.hit();
        memory_.put(key, *stored, ttl_for(*stored));
        tell(where, found_in::second);
        co_return std::move(stored);
    }

    // try_lead makes the caller the leader of the load of `key` when no load of it is in flight,
    // with no coroutine frame of the cache's kept meanwhile (for loads that wait long): callers
    // of get_or_load for `key` wait for it as for any load. The leader finds or loads the value
    // itself (find, put) and must end the flight with land() or abandon(). Returns false when a
    // load of `key` is in flight already (get_or_load then waits for it). No claim across
    // processes is taken.
    bool try_lead(const std::string& key) { return flights_.try_lead(key); }

    // land ends the flight of try_lead with `outcome`, found at `from`, for the callers waiting.
    // It does not store the value (see put).
    void land(const std::string& key, const result<V>& outcome, found_in from) {
        if (outcome) {
            flights_.land(key, found{*outcome, from});
        } else {
            flights_.land(key, make_unexpected(outcome.error()));
        }
    }

    // abandon ends the flight of try_lead without an outcome (the leader was cancelled or threw):
    // a caller waiting for it loads the value itself.
    void abandon(const std::string& key) { flights_.abandon(key); }

    // put stores `value` at both levels (when cacheable) without loading.
    boost::asio::awaitable<void> put(const std::string& key, const V& value) {
        if (options_.cacheable(value)) {
            memory_.put(key, value, ttl_for(value));
            co_await put_second(key, value);
        }
    }

    lru_cache<V>& memory() { return memory_; }

private:
    // A flight's answer with where its leader found it.
    struct found {
        V value;
        found_in from = found_in::loader;
    };

    static void tell(found_in* where, found_in from) {
        if (where != nullptr) {
            *where = from;
        }
    }

    std::chrono::milliseconds ttl_for(const V& value) const {
        return options_.ttl_of ? options_.ttl_of(value) : options_.ttl;
    }

    boost::asio::awaitable<std::optional<std::string>> get_second(const std::string& key) {
        auto now = time_.now_ms();
        auto read = [this, &key, now]() -> std::optional<std::string> {
            try {
                return level2_->get(key, now);
            } catch (...) {
                return std::nullopt;
            }
        };
        if (pool_ == nullptr) {
            co_return read();
        }
        co_return co_await run_on(*pool_, read);
    }

    boost::asio::awaitable<void> put_second(const std::string& key, const V& value) {
        if (level2_ == nullptr) {
            co_return;
        }
        auto text = options_.encode(value);
        auto expires = time_.now_ms() + ttl_for(value).count();
        auto write = [this, &key, &text, expires] {
            try {
                level2_->put(key, text, expires);
            } catch (...) {
                // The second level is an optimisation: a failed write only costs a later miss.
            }
        };
        if (pool_ == nullptr) {
            write();
            co_return;
        }
        co_await run_on(*pool_, write);
    }

    // A value of the second level that decodes and is worth keeping; nothing otherwise.
    boost::asio::awaitable<std::optional<V>> read_second(const std::string& key) {
        auto text = co_await get_second(key);
        std::optional<V> decoded;
        if (text) {
            decoded = options_.decode(*text);
        }
        if (decoded && !options_.cacheable(*decoded)) {
            decoded.reset();
        }
        co_return decoded;
    }

    // Runs a blocking second-level call on the pool (inline without one); a throw is `failed`.
    template <class F, class R = std::invoke_result_t<F&>>
    boost::asio::awaitable<R> on_level2(F call, R failed) {
        auto guarded = [&call, &failed]() -> R {
            try {
                return call();
            } catch (...) {
                return failed;
            }
        };
        if (pool_ == nullptr) {
            co_return guarded();
        }
        co_return co_await run_on(*pool_, guarded);
    }

    // A claimed key: the value another process loaded meanwhile, or none when this caller holds
    // the claim and loads.
    struct claim_outcome {
        std::optional<V> value;
        bool held = false;
    };

    // take_claim waits while another process holds the claim on `key` (polling, 50 ms doubling
    // to 1 s), until its value is stored or the claim ends. A level that fails to answer a
    // claim counts as won: a second payment is better than a stalled item.
    boost::asio::awaitable<claim_outcome> take_claim(const std::string& key) {
        const std::string claim_key = "claim:" + key;
        auto pause = std::chrono::milliseconds(50);
        for (;;) {
            const auto now = time_.now_ms();
            const auto until = now + options_.claim_for.count();
            auto claim = [this, &claim_key, now, until] {
                return level2_->claim(claim_key, claim_text(options_.claim_owner, until), until,
                                      now);
            };
            bool won = co_await on_level2(claim, true);
            if (!won) {
                won = co_await take_over(claim_key, until);
            }
            if (won) {
                // Its holder may have stored the value and let go just before.
                if (auto late = co_await read_second(key)) {
                    co_await release_claim(key);
                    co_return claim_outcome{std::move(late), false};
                }
                co_return claim_outcome{std::nullopt, true};
            }
            auto executor = co_await boost::asio::this_coro::executor;
            boost::asio::steady_timer timer(executor, pause);
            co_await timer.async_wait(boost::asio::use_awaitable);
            pause = std::min(pause * 2, std::chrono::milliseconds(1'000));
            if (auto stored = co_await read_second(key)) {
                co_return claim_outcome{std::move(stored), false};
            }
        }
    }

    // take_over takes `claim_key` from a holder that has died (see claim_owner_gone), until
    // `until`; false when its holder lives or is not known to have died. Only a claim that still
    // ends where its holder last left it is taken: a claim renewed since, or taken over by
    // another caller, ends later (the second level's claim compares ends).
    boost::asio::awaitable<bool> take_over(const std::string& claim_key, std::int64_t until) {
        if (!options_.claim_owner_gone) {
            co_return false;
        }
        auto take = [this, &claim_key, until] {
            auto held = level2_->get(claim_key, time_.now_ms());
            if (!held) {
                return false;  // let go meanwhile: the next round claims it the usual way
            }
            const auto space = held->find(' ');
            if (space == std::string::npos) {
                return false;  // names no owner
            }
            std::int64_t ends = 0;
            const auto* first = held->data();
            const auto [last, error] = std::from_chars(first, first + space, ends);
            const std::string_view owner = std::string_view(*held).substr(space + 1);
            if (error != std::errc() || last != first + space || owner.empty() ||
                owner == options_.claim_owner || !options_.claim_owner_gone(owner)) {
                return false;
            }
            if (!level2_->claim(claim_key, claim_text(options_.claim_owner, until), until, ends)) {
                return false;
            }
            log::event(spdlog::level::info, "cache_claim_taken_over",
                       {{"cache", options_.name}, {"key", claim_key}, {"from", owner}});
            return true;
        };
        co_return co_await on_level2(take, false);
    }

    // A held claim's renewal while its load runs. The renewing coroutine runs on `strand`, where
    // its timer is also cancelled; `mutex` orders a renewal's write before the holder's release.
    struct claim_keeper {
        claim_keeper(boost::asio::any_io_executor executor, std::string claim_key)
            : strand(boost::asio::make_strand(executor)),
              timer(strand),
              key(std::move(claim_key)) {}
        boost::asio::strand<boost::asio::any_io_executor> strand;
        boost::asio::steady_timer timer;
        std::string key;
        std::mutex mutex;
        bool done = false;  // guarded by mutex
    };

    std::chrono::milliseconds renew_every() const {
        if (options_.claim_renew_every.count() > 0) {
            return options_.claim_renew_every;
        }
        return std::max(options_.claim_for / 3, std::chrono::milliseconds(1));
    }

    // renew_claim pushes the claim's end to claim_for from now, every renew_every(), until the
    // keeper is done. The second level must outlive it (it does the cache: see the header).
    static boost::asio::awaitable<void> renew_claim(
        std::shared_ptr<claim_keeper> keeper, second_level* level2, boost::asio::thread_pool* pool,
        const clock* time, std::chrono::milliseconds claim_for, std::chrono::milliseconds every,
        std::string owner) {
        auto renew = [&keeper, &owner, level2, time, claim_for] {
            std::lock_guard lock(keeper->mutex);
            if (keeper->done) {
                return false;
            }
            try {
                const auto until = time->now_ms() + claim_for.count();
                level2->put(keeper->key, claim_text(owner, until), until);
            } catch (...) {
                // A renewal that fails leaves the claim to end early: at worst a second load.
            }
            return true;
        };
        for (;;) {
            keeper->timer.expires_after(every);
            boost::system::error_code ec;
            auto wait = boost::asio::redirect_error(boost::asio::use_awaitable, ec);
            co_await keeper->timer.async_wait(wait);
            bool going = false;
            if (pool == nullptr) {
                going = renew();
            } else {
                going = co_await run_on(*pool, renew);
            }
            if (!going) {
                co_return;
            }
        }
    }

    std::shared_ptr<claim_keeper> keep_claim(boost::asio::any_io_executor executor,
                                             const std::string& key) {
        auto keeper = std::make_shared<claim_keeper>(executor, "claim:" + key);
        boost::asio::co_spawn(keeper->strand,
                              renew_claim(keeper, level2_, pool_, &time_, options_.claim_for,
                                          renew_every(), options_.claim_owner),
                              [](std::exception_ptr) {
                                  // renew_claim catches what the second level throws; nothing else
                                  // can escape.
                              });
        return keeper;
    }

    // stop_keeping ends the renewals: none is written after it returns.
    boost::asio::awaitable<void> stop_keeping(const std::shared_ptr<claim_keeper>& keeper) {
        auto stop = [&keeper] {
            std::lock_guard lock(keeper->mutex);
            keeper->done = true;
            return true;
        };
        co_await on_level2(stop, true);
        auto cancel = [keeper] { keeper->timer.cancel(); };
        boost::asio::post(keeper->strand, cancel);
    }

    boost::asio::awaitable<void> release_claim(const std::string& key) {
        const std::string claim_key = "claim:" + key;
        const auto now = time_.now_ms();
        auto release = [this, &claim_key, now] {
            level2_->put(claim_key, "", now);  // visible until now: gone
            return true;
        };
        co_await on_level2(release, false);
    }

    boost::asio::awaitable<result<found>> fill_miss(const std::string& key, const loader& load,
                                                    bool claim_first) {
        if (auto late = memory_.peek(key)) {
            co_return found{*late, found_in::memory};  // filled between our miss and this flight
        }
        bool claimed = false;
        if (level2_ != nullptr) {
            if (auto stored = co_await read_second(key)) {
                level2_lookups_.hit();
                memory_.put(key, *stored, ttl_for(*stored));
                co_return found{std::move(*stored), found_in::second};
            }
            level2_lookups_.miss();
            if (claim_first && options_.claim_for.count() > 0 && level2_->shared()) {
                auto claim = co_await take_claim(key);
                if (claim.value) {
                    memory_.put(key, *claim.value, ttl_for(*claim.value));
                    co_return found{std::move(*claim.value), found_in::second};
                }
                claimed = claim.held;
            }
        }
        std::shared_ptr<claim_keeper> keeper;
        if (claimed) {
            auto executor = co_await boost::asio::this_coro::executor;
            keeper = keep_claim(executor, key);
        }
        std::exception_ptr thrown;
        std::optional<result<V>> loaded;
        try {
            loaded.emplace(co_await load());
        } catch (...) {
            thrown = std::current_exception();
        }
        if (keeper) {
            co_await stop_keeping(keeper);
        }
        const bool keep = loaded && *loaded && options_.cacheable(**loaded);
        if (keep) {
            memory_.put(key, **loaded, ttl_for(**loaded));
            co_await put_second(key, **loaded);
        } else if (claimed) {
            co_await release_claim(key);
        }
        if (thrown) {
            std::rethrow_exception(thrown);
        }
        if (!*loaded) {
            co_return make_unexpected(loaded->error());
        }
        co_return found{std::move(**loaded), found_in::loader};
    }

    tiered_options<V> options_;
    const clock& time_;
    second_level* level2_;
    boost::asio::thread_pool* pool_;
    lru_cache<V> memory_;
    lookup_counters level2_lookups_;
    single_flight<found> flights_;
};

}  // namespace boomer::cache
