// The routing and retry loop of the Claude vision model, and its metrics; the answers it keeps
// are in claude_answer_cache.hpp.
#include "clients/claude_vision.hpp"

#include <algorithm>
#include <atomic>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <tuple>
#include <utility>

#include "clients/anthropic_messages.hpp"
#include "clients/claude_answer_cache.hpp"
#include "clients/claude_answers.hpp"
#include "clients/claude_batcher.hpp"
#include "clients/claude_request_context.hpp"
#include "core/log.hpp"
#include "resilience/adaptive_concurrency.hpp"
#include "resilience/breaker_board.hpp"
#include "resilience/deadline.hpp"
#include "resilience/first_answer_gate.hpp"
#include "resilience/retry.hpp"
#include "resilience/sleeper.hpp"

namespace boomer::clients {
namespace {

namespace asio = boost::asio;
using steady = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::string_view rate_wait_code = "vision_rate_limit_wait";

constexpr std::string_view token_kinds[] = {"input", "cache_write_5m", "cache_write_1h",
                                            "cache_read", "output"};
constexpr std::string_view limit_resources[] = {"requests", "tokens", "input_tokens",
                                                "output_tokens"};

asio::awaitable<void> timer_sleep(milliseconds delay) {
    asio::steady_timer timer(co_await asio::this_coro::executor, delay);
    co_await timer.async_wait(asio::use_awaitable);
}

// The options' sleep hook seen as a resilience::sleeper (rate-limit waits use it too).
class hook_sleeper final : public resilience::sleeper {
public:
    explicit hook_sleeper(const std::function<asio::awaitable<void>(milliseconds)>& hook)
        : hook_(hook) {}
    asio::awaitable<void> sleep_for(milliseconds delay) override {
        if (delay.count() > 0) {
            co_await hook_(delay);
        }
    }

private:
    const std::function<asio::awaitable<void>(milliseconds)>& hook_;
};

// How an attempt's outcome feeds adaptive concurrency: 529s and timeouts mean "slow down". So
// does a 429 while the rate limit is unknown; once the answers' headers have given it (`paced`),
// the rate limiter spaces the calls and a 429 only says the bucket ran dry, which fewer calls in
// flight would not cure: cutting the limit then only starves the allowed rate for minutes.
resilience::call_signal concurrency_signal(bool answered, const failure& problem, bool paced) {
    if (answered) {
        return resilience::call_signal::success;
    }
    if (problem.code == "vision_rate_limited") {
        return paced ? resilience::call_signal::neutral : resilience::call_signal::overload;
    }
    if (problem.code == "vision_overloaded" || problem.code == "vision_timeout") {
        return resilience::call_signal::overload;
    }
    return resilience::call_signal::neutral;
}

// Server-side failures count against the breaker; a 429 says nothing about the server's health
// and other 4xx answers show it is up.
bool server_failure(const failure& problem) {
    return problem.code == "vision_timeout" || problem.code == "vision_unreachable" ||
           problem.code == "vision_upstream_error" || problem.code == "vision_overloaded" ||
           problem.code == "vision_bad_response";
}

// refused_by_claude is true for an error answer of Claude's own about its state (5xx, 529,
// 429): the call was not processed, and is not billed. A timeout or a broken connection may
// have been.
bool refused_by_claude(const failure& problem) {
    return problem.code == "vision_upstream_error" || problem.code == "vision_overloaded" ||
           problem.code == "vision_rate_limited";
}

// The vision failure for a transport failure of https_client.
failure transport_failure(const failure& f) {
    if (f.code == "timeout") {
        return failure{"vision_timeout", "Claude did not answer in time. " + f.message, true};
    }
    if (f.code == "connect_failed" || f.code == "tls_failed") {
        return failure{"vision_unreachable", "Claude could not be reached. " + f.message, true};
    }
    return failure{"vision_unreachable", "The connection to Claude failed. " + f.message,
                   f.retryable};
}

// The failure of a call that the stage's deadline ended, retryable (the job's next attempt has a
// whole deadline again): what stopped it, then the last problem Claude gave, if any.
failure deadline_failure(milliseconds budget, const std::string& why, const failure* last) {
    std::string message = "Claude did not identify the item within the " +
                          std::to_string(budget.count()) + " ms deadline: " + why + ".";
    if (last != nullptr && !last->message.empty()) {
        message += " Last problem: " + last->message;
    }
    return failure{"vision_deadline", std::move(message), true};
}

// batch_call_for makes the batch call of `request`: its body, and the photos' budget share when
// they can be loaded again (the request drops them, so that the wait for the batch holds none).
batch_call batch_call_for(pipeline::identify_request& request, std::string key, std::string body) {
    batch_call call;
    call.key = std::move(key);
    call.params = std::move(body);
    call.item_id = request.item_id;
    call.park = request.may_park;
    call.wanted = request.wanted;
    if (request.reload_photos) {
        call.hold = std::move(request.hold);
        request.drop_photos();
    }
    return call;
}

// parked is the identification of a call that waits in a batch (batch_call::park).
pipeline::identification parked(const model_answer& a) {
    pipeline::identification out;
    out.parked_in = a.parked_in;
    return out;
}

bool complete(const model_answer& a) {
    return a.reply && a.reply->missing_fields.empty();
}

// What one HTTP attempt came to: an answer (recorded in the model_answer), or a problem and the
// wait the server asked for, if any.
struct attempt_verdict {
    bool answered = false;
    bool sent = false;     // the request went out (it counts as an attempt)
    bool reached = false;  // it was sent and a connection to Claude carried it
    bool stop = false;     // do not retry (the breaker refused the call, or the deadline ended it)
    // The attempt timed out on a timeout the stage's deadline had shortened: it says more about
    // the time left than about the server.
    bool cut_short = false;
    // The connection broke before an answer: a stale or reset connection says nothing of the
    // server's health (a server that is down refuses connections or times out instead).
    bool connection_broke = false;
    failure problem;
    std::optional<milliseconds> wait;
};

// The cheap answer goes on to the strong model when it is unsure, incomplete or unreadable.
bool should_escalate(const model_answer& first, const claude_options& options) {
    if (options.strong_model.empty()) {
        return false;
    }
    if (first.reply) {
        return first.reply->identification.confidence < options.escalation_threshold ||
               !complete(first);
    }
    return first.error && first.error->code == "vision_bad_response";
}

// How an escalation ended: "strong" (its complete answer is used), "fallback" (the cheap
// model's complete answer stands) or "failed" (neither is complete); the reason is the stronger
// call's failure code, or "incomplete" when it answered without every required field.
struct escalation_end {
    std::string outcome;
    std::string reason;
};

escalation_end end_of_escalation(const model_answer& cheap, const model_answer& strong) {
    if (complete(strong)) {
        return {"strong", "none"};
    }
    std::string reason = strong.error ? strong.error->code : "incomplete";
    return {complete(cheap) ? "fallback" : "failed", std::move(reason)};
}

// The strong model's complete answer wins, then the cheap model's; without one, the last error.
result<pipeline::identification> compose(const std::vector<model_answer>& answers) {
    const model_answer* chosen = nullptr;
    for (auto it = answers.rbegin(); it != answers.rend() && chosen == nullptr; ++it) {
        if (complete(*it)) {
            chosen = &*it;
        }
    }
    if (chosen == nullptr) {
        if (answers.back().error) {
            return make_unexpected(*answers.back().error);
        }
        return fail("vision_no_answer",
                    "Claude did not return a usable identification (missing: title, category or "
                    "search query); the item can be retried or reviewed by hand.",
                    true);
    }
    pipeline::identification id = chosen->reply->identification;
    id.source = chosen->record.model;
    id.escalated = answers.size() > 1;
    if (id.escalated) {
        auto end = end_of_escalation(answers.front(), answers.back());
        id.escalation_outcome = end.outcome;
        if (end.outcome == "fallback") {
            id.escalation_reason = end.reason;
        }
    }
    for (const auto& a : answers) {
        id.cost_micros += a.record.cost_micros;
        id.calls.push_back(a.record);
    }
    return id;
}

}  // namespace

// Metric families and the children used on every call, looked up once per model.
struct vision_metrics {
    metrics::family<metrics::counter>& calls;
    metrics::family<metrics::counter>& errors;
    metrics::family<metrics::counter>& retries;
    metrics::family<metrics::counter>& retries_refused;
    metrics::family<metrics::histogram>& seconds;
    metrics::family<metrics::counter>& tokens;
    metrics::family<metrics::counter>& dollars;
    metrics::counter& escalations;
    metrics::family<metrics::counter>& escalation_ends;
    metrics::family<metrics::gauge>& limit;
    metrics::family<metrics::gauge>& remaining;
    metrics::family<metrics::gauge>& concurrency;
    metrics::family<metrics::histogram>& waits;
    metrics::family<metrics::gauge>& in_flight;
    metrics::family<metrics::counter>& replayed;

