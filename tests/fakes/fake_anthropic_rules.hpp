// The rules the fake Anthropic server enforces on POST /v1/messages and on the params of each
// request of a message batch, as the real API does: headers, model (known and not retired),
// max_tokens, sampling parameters, roles, content blocks, images (declared type against the
// bytes, size and dimension limits), cache_control placement and count, tools and tool_choice.
// A request that passes comes back as the units the server prices and caches.
//
// Error texts follow the real API's where they are known. Pure functions; thread-safe.
#pragma once

#include <boost/json/value.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace boomer::fakes {

// Which sampling parameters (temperature, top_p, top_k) a model takes.
enum class sampling_rule {
    temperature_or_top_p,  // any, but temperature and top_p not together
    refused,               // none of them
    defaults_only,         // none but temperature at its default of 1
};

// A model the fake knows.
struct fake_model {
    std::string alias;     // "claude-haiku-4-5"; the dated id for a model without an alias
    std::string dated_id;  // what answers name; the alias when empty
    std::int64_t max_output_tokens = 64'000;
    std::int64_t min_cache_tokens = 4096;
    sampling_rule sampling = sampling_rule::temperature_or_top_p;
    std::int64_t retired_at_ms = 0;  // from then on it is refused like an unknown model; 0: never

    const std::string& answer_id() const { return dated_id.empty() ? alias : dated_id; }
    // named tells whether `id` is this model's alias or dated id.
    bool named(std::string_view id) const { return !id.empty() && (id == alias || id == dated_id); }
};

// Every model that the verified facts about the API name by id (their section 6), with its
// published limits: the late-2025 line-up, the 2026 additions, and the models retired in 2026
// with their retirement dates. Haiku 4.5 comes first.
std::vector<fake_model> default_fake_models();

// Where a Messages request came from: POST /v1/messages, or the params of one request of a
// message batch (no `stream`, and max_tokens of at least 1).
enum class request_origin { messages, batch_line };

// An answer the API gives instead of a message.
struct api_reject {
    unsigned status = 400;
    std::string type = "invalid_request_error";
    std::string message;
};

// One unit of the prompt in processing order (tools, system, messages), for caching and usage.
struct prompt_block {
    std::string canonical;    // the block's JSON without cache_control
    std::int64_t tokens = 0;  // estimated
    std::string cache_ttl;    // "5m" or "1h" when the block is a breakpoint, else empty
};

struct checked_request {
    const fake_model* model = nullptr;  // points into the table passed to check_messages_request
    std::int64_t max_tokens = 0;
    std::vector<prompt_block> blocks;
    std::vector<std::string> image_bytes;   // decoded, in order
    std::string answer_tool;                // the tool to answer with; empty: answer with text
    std::int64_t tool_overhead_tokens = 0;  // the hidden tool-use instructions
};

// check_headers verifies x-api-key (401 when missing or wrong) and anthropic-version (400 when
// missing or not a known version), then the content type (400 unless application/json).
std::optional<api_reject> check_headers(std::optional<std::string_view> api_key,
                                        std::optional<std::string_view> version,
                                        std::optional<std::string_view> content_type,
                                        std::string_view expected_key);

// check_messages_request validates a parsed body from `origin` against `models`, at `now_ms`
// (a retired model is refused).
std::variant<api_reject, checked_request> check_messages_request(
    const boost::json::value& body, const std::vector<fake_model>& models, request_origin origin,
    std::int64_t now_ms);

// image_tokens estimates what an image of w×h pixels costs: scaled down to at most 1568 px on
// the long edge and 1568×784 pixels in all (the largest sizes the documentation lists as not
// resized, 1092×1092 and 784×1568, stay as they are), then width × height / 750, rounded up.
std::int64_t image_tokens(int width, int height);

// text_tokens estimates text at four characters per token, rounded up.
std::int64_t text_tokens(std::size_t chars);

// Limits from the documentation.
inline constexpr std::size_t max_request_bytes = 32 * 1024 * 1024;
inline constexpr std::size_t max_image_base64_bytes = 5'242'880;
inline constexpr int max_image_dimension = 8000;
inline constexpr int max_image_dimension_many = 2000;  // when a request has more than 20 images
inline constexpr std::size_t max_images = 100;
inline constexpr std::size_t max_cache_breakpoints = 4;

}  // namespace boomer::fakes
