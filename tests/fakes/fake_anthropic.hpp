// A strict fake of the Anthropic Messages API for tests and local runs: a cpp-httplib server on
// 127.0.0.1 (port 0 by default) in its own thread. It refuses what the real API refuses (see
// fake_anthropic_rules.hpp), answers in the documented shapes with a tool_use block, computes
// usage the documented way (image tokens from the JPEG's size, prompt caching with a minimum
// prefix per model and TTLs on an injected clock), sends request-id and anthropic-ratelimit-*
// headers, enforces per-minute limits, and injects latency (see fake_latency.hpp) and errors on
// demand. A path or method the API does not have is answered 404 not_found_error. Counters tell
// tests exactly how many calls arrived, how many were paid, and how many retries came before the
// retry-after they were given.
//
// Thread-safety: every member function may be called from any thread while the server runs.
#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "tests/fakes/fake_accounting.hpp"
#include "tests/fakes/fake_anthropic_rules.hpp"
#include "tests/fakes/fake_batches.hpp"
#include "tests/fakes/fake_latency.hpp"

namespace boomer::fakes {

// Chances, each 0..1, that a valid request is answered with an error instead.
struct error_rates {
    double rate_limited = 0.0;       // 429 with retry-after
    double rate_limited_bare = 0.0;  // 429 without retry-after
    double overloaded = 0.0;         // 529
    double internal = 0.0;           // 500
    int retry_after_seconds = 1;
};

// One scripted error answer, given to the next valid request.
struct injected_error {
    unsigned status = 529;
    std::optional<int> retry_after_seconds;  // 429 only
    std::optional<bool> should_retry;        // x-should-retry; by default true for 429 and 5xx
    std::string model;                       // only for this model (alias or dated id); "" any

    static injected_error rate_limited(std::optional<int> retry_after_seconds);
    static injected_error overloaded();
    static injected_error internal();
};

// What the fake saw and answered, one per request.
struct received_call {
    std::chrono::steady_clock::time_point at;
    std::string model;  // the alias when the requested id is known, else as requested
    unsigned status = 0;
    std::string error_type;
    std::string error_message;
    fake_usage usage;                       // 200 only
    std::vector<std::string> image_sha256;  // of the decoded images, in order (valid requests)
    // delivered (paid answers only): the whole answer was written while the connection was
    // open. A client killed before it could read the answer makes the write fail (its kernel
    // resets the connection); one killed in the microseconds after the last write is not seen.
    bool delivered = false;
};

struct fake_anthropic_options {
    std::string api_key = "test-key";
    const clock* time = nullptr;   // cache TTLs, rate limits, reset headers; system clock if null
    latency_distribution latency;  // before each /v1/messages answer
    // Latency for one model (alias) instead of `latency`, e.g. a slow stronger model.
    std::map<std::string, latency_distribution, std::less<>> model_latency;
    error_rates errors;
    rate_limits_per_minute limits;
    std::uint64_t seed = 42;
    // The record answered for photos without a fixture: its overall confidence, and a price
    // estimate in US dollars when set (load runs use one so that items can be priced).
    double default_confidence = 0.2;
    std::optional<double> default_price;
    std::vector<fake_model> models = default_fake_models();
    fake_batch_options batches;  // the Message Batches endpoints (see fake_batches.hpp)
    std::string host = "127.0.0.1";
    int port = 0;  // 0: any free port
};

class fake_anthropic {
public:
    // Starts listening. Errors: a port that cannot be bound throws std::runtime_error.
    explicit fake_anthropic(fake_anthropic_options options = {});
    // Stops the server and waits for its thread.
    ~fake_anthropic();
    fake_anthropic(const fake_anthropic&) = delete;
    fake_anthropic& operator=(const fake_anthropic&) = delete;

    int port() const;
    std::string base_url() const;  // "http://127.0.0.1:<port>"

    // add_fixture makes requests whose images include one with SHA-256 `image_sha256` (of the
    // decoded bytes) answer with `input` as the tool input, for `model` (alias or dated id; empty
    // for every model). Later fixtures win over earlier ones for the same key.
    void add_fixture(std::string image_sha256, std::string model, boost::json::object input);
    // inject queues `error` for the next valid request (for its model, when it names one):
    // first in, first out.
    void inject(injected_error error);
    void set_latency(latency_distribution latency);
    // set_model_latency makes requests for `model` (alias) wait `latency` instead.
    void set_model_latency(std::string model, latency_distribution latency);
    // set_latency_clock makes latency move `clock` (the client's, in tests on a manual clock)
    // instead of holding answers in real time; null: real time again.
    void set_latency_clock(manual_clock* clock);
    void set_error_rates(const error_rates& rates);

    // received counts requests for `model` (alias or dated id; all when empty), whatever the
    // answer; paid counts those answered 200.
    std::size_t received(std::string_view model = {}) const;
    std::size_t paid(std::string_view model = {}) const;
    // delivered_paid counts the paid calls whose answer was delivered (see received_call).
    std::size_t delivered_paid(std::string_view model = {}) const;
    std::vector<received_call> calls() const;
    // early_retries counts requests that repeat the exact body of a request answered with a
    // retry-after (429 or 529) and arrive before that answer was sent plus retry-after;
    // retries_after_wait counts the repeats that waited long enough. Identical bodies from
    // different callers count too, so load runs that check this send distinct items.
    std::size_t early_retries() const;
    std::size_t retries_after_wait() const;

    // The Message Batches endpoints: a forced result line for a custom_id (used by the next batch
    // that holds it), new batch behaviour, and counters: batches created, retrieves answered,
    // calls of the batch endpoints refused by their limit or error dice, and the succeeded lines
    // billed (each with its usage).
    void inject_batch_line(injected_line line);
    void set_batch_options(const fake_batch_options& options);
    std::size_t batches_created() const;
    std::size_t batch_polls() const;
    std::size_t batch_calls_refused() const;
    std::size_t batch_lists() const;  // list pages answered
    std::vector<billed_request> batch_billed() const;

    // wait blocks until the server stops (for tools/fake_upstream); stop() ends it.
    void wait();
    void stop();

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace boomer::fakes
