// Keys and values of the paid-answer store.
#include "clients/claude_answers.hpp"

#include <boost/json.hpp>

#include "clients/anthropic_messages.hpp"
#include "core/hash.hpp"

namespace boomer::clients {

namespace json = boost::json;

std::string answer_key(std::string_view request_body) {
    std::string material(identify_prompt_version);
    material += '\n';
    material += request_body;
    return "claude:" + sha256_hex(material);
}

std::string encode_stored_answer(const stored_answer& answer) {
    return json::serialize(
        json::object{{"v", 1}, {"paid_by", answer.paid_by}, {"body", answer.body}});
}

std::optional<stored_answer> decode_stored_answer(std::string_view value) {
    boost::system::error_code ec;
    auto parsed = json::parse(value, ec);
    if (ec || !parsed.is_object()) {
        return std::nullopt;
    }
    const auto& o = parsed.as_object();
    const auto* v = o.if_contains("v");
    const auto* paid_by = o.if_contains("paid_by");
    const auto* body = o.if_contains("body");
    if (v == nullptr || *v != 1 || paid_by == nullptr || !paid_by->is_string() || body == nullptr ||
        !body->is_string()) {
        return std::nullopt;
    }
    return stored_answer{std::string(body->as_string()), std::string(paid_by->as_string())};
}

}  // namespace boomer::clients
