// Validation of Messages requests. A broken rule found deep in the body unwinds (as `reject`) to
// check_messages_request, which returns it as a value.
#include "tests/fakes/fake_anthropic_rules.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <initializer_list>
#include <regex>

#include "core/hash.hpp"
#include "tests/fakes/image_sniff.hpp"

namespace boomer::fakes {
namespace {

namespace json = boost::json;

struct reject {
    api_reject answer;
};

[[noreturn]] void refuse(std::string message, unsigned status = 400,
                         std::string type = "invalid_request_error") {
    throw reject{api_reject{status, std::move(type), std::move(message)}};
}

void only_keys(const json::object& obj, const std::string& path,
               std::initializer_list<std::string_view> allowed) {
    for (const auto& [key, value] : obj) {
        if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
            refuse((path.empty() ? "" : path + ".") + std::string(key) +
                   ": Extra inputs are not permitted");
        }
    }
}

const json::object& object_at(const json::value& v, const std::string& path) {
    if (!v.is_object()) {
        refuse(path + ": Input should be a valid dictionary");
    }
    return v.as_object();
}

std::string string_field(const json::object& obj, std::string_view key, const std::string& path,
                         bool required = true) {
    auto where = (path.empty() ? "" : path + ".") + std::string(key);
    const auto* v = obj.if_contains(key);
    if (v == nullptr) {
        if (required) {
            refuse(where + ": Field required");
        }
        return {};
    }
    if (!v->is_string()) {
        refuse(where + ": Input should be a valid string");
    }
    return std::string(v->as_string());
}

std::string without_cache_control(const json::object& obj) {
    json::object copy = obj;
    copy.erase("cache_control");
    return json::serialize(copy);
}

// Walks the body in processing order and collects blocks, breakpoints and images.
class checker {
public:
    checker(const json::object& body, const fake_model& model) : body_(body) {
        out_.model = &model;
    }

    checked_request run() {
        count_images();
        check_tools();
        check_system();
        check_messages();
        check_tool_choice();
        apply_top_level_cache_control();
        return std::move(out_);
    }

private:
    void count_images() {
        const auto* messages = body_.if_contains("messages");
        if (messages == nullptr || !messages->is_array()) {
            return;
        }
        for (const auto& m : messages->as_array()) {
            const auto* content = m.is_object() ? m.as_object().if_contains("content") : nullptr;
            if (content == nullptr || !content->is_array()) {
                continue;
            }
            for (const auto& b : content->as_array()) {
                if (b.is_object() && b.as_object().if_contains("type") != nullptr &&
                    b.as_object().at("type") == "image") {
                    ++image_count_;
                }
            }
        }
        if (image_count_ > max_images) {
            refuse("Too much media: 0 document pages + " + std::to_string(image_count_) +
                   " images > " + std::to_string(max_images));
        }
    }

    // Records `cache_control` of the block at `path`, if any, on `block`.
    void cache_control(const json::object& obj, const std::string& path, prompt_block& block) {
        const auto* cc = obj.if_contains("cache_control");
        if (cc == nullptr || cc->is_null()) {
            return;
        }
        auto cc_path = (path.empty() ? "" : path + ".") + "cache_control";
        const auto& c = object_at(*cc, cc_path);
        only_keys(c, cc_path, {"type", "ttl"});
        if (string_field(c, "type", cc_path) != "ephemeral") {
            refuse(cc_path + ".type: Input should be 'ephemeral'");
        }
        auto ttl = string_field(c, "ttl", cc_path, false);
        if (ttl.empty()) {
            ttl = "5m";
        } else if (ttl != "5m" && ttl != "1h") {
            refuse(cc_path + ".ttl: Input should be '5m' or '1h'");
        }
        if (ttl == "1h" && seen_5m_) {
            refuse(cc_path +
                   ".ttl: a ttl='1h' cache_control block must not come after a "
                   "ttl='5m' cache_control block. Note that blocks are processed in "
                   "the following order: `tools`, `system`, `messages`.");
        }
        seen_5m_ = seen_5m_ || ttl == "5m";
        if (++breakpoints_ > max_cache_breakpoints) {
            refuse("A maximum of 4 blocks with cache_control may be provided. Found " +
                   std::to_string(count_all_breakpoints()) + ".");
        }
        block.cache_ttl = ttl;
    }

