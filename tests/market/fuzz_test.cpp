// A deterministic mutation loop over the sales fixtures: whatever the bytes, the importer
// returns a result or a failure, never crashes, and what it returns keeps its invariants
// (including: nothing from a buyer column).
#include <catch2/catch.hpp>
#include <random>

#include "pipeline/market/dates.hpp"
#include "pipeline/market/money.hpp"
#include "tests/market/market_support.hpp"

using namespace boomer::market;
using namespace boomer::market::test;

namespace {

// Bytes that matter to the parsers: framing, separators, money, and broken UTF-8.
constexpr char interesting[] = {'"', ',', ';', '\t',   '\n',   '\r',   '$',    '-',  '.',
                                '0', '9', ' ', '\xC3', '\xA9', '\xFF', '\xEF', '\0', '/'};

std::string mutate(std::string text, std::mt19937& rng) {
    auto pick = [&](std::size_t bound) {
        return bound == 0 ? std::size_t{0}
                          : std::uniform_int_distribution<std::size_t>(0, bound - 1)(rng);
    };
    std::size_t at = pick(text.size() + 1);
    switch (pick(6)) {
        case 0:  // overwrite a byte
            if (at < text.size()) {
                text[at] = interesting[pick(sizeof interesting)];
            }
            break;
        case 1:  // insert a byte
            text.insert(at, 1, interesting[pick(sizeof interesting)]);
            break;
        case 2:  // delete a range
            text.erase(at, pick(40) + 1);
            break;
        case 3: {  // duplicate a range
            std::string piece = text.substr(at, pick(300) + 1);
            text.insert(at, piece);
            break;
        }
        case 4:  // truncate
            text.resize(at);
            break;
        default:  // flip a bit
            if (at < text.size()) {
                text[at] = static_cast<char>(text[at] ^ (1 << pick(8)));
            }
            break;
    }
    return text;
}

void check_invariants(const sales_import& r) {
    for (const auto& s : r.sales) {
        REQUIRE_FALSE(s.title.empty());
        REQUIRE(utf8_clean(s.title) == s.title);
        REQUIRE(s.quantity >= 1);
        REQUIRE(days_from_iso(s.sold_on).has_value());
        REQUIRE_FALSE(s.currency.empty());
    }
    require_no_buyer_data(r);
}

}  // namespace

TEST_CASE("fuzz: mutated exports never crash the importer", "[market][fuzz]") {
    const char* seeds[] = {"ebay-us-2026.csv",   "ebay-uk-2022.csv",          "ebay-au-2026.csv",
                           "ebay-fr-2026.csv",   "etsy-sold-order-items.csv", "mercari-sales.csv",
                           "poshmark-sales.csv", "ebay-transactions-2026.csv"};
    std::mt19937 rng(20260314);
    int accepted = 0;
    int refused = 0;
    for (const char* name : seeds) {
        const std::string original = fixture(name);
        std::string text = original;
        for (int i = 0; i < 500; ++i) {
            // Mostly one fresh mutation; sometimes pile mutations up.
            text = mutate(i % 5 == 0 ? text : original, rng);
            auto r = import_sales_csv(text, "fuzz.csv");
            if (r) {
                ++accepted;
                check_invariants(*r);
            } else {
                ++refused;
                REQUIRE(r.error().message.starts_with("fuzz.csv"));
                REQUIRE_FALSE(r.error().code.empty());
            }
        }
    }
    INFO("accepted " << accepted << ", refused " << refused);
    CHECK(accepted > 0);
    CHECK(refused > 0);
}

TEST_CASE("fuzz: random cells never crash money and date parsing", "[market][fuzz]") {
    std::mt19937 rng(7);
    const std::string alphabet = "0123456789.,- $€£AUEURSepMaiOkt/:()'\xC2\xA0";
    for (int i = 0; i < 20000; ++i) {
        std::string cell;
        std::size_t length = std::uniform_int_distribution<std::size_t>(0, 16)(rng);
        for (std::size_t k = 0; k < length; ++k) {
            cell +=
                alphabet[std::uniform_int_distribution<std::size_t>(0, alphabet.size() - 1)(rng)];
        }
        auto m = parse_money(cell, "USD");
        if (m && *m) {
            REQUIRE((*m)->minor > -100'000'000'000'000);
            REQUIRE((*m)->minor < 100'000'000'000'000);
        }
        auto d = parse_date(cell);
        if (d) {
            REQUIRE(days_from_iso(to_iso(*d)).has_value());
        }
    }
}
