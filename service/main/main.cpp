// boomer's entry point: parse the command, set up logging, run the service.
#include <exception>

#include "core/log.hpp"
#include "service/app.hpp"
#include "service/config.hpp"
#include "service/logging.hpp"

int main(int argc, char** argv) {
    auto cmd = boomer::service::parse_command(argc, argv);
    if (cmd.what != boomer::service::command::kind::serve) {
        return cmd.exit_code;
    }
    boomer::service::setup_logging(cmd.serve.log_format, cmd.serve.log_level);
    try {
        boomer::service::app service(cmd.serve);
        return service.run();
    } catch (const std::exception& e) {
        boomer::log::event(spdlog::level::critical, "start_failed", {{"what", e.what()}});
        return 1;
    }
}
