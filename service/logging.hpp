// Logging setup: spdlog, one line per event, JSON lines in production and readable text on a
// terminal. Modules below service/ and api/ do not log; they return errors.
#pragma once

#include <string>

namespace boomer::service {

// setup_logging installs the default logger. `format` is "json" or "text" (empty: text when
// stderr is a terminal); `level` is a spdlog level name.
void setup_logging(const std::string& format, const std::string& level);

}  // namespace boomer::service
