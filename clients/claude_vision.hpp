// Claude as the pipeline's vision model: the cheap model first (Haiku class), the stronger one
// (Sonnet class) when the answer's overall confidence is below a threshold or required fields are
// missing. One deadline bounds the whole identification (both models, every attempt and every
// wait), and each HTTP attempt has its own timeout within it; retryable answers (429, 5xx, 529,
// timeouts) are retried with full-jitter backoff or after the server's retry-after, a bounded
// number of times, within a retry budget and only when the retry can start before the deadline.
// When the stronger model gives no complete answer (a failure, a timeout, the deadline), the
// cheap model's complete answer stands, marked as a fallback. Per model, calls pass a circuit
// breaker, adaptive concurrency and a rate limiter corrected by the anthropic-ratelimit-*
// headers. Each call's usage and cost travel back in the identification, and metrics count
// calls, errors, latency, tokens, dollars, escalations and how they ended, and the rate-limit
// headers.
//
// Thread-safety: one claude_vision may serve concurrent identify() calls from any threads.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "cache/lru_cache.hpp"
#include "clients/anthropic_cost.hpp"
#include "clients/call_keeper.hpp"
#include "clients/claude_answers.hpp"
#include "clients/claude_batcher.hpp"
#include "clients/https_client.hpp"
#include "core/clock.hpp"
#include "core/metrics.hpp"
#include "core/result.hpp"
#include "pipeline/vision.hpp"
#include "resilience/rate_limiter.hpp"

