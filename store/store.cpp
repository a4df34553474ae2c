// Text forms of the store's enums: the words used in the database, the API and metrics labels.
#include "store/store.hpp"

#include <array>
#include <utility>

namespace boomer::store {
namespace {

constexpr std::array<std::pair<priority, std::string_view>, 3> priority_names{{
    {priority::urgent, "urgent"},
    {priority::normal, "normal"},
    {priority::bulk, "bulk"},
}};

constexpr std::array<std::pair<job_state, std::string_view>, 6> state_names{{
    {job_state::queued, "queued"},
    {job_state::running, "running"},
    {job_state::succeeded, "succeeded"},
    {job_state::needs_review, "needs_review"},
    {job_state::failed, "failed"},
    {job_state::canceled, "canceled"},
}};

}  // namespace

std::string_view to_string(priority p) {
    for (const auto& [value, name] : priority_names) {
        if (value == p) {
            return name;
        }
    }
    return "unknown";
}

std::string_view to_string(job_state s) {
    for (const auto& [value, name] : state_names) {
        if (value == s) {
            return name;
        }
    }
    return "unknown";
}

std::optional<priority> parse_priority(std::string_view text) {
    for (const auto& [value, name] : priority_names) {
        if (name == text) {
            return value;
        }
    }
    return std::nullopt;
}

std::optional<job_state> parse_job_state(std::string_view text) {
    for (const auto& [value, name] : state_names) {
        if (name == text) {
            return value;
        }
    }
    return std::nullopt;
}

bool is_final(job_state s) {
    return s == job_state::succeeded || s == job_state::needs_review || s == job_state::failed ||
           s == job_state::canceled;
}

}  // namespace boomer::store
