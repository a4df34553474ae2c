// Environment variables set for the lifetime of a scope, for services a test starts within it.
#pragma once

#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

namespace boomer::test {

class scoped_env {
public:
    explicit scoped_env(std::vector<std::pair<std::string, std::string>> vars)
        : vars_(std::move(vars)) {
        for (const auto& [name, value] : vars_) {
            ::setenv(name.c_str(), value.c_str(), 1);
        }
    }
    ~scoped_env() {
        for (const auto& [name, value] : vars_) {
            ::unsetenv(name.c_str());
        }
    }
    scoped_env(const scoped_env&) = delete;
    scoped_env& operator=(const scoped_env&) = delete;

private:
    std::vector<std::pair<std::string, std::string>> vars_;
};

}  // namespace boomer::test