    // The API names the total in its message, so count every breakpoint in the body.
    std::size_t count_all_breakpoints() const {
        std::size_t n = 0;
        auto count_in = [&n](const json::value& list, std::string_view inner) {
            if (!list.is_array()) {
                return;
            }
            for (const auto& item : list.as_array()) {
                if (!item.is_object()) {
                    continue;
                }
                if (inner.empty()) {
                    n += item.as_object().contains("cache_control") ? 1 : 0;
                    continue;
                }
                const auto* content = item.as_object().if_contains(inner);
                if (content != nullptr && content->is_array()) {
                    for (const auto& b : content->as_array()) {
                        n += b.is_object() && b.as_object().contains("cache_control") ? 1 : 0;
                    }
                }
            }
        };
        for (auto [key, inner] :
             {std::pair{"tools", ""}, std::pair{"system", ""}, std::pair{"messages", "content"}}) {
            if (const auto* v = body_.if_contains(key)) {
                count_in(*v, inner);
            }
        }
        return n + (body_.contains("cache_control") ? 1 : 0);
    }

    void check_tools() {
        const auto* tools = body_.if_contains("tools");
        if (tools == nullptr) {
            return;
        }
        if (!tools->is_array()) {
            refuse("tools: Input should be a valid list");
        }
        static const std::regex name_pattern("^[a-zA-Z0-9_-]{1,128}$");
        for (std::size_t i = 0; i < tools->as_array().size(); ++i) {
            auto path = "tools." + std::to_string(i);
            const auto& tool = object_at(tools->as_array()[i], path);
            only_keys(tool, path,
                      {"name", "description", "input_schema", "cache_control", "strict", "type",
                       "input_examples"});
            auto name = string_field(tool, "name", path);
            if (!std::regex_match(name, name_pattern)) {
                refuse(path +
                       ".custom.name: String should match pattern "
                       "'^[a-zA-Z0-9_-]{1,128}$'");
            }
            if (std::find(tool_names_.begin(), tool_names_.end(), name) != tool_names_.end()) {
                refuse("tools: Tool names must be unique.");
            }
            tool_names_.push_back(name);
            const auto* schema = tool.if_contains("input_schema");
            if (schema == nullptr) {
                refuse(path + ".custom.input_schema: Field required");
            }
            const auto& s = object_at(*schema, path + ".custom.input_schema");
            if (s.if_contains("type") == nullptr || s.at("type") != "object") {
                refuse(path + ".custom.input_schema.type: Input should be 'object'");
            }
            prompt_block block{without_cache_control(tool), 0, {}};
            block.tokens = text_tokens(block.canonical.size());
            cache_control(tool, path, block);
            out_.blocks.push_back(std::move(block));
        }
    }

    void check_system() {
        const auto* system = body_.if_contains("system");
        if (system == nullptr) {
            return;
        }
        if (system->is_string()) {
            add_text_block("system", json::object{{"type", "text"}, {"text", system->as_string()}},
                           "system");
            return;
        }
        if (!system->is_array()) {
            refuse("system: Input should be a valid string or list");
        }
        for (std::size_t i = 0; i < system->as_array().size(); ++i) {
            auto path = "system." + std::to_string(i);
            const auto& block = object_at(system->as_array()[i], path);
            if (string_field(block, "type", path) != "text") {
                refuse(path + ".type: Input should be 'text'");
            }
            add_text_block(path, block, "system");
        }
    }

