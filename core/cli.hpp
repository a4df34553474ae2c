// Command-line checks shared by boomer's programs (header only; CLI11).
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace boomer {

// refuse_empty_values makes every option of `app` that takes a value refuse an empty one
// (`--seed ""`), which CLI11 would otherwise read as 0 or as empty text. Call it once every
// option has been added.
inline void refuse_empty_values(CLI::App& app) {
    const CLI::Validator not_empty(
        [](std::string& text) {
            return text.empty() ? std::string("an empty value is not allowed") : std::string();
        },
        "");
    for (CLI::Option* option : app.get_options()) {
        if (option->get_type_size() > 0) {  // flags take none
            option->check(not_empty);
        }
    }
}

}  // namespace boomer
