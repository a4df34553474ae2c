// Keys and values of the paid-answer store.
#include "clients/claude_answers.hpp"

#include <boost/json.hpp>

#include "clients/anthropic_messages.hpp"
#include "core/async.hpp"
#include "core/hash.hpp"

namespace boomer::clients {

namespace json = boost::json;

boost::asio::awaitable<std::optional<std::string>> read_answer(answer_store& store,
                                                               const std::string& key,
                                                               std::int64_t now_ms) {
    auto read = [&store, &key, now_ms]() -> std::optional<std::string> {
        try {
            return store.get(key, now_ms);
        } catch (...) {
            return std::nullopt;  // the store is an optimisation: a miss costs one call
        }
    };
    if (store.pool() == nullptr) {
        co_return read();
    }
    co_return co_await run_on(*store.pool(), read);
}

boost::asio::awaitable<void> write_answer(answer_store& store, const std::string& key,
                                          const std::string& value, std::int64_t expires_at_ms) {
    auto write = [&store, &key, &value, expires_at_ms] {
        try {
            store.put(key, value, expires_at_ms);
        } catch (...) {
            // Skipped: a lost entry costs a later miss, never a failed identification.
        }
    };
    if (store.pool() == nullptr) {
        write();
        co_return;
    }
    co_await run_on(*store.pool(), write);
}

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

std::string batch_record_key(std::string_view answer_key) {
    return "batch:" + std::string(answer_key);
}

std::string encode_batch_record(const batch_record& r) {
    json::object o{
        {"v", 1}, {"batch_id", r.batch_id}, {"custom_id", r.custom_id}, {"paid_by", r.paid_by}};
    if (r.intent()) {
        o["submitted_at_ms"] = r.submitted_at_ms;
    }
    return json::serialize(o);
}

const std::string& cleared_batch_record() {
    static const std::string cleared = R"({"v":1,"cleared":true})";
    return cleared;
}

std::optional<batch_record> decode_batch_record(std::string_view value) {
    boost::system::error_code ec;
    auto parsed = json::parse(value, ec);
    if (ec || !parsed.is_object()) {
        return std::nullopt;
    }
    const auto& o = parsed.as_object();
    batch_record r;
    for (auto [name, out] :
         {std::pair{"batch_id", &r.batch_id}, std::pair{"custom_id", &r.custom_id},
          std::pair{"paid_by", &r.paid_by}}) {
        const auto* field = o.if_contains(name);
        if (field == nullptr || !field->is_string()) {
            return std::nullopt;
        }
        *out = std::string(field->as_string());
    }
    if (r.custom_id.empty()) {
        return std::nullopt;
    }
    if (r.intent()) {
        const auto* since = o.if_contains("submitted_at_ms");
        if (since == nullptr || !since->is_int64() || since->as_int64() <= 0) {
            return std::nullopt;
        }
        r.submitted_at_ms = since->as_int64();
    }
    return r;
}

}  // namespace boomer::clients
