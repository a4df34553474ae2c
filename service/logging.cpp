// spdlog configured for JSON lines or text.
#include "service/logging.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

namespace boomer::service {

void setup_logging(const std::string& format, const std::string& level) {
    bool json = format == "json" || (format.empty() && isatty(STDERR_FILENO) == 0);
    auto logger = spdlog::stderr_logger_mt("boomer");
    if (json) {
        // Messages are written as `"event":"...", "field":value` fragments by callers (see
        // log_fields in observer.cpp), so the pattern closes a JSON object around them.
        logger->set_pattern(R"({"ts":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l",%v})",
                            spdlog::pattern_time_type::utc);
    } else {
        logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ %v");
    }
    logger->set_level(spdlog::level::from_str(level));
    logger->flush_on(spdlog::level::warn);
    spdlog::set_default_logger(logger);
}

}  // namespace boomer::service
