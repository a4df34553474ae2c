// Stage implementations on top of the image and market modules.
#include "pipeline/stages.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "pipeline/image/analyze.hpp"
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

json::value price_json(const market::price_estimate& p) {
    return json::object{
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

market::comp comp_from_json(const json::value& v) {
    market::comp c;
    const auto& o = v.as_object();
    c.title = std::string(o.at("title").as_string());
    c.price_minor = o.at("price_minor").to_number<std::int64_t>();
    c.item_price_minor = o.at("item_price_minor").to_number<std::int64_t>();
    c.shipping_minor = o.at("shipping_minor").to_number<std::int64_t>();
    c.currency = std::string(o.at("currency").as_string());
    c.sold_on = std::string(o.at("sold_on").as_string());
    c.match = std::string(o.at("match").as_string());
    c.score = o.at("score").to_number<double>();
    c.source = std::string(o.at("source").as_string());
    return c;
}

json::object comp_json(const market::comp& c) {
    return {
        {"title", c.title},
        {"price_minor", c.price_minor},
        {"item_price_minor", c.item_price_minor},
        {"shipping_minor", c.shipping_minor},
        {"currency", c.currency},
        {"sold_on", c.sold_on},
        {"match", c.match},
        {"score", c.score},
        {"source", c.source},
    };
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

json::value run_comps(const json::value& identification, const stage_env& env) {
    json::array out;
    if (env.sales != nullptr) {
        market::comp_query q;
        for (const auto& code : identification.at("barcodes").as_array()) {
            q.barcodes.push_back(str(code, "text"));
        }
        q.title = str(identification, "search_query");
        for (const auto& c : env.sales->find(q, 50)) {
            out.emplace_back(comp_json(c));
        }
    }
    return json::object{{"sources", json::array{"own_sales"}}, {"comps", std::move(out)}};
}

json::value run_price(const json::value& comps, const stage_env& env) {
    std::vector<market::comp> list;
    for (const auto& c : comps.at("comps").as_array()) {
        list.push_back(comp_from_json(c));
    }
    auto estimate = market::estimate_price(std::move(list), env.today);
    if (!estimate) {
        return json::object{{"price", nullptr}, {"reason", "no comparable sales found"}};
    }
    return json::object{{"price", price_json(*estimate)}};
}

json::value run_draft(const store::item_record& item, const json::value& analysis,
                      const json::value& identification, const json::value& price) {
    market::draft_input in;
    in.title = str(identification, "title");
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