    void add_text_block(const std::string& path, const json::object& block, std::string_view role) {
        only_keys(block, path, {"type", "text", "cache_control", "citations"});
        auto text = string_field(block, "text", path);
        if (text.empty()) {
            if (block.contains("cache_control")) {
                refuse(path + ".text: cache_control cannot be set for empty text blocks");
            }
            refuse(std::string(role == "system" ? "system" : "messages") +
                   ": text content blocks must be non-empty");
        }
        prompt_block pb{
            std::string(role) + "|" + without_cache_control(block), text_tokens(text.size()), {}};
        cache_control(block, path, pb);
        out_.blocks.push_back(std::move(pb));
    }

    void check_messages() {
        const auto* messages = body_.if_contains("messages");
        if (messages == nullptr) {
            refuse("messages: Field required");
        }
        if (!messages->is_array()) {
            refuse("messages: Input should be a valid list");
        }
        const auto& list = messages->as_array();
        if (list.empty()) {
            refuse("messages: at least one message is required");
        }
        std::string previous;
        for (std::size_t i = 0; i < list.size(); ++i) {
            auto path = "messages." + std::to_string(i);
            const auto& m = object_at(list[i], path);
            only_keys(m, path, {"role", "content"});
            auto role = string_field(m, "role", path);
            if (role != "user" && role != "assistant") {
                refuse(path + ".role: Input should be 'user' or 'assistant'");
            }
            if (i == 0 && role != "user") {
                refuse("messages: first message must use the \"user\" role");
            }
            if (role == previous) {
                refuse(
                    "messages: roles must alternate between \"user\" and \"assistant\", but "
                    "found multiple \"" +
                    role + "\" roles in a row");
            }
            previous = role;
            check_content(m, path, role);
        }
    }

    void check_content(const json::object& m, const std::string& path, const std::string& role) {
        const auto* content = m.if_contains("content");
        if (content == nullptr) {
            refuse(path + ".content: Field required");
        }
        if (content->is_string()) {
            add_text_block(path + ".content",
                           json::object{{"type", "text"}, {"text", content->as_string()}}, role);
            return;
        }
        if (!content->is_array()) {
            refuse(path + ".content: Input should be a valid string or list");
        }
        for (std::size_t j = 0; j < content->as_array().size(); ++j) {
            auto bpath = path + ".content." + std::to_string(j);
            const auto& block = object_at(content->as_array()[j], bpath);
            auto type = string_field(block, "type", bpath);
            if (type == "text") {
                add_text_block(bpath, block, role);
            } else if (type == "image") {
                check_image(block, bpath, role);
            } else {
                refuse(bpath + ": Input tag '" + type +
                       "' found using 'type' does not match any "
                       "of the expected tags: 'text', 'image'");
            }
        }
    }

    void check_image(const json::object& block, const std::string& path, const std::string& role) {
        only_keys(block, path, {"type", "source", "cache_control"});
        const auto* source_value = block.if_contains("source");
        if (source_value == nullptr) {
            refuse(path + ".image.source: Field required");
        }
        auto spath = path + ".image.source";
        const auto& source = object_at(*source_value, spath);
        auto kind = string_field(source, "type", spath);
        if (kind == "url") {
            refuse("Unable to download the file. Please verify the URL and try again.");
        }
        if (kind != "base64") {
            refuse(spath + ": Input tag '" + kind +
                   "' found using 'type' does not match any of "
                   "the expected tags: 'base64', 'url'");
        }
        only_keys(source, spath + ".base64", {"type", "media_type", "data"});
        auto media_type = string_field(source, "media_type", spath + ".base64");
        if (media_type != "image/jpeg" && media_type != "image/png" && media_type != "image/gif" &&
            media_type != "image/webp") {
            refuse(spath +
                   ".base64.media_type: Input should be 'image/jpeg', 'image/png', "
                   "'image/gif' or 'image/webp'");
        }
        auto data = string_field(source, "data", spath + ".base64");
        auto bytes = check_image_bytes(data, media_type, spath);

        prompt_block pb{role + "|image:" + media_type + ":" + sha256_hex(bytes), 0, {}};
        auto size = sniff_image(bytes);
        pb.tokens = image_tokens(size->width, size->height);
        cache_control(block, path, pb);
        out_.blocks.push_back(std::move(pb));
        out_.image_bytes.push_back(std::move(bytes));
    }