    explicit vision_metrics(metrics::registry& r)
        : calls(r.counter_family(
              "boomer_vision_calls_total",
              "Vision model calls asked for, by outcome, all attempts of one call counting once; "
              "the outcomes vision_unavailable and vision_rate_limit_wait were "
              "never sent (an open breaker, the rate limits).",
              {"model", "outcome"})),
          errors(r.counter_family("boomer_vision_errors_total",
                                  "Failed vision HTTP attempts by error type.", {"model", "type"})),
          retries(r.counter_family("boomer_vision_retries_total",
                                   "Vision HTTP attempts that were retries.", {"model"})),
          retries_refused(r.counter_family("boomer_vision_retries_refused_total",
                                           "Retries not made: the retry budget was spent.",
                                           {"model"})),
          seconds(r.histogram_family("boomer_vision_request_seconds",
                                     "Duration of one vision HTTP attempt.", {"model"})),
          tokens(r.counter_family("boomer_vision_tokens_total", "Tokens billed by kind.",
                                  {"model", "kind"})),
          dollars(r.counter_family("boomer_vision_cost_dollars_total",
                                   "US dollars spent on vision calls, by token kind.",
                                   {"model", "kind"})),
          escalations(
              r.counter_family("boomer_vision_escalations_total",
                               "Items sent on to the stronger model, counted when that call ends.")
                  .with({})),
          escalation_ends(r.counter_family(
              "boomer_vision_escalation_outcomes_total",
              "How escalations ended: strong (its answer is used), fallback (the cheap answer "
              "stands; reason: the stronger call's failure code, or incomplete) or failed.",
              {"outcome", "reason"})),
          limit(r.gauge_family("boomer_anthropic_ratelimit_limit",
                               "Anthropic rate limit per minute, from the last answer's headers.",
                               {"model", "resource"})),
          remaining(r.gauge_family("boomer_anthropic_ratelimit_remaining",
                                   "What the last answer said is left of the rate limit.",
                                   {"model", "resource"})),
          concurrency(r.gauge_family("boomer_vision_concurrency_limit",
                                     "Vision calls allowed in flight now (adaptive).", {"model"})),
          waits(r.histogram_family(
              "boomer_vision_wait_seconds",
              "Time an attempt waited before it was sent: for its model's first answer "
              "(first_answer), for a concurrency slot (slot) or for the rate limiter (rate).",
              {"model", "for"})),
          in_flight(r.gauge_family("boomer_vision_in_flight",
                                   "Vision calls holding a concurrency slot now.", {"model"})),
          replayed(r.counter_family(
              "boomer_vision_calls_replayed_total",
              "Vision answers the call keeper had already: journaled after an earlier process "
              "or attempt paid for them, or from a call it was still making for one.",
              {"model"})) {}
};

// allowed_calls_per_minute returns how many calls like `per_call` the limits in force allow per
// minute: the tightest of requests, input tokens and output tokens (0: no limit known).
double allowed_calls_per_minute(const resilience::rate_limiter& limiter,
                                const resilience::rate_cost& per_call) {
    const std::pair<resilience::rate_resource, std::int64_t> parts[] = {
        {resilience::rate_resource::requests, 1},
        {resilience::rate_resource::input_tokens, per_call.input_tokens},
        {resilience::rate_resource::output_tokens, per_call.output_tokens}};
    double calls = 0.0;
    for (const auto& [resource, cost] : parts) {
        auto per_minute = limiter.limit(resource);
        if (per_minute <= 0 || cost <= 0) {
            continue;
        }
        double fits = static_cast<double>(per_minute) / static_cast<double>(cost);
        calls = calls == 0.0 ? fits : std::min(calls, fits);
    }
    return calls;
}

// What limits the calls to one model.
struct model_guard {
    resilience::rate_limiter limiter;
    resilience::adaptive_concurrency concurrency;
    // Until the model first answers, its calls go one at a time: the answer tells its limits and
    // writes the prompt's cache entry, which calls sent before it begins could not read.
    resilience::first_answer_gate first_answer;

    model_guard(const claude_options& o, const clock& time, resilience::sleeper& sleep)
        : limiter(o.rate_limits, time, sleep),
          concurrency({.initial = static_cast<double>(o.concurrency_initial),
                       .min = 1.0,
                       .max = static_cast<double>(o.concurrency_max),
                       .slow_start = true}) {}

    // typical_cost returns the mean tokens answered calls really used (the estimate before the
    // first answer): the token limits divided by it give the calls per minute they allow.
    resilience::rate_cost typical_cost(const resilience::rate_cost& estimate) const {
        std::lock_guard lock(usage_mutex);
        if (answered == 0) {
            return estimate;
        }
        return {.requests = 1,
                .input_tokens = std::max<std::int64_t>(1, std::llround(mean_input)),
                .output_tokens = std::max<std::int64_t>(1, std::llround(mean_output))};
    }

    // reservation returns what a call reserves against the limits: `estimate`, with the output
    // tokens lowered to twice what answers really used (max_tokens is a ceiling, not a typical
    // answer) and the input tokens scaled by what answers used against their estimates, without
    // cache writes, with a tenth more (the per-photo estimate is a ceiling too, and calls held
    // back by a reservation several times their cost would pace a burst well below the limit).
    // Settling corrects the difference; a reservation that is too low for one call is caught up by
    // the next ones, and the headers correct the buckets.
    resilience::rate_cost reservation(const resilience::rate_cost& estimate) const {
        std::lock_guard lock(usage_mutex);
        auto out = estimate;
        if (answered > 0) {
            out.output_tokens = std::min<std::int64_t>(
                estimate.output_tokens, std::max<std::int64_t>(1, std::llround(2.0 * mean_output)));
            out.input_tokens = std::min<std::int64_t>(
                estimate.input_tokens,
                std::max<std::int64_t>(
                    1,
                    std::llround(1.1 * input_ratio * static_cast<double>(estimate.input_tokens))));
        }
        return out;
    }

    // record_usage adds an answered call's tokens and time to the running means; `estimate` is
    // what the call was estimated to cost, `uncached_input` its input tokens without cache
    // writes. A write comes once per cached prompt (the first answer of a model writes one
    // several times a call's size): counted in the means, it would make typical calls look
    // costly for dozens of answers and hold the calls in flight, and the ratio, far below what
    // the limits allow. The limiter is settled with the write all the same.
    void record_usage(const resilience::rate_cost& used, std::int64_t uncached_input,
                      const resilience::rate_cost& estimate, milliseconds latency) {
        std::lock_guard lock(usage_mutex);
        constexpr double weight = 0.05;
        auto in = static_cast<double>(uncached_input);
        auto out = static_cast<double>(used.output_tokens);
        auto ms = static_cast<double>(latency.count());
        auto ratio = static_cast<double>(uncached_input) /
                     static_cast<double>(std::max<std::int64_t>(1, estimate.input_tokens));
        input_ratio = answered == 0 ? ratio : input_ratio + weight * (ratio - input_ratio);
        mean_input = answered == 0 ? in : mean_input + weight * (in - mean_input);
        mean_output = answered == 0 ? out : mean_output + weight * (out - mean_output);
        mean_latency_ms = answered == 0 ? ms : mean_latency_ms + weight * (ms - mean_latency_ms);
        ++answered;
    }

    // refused_in_a_row counts the calls Claude refused (429, 5xx, 529) since the model last
    // answered one.
    std::atomic<int> refused_in_a_row{0};

