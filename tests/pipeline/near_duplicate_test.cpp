// The near-duplicate reuse decision: reuse only when the match is unambiguous (every photo
// matched, no conflicting item, the same hint, barcodes and request context), and what a reused
// identification says.
#include "pipeline/near_duplicate.hpp"

#include <catch2/catch.hpp>
#include <functional>

#include "pipeline/vision.hpp"

using namespace boomer;
namespace pl = boomer::pipeline;
namespace json = boost::json;

namespace {

std::uint64_t flip(std::uint64_t h, std::initializer_list<int> bits) {
    for (int b : bits) {
        h ^= std::uint64_t{1} << b;
    }
    return h;
}

json::value model_identification(const std::string& title, const std::string& barcode = "") {
    json::array codes;
    if (!barcode.empty()) {
        codes.emplace_back(json::object{{"symbology", "EAN-13"}, {"text", barcode}});
    }
    return json::object{{"identified", true},
                        {"title", title},
                        {"brand", ""},
                        {"model", ""},
                        {"confidence", 0.9},
                        {"source", "claude-haiku-4-5"},
                        {"cost_micros", 1234},
                        {"barcodes", std::move(codes)},
                        {"request_context", "ctx-1"},
                        {"calls", json::array{json::object{{"model", "claude-haiku-4-5-20251001"},
                                                           {"outcome", "ok"},
                                                           {"cost_micros", 1234}}}}};
}

pl::reuse_candidate candidate(const std::string& id, std::vector<std::uint64_t> hashes,
                              const std::string& title, std::int64_t created_ms = 1) {
    return pl::reuse_candidate{id, created_ms, std::move(hashes), "", model_identification(title)};
}

// The item about to be identified, asking what the candidates asked (context "ctx-1").
pl::reuse_subject subject(std::vector<std::uint64_t> hashes, const std::string& hint = "",
                          std::vector<std::string> barcodes = {}) {
    return pl::reuse_subject{std::move(hashes), hint, std::move(barcodes), "ctx-1"};
}

pl::near_duplicate_options at(int distance) {
    pl::near_duplicate_options o;
    o.max_distance = distance;
    return o;
}

constexpr std::uint64_t front = 0x8f3c1e0077aa5501ULL;
constexpr std::uint64_t back = 0x13579bdf2468ace0ULL;
constexpr std::uint64_t other = 0xfff0000ff0f0f0f0ULL;

}  // namespace

TEST_CASE("near duplicate: every photo matching one earlier item reuses it", "[pipeline]") {
    const auto s = subject({flip(front, {1, 9}), flip(back, {40})});
    auto d = pl::decide_reuse(s, {candidate("itm_a", {back, front}, "Brass lamp")}, at(4));
    CHECK(d.outcome == "reused");
    CHECK(d.item_id == "itm_a");
    CHECK(d.distance == 2);
}

TEST_CASE("near duplicate: one photo of a multi-photo item does not reuse the item's answer",
          "[pipeline]") {
    // [camera, binoculars] was answered for both; the camera alone is another item.
    const auto lot = candidate("itm_lot", {front, other}, "Camera and binoculars");
    CHECK(pl::decide_reuse(subject({flip(front, {3})}), {lot}, at(4)).outcome == "partial_match");

    // Nor the other way: the lot does not reuse the answer for the camera alone.
    const auto camera = candidate("itm_camera", {front}, "Camera");
    CHECK(pl::decide_reuse(subject({flip(front, {3}), other}), {camera}, at(4)).outcome ==
          "partial_match");
}

TEST_CASE("near duplicate: the closest covering item wins, then the oldest", "[pipeline]") {
    const auto s = subject({front});
    auto d = pl::decide_reuse(s,
                              {candidate("itm_far", {flip(front, {1, 2, 3})}, "Lamp", 1),
                               candidate("itm_new", {flip(front, {5})}, "Lamp", 30),
                               candidate("itm_old", {flip(front, {7})}, "lamp ", 20)},
                              at(4));
    CHECK(d.outcome == "reused");
    CHECK(d.item_id == "itm_old");
    CHECK(d.distance == 1);
}