    std::string check_image_bytes(const std::string& data, const std::string& media_type,
                                  const std::string& spath) {
        if (data.size() > max_image_base64_bytes) {
            refuse(spath + ".base64: image exceeds 5 MB maximum: " + std::to_string(data.size()) +
                   " bytes > " + std::to_string(max_image_base64_bytes) + " bytes");
        }
        auto bytes = base64_decode(data);
        if (!bytes) {
            refuse(spath + ".base64: invalid base64 data");
        }
        auto actual = sniff_media_type(*bytes);
        if (actual.empty()) {
            refuse("Could not process image");
        }
        if (actual != media_type) {
            refuse(spath + ".base64: The image was specified using the " + media_type +
                   " media type, but the image appears to be a " + actual + " image");
        }
        auto size = sniff_image(*bytes);
        if (!size) {
            refuse("Could not process image");
        }
        if (size->width > max_image_dimension || size->height > max_image_dimension) {
            refuse(spath +
                   ".base64.data: At least one of the image dimensions exceed max "
                   "allowed size: 8000 pixels");
        }
        if (image_count_ > 20 &&
            (size->width > max_image_dimension_many || size->height > max_image_dimension_many)) {
            refuse(spath +
                   ".base64.data: At least one of the image dimensions exceed max "
                   "allowed size for many-image requests: 2000 pixels");
        }
        return std::move(*bytes);
    }

    void check_tool_choice() {
        const auto* choice = body_.if_contains("tool_choice");
        if (choice == nullptr) {
            if (!tool_names_.empty()) {
                out_.answer_tool = tool_names_.front();  // auto: the fake always uses a tool
                out_.tool_overhead_tokens = 346;
            }
            return;
        }
        const auto& c = object_at(*choice, "tool_choice");
        only_keys(c, "tool_choice", {"type", "name", "disable_parallel_tool_use"});
        auto type = string_field(c, "type", "tool_choice");
        if (type != "auto" && type != "any" && type != "tool" && type != "none") {
            refuse("tool_choice: Input tag '" + type +
                   "' found using 'type' does not match any "
                   "of the expected tags: 'auto', 'any', 'tool', 'none'");
        }
        if ((type == "any" || type == "tool") && tool_names_.empty()) {
            refuse("tool_choice: tool_choice may only be specified while providing tools.");
        }
        if (type == "tool") {
            auto name = string_field(c, "name", "tool_choice.tool");
            if (std::find(tool_names_.begin(), tool_names_.end(), name) == tool_names_.end()) {
                refuse("tool_choice.tool.name: Tool '" + name + "' not found in tools");
            }
            out_.answer_tool = name;
        } else if (type != "none") {
            out_.answer_tool = tool_names_.front();
        }
        out_.tool_overhead_tokens = type == "none" ? 0 : 346;
    }

    void apply_top_level_cache_control() {
        const auto* cc = body_.if_contains("cache_control");
        if (cc == nullptr || out_.blocks.empty()) {
            return;
        }
        auto& last = out_.blocks.back();
        if (last.cache_ttl.empty()) {
            cache_control(body_, "", last);
        }
    }