    // answers_so_far counts the calls the model has answered: a call that failed with none
    // answered meanwhile met an outage.
    std::int64_t answers_so_far() const {
        std::lock_guard lock(usage_mutex);
        return answered;
    }

    // typical_latency returns how long answered calls took, on average (0 before the first): a
    // call sent with less time left would most likely be cut off, and paid for all the same.
    milliseconds typical_latency() const {
        std::lock_guard lock(usage_mutex);
        return milliseconds(std::llround(mean_latency_ms));
    }

private:
    mutable std::mutex usage_mutex;
    double mean_input = 0.0;       // guarded by usage_mutex
    double mean_output = 0.0;      // guarded by usage_mutex
    double mean_latency_ms = 0.0;  // guarded by usage_mutex
    double input_ratio = 1.0;      // input tokens used over estimated; guarded by usage_mutex
    std::int64_t answered = 0;     // guarded by usage_mutex
};

struct claude_vision::impl {
    claude_options options;
    https_client http;
    std::unique_ptr<call_keeper_client> keeper;  // null: calls go directly
    vision_metrics metrics;
    std::string url;
    const clock& time;
    hook_sleeper sleeper{options.sleep};
    resilience::retry_budget budget;
    resilience::breaker_board breakers;
    // When the process stops (its drain's end, epoch ms): calls that could not be answered by
    // then are not sent.
    std::atomic<std::int64_t> stop_at_ms{std::numeric_limits<std::int64_t>::max()};
    // Paid answers: memory, then options.answers, then a paid call, one per key at a time.
    std::unique_ptr<answer_cache> answers;
    std::mutex guards_mutex;
    std::map<std::string, std::unique_ptr<model_guard>> guards;  // guarded by guards_mutex
    std::unique_ptr<claude_batcher> batcher;                     // bulk calls, when batches are on
    // Told when a trial call closed a model's breaker (on_resumed); guarded by guards_mutex.
    std::function<void()> resumed;
    // Gauges reading the batcher at each scrape; null without one.
    metrics::callback_gauge* batches_in_flight = nullptr;
    metrics::callback_gauge* batch_calls_waiting = nullptr;

    impl(claude_options o, asio::any_io_executor executor, metrics::registry& registry)
        : options(std::move(o)),
          http(executor, options.http),
          metrics(registry),
          time(options.time != nullptr ? *options.time : system_clock::instance()),
          budget({.ratio = options.retry_budget_ratio,
                  .max_balance = 10.0,
                  .floor_per_second = options.retry_floor_per_second},
                 time),
          breakers({.failure_threshold = options.breaker_failures,
                    .open_for = options.breaker_open_for,
                    .half_open_probes = 1,
                    .half_open_max_wait = options.breaker_probe_wait},
                   time, &registry) {
        url = options.base_url;
        while (!url.empty() && url.back() == '/') {
            url.pop_back();
        }
        url += "/v1/messages";
        if (!options.keeper.program.empty() && !options.keeper.dir.empty()) {
            auto keeping = options.keeper;
            keeping.url = url;
            keeper = std::make_unique<call_keeper_client>(executor, std::move(keeping));
        }
        if (!options.sleep) {
            options.sleep = timer_sleep;
        }
        if (!options.jitter) {
            options.jitter = resilience::thread_random;
        }
        if (options.answers) {
            answers = std::make_unique<answer_cache>(answer_cache_options(options), time,
                                                     options.answers.get(), options.answers->pool(),
                                                     &registry);
        } else {
            // Answers are not kept, yet identical calls in flight together are still made once:
            // the cache only shares each call while it runs, and keeps nothing after.
            auto shared_only = answer_cache_options(options);
            shared_only.encode = nullptr;
            shared_only.decode = nullptr;
            shared_only.cacheable = [](const model_answer&) { return false; };
            shared_only.claim_for = milliseconds(0);
            answers = std::make_unique<answer_cache>(std::move(shared_only), time, nullptr, nullptr,
                                                     &registry);
        }
        if (options.batch.enabled && options.answers) {
            batcher = std::make_unique<claude_batcher>(options, executor);
            batcher->on_line_billed([this](const messages_reply& line) {
                pipeline::vision_call record;
                record.model = line.model;
                record.usage = line.usage;
                const auto model = asked_model(line.model);
                record_usage(model, record);
                metrics.calls.with({model, "ok"}).inc();
            });
            batches_in_flight =
                &registry
                     .callback_gauge_family("boomer_vision_batches_in_flight",
                                            "Message batches this process made or joined and "
                                            "has not yet seen ended.",
                                            {})
                     .with({});
            batch_calls_waiting =
                &registry
                     .callback_gauge_family("boomer_vision_batch_calls_waiting",
                                            "Bulk vision calls waiting for their line of a "
                                            "message batch.",
                                            {})
                     .with({});
            batches_in_flight->set_callback(
                [b = batcher.get()] { return static_cast<double>(b->load().batches); });
            batch_calls_waiting->set_callback(
                [b = batcher.get()] { return static_cast<double>(b->load().calls); });
        }
        prompt_tokens = estimate_prompt_tokens();
    }

    ~impl() {
        if (batches_in_flight != nullptr) {
            batches_in_flight->clear_callback();
            batch_calls_waiting->clear_callback();
        }
    }
    impl(const impl&) = delete;
    impl& operator=(const impl&) = delete;

    std::int64_t now_ms() const { return time.now_ms(); }

    model_guard& guard_for(const std::string& model) {
        std::lock_guard lock(guards_mutex);
        auto& g = guards[model];
        if (!g) {
            g = std::make_unique<model_guard>(options, time, sleeper);
        }
        return *g;
    }

    resilience::backoff_policy backoff_policy() const {
        return {.base = options.backoff_base,
                .cap = options.backoff_cap,
                .max_retry_after = options.max_retry_after};
    }

    // What every call sends besides its photos and hints (the system prompt, the tool's
    // schema), in tokens at about four characters each. Most calls read it from the prompt
    // cache, which the input-token limit does not count; a call that writes the cache (a
    // model's first, or the first after the entry expired) pays it in full, and a reservation
    // without it would be sent into a 429 by a tight limit. Answers correct the estimate
    // (model_guard::reservation).
    std::int64_t prompt_tokens = 0;

    std::int64_t estimate_prompt_tokens() const {
        pipeline::identify_request bare;
        bare.jpeg_images = {std::string("\xFF\xD8\xFF\xD9")};  // the smallest JPEG-like bytes
        identify_call_params params;
        params.model = options.cheap_model;
        params.max_tokens = options.max_tokens;
        params.cache_ttl = options.cache_ttl;
        return static_cast<std::int64_t>(build_identify_body(bare, params).size() / 4);
    }

    resilience::rate_cost estimate(const pipeline::identify_request& request) const {
        auto images = static_cast<std::int64_t>(request.jpeg_images.size());
        return {.requests = 1,
                .input_tokens = options.input_tokens_per_image * images + prompt_tokens,
                .output_tokens =
                    std::min<std::int64_t>(options.output_tokens_estimate, options.max_tokens)};
    }

