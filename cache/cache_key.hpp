// Cache keys that cannot collide by accident: every parameter that shapes an answer (model,
// max_tokens, temperature, prompt version, tool schema, the image bytes...) goes in as a named,
// length-prefixed field, and the key is the SHA-256 of them all, prefixed by a kind ("vision:").
// Two requests share a key only when every field is byte-for-byte the same.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace boomer::cache {

class cache_key_builder {
public:
    // `kind` names what is cached; it starts the key in clear ("vision:<hex>").
    explicit cache_key_builder(std::string_view kind);

    // add appends a field. Fields are order-sensitive: add them in one fixed order.
    cache_key_builder& add(std::string_view name, std::string_view value);
    cache_key_builder& add(std::string_view name, const char* value) {
        return add(name, std::string_view(value));
    }
    cache_key_builder& add(std::string_view name, std::int64_t value);
    cache_key_builder& add(std::string_view name, int value) {
        return add(name, static_cast<std::int64_t>(value));
    }
    // Doubles are written exactly (17 significant digits); an empty optional is "unset", which
    // no number is.
    cache_key_builder& add(std::string_view name, std::optional<double> value);
    // add_digest appends the SHA-256 of `bytes` (image bytes, say) rather than the bytes.
    cache_key_builder& add_digest(std::string_view name, std::string_view bytes);

    // build returns "<kind>:<64 hex>". Thread-compatible: one builder per thread.
    std::string build() const;

private:
    std::string kind_;
    std::string fields_;
};

}  // namespace boomer::cache
