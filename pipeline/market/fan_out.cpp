// The parallel search over market sources (see fan_out.hpp). One search: a collector coroutine
// and one coroutine per source, all on one strand; the collector sleeps on a timer that the
// sources' answers and the next timeout wake.
#include "pipeline/market/fan_out.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <cctype>

#include "pipeline/market/comp_json.hpp"
#include "pipeline/market/condition.hpp"

namespace boomer::market {

namespace asio = boost::asio;
namespace json = boost::json;
using steady = std::chrono::steady_clock;

namespace {

constexpr auto wait = asio::as_tuple(asio::use_awaitable);

// Separates the parts of a cache key (a control character no query text keeps).
constexpr std::string_view sep = "\x1f";

std::string collapse_lower(std::string_view text) {
    std::string out;
    bool space = false;
    for (char ch : text) {
        auto c = static_cast<unsigned char>(ch);
        if (std::isspace(c) != 0) {
            space = !out.empty();
            continue;
        }
        if (space) {
            out += ' ';
            space = false;
        }
        out += static_cast<char>(std::tolower(c));
    }
    return out;
}

std::string optional_number(const std::optional<std::int64_t>& n) {
    return n ? std::to_string(*n) : std::string();
}

}  // namespace

std::string normalized_query_key(const market_query& q) {
    auto codes = q.barcodes;
    std::sort(codes.begin(), codes.end());
    std::string condition;
    if (auto m = map_condition(q.condition); m.recognised) {
        condition = std::to_string(m.condition.id);
    }
    std::string key =
        fmt::format("k={}{}t={}{}", collapse_lower(q.keywords), sep, collapse_lower(q.title), sep);
    for (const auto& code : codes) {
        key += "b=" + code;
        key += sep;
    }
    key += fmt::format("c={1}{0}cat={2}{0}cur={3}{0}min={4}{0}max={5}{0}n={6}", sep, condition,
                       q.category_id, q.currency, optional_number(q.min_price_minor),
                       optional_number(q.max_price_minor), q.limit);
    return key;
}

std::optional<std::vector<comp>> comp_memory_cache::get(const std::string& key,
                                                        std::int64_t now_ms) {
    std::lock_guard lock(mutex_);
    auto found = entries_.find(key);
    if (found == entries_.end() || found->second.expires_at_ms <= now_ms) {
        return std::nullopt;
    }
    return found->second.comps;
}

void comp_memory_cache::put(const std::string& key, std::vector<comp> comps, std::int64_t now_ms,
                            std::int64_t expires_at_ms) {
    if (max_entries_ == 0) {
        return;
    }
    std::lock_guard lock(mutex_);
    if (!entries_.contains(key) && entries_.size() >= max_entries_) {
        std::erase_if(entries_,
                      [now_ms](const auto& e) { return e.second.expires_at_ms <= now_ms; });
    }
    while (!entries_.contains(key) && entries_.size() >= max_entries_) {
        auto soonest = std::min_element(entries_.begin(), entries_.end(), [](auto& a, auto& b) {
            return a.second.expires_at_ms < b.second.expires_at_ms;
        });
        entries_.erase(soonest);
    }
    entries_[key] = entry{std::move(comps), expires_at_ms};
}

std::size_t comp_memory_cache::size() const {
    std::lock_guard lock(mutex_);
    return entries_.size();
}

std::string comps_to_json(const std::vector<comp>& comps) {
    json::array out;
    for (const auto& c : comps) {
        out.emplace_back(comp_to_json(c));
    }
    return json::serialize(out);
}

std::optional<std::vector<comp>> comps_from_json(std::string_view text) {
    boost::system::error_code ec;
    auto v = json::parse(text, ec);
    if (ec || !v.is_array()) {
        return std::nullopt;
    }
    std::vector<comp> out;
    for (const auto& e : v.as_array()) {
        auto c = comp_from_json(e);
        if (!c) {
            return std::nullopt;  // a value written by another version: a miss
        }
        out.push_back(std::move(*c));
    }
    return out;
}

namespace {

// The state of one search, shared by its coroutines; everything below the first blank line is
// touched only on `strand`.
struct search_state {
    struct slot {
        std::shared_ptr<comp_source> source;
        std::string cache_key;  // empty: not cached
        steady::time_point deadline;
        std::unique_ptr<asio::cancellation_signal> signal;
        bool done = false;
        source_outcome outcome;
        std::vector<comp> comps;
    };

    search_state(asio::strand<asio::any_io_executor> s, const market_query& q,
                 const fan_out_options& o, const clock& t, std::shared_ptr<comp_memory_cache> m,
                 std::shared_ptr<comp_cache_backend> second)
        : strand(std::move(s)),
          query(q),
          options(o),
          time(t),
          memory(std::move(m)),
          second_level(std::move(second)),
          started(steady::now()),
          wake(strand) {}

