// Stage implementations on top of the image and market modules.
#include "pipeline/stages.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "pipeline/image/analyze.hpp"
#include "pipeline/market/comp_json.hpp"
#include "pipeline/market/listing.hpp"
#include "pipeline/market/pricing.hpp"

namespace boomer::pipeline {
namespace {

std::string photo_name(const store::image_ref& ref) {
    if (ref.filename.empty()) {
        return fmt::format("photo {}", ref.index + 1);
    }
    return fmt::format("photo {} ({})", ref.index + 1, ref.filename);
}

json::object barcode_json(const image::barcode& code) {
    return {{"symbology", code.symbology}, {"text", code.text}};
}

json::object image_json(const store::image_ref& ref, const image::processed_image& done) {
    const auto& img = done.image;
    const auto& a = done.analysis;
    json::array warnings;
    for (const auto& w : a.warnings) {
        warnings.emplace_back(w);
    }
    json::array codes;
    for (const auto& c : a.barcodes) {
        codes.emplace_back(barcode_json(c));
    }
    return {
        {"index", ref.index},
        {"filename", ref.filename},
        {"original_sha256", ref.sha256},
        {"source_format", std::string(image::media_type(img.source_format))},
        {"source_width", img.source_width},
        {"source_height", img.source_height},
        {"exif_orientation", img.exif_orientation},
        {"width", img.width},
        {"height", img.height},
        {"bytes", img.jpeg.size()},
        {"media_type", "image/jpeg"},
        {"sha256", img.sha256},
        {"phash", img.phash},
        {"content_fraction", img.content_fraction},
        {"phash_unsure", img.phash_unsure},
        {"sharpness", a.sharpness},
        {"mean_luma", a.mean_luma},
        {"warnings", std::move(warnings)},
        {"barcodes", std::move(codes)},
    };
}

std::string str(const json::value& v, std::string_view key) {
    const auto* obj = v.if_object();
    if (obj == nullptr) {
        return {};
    }
    const auto* found = obj->if_contains(key);
    if (found == nullptr || !found->is_string()) {
        return {};
    }
    return std::string(found->as_string());
}

json::object estimate_json(const market::price_estimate& p) {
    return {
        {"median_minor", p.median_minor},
        {"p25_minor", p.p25_minor},
        {"p75_minor", p.p75_minor},
        {"currency", p.currency},
        {"count", p.count},
        {"trimmed", p.trimmed},
        {"confidence", p.confidence},
        {"basis", p.basis},
        {"newest_sold_on", p.newest_sold_on},
    };
}

json::value optional_estimate(const std::optional<market::price_estimate>& p) {
    return p ? json::value(estimate_json(*p)) : json::value(nullptr);
}

json::value sell_through_json(const std::optional<market::sell_through>& s) {
    if (!s) {
        return nullptr;
    }
    return json::object{{"rate", s->rate},
                        {"sold", s->sold},
                        {"active", s->active},
                        {"window_days", s->window_days},
                        {"definition", s->definition}};
}

json::object price_json(const market::market_price& p, const json::value& sources) {
    auto out = estimate_json(*p.recommended);
    out["sold"] = optional_estimate(p.sold);
    out["active"] = optional_estimate(p.active);
    out["sell_through"] = sell_through_json(p.sell_through_rate);
    out["other_currency"] = p.other_currency;
    out["condition_mismatched"] = p.condition_mismatched;
    out["sources"] = sources;
    return out;
}

json::object outcome_json(const market::source_outcome& o) {
    return {{"source", o.source},
            {"outcome", o.outcome},
            {"count", o.count},
            {"message", o.message},
            {"retryable", o.retryable},
            {"cache", o.cache},
            {"ms", o.ms}};
}

// The vision model's own price guess as the identify stage stored it, if any.
std::optional<market::money> vision_estimate(const json::value& identification) {
    const auto* obj = identification.if_object();
    const auto* e = obj != nullptr ? obj->if_contains("price_estimate") : nullptr;
    if (e == nullptr || !e->is_object()) {
        return std::nullopt;
    }
    const auto* minor = e->as_object().if_contains("minor");
    if (minor == nullptr || !minor->is_number()) {
        return std::nullopt;
    }
    return market::money{minor->to_number<std::int64_t>(), str(*e, "currency")};
}

double number_or_zero(const json::value& v, std::string_view key) {
    const auto* obj = v.if_object();
    const auto* n = obj != nullptr ? obj->if_contains(key) : nullptr;
    return n != nullptr && n->is_number() ? n->to_number<double>() : 0.0;
}

}  // namespace

result<json::value> run_normalize(const store::item_record& item, const stage_env& env) {
    json::array images;
    for (const auto& ref : item.images) {
        auto original = env.blobs->get(ref.sha256);
        if (!original) {
            return fail("photo_missing",
                        fmt::format("{} is missing from the blob store", photo_name(ref)));
        }
        auto done = image::process(*original, env.image_limits);
        if (!done) {
            auto why = done.error();
            why.message = fmt::format("{}: {}", photo_name(ref), why.message);
            return make_unexpected(std::move(why));
        }
        env.blobs->put(done->image.jpeg);
        images.emplace_back(image_json(ref, *done));
    }
    return json::value(json::object{{"images", std::move(images)}});
}

json::value run_analyze(const json::value& normalized, const stage_env& env) {
    const auto& images = normalized.at("images").as_array();

    // Barcodes from every photo, each code once, in the order first seen.
    json::array barcodes;
    std::set<std::pair<std::string, std::string>> seen;
    json::array warnings;
    std::vector<std::string> phashes;
    for (const auto& img : images) {
        for (const auto& code : img.at("barcodes").as_array()) {
            auto key = std::make_pair(str(code, "symbology"), str(code, "text"));
            if (seen.insert(key).second) {
                barcodes.push_back(code);
            }
        }
        for (const auto& w : img.at("warnings").as_array()) {
            warnings.emplace_back(json::object{{"photo", img.at("index")}, {"warning", w}});
        }
        phashes.push_back(str(img, "phash"));
    }

    json::array duplicates;
    for (auto [a, b] : image::near_duplicates(phashes, env.duplicate_distance)) {
        duplicates.emplace_back(json::array{a, b});
    }
    return json::object{{"barcodes", std::move(barcodes)},
                        {"warnings", std::move(warnings)},
                        {"duplicate_photos", std::move(duplicates)}};
}

json::value run_identify_local(const store::item_record& item, const json::value& analysis,
                               const stage_env& env) {
    json::array codes;
    std::vector<std::string> texts;
    for (const auto& code : analysis.at("barcodes").as_array()) {
        codes.push_back(code);
        texts.push_back(str(code, "text"));
    }

    // A sale carrying the same code names the item best; then the seller's own hint.
    std::string title;
    std::string source;
    double confidence = 0.0;
    if (env.sales != nullptr && !texts.empty()) {
        market::comp_query q;
        q.barcodes = texts;
        auto found = env.sales->find(q, 1);
        if (!found.empty() && found.front().match == "barcode") {
            title = found.front().title;
            source = "sales_match";
            confidence = 0.9;
        }
    }
    if (title.empty() && !item.title_hint.empty()) {
        title = item.title_hint;
        source = "title_hint";
        confidence = 0.7;
    }
    bool identified = !title.empty() || !texts.empty();
    if (title.empty() && !texts.empty()) {
        source = "barcode";
        confidence = 0.5;
    }
    return json::object{{"identified", identified},
                        {"title", title},
                        {"source", source},
                        {"confidence", confidence},
                        {"barcodes", std::move(codes)},
                        {"search_query", title}};
}

market::market_query comps_query(const store::item_record& item,
                                 const json::value& identification) {
    market::market_query q;
    for (const auto& code : identification.at("barcodes").as_array()) {
        q.barcodes.push_back(str(code, "text"));
    }
    q.title = str(identification, "title");
    q.keywords = str(identification, "search_query");
    if (q.keywords.empty()) {
        q.keywords = q.title;
    }
    q.condition = item.condition.empty() ? str(identification, "condition_guess") : item.condition;
    q.category_id = item.category_hint;
    return q;
}

json::value comps_document(const market::market_query& query, const market::fan_out_result& found) {
    json::array codes;
    for (const auto& code : query.barcodes) {
        codes.emplace_back(code);
    }
    json::array sources;
    for (const auto& o : found.outcomes) {
        sources.emplace_back(outcome_json(o));
    }
    json::array comps;
    for (const auto& c : found.comps) {
        comps.emplace_back(market::comp_to_json(c));
    }
    json::object q{{"keywords", query.keywords},
                   {"barcodes", std::move(codes)},
                   {"condition", query.condition},
                   {"category_id", query.category_id},
                   {"currency", query.currency}};
    json::value category = nullptr;
    if (!found.category_id.empty()) {
        category = json::object{{"id", found.category_id}, {"source", found.category_source}};
    }
    return json::object{{"query", std::move(q)},
                        {"category", std::move(category)},
                        {"sources", std::move(sources)},
                        {"comps", std::move(comps)}};
}

json::value run_price(const json::value& comps, const json::value& identification,
                      const store::item_record& item, const stage_env& env) {
    market::market_price_input in;
    for (const auto& c : comps.at("comps").as_array()) {
        if (auto comp = market::comp_from_json(c)) {
            in.comps.push_back(std::move(*comp));
        }
    }
    in.condition = item.condition.empty() ? str(identification, "condition_guess") : item.condition;
    in.today = env.today;
    in.vision_estimate = vision_estimate(identification);
    in.vision_confidence = number_or_zero(identification, "confidence");
    auto priced = market::price_market(std::move(in));

    json::value sources = json::array{};
    if (const auto* s = comps.as_object().if_contains("sources"); s != nullptr) {
        sources = *s;
    }
    if (!priced.recommended) {
        return json::object{{"price", nullptr},
                            {"sources", std::move(sources)},
                            {"reason", "no comparable sales or listings were found"}};
    }
    return json::object{{"price", price_json(priced, sources)}};
}

json::value run_draft(const store::item_record& item, const json::value& analysis,
                      const json::value& identification, const json::value& price) {
    market::draft_input in;
    in.title = str(identification, "title");
    in.brand = str(identification, "brand");
    in.model = str(identification, "model");
    in.condition = item.condition;
    for (const auto& code : analysis.at("barcodes").as_array()) {
        in.specifics.emplace_back(str(code, "symbology"), str(code, "text"));
    }
    if (!item.sku.empty()) {
        in.specifics.emplace_back("SKU", item.sku);
    }
    for (const auto& w : analysis.at("warnings").as_array()) {
        in.warnings.push_back(str(w, "warning"));
    }
    const auto& p = price.at("price");
    if (p.is_object()) {
        market::price_estimate e;
        e.median_minor = p.at("median_minor").to_number<std::int64_t>();
        e.p25_minor = p.at("p25_minor").to_number<std::int64_t>();
        e.p75_minor = p.at("p75_minor").to_number<std::int64_t>();
        e.currency = str(p, "currency");
        e.count = p.at("count").to_number<int>();
        e.confidence = p.at("confidence").to_number<double>();
        in.price = e;
    }
    auto d = market::draft_listing(in);
    json::array specifics;
    for (const auto& [k, v] : d.specifics) {
        specifics.emplace_back(json::object{{"name", k}, {"value", v}});
    }
    json::value price_minor = nullptr;
    if (d.price_minor) {
        price_minor = *d.price_minor;
    }
    return json::object{{"title", d.title},
                        {"condition", d.condition},
                        {"condition_id", d.condition_id},
                        {"specifics", std::move(specifics)},
                        {"description", d.description},
                        {"price_minor", price_minor},
                        {"currency", d.currency}};
}

}  // namespace boomer::pipeline
