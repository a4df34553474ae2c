// Assembly of the item document from checkpoints.
#include "pipeline/item_document.hpp"

#include <cstdio>

#include "core/clock.hpp"
#include "pipeline/stages.hpp"

namespace boomer::pipeline {
namespace {

const store::checkpoint* find_stage(const std::vector<store::checkpoint>& cps,
                                    std::string_view stage) {
    for (const auto& c : cps) {
        if (c.stage == stage) {
            return &c;
        }
    }
    return nullptr;
}

json::value parsed(const store::checkpoint* c) {
    if (c == nullptr) {
        return nullptr;
    }
    boost::system::error_code ec;
    auto v = json::parse(c->output_json, ec);
    return ec ? json::value(nullptr) : v;
}

json::array images(const store::item_record& item, const json::value& normalized) {
    const json::array* done = nullptr;
    if (normalized.is_object()) {
        done = &normalized.at("images").as_array();
    }
    json::array out;
    for (const auto& ref : item.images) {
        json::object img{
            {"index", ref.index},   {"filename", ref.filename}, {"media_type", ref.media_type},
            {"bytes", ref.bytes},   {"width", ref.width},       {"height", ref.height},
            {"sha256", ref.sha256}, {"phash", ref.phash},       {"normalized", nullptr}};
        if (done != nullptr && static_cast<std::size_t>(ref.index) < done->size()) {
            img["normalized"] = (*done)[static_cast<std::size_t>(ref.index)];
        }
        out.emplace_back(std::move(img));
    }
    return out;
}

// cost sums what the item's upstream calls cost, in micro-dollars and as a dollar string.
json::object cost(const json::value& identification) {
    std::int64_t micros = 0;
    std::int64_t paid_calls = 0;
    std::int64_t reused = 0;
    if (identification.is_object()) {
        if (const auto* calls = identification.as_object().if_contains("calls")) {
            for (const auto& c : calls->as_array()) {
                micros += c.at("cost_micros").to_number<std::int64_t>();
                // "near_duplicate": an earlier item's identification lent to this one.
                if (c.at("outcome") == "cached" || c.at("outcome") == "near_duplicate") {
                    ++reused;
                } else if (c.at("outcome") == "ok") {
                    ++paid_calls;
                }
            }
        }
    }
    char usd[32];
    std::snprintf(usd, sizeof usd, "%lld.%06lld", static_cast<long long>(micros / 1'000'000),
                  static_cast<long long>(micros % 1'000'000));
    return {{"total_micros", micros},
            {"total_usd", usd},
            {"vision_calls_paid", paid_calls},
            {"vision_answers_reused", reused}};
}

}  // namespace

json::object item_document(const store::item_record& item,
                           const std::vector<store::checkpoint>& checkpoints) {
    json::object timings;
    for (const auto& c : checkpoints) {
        timings[c.stage] = c.duration_ms;
    }
    auto price = parsed(find_stage(checkpoints, "price"));
    auto identification = parsed(find_stage(checkpoints, "identify"));
    return {
        {"item_id", item.item_id},
        {"job_id", item.job_id},
        {"status", std::string(store::to_string(item.state))},
        {"priority", std::string(store::to_string(item.prio))},
        {"source", item.source},
        {"title_hint", item.title_hint},
        {"sku", item.sku},
        {"condition", item.condition},
        {"category_id", item.category_hint},
        {"created_at", iso8601_utc(item.created_ms)},
        {"updated_at", iso8601_utc(item.updated_ms)},
        {"images", images(item, parsed(find_stage(checkpoints, "normalize")))},
        {"analysis", parsed(find_stage(checkpoints, "analyze"))},
        {"identification", identification},
        {"comps", parsed(find_stage(checkpoints, "comps"))},
        {"price", price.is_object() ? price.at("price") : json::value(nullptr)},
        {"listing", parsed(find_stage(checkpoints, "draft"))},
        {"cost", cost(identification)},
        {"stage_ms", std::move(timings)},
    };
}

}  // namespace boomer::pipeline
