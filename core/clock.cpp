// The system clock and timestamp formatting.
#include "core/clock.hpp"

#include <chrono>
#include <ctime>
#include <fmt/format.h>

namespace boomer {

std::int64_t system_clock::now_ms() const {
    auto since_epoch = std::chrono::system_clock::now().time_since_epoch();
    return std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch).count();
}

const system_clock& system_clock::instance() {
    static const system_clock c;
    return c;
}

std::string iso8601_utc(std::int64_t epoch_ms) {
    std::time_t seconds = static_cast<std::time_t>(epoch_ms / 1000);
    std::tm parts{};
    gmtime_r(&seconds, &parts);
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", parts.tm_year + 1900,
                       parts.tm_mon + 1, parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec,
                       static_cast<int>(epoch_ms % 1000));
}

}  // namespace boomer
