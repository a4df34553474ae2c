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
#include "pipeline/market/same_listing.hpp"

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

std::size_t heap_size(const comp& c) {
    std::size_t n = 0;
    for (const std::string* text : {&c.title, &c.currency, &c.sold_on, &c.match, &c.source,
                                    &c.condition_id, &c.url, &c.category_id, &c.listing_id}) {
        n += cache::heap_size(*text);
    }
    n += c.seen_by.capacity() * sizeof(std::string);
    for (const auto& source : c.seen_by) {
        n += cache::heap_size(source);
    }
    return n;
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
                 const fan_out_options& o, std::shared_ptr<comp_cache> c,
                 std::shared_ptr<comp_cache_backend> second)
        : strand(std::move(s)),
          query(q),
          options(o),
          comps_cache(std::move(c)),
          second_level(std::move(second)),
          started(steady::now()),
          wake(strand) {}

    asio::strand<asio::any_io_executor> strand;
    const market_query query;
    const fan_out_options options;
    const std::shared_ptr<comp_cache> comps_cache;
    const std::shared_ptr<comp_cache_backend> second_level;  // kept for comps_cache; may be null
    const steady::time_point started;

    std::vector<slot> slots;
    std::size_t remaining = 0;
    asio::steady_timer wake;

    std::int64_t elapsed_ms() const {
        auto d = steady::now() - started;
        return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
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

// The call to one source, its answer recorded as soon as it comes (a cache write follows). A
// cancellation (this source's timeout, or the whole search cancelled) goes up as an exception,
// also when the source turned it into a failure: a flight this search leads then passes to the
// next search waiting on it instead of ending in this search's cancellation. Other exceptions
// become failures. `st` is by value: the cache's loader starts this coroutine, which keeps its
// own copy.
asio::awaitable<result<std::vector<comp>>> ask_source(std::shared_ptr<search_state> st,
                                                      std::size_t i) {
    auto source = st->slots[i].source;
    result<std::vector<comp>> answer = fail("source_error", "");
    // A server error or a dropped connection is often gone a moment later: the source is asked
    // again, at most twice, within its own timeout (which cancels the pause too). A limit, a
    // refusal or a source that threw is not asked again.
    constexpr int max_tries = 3;
    constexpr std::chrono::milliseconds pause_step{200};
    for (int tries = 1;; ++tries) {
        bool threw = false;
        try {
            answer = co_await source->search(st->query);
        } catch (const boost::system::system_error& e) {
            if (e.code() == asio::error::operation_aborted) {
                throw;
            }
            threw = true;
        } catch (const std::exception&) {
            threw = true;
        }
        if (threw) {
            answer =
                fail("source_error", fmt::format("{} failed unexpectedly", source->name()), true);
            break;
        }
        if (answer || tries == max_tries || answer.error().code != "source_error" ||
            !answer.error().retryable) {
            break;
        }
        auto executor = co_await asio::this_coro::executor;
        asio::steady_timer pause(executor, pause_step * tries);
        co_await pause.async_wait(asio::use_awaitable);
    }
    auto cs = co_await asio::this_coro::cancellation_state;
    if (!answer && cs.cancelled() != asio::cancellation_type::none) {
        throw boost::system::system_error(asio::error::operation_aborted);
    }
    st->record(i, answer, "");
    co_return answer;
}

std::string_view cache_label(cache::found_in where) {
    switch (where) {
        case cache::found_in::memory:
            return "memory";
        case cache::found_in::second:
            return "store";
        case cache::found_in::flight:
            return "flight";
        case cache::found_in::loader:
        case cache::found_in::expired:  // searches wait for flights without a bound
            break;
    }
    return "";
}

// One source: through the cache unless it is listed as uncached, else the source itself.
asio::awaitable<void> run_source(std::shared_ptr<search_state> st, std::size_t i) {
    const std::string key = st->slots[i].cache_key;
    try {
        if (key.empty()) {
            auto task = ask_source(st, i);
            co_await std::move(task);  // records the answer itself
            co_return;
        }
        comp_cache::loader load = [st, i] { return ask_source(st, i); };
        auto where = cache::found_in::loader;
        auto answer = co_await st->comps_cache->get_or_load(key, load, &where);
        st->record(i, std::move(answer), cache_label(where));  // no-op after ask_source's
    } catch (const boost::system::system_error& e) {
        bool aborted = e.code() == asio::error::operation_aborted;
        st->record(
            i,
            fail(aborted ? "canceled" : "source_error",
                 aborted ? "the search was cancelled"
                         : fmt::format("{} failed unexpectedly", st->slots[i].source->name()),
                 !aborted),
            "");
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
    std::vector<source_comps> answers;
    for (auto& s : st->slots) {
        out.outcomes.push_back(s.outcome);
        answers.push_back({s.outcome.source, std::move(s.comps)});
    }
    out.comps = merge_same_listings(std::move(answers));
    co_return out;
}

}  // namespace

namespace {

cache::tiered_options<std::vector<comp>> cache_options(const fan_out_options& o) {
    cache::tiered_options<std::vector<comp>> c;
    c.name = "comps";
    c.memory = o.memory;
    auto active = std::chrono::milliseconds(o.active_ttl_ms);
    auto sold = std::chrono::milliseconds(o.sold_ttl_ms);
    c.ttl = active;
    c.ttl_of = [active, sold](const std::vector<comp>& comps) {
        bool any_active =
            std::any_of(comps.begin(), comps.end(), [](const comp& one) { return !one.sold; });
        return any_active ? active : sold;
    };
    c.encode = comps_to_json;
    c.decode = comps_from_json;
    return c;  // size: deep_size with heap_size(comp); cacheable: not empty
}

}  // namespace

fan_out::fan_out(std::vector<std::shared_ptr<comp_source>> sources, fan_out_options options,
                 const clock& time, std::shared_ptr<comp_cache_backend> second_level,
                 metrics::registry* metrics)
    : sources_(std::move(sources)),
      options_(std::move(options)),
      time_(time),
      second_level_(std::move(second_level)),
      cache_(std::make_shared<comp_cache>(cache_options(options_), time_, second_level_.get(),
                                          second_level_ ? second_level_->pool() : nullptr,
                                          metrics)) {
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
    auto st = std::make_shared<search_state>(asio::make_strand(exec), with_board, options_, cache_,
                                             second_level_);
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
