// Prompt caching and rate-limit buckets of the fake Anthropic server.
#include "tests/fakes/fake_accounting.hpp"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <limits>

#include "core/hash.hpp"

namespace boomer::fakes {
namespace {

std::int64_t ttl_ms(const std::string& ttl) {
    return ttl == "1h" ? 3'600'000 : 300'000;
}

std::string thousands(double v) {
    return std::to_string(static_cast<std::int64_t>(std::llround(std::max(v, 0.0) / 1000)) * 1000);
}

}  // namespace

fake_usage prompt_cache::plan(const checked_request& req, std::int64_t now_ms, bool commit) {
    // Each breakpoint's key hashes everything before and including its block.
    std::vector<std::string> keys;
    std::vector<std::int64_t> cumulative;
    std::string running;
    std::int64_t tokens = req.tool_overhead_tokens;
    for (const auto& block : req.blocks) {
        running = sha256_hex(running + block.canonical);
        keys.push_back(req.model->alias + "/" + running);
        tokens += block.tokens;
        cumulative.push_back(tokens);
    }

    fake_usage u;
    std::int64_t done = 0;
    std::size_t first_write = 0;
    if (commit) {
        unsettled_.clear();
    }
    for (std::size_t i = req.blocks.size(); i-- > 0;) {  // the longest cached prefix is read
        auto hit = entries_.find(keys[i]);
        if (!req.blocks[i].cache_ttl.empty() && hit != entries_.end() &&
            hit->second.expires_ms > now_ms && hit->second.readable_ms <= now_ms) {
            u.cache_read = done = cumulative[i];
            first_write = i + 1;
            if (commit) {
                hit->second.expires_ms = now_ms + ttl_ms(req.blocks[i].cache_ttl);  // refreshed
            }
            break;
        }
    }
    for (std::size_t i = first_write; i < req.blocks.size(); ++i) {
        const auto& ttl = req.blocks[i].cache_ttl;
        if (ttl.empty() || cumulative[i] < req.model->min_cache_tokens) {
            continue;
        }
        (ttl == "1h" ? u.cache_write_1h : u.cache_write_5m) += cumulative[i] - done;
        done = cumulative[i];
        if (commit) {
            auto& e = entries_[keys[i]];
            if (e.expires_ms <= now_ms || e.readable_ms <= now_ms) {
                e.readable_ms = std::numeric_limits<std::int64_t>::max();  // a new entry
            }  // else another writer's answer has not begun yet: the first to begin shows it
            e.expires_ms = now_ms + ttl_ms(ttl);
            unsettled_.push_back(keys[i]);
        }
    }
    u.input_tokens = tokens - u.cache_read - u.cache_write_5m - u.cache_write_1h;
    return u;
}

void prompt_cache::answer_begins(std::int64_t at_ms) {
    for (const auto& key : unsettled_) {
        auto& e = entries_[key];
        e.readable_ms = std::min(e.readable_ms, at_ms);
    }
    unsettled_.clear();
}

void minute_limits::bucket::refill(std::int64_t now_ms) {
    if (capacity > 0) {
        auto gained = capacity * static_cast<double>(now_ms - last_ms) / 60'000;
        level = std::min(capacity, level + gained);
    }
    last_ms = now_ms;
}

int minute_limits::bucket::seconds_until(double need) const {
    if (need > capacity) {
        return 60;  // never fits in one minute's allowance
    }
    return std::max(1, static_cast<int>(std::ceil((need - level) * 60 / capacity)));
}

std::int64_t minute_limits::bucket::full_at(std::int64_t now_ms) const {
    if (capacity <= 0) {
        return now_ms;
    }
    return now_ms + static_cast<std::int64_t>((capacity - level) * 60'000 / capacity);
}

minute_limits::model_buckets& minute_limits::buckets(const std::string& model_alias,
                                                     std::int64_t now_ms) {
    auto [it, added] = models_.try_emplace(model_alias);
    auto& b = it->second;
    if (added) {
        auto start = [&](std::int64_t limit) {
            auto capacity = static_cast<double>(limit);
            return bucket{capacity, capacity * limits_.start_full, now_ms};
        };
        b = {start(limits_.requests), start(limits_.input_tokens), start(limits_.output_tokens)};
    }
    b.requests.refill(now_ms);
    b.input.refill(now_ms);
    b.output.refill(now_ms);
    return b;
}

std::optional<limit_hit> minute_limits::take(const std::string& model_alias, std::int64_t input,
                                             std::int64_t output, std::int64_t now_ms) {
    auto& b = buckets(model_alias, now_ms);
    struct check {
        bucket* which;
        double need;
        const char* what;
    };
    for (auto c : {check{&b.requests, 1.0, "requests"},
                   check{&b.input, static_cast<double>(input), "input tokens"},
                   check{&b.output, static_cast<double>(output), "output tokens"}}) {
        if (c.which->capacity > 0 && c.need > c.which->level) {
            return limit_hit{c.what, static_cast<std::int64_t>(c.which->capacity),
                             c.which->seconds_until(c.need)};
        }
    }
    b.requests.level -= 1;
    b.input.level -= static_cast<double>(input);
    b.output.level -= static_cast<double>(output);
    return std::nullopt;
}

void minute_limits::refund_output(const std::string& model_alias, std::int64_t unused) {
    auto it = models_.find(model_alias);
    if (it != models_.end()) {
        auto& out = it->second.output;
        out.level = std::min(out.capacity, out.level + static_cast<double>(unused));
    }
}

std::vector<std::pair<std::string, std::string>> minute_limits::headers(
    const std::string& model_alias, std::int64_t now_ms) const {
    std::vector<std::pair<std::string, std::string>> out;
    auto it = models_.find(model_alias);
    if (it == models_.end()) {
        return out;
    }
    auto add = [&](const char* name, const bucket& b, bool tokens) {
        if (b.capacity <= 0) {
            return;  // not limited: the fake's own setting, announced by no header
        }
        std::string p = std::string("anthropic-ratelimit-") + name + "-";
        auto left = tokens ? thousands(b.level)
                           : std::to_string(static_cast<std::int64_t>(std::max(b.level, 0.0)));
        out.emplace_back(p + "limit", std::to_string(static_cast<std::int64_t>(b.capacity)));
        out.emplace_back(p + "remaining", left);
        out.emplace_back(p + "reset", rfc3339(b.full_at(now_ms)));
    };
    const auto& b = it->second;
    add("requests", b.requests, false);
    add("input-tokens", b.input, true);
    add("output-tokens", b.output, true);
    if (b.input.capacity > 0 && b.output.capacity > 0) {
        add("tokens",
            bucket{b.input.capacity + b.output.capacity, b.input.level + b.output.level, 0}, true);
    }
    return out;
}

std::optional<double> minute_limits::requests_left(const std::string& model_alias,
                                                   std::int64_t now_ms) const {
    auto it = models_.find(model_alias);
    if (it == models_.end()) {
        return std::nullopt;
    }
    auto b = it->second.requests;
    b.refill(now_ms);
    return b.level;
}

std::string rfc3339(std::int64_t epoch_ms) {
    std::time_t seconds = static_cast<std::time_t>(epoch_ms / 1000);
    std::tm parts{};
    gmtime_r(&seconds, &parts);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &parts);
    return text;
}

}  // namespace boomer::fakes
