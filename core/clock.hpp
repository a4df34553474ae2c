// Time as the rest of the code sees it: an interface so that tests can move time by hand.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace boomer {

// A source of wall-clock time in milliseconds since the Unix epoch. Implementations are
// thread-safe.
class clock {
public:
    virtual ~clock() = default;
    virtual std::int64_t now_ms() const = 0;
};

// The real clock (std::chrono::system_clock).
class system_clock final : public clock {
public:
    std::int64_t now_ms() const override;
    // The process-wide instance.
    static const system_clock& instance();
};

// A clock that only moves when told to. Thread-safe.
class manual_clock final : public clock {
public:
    explicit manual_clock(std::int64_t start_ms = 1'700'000'000'000) : now_(start_ms) {}
    std::int64_t now_ms() const override { return now_.load(); }
    void advance_ms(std::int64_t ms) { now_ += ms; }
    void set_ms(std::int64_t ms) { now_ = ms; }

private:
    std::atomic<std::int64_t> now_;
};

// iso8601_utc formats epoch milliseconds as "2026-12-04T16:10:35.123Z".
std::string iso8601_utc(std::int64_t epoch_ms);

// parse_iso8601 reads an RFC 3339 timestamp ("2026-12-04T16:10:35Z", with any number of
// fractional digits, "Z" or a "+hh:mm"/"-hh:mm" offset) as epoch milliseconds, fractions past
// the millisecond dropped; std::nullopt for anything else. Pure.
std::optional<std::int64_t> parse_iso8601(std::string_view text);

}  // namespace boomer
