// Text forms of the store's enums (the words used in the database, the API and metrics labels),
// and the argument checks both engines share.
#include "store/store.hpp"

#include <array>
#include <set>
#include <stdexcept>
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

void check_new_item(const new_item& item) {
    if (item.tenant_id.empty() || item.item_id.empty() || item.job_id.empty()) {
        throw std::invalid_argument("create_item: tenant_id, item_id and job_id are required");
    }
    if (item.max_attempts < 1) {
        throw std::invalid_argument("create_item: max_attempts must be at least 1");
    }
}

void check_completions(const std::vector<completion>& batch) {
    std::set<std::string_view> seen;
    for (const auto& c : batch) {
        auto s = c.final_state;
        if (s != job_state::succeeded && s != job_state::needs_review && s != job_state::failed) {
            throw std::invalid_argument(
                "complete: the final state must be succeeded, needs_review or failed, not " +
                std::string(to_string(s)));
        }
        if (!seen.insert(c.job_id).second) {
            throw std::invalid_argument("complete_many: job " + c.job_id + " appears twice");
        }
    }
}

std::vector<bool> store::heartbeat_many(const std::vector<lease_ref>& leases,
                                        std::int64_t locked_until_ms) {
    std::vector<bool> held;
    held.reserve(leases.size());
    for (const auto& l : leases) {
        held.push_back(heartbeat(l.job_id, l.fence, locked_until_ms));
    }
    return held;
}

bool store::complete(std::string_view job_id, std::int64_t fence, job_state final_state,
                     std::string_view result_json, std::string_view error_code,
                     std::string_view error_message, std::int64_t now_ms) {
    completion c{std::string(job_id),
                 fence,
                 final_state,
                 std::string(result_json),
                 std::string(error_code),
                 std::string(error_message)};
    return complete_many({c}, now_ms).front();
}

}  // namespace boomer::store