    const json::object& body_;
    checked_request out_;
    std::vector<std::string> tool_names_;
    std::size_t image_count_ = 0;
    std::size_t breakpoints_ = 0;
    bool seen_5m_ = false;
};

const fake_model* find_model(const std::vector<fake_model>& models, std::string_view id) {
    auto found = std::find_if(models.begin(), models.end(),
                              [id](const fake_model& m) { return m.named(id); });
    return found == models.end() ? nullptr : &*found;
}

// The synchronous API takes max_tokens 0 (to fill the prompt cache); a batch line does not.
std::int64_t check_max_tokens(const json::object& body, const fake_model& model,
                              request_origin origin) {
    const auto* v = body.if_contains("max_tokens");
    if (v == nullptr) {
        refuse("max_tokens: Field required");
    }
    if (!v->is_int64() && !v->is_uint64()) {
        refuse("max_tokens: Input should be a valid integer");
    }
    auto n = v->is_int64() ? v->as_int64() : static_cast<std::int64_t>(v->as_uint64());
    if (origin == request_origin::batch_line && n < 1) {
        refuse("max_tokens: must be greater than or equal to 1");
    }
    if (n < 0) {
        refuse("max_tokens: Input should be greater than or equal to 0");
    }
    if (n > model.max_output_tokens) {
        refuse("max_tokens: " + std::to_string(n) + " > " +
               std::to_string(model.max_output_tokens) +
               ", which is the maximum allowed number of output tokens for " + model.answer_id());
    }
    return n;
}

// The texts for the newer models' refusals are not known; these say what the rule is.
void check_sampling_rule(const json::object& body, const fake_model& model) {
    for (auto key : {"temperature", "top_p", "top_k"}) {
        const auto* v = body.if_contains(key);
        if (v == nullptr) {
            continue;
        }
        bool default_temperature = std::string_view(key) == "temperature" && v->is_number() &&
                                   v->to_number<double>() == 1.0;
        if (model.sampling == sampling_rule::refused ||
            (model.sampling == sampling_rule::defaults_only && !default_temperature)) {
            auto unless =
                model.sampling == sampling_rule::defaults_only ? " unless at its default" : "";
            refuse("`" + std::string(key) + "` cannot be specified for this model" + unless + ".");
        }
    }
    if (model.sampling == sampling_rule::temperature_or_top_p && body.contains("temperature") &&
        body.contains("top_p")) {
        refuse(
            "`temperature` and `top_p` cannot both be specified for this model. Please use "
            "only one.");
    }
}

void check_sampling(const json::object& body, const fake_model& model) {
    for (auto key : {"temperature", "top_p"}) {
        const auto* v = body.if_contains(key);
        if (v != nullptr &&
            (!v->is_number() || v->to_number<double>() < 0.0 || v->to_number<double>() > 1.0)) {
            refuse(std::string(key) + ": Input should be a number from 0 to 1");
        }
    }
    check_sampling_rule(body, model);
    if (const auto* stream = body.if_contains("stream"); stream != nullptr && *stream == true) {
        refuse("stream: this fake answers only non-streaming requests");
    }
}

checked_request check_body(const json::value& value, const std::vector<fake_model>& models,
                           request_origin origin, std::int64_t now_ms) {
    if (!value.is_object()) {
        refuse("Input should be a valid dictionary");
    }
    const auto& body = value.as_object();
    // The params of a batch request are the non-streaming ones: `stream` is no field there.
    if (origin == request_origin::batch_line && body.contains("stream")) {
        refuse("stream: Extra inputs are not permitted");
    }
    only_keys(body, "",
              {"model", "max_tokens", "messages", "system", "temperature", "top_p", "top_k",
               "stop_sequences", "metadata", "stream", "tools", "tool_choice", "output_config",
               "cache_control", "service_tier", "thinking"});
    auto model_id = string_field(body, "model", "");
    const auto* model = find_model(models, model_id);
    if (model == nullptr || (model->retired_at_ms != 0 && now_ms >= model->retired_at_ms)) {
        refuse("model: " + model_id, 404, "not_found_error");
    }
    auto max_tokens = check_max_tokens(body, *model, origin);
    check_sampling(body, *model);
    auto out = checker(body, *model).run();
    out.max_tokens = max_tokens;
    return out;
}

}  // namespace

