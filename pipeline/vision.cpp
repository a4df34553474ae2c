// The identification as the item's result document shows it, the fingerprint of a request's
// texts, and which refusals of the model a retry can get past.
#include "pipeline/vision.hpp"

#include "core/hash.hpp"

namespace boomer::pipeline {
namespace {

json::array strings(const std::vector<std::string>& values) {
    json::array out;
    for (const auto& v : values) {
        out.emplace_back(v);
    }
    return out;
}

json::object usage_json(const vision_usage& u) {
    json::object out{{"input_tokens", u.input_tokens},
                     {"output_tokens", u.output_tokens},
                     {"cache_creation_input_tokens", u.cache_creation_input_tokens},
                     {"cache_read_input_tokens", u.cache_read_input_tokens}};
    if (u.has_cache_creation_split) {
        out["cache_creation"] =
            json::object{{"ephemeral_5m_input_tokens", u.cache_creation_5m_tokens},
                         {"ephemeral_1h_input_tokens", u.cache_creation_1h_tokens}};
    }
    if (!u.service_tier.empty()) {
        out["service_tier"] = u.service_tier;
    }
    return out;
}

json::object call_json(const vision_call& c) {
    return {{"model", c.model},
            {"request_id", c.request_id},
            {"outcome", c.outcome},
            {"attempts", c.attempts},
            {"latency_ms", c.latency_ms},
            {"confidence", c.confidence},
            {"cost_micros", c.cost_micros},
            {"usage", usage_json(c.usage)}};
}

}  // namespace

bool fixable_refusal(std::string_view code) {
    return code == "vision_auth" || code == "vision_billing" || code == "vision_not_found";
}

bool refused_fixably(const json::value& identification) {
    const auto* doc = identification.if_object();
    const auto* error = doc != nullptr ? doc->if_contains("vision_error") : nullptr;
    const auto* code =
        error != nullptr && error->is_object() ? error->as_object().if_contains("code") : nullptr;
    return code != nullptr && code->is_string() && fixable_refusal(code->as_string());
}

std::string request_texts_context(const identify_request& request) {
    // Each text as its length and bytes, so that no two requests run together the same way.
    std::string material;
    auto add = [&material](std::string_view text) {
        material += std::to_string(text.size()) + ":" + std::string(text) + "\n";
    };
    add(request.title_hint);
    add(request.condition_hint);
    add("barcodes=" + std::to_string(request.barcodes.size()));
    for (const auto& code : request.barcodes) {
        add(code);
    }
    add("photos=" + std::to_string(request.jpeg_images.size()));
    return sha256_hex(material);
}

json::object vision_details(const identification& id) {
    json::object confidence;
    for (const auto& [field, value] : id.field_confidence) {
        confidence[field] = value;
    }
    json::array calls;
    for (const auto& c : id.calls) {
        calls.emplace_back(call_json(c));
    }
    json::value estimate = nullptr;
    if (id.price_estimate) {
        estimate = json::object{{"minor", id.price_estimate->minor},
                                {"currency", id.price_estimate->currency}};
    }
    json::value escalation = nullptr;
    if (!id.escalation_outcome.empty()) {
        escalation =
            json::object{{"outcome", id.escalation_outcome}, {"reason", id.escalation_reason}};
    }
    return {{"category_path", strings(id.category_path)},
            {"color", id.color},
            {"material", id.material},
            {"era", id.era},
            {"distinguishing_marks", strings(id.distinguishing_marks)},
            {"price_estimate", std::move(estimate)},
            {"field_confidence", std::move(confidence)},
            {"escalation", std::move(escalation)},
            {"calls", std::move(calls)}};
}

}  // namespace boomer::pipeline
