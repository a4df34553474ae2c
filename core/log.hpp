// Structured log events: a name and typed fields, written as JSON members so that the logger's
// pattern (service/logging.cpp) makes one JSON object per line. Secrets never go into fields.
#pragma once

#include <spdlog/spdlog.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <variant>

namespace boomer::log {

struct field {
    field(std::string_view k, std::string_view v) : key(k), value(v) {}
    field(std::string_view k, const std::string& v) : key(k), value(std::string_view(v)) {}
    field(std::string_view k, const char* v) : key(k), value(std::string_view(v)) {}
    field(std::string_view k, std::int64_t v) : key(k), value(v) {}
    field(std::string_view k, int v) : key(k), value(static_cast<std::int64_t>(v)) {}
    field(std::string_view k, unsigned v) : key(k), value(static_cast<std::int64_t>(v)) {}
    field(std::string_view k, std::size_t v) : key(k), value(static_cast<std::int64_t>(v)) {}
    field(std::string_view k, double v) : key(k), value(v) {}
    field(std::string_view k, bool v) : key(k), value(v) {}

    std::string_view key;
    std::variant<std::string_view, std::int64_t, double, bool> value;
};

// format_event renders `"event":"<name>","key":value,...` with JSON escaping.
std::string format_event(std::string_view name, std::initializer_list<field> fields);

// event logs one structured line at `level` on the default logger; cheap when the level is off.
inline void event(spdlog::level::level_enum level, std::string_view name,
                  std::initializer_list<field> fields) {
    auto logger = spdlog::default_logger_raw();
    if (logger->should_log(level)) {
        logger->log(level, "{}", format_event(name, fields));
    }
}

}  // namespace boomer::log
