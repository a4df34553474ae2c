// Batch settings: read from the environment and checked once, at start.
#include <charconv>

#include "clients/anthropic_batches.hpp"
#include "clients/claude_batcher.hpp"

namespace boomer::clients {
namespace {

// The longest window or poll wait accepted: a batch ends within 24 hours, and a longer
// duration would overflow the timers' nanoseconds (a huge window then closes at once).
constexpr std::chrono::milliseconds longest_wait = std::chrono::hours(24);

unexpected<failure> bad(std::string_view name, std::string_view why) {
    return fail("bad_config", std::string(name) + " " + std::string(why) + ".");
}

bool read_ms(const std::optional<std::string>& text, std::chrono::milliseconds& out) {
    if (!text) {
        return true;
    }
    std::int64_t value = 0;
    auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
    if (ec != std::errc{} || end != text->data() + text->size()) {
        return false;
    }
    out = std::chrono::milliseconds(value);
    return true;
}

}  // namespace

result<bool> validate_batch_settings(const batch_settings& s) {
    if (s.max_entries < 1 || s.max_entries > max_batch_requests) {
        return bad("BOOMER_CLAUDE_BATCH_MAX", "must be from 1 to 10000");
    }
    if (s.window.count() < 0 || s.window > longest_wait) {
        return bad("BOOMER_CLAUDE_BATCH_WINDOW_MS", "must be from 0 to 86400000 (24 hours)");
    }
    if (s.poll_max.count() < 1 || s.poll_max > longest_wait) {
        return bad("BOOMER_CLAUDE_BATCH_POLL_MAX_MS", "must be from 1 to 86400000 (24 hours)");
    }
    if (s.poll_min.count() < 1 || s.poll_max < s.poll_min) {
        return bad("BOOMER_CLAUDE_BATCH_POLL_MIN_MS",
                   "must be at least 1 and at most BOOMER_CLAUDE_BATCH_POLL_MAX_MS");
    }
    if (s.max_poll_failures < 1) {
        return bad("max_poll_failures", "must be at least 1");
    }
    return true;
}

result<bool> read_batch_settings(
    const std::function<std::optional<std::string>(std::string_view)>& lookup, batch_settings& s) {
    if (auto v = lookup("BOOMER_CLAUDE_BATCHES"); v && !v->empty()) {
        if (*v == "1" || *v == "true" || *v == "on") {
            s.enabled = true;
        } else if (*v == "0" || *v == "false" || *v == "off") {
            s.enabled = false;
        } else {
            return bad("BOOMER_CLAUDE_BATCHES", "must be 1, true, on, 0, false or off");
        }
    }
    if (auto v = lookup("BOOMER_CLAUDE_BATCH_MAX")) {
        std::size_t n = 0;
        auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
        if (ec != std::errc{} || end != v->data() + v->size()) {
            return bad("BOOMER_CLAUDE_BATCH_MAX", "must be a whole number");
        }
        s.max_entries = n;
    }
    struct timed {
        std::string_view name;
        std::chrono::milliseconds* value;
    };
    for (auto [name, value] : {timed{"BOOMER_CLAUDE_BATCH_WINDOW_MS", &s.window},
                               timed{"BOOMER_CLAUDE_BATCH_POLL_MIN_MS", &s.poll_min},
                               timed{"BOOMER_CLAUDE_BATCH_POLL_MAX_MS", &s.poll_max}}) {
        if (!read_ms(lookup(name), *value)) {
            return bad(name, "must be a whole number of milliseconds");
        }
    }
    return true;
}

}  // namespace boomer::clients
