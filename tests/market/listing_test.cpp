// Listing drafts: the 80-character title (counted in characters, cut on words, UTF-8 safe),
// eBay conditions, item specifics, description and price.
#include "pipeline/market/listing.hpp"

#include <catch2/catch.hpp>

#include "pipeline/market/text.hpp"

using namespace boomer::market;

namespace {

std::string repeat(std::string_view piece, int times) {
    std::string out;
    for (int i = 0; i < times; ++i) {
        out += piece;
    }
    return out;
}

void require_valid_title(const std::string& title) {
    INFO(title);
    CHECK(utf8_length(title) <= max_title_chars);
    CHECK(utf8_clean(title) == title);  // no broken multi-byte sequence
    CHECK(std::string(trim(title)) == title);
}

}  // namespace

TEST_CASE("listing: a short title is kept as written", "[market]") {
    CHECK(fit_title("Brown Betty Teapot 6 Cup England") == "Brown Betty Teapot 6 Cup England");
    CHECK(fit_title("  Brown   Betty\tTeapot  ") == "Brown Betty Teapot");
    CHECK(fit_title("Teapot, England -") == "Teapot, England");
    CHECK(fit_title("Zenith 12\" Radio") == "Zenith 12\" Radio");  // inches stay
}

TEST_CASE("listing: a long title is cut at the last word that fits", "[market]") {
    std::string title =
        "Canon AE-1 Program 35mm SLR Film Camera with FD 50mm f/1.8 Lens, Strap, Manual and "
        "Original Box Tested Working";
    std::string fitted = fit_title(title);
    require_valid_title(fitted);
    CHECK(fitted ==
          "Canon AE-1 Program 35mm SLR Film Camera with FD 50mm f/1.8 Lens, Strap, "
          "Manual");
}

TEST_CASE("listing: a word ending exactly at 80 characters is kept whole", "[market]") {
    std::string title = repeat("abcd ", 15) + "abcd" + " tail";  // 79 chars, then " tail"
    std::string fitted = fit_title(title);
    CHECK(fitted == repeat("abcd ", 15) + "abcd");
    std::string exact = repeat("abcdefghi ", 7) + "abcdefghi";  // exactly 79
    CHECK(fit_title(exact + "X tail") == exact + "X");          // 80, the space after fits
}

TEST_CASE("listing: multi-byte titles are counted in characters and never split", "[market]") {
    // 80 three-byte characters (240 bytes) fit: eBay counts characters.
    std::string kanji = repeat("東", 80);
    CHECK(fit_title(kanji) == kanji);
    // 81 without spaces: cut between characters.
    std::string fitted = fit_title(repeat("東", 81));
    CHECK(fitted == kanji);
    require_valid_title(fitted);
    // Accented words around the limit.
    std::string french = repeat("Théière ", 12);  // 96 characters
    std::string cut = fit_title(french);
    require_valid_title(cut);
    CHECK(cut == std::string(trim(repeat("Théière ", 10))));
    // Emoji (four bytes) at the boundary.
    std::string emoji = repeat("a", 78) + " \xF0\x9F\x98\x80\xF0\x9F\x98\x80 more";
    std::string e = fit_title(emoji);
    require_valid_title(e);
    CHECK(e == repeat("a", 78));
}

TEST_CASE("listing: the cut drops an unclosed parenthesis and trailing punctuation", "[market]") {
    // The cut falls after "(brass base and": the open parenthesis goes with it.
    std::string title = repeat("word ", 12) + "Lamp (brass base and original shade, 1950s)";
    std::string fitted = fit_title(title);
    require_valid_title(fitted);
    CHECK(fitted == repeat("word ", 12) + "Lamp");
    std::string dashes = repeat("x", 76) + " — and more words";
    CHECK(fit_title(dashes) == repeat("x", 76));
}

TEST_CASE("listing: invalid bytes and control characters are removed", "[market]") {
    CHECK(fit_title("Tea\xFFpot\x01 set") == "Teapot set");
}

