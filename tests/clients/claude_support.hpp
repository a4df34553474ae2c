// Helpers of the Claude client suites: an identification record as the model's tool input, and
// an answer store in memory that counts what it is asked.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/json.hpp>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "clients/claude_vision.hpp"

namespace boomer::test {

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

// An answer store in memory. Thread-safe; the counters and entries are for the test to read
// once the calls are over.
class memory_answers final : public clients::answer_store {
public:
    boost::asio::awaitable<std::optional<std::string>> get(const std::string& key) override {
        std::lock_guard lock(mutex_);
        ++gets;
        auto found = entries.find(key);
        co_return found == entries.end() ? std::nullopt : std::optional(found->second);
    }
    boost::asio::awaitable<void> put(const std::string& key, const std::string& value) override {
        std::lock_guard lock(mutex_);
        ++puts;
        entries[key] = value;
        co_return;
    }

    std::map<std::string, std::string> entries;
    int gets = 0;
    int puts = 0;

private:
    std::mutex mutex_;
};

}  // namespace boomer::test