TEST_CASE("near duplicate: what is unsure asks the model", "[pipeline]") {
    const auto lamp = candidate("itm_a", {front, back}, "Brass lamp");

    SECTION("a photo of the new item matches nothing") {
        const auto s = subject({front, other});
        CHECK(pl::decide_reuse(s, {lamp}, at(4)).outcome == "partial_match");
    }
    SECTION("the photos are just beyond the distance") {
        const auto s = subject({flip(front, {1, 2, 3, 4, 5}), back});
        CHECK(pl::decide_reuse(s, {lamp}, at(4)).outcome == "partial_match");
        CHECK(pl::decide_reuse(s, {lamp}, at(5)).outcome == "reused");
        const auto both = subject({flip(front, {1, 2, 3, 4, 5}), flip(back, {1, 2, 3, 4, 5})});
        CHECK(pl::decide_reuse(both, {lamp}, at(4)).outcome == "no_match");
    }
    SECTION("nothing within reach") {
        const auto s = subject({other});
        CHECK(pl::decide_reuse(s, {lamp}, at(4)).outcome == "no_match");
    }
    SECTION("another item with another identification comes close") {
        // Only part of the photos near is enough to be unsure.
        const auto s = subject({front, back});
        auto vase = candidate("itm_b", {flip(front, {1, 2, 3, 4})}, "Glass vase");
        CHECK(pl::decide_reuse(s, {lamp, vase}, at(4)).outcome == "conflicting_candidates");
        // Farther than the distance it does not count.
        vase.phashes = {flip(front, {1, 2, 3, 4, 5})};
        CHECK(pl::decide_reuse(s, {lamp, vase}, at(4)).outcome == "reused");
        // The same identification near is no conflict.
        auto lamp_again = candidate("itm_c", {flip(front, {9}), back}, "BRASS  lamp");
        CHECK(pl::decide_reuse(s, {lamp, lamp_again}, at(4)).outcome == "reused");
    }
    SECTION("the seller's hint differs from the earlier item's, as sent to the model") {
        const auto s = subject({front, back}, "Brass lamp, 1970s", {});
        CHECK(pl::decide_reuse(s, {lamp}, at(4)).outcome == "hint_differs");
        auto hinted = lamp;
        hinted.title_hint = "  brass LAMP,  1970s ";
        CHECK(pl::decide_reuse(s, {hinted}, at(4)).outcome == "hint_differs");
        hinted.title_hint = "Brass lamp, 1970s";
        CHECK(pl::decide_reuse(s, {hinted}, at(4)).outcome == "reused");
        // The earlier item's hint was part of its question: no hint now is another question.
        CHECK(pl::decide_reuse(subject({front, back}), {hinted}, at(4)).outcome == "hint_differs");
    }
    SECTION("the barcodes read differ") {
        const auto s = subject({front, back}, "", {"4006381333931"});
        CHECK(pl::decide_reuse(s, {lamp}, at(4)).outcome == "barcodes_differ");
        auto coded = lamp;
        coded.identification = model_identification("Brass lamp", "4006381333931");
        CHECK(pl::decide_reuse(s, {coded}, at(4)).outcome == "reused");
    }
}

TEST_CASE("near duplicate: an item whose vision request differs besides the photos asks the model",
          "[pipeline]") {
    // Another condition note, another model or other settings: another request context.
    const auto lamp = candidate("itm_a", {front}, "Brass lamp");
    auto other_question = subject({front});
    other_question.context = "ctx-2";
    CHECK(pl::decide_reuse(other_question, {lamp}, at(4)).outcome == "context_differs");
    other_question.context = "";
    CHECK(pl::decide_reuse(other_question, {lamp}, at(4)).outcome == "context_differs");
    CHECK(pl::decide_reuse(subject({front}), {lamp}, at(4)).outcome == "reused");

    // An answer recorded without its context (before it was kept) is not offered at all.
    auto old = model_identification("Brass lamp");
    old.as_object().erase("request_context");
    CHECK_FALSE(pl::offers_for_reuse(old));
}

TEST_CASE("near duplicate: an item asked the same question wins over a nearer or older one",
          "[pipeline]") {
    // The oldest and nearest copy was asked without a hint; a later one with the subject's.
    const auto plain = candidate("itm_plain", {front}, "Toaster", 1);
    auto hinted = candidate("itm_hinted", {flip(front, {4})}, "Toaster", 20);
    hinted.title_hint = "Chrome toaster";
    auto d = pl::decide_reuse(subject({front}, "Chrome toaster"), {plain, hinted}, at(4));
    CHECK(d.outcome == "reused");
    CHECK(d.item_id == "itm_hinted");
    CHECK(d.distance == 1);

    // Without it, the nearest still says why it was not reused.
    CHECK(pl::decide_reuse(subject({front}, "Chrome toaster"), {plain}, at(4)).outcome ==
          "hint_differs");
}

