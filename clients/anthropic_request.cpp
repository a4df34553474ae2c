// Building the identification request: the system prompt with its cache breakpoint, the photos as
// base64 image blocks before the text, and the forced tool whose schema is our record.
#include <array>
#include <boost/json.hpp>

#include "clients/anthropic_messages.hpp"
#include "core/base64.hpp"

namespace boomer::clients {
namespace {

namespace json = boost::json;

// The record's fields that carry a confidence of their own.
constexpr std::array<std::string_view, 10> scored_fields = {
    "title", "brand",    "model", "category_path",        "condition_guess",
    "color", "material", "era",   "distinguishing_marks", "price_estimate"};

json::object string_field(std::string_view description) {
    return {{"type", "string"}, {"description", description}};
}

json::object string_list(std::string_view description) {
    return {{"type", "array"}, {"items", {{"type", "string"}}}, {"description", description}};
}

json::object unit_interval(std::string_view description) {
    return {{"type", "number"}, {"minimum", 0}, {"maximum", 1}, {"description", description}};
}

json::object confidence_schema() {
    json::object props;
    for (auto field : scored_fields) {
        props[field] = unit_interval("Confidence in this field, 0 to 1.");
    }
    json::array required;
    for (auto field : scored_fields) {
        required.emplace_back(field);
    }
    return {{"type", "object"},
            {"description", "How sure you are of each field, calibrated as the instructions say."},
            {"properties", std::move(props)},
            {"required", std::move(required)}};
}

json::object record_schema() {
    json::object props;
    props["title"] =
        string_field("Listing title, at most 80 characters, most specific words first.");
    props["brand"] = string_field("Maker or brand as marked on the item; empty if unknown.");
    props["model"] = string_field("Model name or number as marked; empty if unknown.");
    props["category_path"] = string_list("Marketplace category path, broadest first.");
    props["condition_guess"] = {{"type", "string"},
                                {"enum", json::array{"new", "new other", "like new", "very good",
                                                     "good", "acceptable", "for parts", "unknown"}},
                                {"description", "Condition as far as the photos show it."}};
    props["color"] = string_field("Main colour or colours, plain words.");
    props["material"] = string_field("Main material, when it can be told; else empty.");
    props["era"] = string_field("Decade or year of manufacture, e.g. '1970s'; else empty.");
    props["distinguishing_marks"] = string_list(
        "Visible marks that set this piece apart: labels, damage, engravings, edition.");
    props["search_query"] =
        string_field("Query to find sold listings of the same item: brand, model, key attribute.");
    props["price_estimate"] = {
        {"type", "object"},
        {"description", "Typical recent sold price for this item in this condition."},
        {"properties",
         {{"amount", {{"type", "number"}, {"minimum", 0}}},
          {"currency", {{"type", "string"}, {"description", "ISO 4217 code, e.g. USD."}}}}},
        {"required", json::array{"amount", "currency"}}};
    props["field_confidence"] = confidence_schema();
    props["overall_confidence"] =
        unit_interval("Probability that title, brand and model are all correct.");
    return {{"type", "object"},
            {"properties", std::move(props)},
            {"required", json::array{"title", "brand", "model", "category_path", "condition_guess",
                                     "search_query", "field_confidence", "overall_confidence"}}};
}

json::object identification_tool() {
    return {{"name", identify_tool_name},
            {"description",
             "Records what the photographed item is, for a second-hand listing. Call it exactly "
             "once, with every field filled as the instructions describe."},
            {"input_schema", record_schema()}};
}

std::string user_text(const pipeline::identify_request& request) {
    std::string text = "Identify the item shown in the " +
                       std::to_string(request.jpeg_images.size()) +
                       (request.jpeg_images.size() == 1 ? " photo above."
                                                        : " photos above (all of "
                                                          "the same item).");
    text += "\nSeller's title hint: ";
    text += request.title_hint.empty() ? "none" : "\"" + request.title_hint + "\"";
    text += "\nSeller's condition note: ";
    text += request.condition_hint.empty() ? "none" : "\"" + request.condition_hint + "\"";
    text += "\nBarcodes decoded from the photos: ";
    if (request.barcodes.empty()) {
        text += "none";
    }
    for (std::size_t i = 0; i < request.barcodes.size(); ++i) {
        text += (i == 0 ? "" : "; ") + request.barcodes[i];
    }
    text += "\nRecord the identification with the " + std::string(identify_tool_name) + " tool.";
    return text;
}

}  // namespace

std::string identification_tool_json() {
    return json::serialize(identification_tool());
}

std::string build_identify_body(const pipeline::identify_request& request,
                                const identify_call_params& params) {
    json::object cache_control{{"type", "ephemeral"}};
    if (!params.cache_ttl.empty()) {
        cache_control["ttl"] = params.cache_ttl;
    }
    json::array system{json::object{{"type", "text"},
                                    {"text", identify_system_prompt()},
                                    {"cache_control", std::move(cache_control)}}};

    // Images first, then the text that refers to them.
    json::array content;
    for (const auto& jpeg : request.jpeg_images) {
        content.emplace_back(json::object{
            {"type", "image"},
            {"source",
             {{"type", "base64"}, {"media_type", "image/jpeg"}, {"data", base64_encode(jpeg)}}}});
    }
    content.emplace_back(json::object{{"type", "text"}, {"text", user_text(request)}});

    json::object body{
        {"model", params.model},
        {"max_tokens", params.max_tokens},
        {"system", std::move(system)},
        {"messages", json::array{json::object{{"role", "user"}, {"content", std::move(content)}}}},
        {"tools", json::array{identification_tool()}},
        {"tool_choice", {{"type", "tool"}, {"name", identify_tool_name}}},
    };
    if (params.temperature) {
        body["temperature"] = *params.temperature;
    }
    return json::serialize(body);
}

}  // namespace boomer::clients