    asio::strand<asio::any_io_executor> strand;
    const market_query query;
    const fan_out_options options;
    const clock& time;
    const std::shared_ptr<comp_memory_cache> memory;
    const std::shared_ptr<comp_cache_backend> second_level;
    const steady::time_point started;

    std::vector<slot> slots;
    std::size_t remaining = 0;
    asio::steady_timer wake;

    std::int64_t elapsed_ms() const {
        auto d = steady::now() - started;
        return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
    }

    std::int64_t ttl_ms(const std::vector<comp>& comps) const {
        bool active = comps.empty() || std::any_of(comps.begin(), comps.end(),
                                                   [](const comp& c) { return !c.sold; });
        return active ? options.active_ttl_ms : options.sold_ttl_ms;
    }

    // record keeps a source's answer unless it already timed out; wakes the collector.
    void record(std::size_t i, result<std::vector<comp>> answer, std::string_view cache) {
        auto& s = slots[i];
        if (s.done) {
            return;
        }
        s.done = true;
        --remaining;
        s.outcome.ms = elapsed_ms();
        s.outcome.cache = std::string(cache);
        if (answer) {
            s.outcome.outcome = "ok";
            s.outcome.count = static_cast<int>(answer->size());
            s.comps = std::move(*answer);
        } else {
            s.outcome.outcome = answer.error().code;
            s.outcome.message = answer.error().message;
            s.outcome.retryable = answer.error().retryable;
        }
        if (query.board && s.source->learns_category()) {
            if (s.outcome.outcome == "ok") {
                // A live answer has published already; a cached one tells it by its comps.
                query.board->publish(choose_category("", s.comps), s.outcome.source);
            }
            query.board->publisher_done();
        }
        wake.cancel();
    }

