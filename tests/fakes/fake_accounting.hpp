// The fake Anthropic server's bookkeeping: prompt caching (prefixes keyed by content, per model,
// with TTLs) and per-minute rate limits (a token bucket per model and kind), both on times the
// caller passes in, so that tests drive them with an injected clock.
//
// Thread-safety: none; the server calls these under its own mutex.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tests/fakes/fake_anthropic_rules.hpp"

namespace boomer::fakes {

// Per-minute limits, per model, refilled continuously; 0 is unlimited.
struct rate_limits_per_minute {
    std::int64_t requests = 4'000;
    std::int64_t input_tokens = 2'000'000;  // input plus cache writes; cache reads are free
    std::int64_t output_tokens = 400'000;   // max_tokens is reserved, then the unused part refunded
    // How full each bucket is at a model's first request: 1 is a key that has been idle, 0 one
    // that has just spent its minute (so a short run meets the limit at once, not after the
    // minute's allowance is used up).
    double start_full = 1.0;
};

struct fake_usage {
    std::int64_t input_tokens = 0;
    std::int64_t cache_write_5m = 0;
    std::int64_t cache_write_1h = 0;
    std::int64_t cache_read = 0;
    std::int64_t output_tokens = 0;
};

// Prompt prefixes cached per model. A request reads the longest cached prefix that ends at one of
// its breakpoints (refreshing its TTL) and writes the later breakpoints whose prefix reaches the
// model's minimum; shorter prefixes are silently not cached. As at Anthropic, an entry can be read
// only once the answer of a request that wrote it has begun: requests sent together before that
// each write it again.
class prompt_cache {
public:
    // plan returns the usage of `req` at `now_ms` (output tokens left 0); with `commit`, the
    // reads and writes are also recorded, the entries written not readable until answer_begins.
    fake_usage plan(const checked_request& req, std::int64_t now_ms, bool commit);
    // answer_begins makes the entries the last committed plan wrote readable from `at_ms` on (or
    // sooner, when another writer's answer began first).
    void answer_begins(std::int64_t at_ms);

private:
    struct entry {
        std::int64_t readable_ms = 0;  // an answer that wrote it began then; max: none yet
        std::int64_t expires_ms = 0;
    };
    std::map<std::string, entry> entries_;  // model alias / prefix hash → entry
    std::vector<std::string> unsettled_;    // written by the last committed plan
};

// Why a request was refused by a rate limit.
struct limit_hit {
    std::string what;        // "requests", "input tokens" or "output tokens"
    std::int64_t limit = 0;  // per minute
    int retry_after_seconds = 1;
};

class minute_limits {
public:
    explicit minute_limits(rate_limits_per_minute limits) : limits_(limits) {}

    // take consumes one request, `input` tokens and a reservation of `output` tokens for
    // `model_alias`, or consumes nothing and says which limit refused.
    std::optional<limit_hit> take(const std::string& model_alias, std::int64_t input,
                                  std::int64_t output, std::int64_t now_ms);
    // refund_output gives back reserved output tokens that were not used.
    void refund_output(const std::string& model_alias, std::int64_t unused);
    // headers returns the anthropic-ratelimit-* headers for the model (empty before its first
    // request): remaining tokens rounded to the nearest thousand, resets in RFC 3339.
    std::vector<std::pair<std::string, std::string>> headers(const std::string& model_alias,
                                                             std::int64_t now_ms) const;
    // requests_left returns the requests the model's bucket holds at `now_ms` (unrounded), or
    // nothing before the model's first request.
    std::optional<double> requests_left(const std::string& model_alias, std::int64_t now_ms) const;

private:
    struct bucket {
        double capacity = 0;
        double level = 0;
        std::int64_t last_ms = 0;

        void refill(std::int64_t now_ms);
        int seconds_until(double need) const;
        std::int64_t full_at(std::int64_t now_ms) const;
    };
    struct model_buckets {
        bucket requests;
        bucket input;
        bucket output;
    };

    model_buckets& buckets(const std::string& model_alias, std::int64_t now_ms);

    rate_limits_per_minute limits_;
    std::map<std::string, model_buckets> models_;
};

// rfc3339 formats epoch milliseconds as "2026-02-25T20:02:37Z".
std::string rfc3339(std::int64_t epoch_ms);

}  // namespace boomer::fakes