TEST_CASE("listing: condition text maps to eBay's condition ids and names", "[market]") {
    struct example {
        std::string_view text;
        int id;
        std::string_view name;
    };
    const example examples[] = {
        {"new", 1000, "New"},
        {"Brand New", 1000, "New"},
        {"NIB", 1000, "New"},
        {"sealed in box", 1000, "New"},
        {"open box", 1500, "New other (see details)"},
        {"New without tags", 1500, "New other (see details)"},
        {"new with defects", 1750, "New with defects"},
        {"refurbished", 2500, "Seller refurbished"},
        {"like new", 2750, "Like New"},
        {"Used - Like New", 2750, "Like New"},
        {"used", 3000, "Used"},
        {"pre-owned", 3000, "Used"},
        {"very good", 4000, "Very Good"},
        {"good", 5000, "Good"},
        {"fair", 6000, "Acceptable"},
        {"for parts", 7000, "For parts or not working"},
        {"For parts or not working", 7000, "For parts or not working"},
        {"broken, doesn't work", 7000, "For parts or not working"},
        {"spares or repair", 7000, "For parts or not working"},
    };
    for (const auto& e : examples) {
        INFO(e.text);
        draft_input in;
        in.title = "Teapot";
        in.condition = std::string(e.text);
        auto d = draft_listing(in);
        CHECK(d.condition_id == e.id);
        CHECK(d.condition == e.name);
        CHECK(d.notes.empty());
    }
}

TEST_CASE("listing: unknown or missing condition is Used with a note", "[market]") {
    draft_input in;
    in.title = "Teapot";
    in.condition = "zorp";
    auto d = draft_listing(in);
    CHECK(d.condition_id == 3000);
    CHECK(d.condition == "Used");
    REQUIRE(d.notes.size() == 1);
    CHECK(d.notes[0].find("\"zorp\" was not recognised") != std::string::npos);
    in.condition.clear();
    CHECK(draft_listing(in).notes.at(0).starts_with("No condition was given"));
}

TEST_CASE("listing: specifics keep order, drop blanks and repeats, add brand and model",
          "[market]") {
    draft_input in;
    in.title = "Canon AE-1 camera";
    in.brand = "Canon";
    in.model = "AE-1";
    in.specifics = {{"UPC", "0036000291452"},
                    {"brand", "Other"},
                    {"Colour", ""},
                    {"", "x"},
                    {"Type", repeat("y", 70)}};
    auto d = draft_listing(in);
    REQUIRE(d.specifics.size() == 4);
    CHECK(d.specifics[0] == std::pair<std::string, std::string>{"UPC", "0036000291452"});
    CHECK(d.specifics[1] == std::pair<std::string, std::string>{"brand", "Other"});
    CHECK(d.specifics[2].first == "Type");
    CHECK(d.specifics[2].second == repeat("y", 65));
    CHECK(d.specifics[3] == std::pair<std::string, std::string>{"Model", "AE-1"});
}

TEST_CASE("listing: title from brand and model, price from the estimate", "[market]") {
    draft_input in;
    in.brand = "Sunbeam";
    in.model = "T-35";
    in.condition = "used";
    price_estimate p;
    p.median_minor = 8900;
    p.currency = "USD";
    in.price = p;
    in.warnings = {"model uncertain"};
    auto d = draft_listing(in);
    CHECK(d.title == "Sunbeam T-35");
    REQUIRE(d.price_minor);
    CHECK(*d.price_minor == 8900);
    CHECK(d.currency == "USD");
    CHECK(d.notes == std::vector<std::string>{"model uncertain"});
    CHECK(d.description.find("Sunbeam T-35") != std::string::npos);
    CHECK(d.description.find("Condition: Used.") != std::string::npos);
    CHECK(d.description.find("- Brand: Sunbeam") != std::string::npos);
    CHECK(d.description.find("model uncertain") == std::string::npos);  // seller-only

    in.price.reset();
    auto unpriced = draft_listing(in);
    CHECK_FALSE(unpriced.price_minor.has_value());
    CHECK(unpriced.currency.empty());
}

TEST_CASE("listing: a shortened title leaves a note for the seller", "[market]") {
    draft_input in;
    in.title = repeat("Teapot ", 20);
    in.condition = "used";
    auto d = draft_listing(in);
    require_valid_title(d.title);
    REQUIRE(d.notes.size() == 1);
    CHECK(d.notes[0].find("shortened") != std::string::npos);
    CHECK(d.description.find("Condition: Used.") != std::string::npos);
}

TEST_CASE("listing: the user's own condition words appear in the description", "[market]") {
    draft_input in;
    in.title = "Teapot";
    in.condition = "chip on the lid, otherwise good";
    auto d = draft_listing(in);
    CHECK(d.condition == "Good");
    CHECK(d.description.find("Condition: Good (chip on the lid, otherwise good).") !=
          std::string::npos);
}