namespace boomer::clients {

// A secret (an API key) that does not print: streaming it writes "[redacted]", and there is no
// conversion to a string. reveal() is for the one place that must send it.
class secret {
public:
    secret() = default;
    explicit secret(std::string value) : value_(std::move(value)) {}
    bool empty() const { return value_.empty(); }
    const std::string& reveal() const { return value_; }

private:
    std::string value_;
};
std::ostream& operator<<(std::ostream& out, const secret& s);

// Settings of the Claude vision model; the environment variable that sets each is named.
struct claude_options {
    secret api_key;                                      // ANTHROPIC_API_KEY
    std::string base_url = "https://api.anthropic.com";  // ANTHROPIC_BASE_URL
    std::string cheap_model = "claude-haiku-4-5";        // BOOMER_CLAUDE_MODEL
    // BOOMER_CLAUDE_STRONG_MODEL; empty: never escalate.
    std::string strong_model = "claude-sonnet-4-5";
    double escalation_threshold = 0.7;  // BOOMER_CLAUDE_ESCALATE_BELOW, 0..1
    int max_tokens = 2048;              // BOOMER_CLAUDE_MAX_TOKENS, 1..16000
    std::string cache_ttl;              // BOOMER_CLAUDE_CACHE_TTL: "", "5m" or "1h"
    int max_attempts = 3;               // BOOMER_CLAUDE_MAX_ATTEMPTS, per model, 1..10
    // BOOMER_CLAUDE_TIMEOUT_MS: the deadline of one HTTP attempt.
    std::chrono::milliseconds attempt_timeout{60'000};
    std::chrono::milliseconds backoff_base{500};
    std::chrono::milliseconds backoff_cap{8'000};
    // BOOMER_CLAUDE_MAX_RETRY_AFTER_MS: a retry-after longer than this ends the call at once
    // with a retryable failure that carries the wait: the job retries no sooner, from the queue,
    // instead of holding a worker.
    std::chrono::milliseconds max_retry_after{60'000};
    // BOOMER_CLAUDE_DEADLINE_MS: the deadline of one identify() call, 1 ms to 1 hour: both
    // models, every attempt and retry, and every wait (retry-after, backoff, rate limit, a
    // concurrency slot). An attempt gets at most what is left; a wait that would end past it is
    // not started. Not for bulk requests answered through batches, which may take hours.
    std::chrono::milliseconds stage_deadline{120'000};

    // Resilience, per model: a retry budget shared by both models, a rate limiter fed by the
    // anthropic-ratelimit-* headers, adaptive concurrency and a circuit breaker.
    // BOOMER_CLAUDE_RETRY_BUDGET: retries at most this share of calls (0..1), plus
    // BOOMER_CLAUDE_RETRY_FLOOR retries per second whatever the traffic.
    double retry_budget_ratio = 0.2;
    double retry_floor_per_second = 5.0;
    // BOOMER_CLAUDE_RPM, BOOMER_CLAUDE_ITPM, BOOMER_CLAUDE_OTPM: limits per minute known in
    // advance; 0 learns them from the first answer's headers. Two seconds of calls are kept out
    // of each bucket for the calls on their way (a body of photos takes time to upload).
    resilience::rate_limits_per_minute rate_limits{.transit = std::chrono::seconds(2)};
    // Tokens a call is reserved against the limits before its usage is known.
    std::int64_t input_tokens_per_image = 1'600;
    std::int64_t output_tokens_estimate = 1'024;
    // BOOMER_CLAUDE_CONCURRENCY (initial) and BOOMER_CLAUDE_MAX_CONCURRENCY: calls in flight
    // per model, adapted between 1 and the maximum: slow start (doubling per window of calls)
    // until the first 429, 529 or timeout, then AIMD; never above the allowed calls per minute
    // (from the rate limits) times the mean latency, with headroom (Little's law). Before a
    // model's first answer its calls go one at a time (resilience/first_answer_gate.hpp).
    int concurrency_initial = 8;
    int concurrency_max = 2'000;
    // BOOMER_CLAUDE_BREAKER_FAILURES consecutive server failures (5xx, 529, timeouts, no
    // connection) open the breaker for BOOMER_CLAUDE_BREAKER_OPEN_MS; then one probe at a time,
    // given up after BOOMER_CLAUDE_BREAKER_PROBE_WAIT_MS. The breaker is for an upstream that is
    // down, not one that refuses a share of calls: with 30% of calls failing, runs of 5 failures
    // come about twice per thousand calls (0.7 x 0.3^5) and each would pause every call for
    // the open time; runs of 10 come about once per quarter of a million, while an upstream that
    // is down still opens it within its first ten answers.
    int breaker_failures = 10;
    std::chrono::milliseconds breaker_open_for{30'000};
    std::chrono::milliseconds breaker_probe_wait{120'000};
    price_table prices = price_table::with_defaults();  // BOOMER_CLAUDE_PRICES adds overrides
    https_client_options http;
    // Synchronous calls through a call keeper process, which journals paid answers so that a
    // crash of this one does not pay for its calls in flight again; calls go directly when its
    // program is empty, or when no keeper answers.
    call_keeper_options keeper;
    // Paid answers to reuse; none when null (nothing is kept, though identical calls in flight
    // together still make one call). They are looked up in memory first (answer_memory: entries
    // and bytes, measured deeply), then in this store, and kept at both levels for answer_ttl.
    std::shared_ptr<answer_store> answers;
    cache::lru_options answer_memory{.max_entries = 10'000, .max_bytes = 64 * 1024 * 1024};
    std::chrono::milliseconds answer_ttl{30LL * 24 * 3'600'000};
    // Bulk requests through the Message Batches API; only with an answer store, which records
    // each submitted batch so that a restart never pays twice.
    batch_settings batch;

    // Hooks for tests. sleep waits between attempts (default: a steady_timer on the awaiting
    // coroutine's executor); jitter returns a number in [0, 1) (default: a per-thread generator)
    // and must be thread-safe; time reads HTTP-date retry-after values (default: system clock).
    std::function<boost::asio::awaitable<void>(std::chrono::milliseconds)> sleep;
    std::function<double()> jitter;
    const clock* time = nullptr;
};

// validate_claude_options checks what the constructor needs: a key, a usable base URL, priced
// models, and values within the ranges above. Errors: "bad_config" naming the setting.
result<bool> validate_claude_options(const claude_options& options);

// claude_options_from_env builds options from the environment variables named above, using
// `lookup` (the process environment by default) for each name; unset variables keep defaults.
// Errors: "bad_config" for an unreadable value, then everything validate_claude_options checks.
result<claude_options> claude_options_from_env(
    const std::function<std::optional<std::string>(std::string_view)>& lookup = {});

// Failure codes of identify(), besides those of classify_error (vision_bad_request, vision_auth,
// vision_rate_limited, vision_overloaded, ...):
//   vision_no_images      the request has no photo (permanent);
//   vision_timeout        an attempt passed its timeout (retryable);
//   vision_deadline       the identification's deadline (stage_deadline) ended before an answer:
//                         no time was left for an attempt or for the wait before one, the
//                         last attempt, shortened to what was left, timed out, or an identical
//                         call of another item that this one waited for was still running
//                         (retryable; it carries the last retry-after Claude asked for, if any);
//   vision_unreachable    no connection could be made, or TLS failed (retryable);
//   vision_bad_response   a 200 whose body is not a message (retryable);
//   vision_no_answer      the model answered without a usable identification, even after
//                         escalation (retryable);
//   vision_unavailable    the model's circuit breaker is open after repeated server failures
//                         (retryable, later);
//   vision_rate_limit_wait  the model's rate limits would send the call only past the deadline
//                         (less the time calls usually take): retryable after the wait it
//                         names, spending no attempt of the job.
// A call that never connected to Claude (vision_unreachable with no call delivered) or was never
// sent (vision_unavailable, vision_rate_limit_wait) spends no attempt of the job either.
class claude_vision final : public pipeline::vision_model {
public:
    // Errors: invalid options throw std::invalid_argument with the validation message (a
    // configuration bug). Metrics are registered in `registry`, which must outlive this object.
    claude_vision(claude_options options, boost::asio::any_io_executor executor,
                  metrics::registry& registry);
    ~claude_vision() override;

    // identify asks the cheap model, then the strong one when needed, and returns the better
    // answer with every call's usage and cost, all within options.stage_deadline from its start.
    // Each model call is first looked up among the paid answers (memory, then options.answers),
    // and identical calls running at once make one call: an answer paid by this same item
    // (request.item_id) counts its cost again in this identification, one paid by another item
    // is outcome "cached" and costs nothing. A call waiting for an identical call of another item
    // waits no longer than its own deadline (that call goes on and keeps its answer); only bulk
    // calls through batches wait as long as that call takes. When the strong model gives no
    // complete answer after a complete cheap one (it failed, timed out, or the deadline ended
    // first), the cheap answer is returned with escalation_outcome "fallback" and the strong call's
    // failure code as escalation_reason. A bulk call through a batch hands its body (which
    // carries the photos) and request.hold to the batcher, which keeps them until the batch is
    // made; when request.reload_photos is set, the request drops its photos meanwhile and an
    // escalation loads them again (a failed load ends it like a failed call). Cancelling the
    // awaiting coroutine ends the call with boost::system::system_error (operation_aborted).
    boost::asio::awaitable<result<pipeline::identification>> identify(
        pipeline::identify_request request) override;
    // defers_bulk is true when bulk requests go through batches.
    bool defers_bulk() const override;
    void on_batch_ended(std::function<void(const std::string& batch_id)> listener) override;
    void watch_batch(const std::string& batch_id) override;
    void on_resumed(std::function<void()> listener) override;
    void stop_calls_by(std::int64_t epoch_ms) override;

private:
    struct impl;
    std::shared_ptr<impl> impl_;
};

// make_claude_vision is claude_vision's constructor behind the pipeline's interface.
std::unique_ptr<pipeline::vision_model> make_claude_vision(claude_options options,
                                                           boost::asio::any_io_executor executor,
                                                           metrics::registry& registry);

}  // namespace boomer::clients