    std::string body_for(const pipeline::identify_request& request, const std::string& model) const;
    http_call make_call(std::string body) const;
    void record_limits(const std::string& model, const rate_limits& limits);
    void record_usage(const std::string& model, pipeline::vision_call& record);
    // price_of is what `record`'s usage cost, priced as the model that answered (else `model`,
    // the one asked for).
    std::int64_t price_of(const pipeline::vision_call& record, const std::string& model) const;
    // asked_model is the configured model (the metrics' label) a line answered by `served`, a
    // dated id, was asked of.
    std::string asked_model(const std::string& served) const;
    attempt_verdict judge(const std::string& model, const result<http_response>& res,
                          model_answer& out);
    attempt_verdict out_of_time(const std::string& why) const;
    // unanswered_needs is the time a call needs while its model has never answered: a quarter
    // of the deadline, at most 20 s (a vision answer takes seconds) and at most an attempt.
    milliseconds unanswered_needs() const {
        return std::min(
            {milliseconds(20'000), options.stage_deadline / 4, options.attempt_timeout});
    }
    // tell_resumed tells the on_resumed listener that calls may go again.
    void tell_resumed() {
        std::function<void()> listener;
        {
            std::lock_guard lock(guards_mutex);
            listener = resumed;
        }
        if (listener) {
            listener();
        }
    }
    asio::awaitable<attempt_verdict> try_once(http_call& call, const std::string& keep_key,
                                              const std::string& model,
                                              const resilience::rate_cost& estimate,
                                              const resilience::deadline& stage,
                                              const std::function<bool()>& wanted,
                                              model_answer& out);
    asio::awaitable<result<http_response>> send_call(const http_call& call,
                                                     const std::string& keep_key, bool& replayed);
    // The functions below are awaited directly: the caller's frame keeps the referenced
    // request alive (see core/async.hpp on GCC 12). A bulk call may wait hours for its batch
    // in those on its way (answer, the cache's, pay, call_batch), so they keep little in their
    // frames: what follows the wait is done by plain functions, and pay and answer are plain
    // functions that return the coroutine they chose.
    // `key` is the body's answer_key: the keeper's name for the call is made from it.
    asio::awaitable<model_answer> call_model(std::shared_ptr<impl> self,
                                             const pipeline::identify_request& request,
                                             std::string key, std::string body, std::string model,
                                             resilience::deadline stage);
    asio::awaitable<result<model_answer>> call_paid(std::shared_ptr<impl> self,
                                                    const pipeline::identify_request& request,
                                                    std::string key, std::string body,
                                                    std::string model, resilience::deadline stage);
    asio::awaitable<result<model_answer>> call_batch(std::shared_ptr<impl> self,
                                                     pipeline::identify_request& request,
                                                     std::string key, std::string body,
                                                     std::string model);
    model_answer batch_answer(batch_reply got, const std::string& model, steady::time_point start);
    asio::awaitable<result<model_answer>> pay(std::shared_ptr<impl> self,
                                              pipeline::identify_request& request, std::string key,
                                              std::string body, std::string model,
                                              resilience::deadline stage);
    asio::awaitable<model_answer> answer(std::shared_ptr<impl> self,
                                         pipeline::identify_request& request, std::string model,
                                         resilience::deadline stage);
    // sync_on_last_attempt makes the request's call to `model` synchronous (not bulk, not
    // parking) on the item's last attempt when no batch holds it; the caller restores the
    // request's mode after the call.
    static asio::awaitable<void> sync_on_last_attempt(std::shared_ptr<impl> self,
                                                      pipeline::identify_request& request,
                                                      const std::string& model);
    asio::awaitable<model_answer> cached_answer(std::shared_ptr<impl> self,
                                                pipeline::identify_request& request,
                                                std::string key, std::string body,
                                                std::string model, resilience::deadline stage);
    asio::awaitable<model_answer> batched_answer(std::shared_ptr<impl> self,
                                                 pipeline::identify_request& request,
                                                 flight_lead lead, std::string body,
                                                 std::string model);
    static asio::awaitable<std::unique_ptr<model_answer>> kept_answer(std::shared_ptr<impl> self,
                                                                      flight_lead& lead,
                                                                      const std::string& model,
                                                                      const std::string& item_id);
    model_answer settle(result<model_answer> got, cache::found_in where, const std::string& model,
                        const std::string& item_id) const;
    static asio::awaitable<std::optional<failure>> reload_photos(
        pipeline::identify_request& request);
    static asio::awaitable<result<pipeline::identification>> escalate(
        std::shared_ptr<impl> self, pipeline::identify_request& request,
        std::vector<model_answer> answers, resilience::deadline stage);
    model_answer reused(model_answer found, const std::string& model,
                        const std::string& item_id) const;
    model_answer gave_up(const std::string& model) const;
    model_answer without_photos(const std::string& model, failure why) const;
};

std::string claude_vision::impl::body_for(const pipeline::identify_request& request,
                                          const std::string& model) const {
    return build_identify_body(request, identify_params(options, model));
}

http_call claude_vision::impl::make_call(std::string body) const {
    http_call call;
    call.url = url;
    call.timeout = options.attempt_timeout;
    call.headers = {{"x-api-key", options.api_key.reveal()},
                    {"anthropic-version", std::string(anthropic_version)},
                    {"content-type", "application/json"}};
    call.body = std::move(body);
    return call;
}

void claude_vision::impl::record_limits(const std::string& model, const rate_limits& limits) {
    const rate_limit_bucket* buckets[] = {&limits.requests, &limits.tokens, &limits.input_tokens,
                                          &limits.output_tokens};
    auto& limiter = guard_for(model).limiter;
    limiter.observe(resilience::rate_resource::requests,
                    {.limit = limits.requests.limit, .remaining = limits.requests.remaining});
    limiter.observe(
        resilience::rate_resource::input_tokens,
        {.limit = limits.input_tokens.limit, .remaining = limits.input_tokens.remaining});
    limiter.observe(
        resilience::rate_resource::output_tokens,
        {.limit = limits.output_tokens.limit, .remaining = limits.output_tokens.remaining});
    for (std::size_t i = 0; i < std::size(buckets); ++i) {
        if (buckets[i]->limit) {
            metrics.limit.with({model, limit_resources[i]})
                .set(static_cast<double>(*buckets[i]->limit));
        }
        if (buckets[i]->remaining) {
            metrics.remaining.with({model, limit_resources[i]})
                .set(static_cast<double>(*buckets[i]->remaining));
        }
    }
}

std::int64_t claude_vision::impl::price_of(const pipeline::vision_call& record,
                                           const std::string& model) const {
    auto price = options.prices.find(record.model);
    if (!price) {
        price = options.prices.find(model);  // validated at start, so always found
    }
    return price_call(*price, record.usage).total;
}

std::string claude_vision::impl::asked_model(const std::string& served) const {
    for (const auto* configured : {&options.strong_model, &options.cheap_model}) {
        if (!configured->empty() && served.starts_with(*configured)) {
            return *configured;
        }
    }
    return served;
}

void claude_vision::impl::record_usage(const std::string& model, pipeline::vision_call& record) {
    const auto& u = record.usage;
    auto price = options.prices.find(record.model);
    if (!price) {
        price = options.prices.find(model);  // validated at start, so always found
    }
    auto cost = price_call(*price, u);
    record.cost_micros = cost.total;

    std::int64_t write_5m =
        u.has_cache_creation_split ? u.cache_creation_5m_tokens : u.cache_creation_input_tokens;
    std::int64_t write_1h = u.has_cache_creation_split ? u.cache_creation_1h_tokens : 0;
    std::int64_t counts[] = {u.input_tokens, write_5m, write_1h, u.cache_read_input_tokens,
                             u.output_tokens};
    std::int64_t micros[] = {cost.input, cost.cache_write_5m, cost.cache_write_1h, cost.cache_read,
                             cost.output};
    for (std::size_t i = 0; i < std::size(token_kinds); ++i) {
        metrics.tokens.with({model, token_kinds[i]})
            .inc(static_cast<double>(std::max<std::int64_t>(counts[i], 0)));
        metrics.dollars.with({model, token_kinds[i]}).inc(static_cast<double>(micros[i]) / 1e6);
    }
}

attempt_verdict claude_vision::impl::judge(const std::string& model,
                                           const result<http_response>& res, model_answer& out) {
    attempt_verdict verdict;
    if (!res) {
        metrics.errors.with({model, res.error().code}).inc();
        verdict.problem = transport_failure(res.error());
        verdict.connection_broke = res.error().code == "connection_failed";
        return verdict;
    }
    auto meta = read_response_meta(*res, now_ms());
    record_limits(model, meta.limits);
    out.record.request_id = meta.request_id;
    if (res->status != 200) {
        auto error = parse_api_error(res->status, res->body);
        metrics.errors.with({model, error.type.empty() ? std::to_string(res->status) : error.type})
            .inc();
        verdict.problem = classify_error(error, meta);
        verdict.wait = meta.retry_after;
        return verdict;
    }
    auto reply = parse_messages_reply(res->body);
    if (!reply) {
        metrics.errors.with({model, "bad_response"}).inc();
        verdict.problem = reply.error();
        return verdict;
    }
    out.record.model = reply->model.empty() ? model : reply->model;
    out.body = res->body;
    out.record.usage = reply->usage;
    out.record.outcome = "ok";
    out.record.confidence = reply->identification.confidence;
    record_usage(model, out.record);
    out.reply = std::move(*reply);
    verdict.answered = true;
    return verdict;
}

// out_of_time is the verdict of an attempt that the stage's deadline stopped before it was sent.
attempt_verdict claude_vision::impl::out_of_time(const std::string& why) const {
    attempt_verdict verdict;
    verdict.stop = true;
    verdict.problem = deadline_failure(options.stage_deadline, why, nullptr);
    return verdict;
}

// One HTTP attempt through the model's breaker, concurrency limit and rate limiter, none of
// them waited for past the stage's deadline, and with at most what is left of it as its
// timeout; what it came to feeds all three.
asio::awaitable<attempt_verdict> claude_vision::impl::try_once(
    http_call& call, const std::string& keep_key, const std::string& model,
    const resilience::rate_cost& estimate, const resilience::deadline& stage,
    const std::function<bool()>& wanted, model_answer& out) {
    auto& guard = guard_for(model);
    // Until the model has answered once its calls go one at a time; a call waits no longer than
    // leaves it the time an answer may take (a call handed the first place with a few
    // milliseconds left would be cut off, and paid all the same). Before the breaker: calls that
    // waited here while it opened are refused, not sent.
    const auto first_wait = steady::now();
    const bool gated = !guard.first_answer.open();
    auto entering = guard.first_answer.enter();
    auto bounded_entry =
        resilience::within(entering, stage.remaining() - unanswered_needs(), "vision_deadline");
    auto pass = co_await std::move(bounded_entry);
    if (!pass) {
        co_return out_of_time("no call to " + model + " had been answered in time to go after it");
    }
    if (gated) {  // none once the model has answered
        metrics.waits.with({model, "first_answer"})
            .observe(std::chrono::duration<double>(steady::now() - first_wait).count());
    }
    auto& breaker = breakers.get("anthropic", model);
    auto ticket = breaker.allow();
    if (!ticket) {
        // The job's retry waits out the pause: retried at once, every attempt of an item would
        // be spent (and the item failed) within a pause shorter than its backoffs.
        const auto paused = breaker.retry_in();
        attempt_verdict refused;
        refused.stop = true;
        refused.problem =
            failure{std::string(pipeline::paused_call_code),
                    "Claude (" + model + ") failed repeatedly; calls are paused for " +
                        std::to_string((paused.count() + 999) / 1000) + " s before a trial call.",
                    true, paused.count()};
        refused.problem.counts_as_attempt = false;  // unless an earlier attempt was sent
        co_return refused;
    }
    // A slot may be held by a call with a later deadline (another item's escalation), so the
    // wait for one is bounded by a timer of its own.
    const auto asked = steady::now();
    auto slot = guard.concurrency.acquire();
    auto bounded_slot = resilience::within(slot, stage.remaining(), "vision_deadline");
    auto permit = co_await std::move(bounded_slot);
    if (!permit) {
        co_return out_of_time("no concurrency slot for " + model + " came free in time");
    }
    metrics.waits.with({model, "slot"})
        .observe(std::chrono::duration<double>(steady::now() - asked).count());
    metrics.in_flight.with({model}).set(guard.concurrency.in_flight());
    const auto reserved = guard.reservation(estimate);
    // The call needs the time answers take once the limits let it go (a call cut off by the
    // deadline is paid all the same): twice their mean, as answer times spread, but never more
    // than an attempt may take (an upstream slower than half of that must still be asked).
    // Nor more than half the stage's deadline: with a deadline under twice the answer time no
    // call would ever fit, and the item would be put back for its turn again and again.
    const auto needed = std::clamp(
        2 * guard.typical_latency(), milliseconds(1),
        std::max(milliseconds(1), std::min(options.attempt_timeout, options.stage_deadline / 2)));
    auto waited = co_await guard.limiter.acquire_within(reserved, stage.remaining() - needed);
    if (!waited) {
        // The item waits for its turn in the queue instead: a burst beyond what the limits let
        // through within one deadline must not fail the items at its end.
        const auto wait = guard.limiter.would_wait(reserved);
        attempt_verdict held;
        held.stop = true;
        held.problem = failure{std::string(rate_wait_code),
                               "The rate limits of " + model + " let this call go in about " +
                                   std::to_string((wait.count() + 999) / 1000) +
                                   " s, after what is left of the deadline; the item waits for "
                                   "its turn.",
                               true, wait.count()};
        held.problem.counts_as_attempt = false;
        co_return held;
    }
    metrics.waits.with({model, "rate"}).observe(std::chrono::duration<double>(*waited).count());
    call.timeout = stage.attempt_timeout(options.attempt_timeout);
    if (call.timeout.count() <= 0 || call.timeout < needed) {
        guard.limiter.settle(reserved, {.requests = 0});  // give the reservation back
        co_return out_of_time(call.timeout.count() <= 0
                                  ? "no time was left for a call to " + model
                                  : "only " + std::to_string(call.timeout.count()) +
                                        " ms were left, less than answers of " + model + " take");
    }
    // A call that waited (for a slot, the first answer, the limits) while the process began to
    // stop goes no further when it could not be answered before the process ends.
    if (stop_at_ms.load() - now_ms() < needed.count()) {
        guard.limiter.settle(reserved, {.requests = 0});
        attempt_verdict stopping;
        stopping.stop = true;
        stopping.problem = failure{std::string(pipeline::stopping_code),
                                   "The service is stopping before a call to " + model +
                                       " could be answered; the item goes back to the queue.",
                                   true, 0};
        stopping.problem.counts_as_attempt = false;
        co_return stopping;
    }
    // Nor does a call whose item's job gave it up while it waited: its lease went to a rescue
    // (the new run asks for itself), ran out while the process was stopped (another worker may
    // have taken the job: this process learns it only at its next heartbeat, after the timers
    // that let this call go), or the item was canceled; sent, it would be paid for nobody.
    if (wanted && !wanted()) {
        guard.limiter.settle(reserved, {.requests = 0});
        attempt_verdict dropped;
        dropped.stop = true;
        dropped.problem = failure{std::string(pipeline::abandoned_code),
                                  "The item's job gave this call to " + model +
                                      " up before it was sent (its lease was lost or ran out, "
                                      "or the item was canceled).",
                                  true, 0};
        dropped.problem.counts_as_attempt = false;
        co_return dropped;
    }

    auto sent = steady::now();
    auto sent_ms = now_ms();
    bool replayed = false;
    auto send = send_call(call, keep_key, replayed);
    auto res = co_await std::move(send);
    auto latency = milliseconds(std::max<std::int64_t>(0, now_ms() - sent_ms));
    metrics.seconds.with({model}).observe(
        std::chrono::duration<double>(steady::now() - sent).count());
    auto verdict = judge(model, res, out);
    if (!keep_key.empty() && res && res->status == 200) {
        if (verdict.answered) {
            out.keep_key = keep_key;  // forgotten once the answer is kept (see forget_kept)
        } else {
            // A retry must reach Claude, not the keeper's journal of the answer it could not use.
            auto forgetting = keeper->forget(keep_key);
            co_await std::move(forgetting);
        }
    }
    if (replayed && verdict.answered) {
        metrics.replayed.with({model}).inc();
    }
    verdict.sent = true;
    verdict.reached =
        res || (res.error().code != "connect_failed" && res.error().code != "tls_failed");
    if (!verdict.answered && verdict.problem.code == "vision_timeout" &&
        call.timeout < options.attempt_timeout) {
        verdict.cut_short = true;
        verdict.stop = true;
        verdict.problem = deadline_failure(
            options.stage_deadline,
            "its last attempt had " + std::to_string(call.timeout.count()) + " ms left",
            &verdict.problem);
    }
    if (verdict.answered) {
        guard.refused_in_a_row.store(0);
    } else if (verdict.reached && refused_by_claude(verdict.problem)) {
        guard.refused_in_a_row.fetch_add(1);
    }
    if (verdict.answered) {
        const auto& u = out.record.usage;
        const resilience::rate_cost used{
            .requests = 1,
            .input_tokens = u.input_tokens + u.cache_creation_input_tokens,
            .output_tokens = u.output_tokens};
        if (replayed) {
            // Paid earlier: neither the limits nor answer times learn from it.
            guard.limiter.settle(reserved, {.requests = 0});
        } else {
            guard.limiter.settle(reserved, used);
            guard.record_usage(used, u.input_tokens, estimate, latency);
        }
        ticket->success();
        if (ticket->probe() && breaker.state() == resilience::breaker_state::closed) {
            tell_resumed();
        }
    } else if (verdict.connection_broke || verdict.cut_short) {
        ticket.reset();  // neither success nor failure
    } else if (server_failure(verdict.problem)) {
        ticket->failure();
    } else if (verdict.problem.code != "vision_rate_limited") {
        ticket->success();
    }
    // The limits the answers announced, at what calls really cost, bound the calls worth having
    // in flight.
    guard.concurrency.set_rate(
        allowed_calls_per_minute(guard.limiter, guard.typical_cost(estimate)));
    const bool paced = guard.limiter.limit(resilience::rate_resource::requests) > 0;
    permit->report(concurrency_signal(verdict.answered, verdict.problem, paced), latency);
    metrics.concurrency.with({model}).set(guard.concurrency.limit());
    metrics.in_flight.with({model}).set(guard.concurrency.in_flight());
    if (verdict.answered) {
        // Only now: the calls let through reserve at what this answer cost and announced. A
        // 429 tells the limits too, but wrote no cache entry: the calls it would let through
        // would each write one, so the next in line scouts instead, paced by those limits.
        pass->answered();
    }
    co_return verdict;
}

// call_model makes one model call: attempts and retries until an answer, a failure that is not
// retried, or the stage's deadline, which no wait between attempts may pass.
asio::awaitable<model_answer> claude_vision::impl::call_model(
    std::shared_ptr<impl> self, const pipeline::identify_request& request, std::string key,
    std::string body, std::string model, resilience::deadline stage) {
    model_answer out;
    out.record.model = model;
    auto call = self->make_call(std::move(body));
    const std::string keep_key = self->keeper ? call_keeper_key(key) : std::string();
    auto estimate = self->estimate(request);
    auto start = steady::now();
    self->budget.on_request();
    std::optional<milliseconds> asked_to_wait;  // the last retry-after Claude sent
    std::optional<failure> last;                // the last failed attempt's problem
    bool reached = false;  // an attempt reached Claude and was not turned away with a 429
    // Every attempt that reached Claude was refused with an error of its own (5xx, 529, 429):
    // none was processed, so none was billed.
    bool only_refused = true;
    const auto answers_before = self->guard_for(model).answers_so_far();
    const auto budget_ms = self->options.stage_deadline;

    for (int attempt = 1;; ++attempt) {
        if (stage.expired()) {
            out.error = deadline_failure(budget_ms, "no time was left for a call to " + model,
                                         last ? &*last : nullptr);
            break;
        }
        auto verdict =
            co_await self->try_once(call, keep_key, model, estimate, stage, request.wanted, out);
        if (verdict.sent) {
            // A 429 is Claude pacing the account, not processing the call: like a call that
            // never connected, it spends no attempt of the job.
            reached =
                reached || (verdict.reached &&
                            (verdict.answered || verdict.problem.code != "vision_rate_limited"));
            only_refused = only_refused && (!verdict.reached || refused_by_claude(verdict.problem));
            out.record.attempts = attempt;
            if (attempt > 1) {
                self->metrics.retries.with({model}).inc();
            }
            asked_to_wait = verdict.wait;
        }
        if (verdict.answered) {
            break;
        }
        if (verdict.stop && !verdict.sent && last &&
            verdict.problem.code == pipeline::paused_call_code) {
            // The breaker opened on this call's own failures: they are what went wrong, and the
            // job's retry waits out the pause.
            out.error = std::move(*last);
            out.error->message += " Calls are now paused for " +
                                  std::to_string((verdict.problem.retry_after_ms + 999) / 1000) +
                                  " s before a trial call.";
            out.error->retry_after_ms =
                std::max(out.error->retry_after_ms, verdict.problem.retry_after_ms);
            break;
        }
        if (verdict.stop || !verdict.problem.retryable || attempt >= self->options.max_attempts) {
            out.error = std::move(verdict.problem);
            break;
        }
        auto next = resilience::next_retry(self->backoff_policy(), attempt, verdict.wait,
                                           self->options.jitter);
        if (next.retry_after_too_long) {
            verdict.problem.message += " Claude asked to wait " +
                                       std::to_string(verdict.wait->count() / 1000) +
                                       " s, longer than this worker waits.";
            out.error = std::move(verdict.problem);
            break;
        }
        if (auto left = stage.remaining(); next.wait >= left) {
            out.error =
                deadline_failure(budget_ms,
                                 "a retry would have waited " + std::to_string(next.wait.count()) +
                                     " ms with " + std::to_string(left.count()) + " ms left",
                                 &verdict.problem);
            break;
        }
        if (!self->budget.try_spend()) {
            self->metrics.retries_refused.with({model}).inc();
            verdict.problem.message += " Retries are paused: too many calls failed recently.";
            out.error = std::move(verdict.problem);
            break;
        }
        last = std::move(verdict.problem);
        co_await self->options.sleep(next.wait);
    }

    out.record.latency_ms = std::chrono::duration_cast<milliseconds>(steady::now() - start).count();
    if (out.error) {
        out.record.outcome = out.error->code;
        // Claude was asked, and failed; calls that never connected, or were never sent (out of
        // time waiting for a slot, the limits or a model's first answer), asked it nothing, and
        // an outage must not fail items that never reached it.
        out.error->counts_as_attempt = out.record.attempts > 0 && reached;
        if (out.error->counts_as_attempt && only_refused &&
            self->guard_for(model).answers_so_far() == answers_before) {
            // Claude refused every attempt with an error of its own and answered no other call
            // of the model meanwhile: an outage, not this item's trouble. The item waits it out
            // (the breaker paces the trial calls) and nothing was billed; an item Claude fails
            // while it answers others spends its attempts.
            out.error->counts_as_attempt = false;
            out.error->message += " Claude answered no call of " + model +
                                  " meanwhile: the item waits without spending an attempt.";
        }
        if (asked_to_wait) {
            // A retry of the job must not reach Claude before the wait it asked for.
            out.error->retry_after_ms = std::max(out.error->retry_after_ms, asked_to_wait->count());
        } else if (refused_by_claude(*out.error)) {
            // Nothing said when to come back: the job's retry waits the longer, the longer Claude
            // has refused the model's calls (from half a second, doubling per refusal, up to a
            // minute, jittered), rather than every half second through a run of bare 429s.
            const int streak = std::min(self->guard_for(model).refused_in_a_row.load(), 7);
            const std::int64_t cap = std::min<std::int64_t>(60'000, std::int64_t{500} << streak);
            const auto wait = static_cast<std::int64_t>(static_cast<double>(cap) *
                                                        (0.5 + 0.5 * self->options.jitter()));
            out.error->retry_after_ms = std::max(out.error->retry_after_ms, wait);
        }
    }
    self->metrics.calls.with({model, out.record.outcome}).inc();
    co_return out;
}

// call_batch makes the call through a batch: the answer counts at the batch price for the item
// that paid (usage says service_tier "batch"); an identical call from another item in the same
// batch shares it as "cached". The body (`key` is its answer key) carries the photos until the
// batch is made; when the request can load them again, it drops them and hands their hold to
// the batcher with the body, so that the wait for the batch holds neither. Failures are values
// (see pay).
asio::awaitable<result<model_answer>> claude_vision::impl::call_batch(
    std::shared_ptr<impl> self, pipeline::identify_request& request, std::string key,
    std::string body, std::string model) {
    const auto start = steady::now();
    auto call = batch_call_for(request, std::move(key), std::move(body));
    auto got = co_await self->batcher->call(call);
    co_return self->batch_answer(std::move(got), model, start);
}

// batch_answer turns a batch's reply into the call's answer, counted in the metrics; an answer
// names the item that paid for its line.
model_answer claude_vision::impl::batch_answer(batch_reply got, const std::string& model,
                                               steady::time_point start) {
    model_answer out;
    out.record.model = model;
    out.record.attempts = 1;
    out.record.request_id = got.batch_id;
    out.record.latency_ms = std::chrono::duration_cast<milliseconds>(steady::now() - start).count();
    if (got.parked) {
        // Not a call's outcome: the call goes on in the batch, and is counted when asked again.
        out.error = failure{"vision_batch_parked",
                            "The item waits in message batch " + got.batch_id +
                                " and goes on once the batch has ended.",
                            true};
        out.parked_in = got.batch_id;
        out.record.outcome = out.error->code;
        return out;
    }
    if (got.reply) {
        out.record.model = got.reply->model.empty() ? model : got.reply->model;
        out.record.usage = got.reply->usage;
        out.record.confidence = got.reply->identification.confidence;
        out.record.outcome = got.paid_by_caller ? "ok" : "cached";
        if (got.paid_by_caller) {
            out.record.cost_micros = price_of(out.record, model);
        }
        // Kept under the item that paid, whichever copy the line reached first: the payer,
        // waiting for this copy's answer or finding it kept, is charged (see reused). The
        // spend was counted once, as the line was read (on_line_billed).
        out.body = std::move(got.body);
        out.paid_by = std::move(got.payer);
        out.reply = std::move(got.reply);
    } else {
        out.error = std::move(got.error);
        out.record.outcome = out.error->code;
        metrics.errors.with({model, out.error->code}).inc();
        if (refused_by_claude(*out.error) || out.error->code == "vision_batch_unavailable") {
            // The batch endpoints refused the create or could not be polled, or the line came
            // back refused: nothing was billed (a batch that exists is found again through its
            // record). Spending attempts here would send bulk items to full-price synchronous
            // calls within seconds of a batch endpoint outage.
            out.error->counts_as_attempt = false;
        }
    }
    if (out.record.outcome != "ok") {  // a paid line was counted as it was read
        metrics.calls.with({model, out.record.outcome}).inc();
    }
    return out;
}

// reused turns an answer found in the cache (memory, the store, or the call of another item
// with the same key) into this call's record: the cost counts again only when this item paid
// for it (an earlier attempt of the same job), otherwise it is "cached" and free.
model_answer claude_vision::impl::reused(model_answer found, const std::string& model,
                                         const std::string& item_id) const {
    pipeline::vision_call record;
    record.model = found.reply->model.empty() ? model : found.reply->model;
    record.usage = found.reply->usage;
    record.confidence = found.reply->identification.confidence;
    record.outcome = "cached";
    if (!item_id.empty() && found.paid_by == item_id) {
        record.outcome = "ok";
        record.cost_micros = price_of(record, model);
    }
    found.record = std::move(record);
    return found;
}

// gave_up is the answer of a call whose deadline ended while it waited for an identical call of
// another item: no call was made, so nothing is counted.
model_answer claude_vision::impl::gave_up(const std::string& model) const {
    model_answer out;
    out.record.model = model;
    out.error =
        deadline_failure(options.stage_deadline,
                         "it waited for an identical call of another item, still running", nullptr);
    out.record.outcome = out.error->code;
    return out;
}

// pay makes the call, through a batch for bulk requests when batches are on; a paid answer
// names this item as its payer. Failures are values too (with their record): the calls waiting
// for this one share them, and the answer cache keeps none.
asio::awaitable<result<model_answer>> claude_vision::impl::pay(std::shared_ptr<impl> self,
                                                               pipeline::identify_request& request,
                                                               std::string key, std::string body,
                                                               std::string model,
                                                               resilience::deadline stage) {
    if (request.bulk && self->batcher) {
        return self->call_batch(self, request, std::move(key), std::move(body), std::move(model));
    }
    return self->call_paid(self, request, std::move(key), std::move(body), std::move(model), stage);
}

// call_paid makes a synchronous call for pay.
asio::awaitable<result<model_answer>> claude_vision::impl::call_paid(
    std::shared_ptr<impl> self, const pipeline::identify_request& request, std::string key,
    std::string body, std::string model, resilience::deadline stage) {
    auto fresh =
        co_await self->call_model(self, request, std::move(key), std::move(body), model, stage);
    if (keepable(fresh)) {
        fresh.paid_by = request.item_id;
    }
    co_return fresh;
}

// answer looks the call up in the answer cache (memory, then the store) before paying for it,
// and keeps what it paid for; identical calls arriving together pay once. A call that finds an
// identical one of another item in flight waits for it until its own stage's deadline, then
// fails with vision_deadline while the other call goes on and keeps its answer; a bulk call
// through a batch, never bounded by the stage's deadline, waits as long as that call takes
// (keeping its own body meanwhile, should it have to make the call after all). A bulk call
// that leads its flight waits for its batch in batched_answer, with no frame of the cache's.
asio::awaitable<model_answer> claude_vision::impl::answer(std::shared_ptr<impl> self,
                                                          pipeline::identify_request& request,
                                                          std::string model,
                                                          resilience::deadline stage) {
    std::string body = self->body_for(request, model);
    std::string key = answer_key(body);
    if (request.bulk && self->batcher && self->answers->try_lead(key)) {
        flight_lead lead(*self->answers, std::move(key));
        return self->batched_answer(self, request, std::move(lead), std::move(body),
                                    std::move(model));
    }
    return self->cached_answer(self, request, std::move(key), std::move(body), std::move(model),
                               stage);
}

asio::awaitable<model_answer> claude_vision::impl::cached_answer(
    std::shared_ptr<impl> self, pipeline::identify_request& request, std::string key,
    std::string body, std::string model, resilience::deadline stage) {
    const answer_cache::loader load = [&self, &request, &key, &body, &model, &stage] {
        return self->pay(self, request, key, std::move(body), model, stage);
    };
    // A batch call needs no claim: its batch record does the same across processes.
    const bool batched = request.bulk && self->batcher;
    std::optional<milliseconds> max_wait;
    if (!batched) {
        max_wait = stage.remaining();
    }
    auto where = cache::found_in::loader;
    auto got = co_await self->answers->get_or_load(key, load, &where, max_wait, !batched);
    // The item whose call this one waited for gave it up unsent (its lease went, or it was
    // canceled): this item, still wanting the answer, asks again, and may lead the call now.
    const bool wanted = !request.wanted || request.wanted();
    for (int again = 0; again < 3 && wanted && where == cache::found_in::flight && got &&
                        got->error && got->error->code == pipeline::abandoned_code;
         ++again) {
        if (!batched) {
            max_wait = stage.remaining();
        }
        where = cache::found_in::loader;
        got = co_await self->answers->get_or_load(key, load, &where, max_wait, !batched);
    }
    if (where == cache::found_in::loader && got && !got->keep_key.empty()) {
        // The answer is in the store now: the keeper's journal need not keep it any longer.
        auto forgetting = self->keeper->forget(got->keep_key);
        co_await std::move(forgetting);
    }
    co_return self->settle(std::move(got), where, model, request.item_id);
}

// send_call sends one attempt through the call keeper when there is one, else directly; also
// directly when the keeper cannot be reached or will not make the call (a keeper started with
// another ANTHROPIC_BASE_URL), which it has then not made.
asio::awaitable<result<http_response>> claude_vision::impl::send_call(const http_call& call,
                                                                      const std::string& keep_key,
                                                                      bool& replayed) {
    if (keeper && !keep_key.empty()) {
        auto kept = co_await keeper->send(call, keep_key);
        if (kept) {
            replayed = kept->replayed;
            co_return std::move(kept->response);
        }
        if (kept.error().code == "keeper_lost") {
            // The call may have been made: the attempt fails as a broken connection would, and
            // the retry asks the keeper again, which may have its answer by then.
            co_return make_unexpected(
                failure{"connection_failed", kept.error().message, kept.error().retryable});
        }
        if (kept.error().code != "keeper_unavailable" && kept.error().code != "keeper_refused") {
            co_return make_unexpected(std::move(kept.error()));
        }
        log::event(spdlog::level::warn, "call_keeper_bypassed",
                   {{"code", kept.error().code}, {"why", kept.error().message}});
    }
    co_return co_await http.send(call);
}

// batched_answer is cached_answer for a bulk call through a batch that leads its key's flight:
// an answer kept already (memory, the store) is reused, otherwise the call waits for its batch
// (call_batch's work, inline) and keeps what it paid for. It needs no claim across processes:
// the batch record does that. Its frame, and the batcher's, are all a waiting item keeps here.
asio::awaitable<model_answer> claude_vision::impl::batched_answer(
    std::shared_ptr<impl> self, pipeline::identify_request& request, flight_lead lead,
    std::string body, std::string model) {
    auto lookup = kept_answer(self, lead, model, request.item_id);
    auto kept = co_await std::move(lookup);
    if (kept) {
        co_return std::move(*kept);
    }
    const auto start = steady::now();
    auto call = batch_call_for(request, lead.key(), std::move(body));
    auto got = co_await self->batcher->call(call);
    auto out = self->batch_answer(std::move(got), model, start);
    if (!out.parked_in.empty()) {
        co_return out;  // parked: identical calls waiting for this one ask the batcher themselves
    }
    co_await self->answers->put(lead.key(), out);  // only a paid answer is kept (keepable)
    lead.land(out, cache::found_in::loader);
    co_return out;
}

// kept_answer returns the answer kept for the lead's key (memory, else the store), made this
// item's (see reused), and lands the flight with it; null when none is kept. Boxed: the frame
// that awaits it waits for a batch afterwards and should not keep a slot for an answer.
asio::awaitable<std::unique_ptr<model_answer>> claude_vision::impl::kept_answer(
    std::shared_ptr<impl> self, flight_lead& lead, const std::string& model,
    const std::string& item_id) {
    auto where = cache::found_in::loader;
    auto found = co_await self->answers->find(lead.key(), &where);
    if (!found || !found->reply) {
        co_return nullptr;
    }
    lead.land(*found, where);
    co_return std::make_unique<model_answer>(self->reused(std::move(*found), model, item_id));
}

// settle makes the cache's answer this call's: none when the wait for another item's call
// expired, the record of a reused answer otherwise (see reused).
model_answer claude_vision::impl::settle(result<model_answer> got, cache::found_in where,
                                         const std::string& model,
                                         const std::string& item_id) const {
    if (where == cache::found_in::expired) {
        return gave_up(model);
    }
    model_answer out = std::move(*got);  // pay() never fails: failures are values
    if (where != cache::found_in::loader && out.reply) {
        out = reused(std::move(out), model, item_id);
    }
    return out;
}

asio::awaitable<void> claude_vision::impl::sync_on_last_attempt(std::shared_ptr<impl> self,
                                                                pipeline::identify_request& request,
                                                                const std::string& model) {
    if (!request.last_attempt || !request.bulk || !self->batcher || request.jpeg_images.empty()) {
        co_return;
    }
    const auto key = answer_key(self->body_for(request, model));
    if (co_await self->batcher->holds(key)) {
        co_return;  // its line may still come: a synchronous call could pay twice
    }
    log::event(spdlog::level::info, "vision_batch_skipped",
               {{"item_id", request.item_id}, {"model", model}, {"reason", "last_attempt"}});
    request.bulk = false;
    request.may_park = false;
}

// reload_photos loads the request's photos again when a batch call dropped them; returns why
// that failed, if it did.
asio::awaitable<std::optional<failure>> claude_vision::impl::reload_photos(
    pipeline::identify_request& request) {
    if (!request.jpeg_images.empty() || !request.reload_photos) {
        co_return std::nullopt;
    }
    auto photos = co_await request.reload_photos();
    if (!photos) {
        co_return std::move(photos.error());
    }
    if (photos->jpeg_images.empty()) {
        co_return failure{"vision_no_images", "The item's photos are gone.", false};
    }
    request.jpeg_images = std::move(photos->jpeg_images);
    request.hold = std::move(photos->hold);
    co_return std::nullopt;
}

// without_photos is the answer of a call not made because its photos could not be loaded.
model_answer claude_vision::impl::without_photos(const std::string& model, failure why) const {
    model_answer out;
    out.record.model = model;
    why.message = "The stronger model was not asked: " + why.message;
    out.error = std::move(why);
    out.record.outcome = out.error->code;
    return out;
}

claude_vision::claude_vision(claude_options options, asio::any_io_executor executor,
                             metrics::registry& registry) {
    if (auto ok = validate_claude_options(options); !ok) {
        throw std::invalid_argument("claude_vision: " + ok.error().message);
    }
    impl_ = std::make_shared<impl>(std::move(options), std::move(executor), registry);
}

claude_vision::~claude_vision() = default;

asio::awaitable<result<pipeline::identification>> claude_vision::identify(
    pipeline::identify_request request) {
    auto self = impl_;
    if (request.jpeg_images.empty()) {
        co_return fail("vision_no_images", "The item has no photo to identify it from.");
    }
    // One deadline for both models: the escalation gets what the cheap call left. The vector
    // grows only once an answer came: a bulk call waits hours for its batch meanwhile.
    const auto stage = resilience::deadline::after(self->time, self->options.stage_deadline);
    std::vector<model_answer> answers;
    const auto mode = std::pair{request.bulk, request.may_park};
    co_await impl::sync_on_last_attempt(self, request, self->options.cheap_model);
    answers.push_back(co_await self->answer(self, request, self->options.cheap_model, stage));
    std::tie(request.bulk, request.may_park) = mode;
    if (!answers.front().parked_in.empty()) {
        co_return parked(answers.front());
    }
    if (!should_escalate(answers.front(), self->options)) {
        co_return compose(answers);
    }
    auto escalation = impl::escalate(self, request, std::move(answers), stage);
    co_return co_await std::move(escalation);
}

// escalate asks the stronger model after the cheap one's `answers` and composes both. A bulk
// call through a batch dropped the photos: they are loaded again first, and a failed load ends
// the escalation like a failed call. A coroutine of its own: the frame that waits for the cheap
// answer keeps no room for the escalation's.
asio::awaitable<result<pipeline::identification>> claude_vision::impl::escalate(
    std::shared_ptr<impl> self, pipeline::identify_request& request,
    std::vector<model_answer> answers, resilience::deadline stage) {
    answers.reserve(2);
    auto missing = co_await self->reload_photos(request);
    if (missing) {
        answers.push_back(self->without_photos(self->options.strong_model, std::move(*missing)));
    } else {
        const auto mode = std::pair{request.bulk, request.may_park};
        co_await sync_on_last_attempt(self, request, self->options.strong_model);
        answers.push_back(co_await self->answer(self, request, self->options.strong_model, stage));
        std::tie(request.bulk, request.may_park) = mode;
        if (!answers.back().parked_in.empty()) {
            co_return parked(answers.back());  // asked again once its batch has ended
        }
    }
    // Counted once it ended: a bulk item parked on the stronger call's batch runs through here
    // again to collect the answer.
    self->metrics.escalations.inc();
    auto end = end_of_escalation(answers.front(), answers.back());
    self->metrics.escalation_ends.with({end.outcome, end.reason}).inc();
    co_return compose(answers);
}

bool claude_vision::defers_bulk() const {
    return impl_->batcher != nullptr;
}

void claude_vision::on_batch_ended(std::function<void(const std::string& batch_id)> listener) {
    if (impl_->batcher) {
        impl_->batcher->on_parked_ended(std::move(listener));
    }
}

void claude_vision::stop_calls_by(std::int64_t epoch_ms) {
    impl_->stop_at_ms.store(epoch_ms);
}

void claude_vision::on_resumed(std::function<void()> listener) {
    std::lock_guard lock(impl_->guards_mutex);
    impl_->resumed = std::move(listener);
}

void claude_vision::watch_batch(const std::string& batch_id) {
    if (impl_->batcher) {
        impl_->batcher->watch(batch_id);
    }
}

std::unique_ptr<pipeline::vision_model> make_claude_vision(claude_options options,
                                                           asio::any_io_executor executor,
                                                           metrics::registry& registry) {
    return std::make_unique<claude_vision>(std::move(options), std::move(executor), registry);
}

}  // namespace boomer::clients