TEST_CASE("near duplicate: the request context covers the request's texts", "[pipeline]") {
    pl::identify_request r;
    r.jpeg_images.assign(2, "");
    const auto base = pl::request_texts_context(r);
    auto changed = [&base](const std::function<void(pl::identify_request&)>& change) {
        pl::identify_request other;
        other.jpeg_images.assign(2, "");
        change(other);
        return pl::request_texts_context(other) != base;
    };
    CHECK_FALSE(changed([](pl::identify_request& o) { o.item_id = "itm_other"; }));
    CHECK(changed([](pl::identify_request& o) { o.condition_hint = "for parts, cracked lid"; }));
    CHECK(changed([](pl::identify_request& o) { o.title_hint = "Brass lamp"; }));
    CHECK(changed([](pl::identify_request& o) { o.barcodes = {"EAN-13:4006381333931"}; }));
    CHECK(changed([](pl::identify_request& o) { o.jpeg_images.resize(1); }));
}

TEST_CASE("near duplicate: an item with an unsure photo hash asks the model", "[pipeline]") {
    const auto lamp = candidate("itm_a", {front}, "Brass lamp");
    auto small = subject({front});
    small.unsure = true;
    CHECK(pl::decide_reuse(small, {lamp}, at(4)).outcome == "unsure_photo");

    auto image = [](const json::value& unsure) {
        json::object img{{"index", 0}, {"phash", "8f3c1e0077aa5501"}};
        if (!unsure.is_null()) {
            img["phash_unsure"] = unsure;
        }
        return img;
    };
    CHECK(pl::has_unsure_photo(json::object{{"images", json::array{image(false), image(true)}}}));
    CHECK_FALSE(pl::has_unsure_photo(json::object{{"images", json::array{image(false)}}}));
    CHECK_FALSE(pl::has_unsure_photo(json::object{{"images", json::array{image(nullptr)}}}));
}

TEST_CASE("near duplicate: only successful model identifications are offered", "[pipeline]") {
    CHECK(pl::offers_for_reuse(model_identification("Brass lamp")));

    auto fallback = model_identification("Brass lamp");
    fallback.as_object()["vision_error"] = json::object{{"code", "vision_bad_request"}};
    CHECK_FALSE(pl::offers_for_reuse(fallback));

    // The strong model was asked and failed: the cheap answer stood, and is not lent. A strong
    // answer is.
    auto cheap_stood = model_identification("Brass lamp");
    cheap_stood.as_object()["escalation"] =
        json::object{{"outcome", "fallback"}, {"reason", "vision_timeout"}};
    CHECK_FALSE(pl::offers_for_reuse(cheap_stood));
    auto strong = model_identification("Brass lamp");
    strong.as_object()["escalation"] = json::object{{"outcome", "strong"}, {"reason", ""}};
    CHECK(pl::offers_for_reuse(strong));
    auto not_escalated = model_identification("Brass lamp");
    not_escalated.as_object()["escalation"] = nullptr;
    CHECK(pl::offers_for_reuse(not_escalated));

    auto local = model_identification("Brass lamp");
    local.as_object().erase("calls");
    CHECK_FALSE(pl::offers_for_reuse(local));

    auto unidentified = model_identification("");
    unidentified.as_object()["identified"] = false;
    CHECK_FALSE(pl::offers_for_reuse(unidentified));

    pl::reuse_decision d{"reused", "itm_a", 2};
    auto reused = pl::reused_identification(model_identification("Brass lamp"), d,
                                            json::object{{"barcodes", json::array{}}}, at(4));
    CHECK_FALSE(pl::offers_for_reuse(reused));
}

TEST_CASE("near duplicate: a reused identification is free and names its source", "[pipeline]") {
    pl::reuse_decision d{"reused", "itm_a", 2};
    json::array codes{json::object{{"symbology", "EAN-13"}, {"text", "4006381333931"}}};
    auto out = pl::reused_identification(model_identification("Brass lamp"), d,
                                         json::object{{"barcodes", codes}}, at(4));
    const auto& o = out.as_object();
    CHECK(o.at("title") == "Brass lamp");
    CHECK(o.at("cost_micros") == 0);
    CHECK(o.at("barcodes") == json::value(codes));
    REQUIRE(o.at("calls").as_array().size() == 1);
    const auto& call = o.at("calls").as_array()[0].as_object();
    CHECK(call.at("outcome") == "near_duplicate");
    CHECK(call.at("cost_micros") == 0);
    CHECK(call.at("model") == "claude-haiku-4-5-20251001");
    CHECK(o.at("reused_from") == json::value(json::object{{"item_id", "itm_a"},
                                                          {"distance", 2},
                                                          {"max_distance", 4},
                                                          {"basis", "near_duplicate_photos"}}));
}
