// Length-prefixed fields hashed into a key.
#include "cache/cache_key.hpp"

#include <fmt/format.h>

#include "core/hash.hpp"

namespace boomer::cache {

cache_key_builder::cache_key_builder(std::string_view kind) : kind_(kind) {}

cache_key_builder& cache_key_builder::add(std::string_view name, std::string_view value) {
    fields_ += fmt::format("{}:{}={}:{};", name.size(), name, value.size(), value);
    return *this;
}

cache_key_builder& cache_key_builder::add(std::string_view name, std::int64_t value) {
    return add(name, std::string_view(std::to_string(value)));
}

cache_key_builder& cache_key_builder::add(std::string_view name, std::optional<double> value) {
    if (!value) {
        return add(name, std::string_view("unset"));
    }
    return add(name, std::string_view(fmt::format("{:.17g}", *value)));
}

cache_key_builder& cache_key_builder::add_digest(std::string_view name, std::string_view bytes) {
    return add(name, std::string_view(sha256_hex(bytes)));
}

std::string cache_key_builder::build() const {
    return kind_ + ":" + sha256_hex(fields_);
}

}  // namespace boomer::cache
