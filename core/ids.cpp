// Time-ordered random identifiers.
#include "core/ids.hpp"

#include <random>

namespace boomer {
namespace {

constexpr std::string_view alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
constexpr std::size_t body_length = 26;

std::mt19937_64& generator() {
    thread_local std::mt19937_64 g{std::random_device{}()};
    return g;
}

}  // namespace

std::string new_id(std::string_view prefix, std::int64_t epoch_ms) {
    std::string id(prefix);
    id.push_back('_');

    // 10 characters of time (50 bits), most significant first.
    auto time = static_cast<std::uint64_t>(epoch_ms);
    for (int shift = 45; shift >= 0; shift -= 5) {
        id.push_back(alphabet[(time >> shift) & 0x1f]);
    }

    // 16 characters of randomness (80 bits).
    std::uint64_t a = generator()();
    std::uint64_t b = generator()();
    for (int i = 0; i < 12; ++i) {
        id.push_back(alphabet[(a >> (i * 5)) & 0x1f]);
    }
    for (int i = 0; i < 4; ++i) {
        id.push_back(alphabet[(b >> (i * 5)) & 0x1f]);
    }
    return id;
}

bool is_valid_id(std::string_view id, std::string_view prefix) {
    if (id.size() != prefix.size() + 1 + body_length || id.substr(0, prefix.size()) != prefix ||
        id[prefix.size()] != '_') {
        return false;
    }
    for (char c : id.substr(prefix.size() + 1)) {
        if (alphabet.find(c) == std::string_view::npos) {
            return false;
        }
    }
    return true;
}

}  // namespace boomer
