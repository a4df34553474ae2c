// Text forms of the store's enums (the words used in the database, the API and metrics labels),
// and the argument checks both engines share.
#include "store/store.hpp"

#include <algorithm>
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

namespace {

// Where each band starts, and its width: 21, 21 and 22 bits.
constexpr std::array<int, phash_bands + 1> band_starts{0, 21, 42, 64};

// Every value within `radius` bits of `value` (flipping bits from `from_bit` on), into `out`.
void values_within(std::int64_t value, int width, int radius, int from_bit,
                   std::vector<std::int64_t>& out) {
    out.push_back(value);
    if (radius == 0) {
        return;
    }
    for (int bit = from_bit; bit < width; ++bit) {
        values_within(value ^ (std::int64_t{1} << bit), width, radius - 1, bit + 1, out);
    }
}

}  // namespace

std::int64_t phash_band(std::uint64_t phash, int band) {
    if (band < 0 || band >= phash_bands) {
        throw std::invalid_argument("phash_band: band must be 0.." +
                                    std::to_string(phash_bands - 1));
    }
    const auto k = static_cast<std::size_t>(band);
    const int width = band_starts[k + 1] - band_starts[k];
    return static_cast<std::int64_t>((phash >> band_starts[k]) & ((std::uint64_t{1} << width) - 1));
}

std::array<std::vector<std::int64_t>, phash_bands> phash_band_probes(
    const std::vector<std::uint64_t>& hashes, int distance) {
    if (distance < 0 || distance > similar_photos_max_distance) {
        throw std::invalid_argument("phash_band_probes: distance must be 0.." +
                                    std::to_string(similar_photos_max_distance));
    }
    const int radius = distance / phash_bands;
    std::array<std::vector<std::int64_t>, phash_bands> out;
    for (int k = 0; k < phash_bands; ++k) {
        const auto kk = static_cast<std::size_t>(k);
        auto& values = out[kk];
        for (auto h : hashes) {
            values_within(phash_band(h, k), band_starts[kk + 1] - band_starts[kk], radius, 0,
                          values);
        }
        std::sort(values.begin(), values.end());
        values.erase(std::unique(values.begin(), values.end()), values.end());
    }
    return out;
}

std::string phash_hex(std::uint64_t phash) {
    static constexpr std::string_view digits = "0123456789abcdef";
    std::string hex(16, '0');
    for (int i = 15; i >= 0; --i) {
        hex[static_cast<std::size_t>(i)] = digits[phash & 0xFU];
        phash >>= 4;
    }
    return hex;
}

std::optional<std::uint64_t> parse_phash_hex(std::string_view hex) {
    if (hex.size() != 16) {
        return std::nullopt;
    }
    std::uint64_t value = 0;
    for (char c : hex) {
        int digit = -1;
        if (c >= '0' && c <= '9') {
            digit = c - '0';
        } else if (c >= 'a' && c <= 'f') {
            digit = c - 'a' + 10;
        } else if (c >= 'A' && c <= 'F') {
            digit = c - 'A' + 10;
        }
        if (digit < 0) {
            return std::nullopt;
        }
        value = (value << 4) | static_cast<std::uint64_t>(digit);
    }
    return value;
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
