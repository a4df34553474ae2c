// Helpers of the Claude client suites: a tiny JPEG and a request carrying it, sleeps that move a
// manual clock, a client against the fake on that clock, a search for one line of the metrics
// text, an identification record as the model's tool input, and an answer store in memory that
// counts what it is asked.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "clients/claude_vision.hpp"
#include "core/clock.hpp"
#include "core/metrics.hpp"
#include "tests/fakes/fake_anthropic.hpp"

namespace boomer::test {

// A tiny JPEG is enough: the fake checks the magic bytes and sizes tokens from the header.
inline const std::string& tiny_jpeg() {
    static const std::string bytes = [] {
        const unsigned char data[] = {0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 0x4A, 0x46, 0x49,
                                      0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01,
                                      0x00, 0x00, 0xFF, 0xC0, 0x00, 0x0B, 0x08, 0x00, 0x10,
                                      0x00, 0x10, 0x01, 0x01, 0x11, 0x00, 0xFF, 0xD9};
        return std::string(reinterpret_cast<const char*>(data), sizeof data);
    }();
    return bytes;
}

// A request for item `item_id` with the tiny JPEG and the hint "camera".
inline pipeline::identify_request tiny_request(std::string item_id) {
    pipeline::identify_request r;
    r.item_id = std::move(item_id);
    r.jpeg_images = {tiny_jpeg()};
    r.title_hint = "camera";
    return r;
}

// Sleeping moves the shared manual clock (so limits refill and deadlines come closer) and is
// recorded.
struct sleep_log {
    manual_clock* time = nullptr;
    std::vector<std::chrono::milliseconds> waits;
};

inline boost::asio::awaitable<void> clock_sleep(sleep_log* log, std::chrono::milliseconds d) {
    log->waits.push_back(d);
    log->time->advance_ms(d.count());
    co_return;
}

// The fake and the client's settings on one manual clock that the client's sleeps move; only
// the cheap model, a 10 s attempt timeout, and jitter fixed at one half.
struct claude_harness {
    manual_clock time;
    sleep_log log{&time, {}};
    fakes::fake_anthropic fake;
    metrics::registry registry;
    boost::asio::io_context io;
    clients::claude_options options;

    explicit claude_harness(fakes::fake_anthropic_options fake_options = {})
        : fake([&] {
              fake_options.time = &time;
              return fake_options;
          }()) {
        options.api_key = clients::secret("test-key");
        options.base_url = fake.base_url();
        options.strong_model = "";
        options.attempt_timeout = std::chrono::seconds(10);
        options.jitter = [] { return 0.5; };
        options.time = &time;
        auto* l = &log;
        options.sleep = [l](std::chrono::milliseconds d) { return clock_sleep(l, d); };
    }
};

// has_line tells whether `text` holds `line` as a whole line.
inline bool has_line(const std::string& text, const std::string& line) {
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);) {
        if (l == line) {
            return true;
        }
    }
    return false;
}

// A complete identification record (every required field) with `confidence` overall.
inline boost::json::object identification_record(std::string title, double confidence) {
    return {{"title", std::move(title)},
            {"brand", "Acme"},
            {"model", "X1"},
            {"category_path", boost::json::array{"Art", "Photographs"}},
            {"condition_guess", "good"},
            {"search_query", "acme x1 print"},
            {"overall_confidence", confidence}};
}

// An answer store in memory that never blocks (no pool) and keeps entries whatever their
// expiry. Thread-safe; the counters and entries are for the test to read once the calls are
// over.
class memory_answers final : public clients::answer_store {
public:
    std::optional<std::string> get(std::string_view key, std::int64_t) override {
        std::lock_guard lock(mutex_);
        ++gets;
        auto found = entries.find(std::string(key));
        return found == entries.end() ? std::nullopt : std::optional(found->second);
    }
    void put(std::string_view key, std::string_view value, std::int64_t) override {
        std::lock_guard lock(mutex_);
        ++puts;
        entries[std::string(key)] = std::string(value);
    }
    boost::asio::thread_pool* pool() override { return lookups; }

    // Where lookups run: inline when null, else on this pool (a caller then waits for them, as
    // with a database).
    boost::asio::thread_pool* lookups = nullptr;
    std::map<std::string, std::string> entries;
    int gets = 0;
    int puts = 0;

private:
    std::mutex mutex_;
};

}  // namespace boomer::test