// Output ceilings the facts do not give (Sonnet 4, Opus 4 and 4.1, the Claude 3 models, Fable
// 5) are the models' published ones, or the Sonnet 4.6+ ceiling for Fable 5; the minimum cache
// prefix of Sonnet 5, which the facts do not give either, is Sonnet 4.6's.
std::vector<fake_model> default_fake_models() {
    using enum sampling_rule;
    constexpr std::int64_t feb_19_2026 = 1'771'459'200'000;
    return {
        {"claude-haiku-4-5", "claude-haiku-4-5-20251001", 64'000, 4096, temperature_or_top_p},
        {"claude-sonnet-4-5", "claude-sonnet-4-5-20250929", 64'000, 1024, temperature_or_top_p},
        {"claude-sonnet-4-6", "", 128'000, 2048, temperature_or_top_p},
        {"claude-opus-4-5", "claude-opus-4-5-20251101", 64'000, 4096, temperature_or_top_p},
        {"claude-sonnet-4-0", "claude-sonnet-4-20250514", 64'000, 1024, temperature_or_top_p},
        {"claude-opus-4-1-20250805", "", 32'000, 1024, temperature_or_top_p},
        {"claude-opus-4-20250514", "", 32'000, 1024, temperature_or_top_p},
        {"claude-3-haiku-20240307", "", 4096, 2048, temperature_or_top_p},
        {"claude-opus-4-6", "", 128'000, 4096, temperature_or_top_p},
        {"claude-opus-4-7", "", 128'000, 4096, refused},
        {"claude-opus-4-8", "", 128'000, 4096, refused},
        {"claude-sonnet-5", "", 128'000, 2048, defaults_only},
        {"claude-fable-5", "", 128'000, 2048, refused},
        {"claude-3-5-haiku-latest", "claude-3-5-haiku-20241022", 8192, 2048, temperature_or_top_p,
         feb_19_2026},
        {"claude-3-7-sonnet-20250219", "", 64'000, 1024, temperature_or_top_p, feb_19_2026},
    };
}

std::optional<api_reject> check_headers(std::optional<std::string_view> api_key,
                                        std::optional<std::string_view> version,
                                        std::optional<std::string_view> content_type,
                                        std::string_view expected_key) {
    if (!api_key || api_key->empty()) {
        return api_reject{401, "authentication_error", "x-api-key header is required"};
    }
    if (*api_key != expected_key) {
        return api_reject{401, "authentication_error", "invalid x-api-key"};
    }
    if (!version) {
        return api_reject{400, "invalid_request_error", "anthropic-version: header is required"};
    }
    if (*version != "2023-06-01" && *version != "2023-01-01") {
        return api_reject{
            400, "invalid_request_error",
            "anthropic-version: \"" + std::string(*version) + "\" is not a valid version"};
    }
    if (!content_type || !content_type->starts_with("application/json")) {
        return api_reject{400, "invalid_request_error",
                          "content-type: the request body must be sent as application/json"};
    }
    return std::nullopt;
}

std::variant<api_reject, checked_request> check_messages_request(
    const boost::json::value& body, const std::vector<fake_model>& models, request_origin origin,
    std::int64_t now_ms) {
    try {
        return check_body(body, models, origin, now_ms);
    } catch (reject& r) {
        return std::move(r.answer);
    }
}

std::int64_t image_tokens(int width, int height) {
    double w = width;
    double h = height;
    double scale = std::min({1.0, 1568.0 / std::max(w, h), std::sqrt(1'229'312.0 / (w * h))});
    auto sw = static_cast<std::int64_t>(std::floor(w * scale));
    auto sh = static_cast<std::int64_t>(std::floor(h * scale));
    return std::max<std::int64_t>(1, (sw * sh + 749) / 750);
}

std::int64_t text_tokens(std::size_t chars) {
    return static_cast<std::int64_t>((chars + 3) / 4);
}

}  // namespace boomer::fakes