    // stop ends a source that has not answered: recorded with `code`, its coroutine cancelled.
    void stop(std::size_t i, std::string code, std::string message) {
        auto& s = slots[i];
        if (s.done) {
            return;
        }
        record(i, fail(std::move(code), std::move(message), true), "");
        s.signal->emit(asio::cancellation_type::terminal);
    }
};

// Looks in both cache levels; a hit is recorded and returns true. Awaited directly by
// run_source, whose frame keeps `st` alive (a reference keeps temporaries out of the co_await
// expression, see core/async.hpp on GCC 12).
asio::awaitable<bool> from_cache(const std::shared_ptr<search_state>& st, std::size_t i) {
    auto& s = st->slots[i];
    auto now = st->time.now_ms();
    if (auto hit = st->memory->get(s.cache_key, now)) {
        st->record(i, std::move(*hit), "memory");
        co_return true;
    }
    if (!st->second_level) {
        co_return false;
    }
    std::optional<std::string> text;
    try {
        text = co_await st->second_level->get(s.cache_key, now);
    } catch (const std::exception&) {
        co_return false;  // the second level is an optimisation: a failure is a miss
    }
    auto comps = text ? comps_from_json(*text) : std::nullopt;
    if (!comps) {
        co_return false;
    }
    st->memory->put(s.cache_key, *comps, now, now + st->ttl_ms(*comps));
    st->record(i, std::move(*comps), "store");
    co_return true;
}

// Saves an answer in both cache levels. Awaited directly, like from_cache.
asio::awaitable<void> to_cache(const std::shared_ptr<search_state>& st, std::size_t i,
                               const std::vector<comp>& comps) {
    const auto& key = st->slots[i].cache_key;
    auto now = st->time.now_ms();
    auto expires = now + st->ttl_ms(comps);
    st->memory->put(key, comps, now, expires);
    if (st->second_level) {
        auto text = comps_to_json(comps);
        try {
            co_await st->second_level->put(key, text, expires);
        } catch (const std::exception&) {
            // Not saved for other replicas; the memory level still has it.
        }
    }
}

// One source: cache, then the source itself, then the cache again.
asio::awaitable<void> run_source(std::shared_ptr<search_state> st, std::size_t i) {
    auto source = st->slots[i].source;
    bool cached = !st->slots[i].cache_key.empty();
    if (cached) {
        bool hit = co_await from_cache(st, i);
        if (hit) {
            co_return;
        }
    }
    result<std::vector<comp>> answer = fail("source_error", "");
    try {
        answer = co_await source->search(st->query);
    } catch (const boost::system::system_error& e) {
        bool aborted = e.code() == asio::error::operation_aborted;
        answer = fail(aborted ? "canceled" : "source_error",
                      aborted ? "the search was cancelled"
                              : fmt::format("{} failed unexpectedly", source->name()),
                      !aborted);
    } catch (const std::exception&) {
        answer = fail("source_error", fmt::format("{} failed unexpectedly", source->name()), true);
    }
    std::optional<std::vector<comp>> to_save;
    if (answer && cached) {
        to_save = *answer;
    }
    st->record(i, std::move(answer), "");
    if (to_save) {
        co_await to_cache(st, i, *to_save);
    }
}

void start_sources(const std::shared_ptr<search_state>& st) {
    for (std::size_t i = 0; i < st->slots.size(); ++i) {
        auto task = run_source(st, i);
        auto& signal = *st->slots[i].signal;
        asio::co_spawn(st->strand, std::move(task),
                       asio::bind_cancellation_slot(signal.slot(), [st, i](std::exception_ptr e) {
                           if (e) {
                               st->record(i, fail("source_error", "the source failed", true), "");
                           }
                       }));
    }
}

// The collector: starts the sources, then wakes at each answer and each timeout until none runs.
asio::awaitable<fan_out_result> collect(std::shared_ptr<search_state> st) {
    st->remaining = st->slots.size();
    start_sources(st);
    while (st->remaining > 0) {
        auto next = steady::time_point::max();
        for (const auto& s : st->slots) {
            if (!s.done) {
                next = std::min(next, s.deadline);
            }
        }
        st->wake.expires_at(next);
        co_await st->wake.async_wait(wait);

        auto cs = co_await asio::this_coro::cancellation_state;
        if (cs.cancelled() != asio::cancellation_type::none) {
            for (std::size_t i = 0; i < st->slots.size(); ++i) {
                st->stop(i, "canceled", "the search was cancelled before this source answered");
            }
            break;
        }
        auto now = steady::now();
        for (std::size_t i = 0; i < st->slots.size(); ++i) {
            if (!st->slots[i].done && st->slots[i].deadline <= now) {
                st->stop(i, "source_timeout",
                         fmt::format("{} did not answer within {} ms", st->slots[i].source->name(),
                                     st->elapsed_ms()));
            }
        }
    }
    fan_out_result out;
    if (st->query.board) {
        out.category_id = st->query.board->id();
        out.category_source = st->query.board->source();
    }
    for (auto& s : st->slots) {
        out.outcomes.push_back(s.outcome);
        for (auto& c : s.comps) {
            out.comps.push_back(std::move(c));
        }
    }
    co_return out;
}

}  // namespace

fan_out::fan_out(std::vector<std::shared_ptr<comp_source>> sources, fan_out_options options,
                 const clock& time, std::shared_ptr<comp_cache_backend> second_level,
                 metrics::registry* metrics)
    : sources_(std::move(sources)),
      options_(std::move(options)),
      time_(time),
      memory_(std::make_shared<comp_memory_cache>(options_.memory_entries)),
      second_level_(std::move(second_level)) {
    if (metrics != nullptr) {
        outcomes_metric_ = &metrics->counter_family(
            "boomer_comps_source_outcomes_total",
            "Market source answers by outcome: ok, a failure code, or source_timeout.",
            {"source", "outcome"});
    }
}

asio::awaitable<fan_out_result> fan_out::search(const market_query& query) {
    if (sources_.empty()) {
        fan_out_result none;
        none.category_id = query.category_id;
        none.category_source = query.category_id.empty() ? "" : "hint";
        co_return none;
    }
    auto exec = co_await asio::this_coro::executor;
    int publishers = 0;
    for (const auto& source : sources_) {
        publishers += source->learns_category() ? 1 : 0;
    }
    auto with_board = query;
    with_board.board = std::make_shared<category_board>(query.category_id, publishers);
    auto st = std::make_shared<search_state>(asio::make_strand(exec), with_board, options_, time_,
                                             memory_, second_level_);
    auto key = normalized_query_key(query);
    for (const auto& source : sources_) {
        search_state::slot s;
        s.source = source;
        s.outcome.source = source->name();
        auto timeout = options_.source_timeout;
        if (auto found = options_.timeouts.find(s.outcome.source);
            found != options_.timeouts.end()) {
            timeout = found->second;
        }
        s.deadline = st->started + std::min(timeout, options_.deadline);
        bool uncached = std::find(options_.uncached.begin(), options_.uncached.end(),
                                  s.outcome.source) != options_.uncached.end();
        if (!uncached) {
            s.cache_key = fmt::format("comps{0}{1}{0}{2}", sep, s.outcome.source, key);
        }
        s.signal = std::make_unique<asio::cancellation_signal>();
        st->slots.push_back(std::move(s));
    }

    auto task = collect(st);
    auto out = co_await asio::co_spawn(st->strand, std::move(task), asio::use_awaitable);
    if (outcomes_metric_ != nullptr) {
        for (const auto& o : out.outcomes) {
            outcomes_metric_->with({o.source, o.outcome}).inc();
        }
    }
    co_return out;
}

}  // namespace boomer::market
