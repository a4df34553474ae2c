// Helpers shared by the market tests: reading the sales fixtures and checking that nothing a
// buyer wrote or owns reached an import.
#pragma once

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "pipeline/market/sales_import.hpp"
#include "pipeline/market/text.hpp"
#include "tests/support/paths.hpp"

namespace boomer::market::test {

inline std::string fixture(const std::string& name) {
    return boomer::test::read_file(boomer::test::data_dir() / "sales" / name);
}

// Imports tests/data/sales/<name>, failing the test when the import is refused.
inline sales_import import_fixture(const std::string& name) {
    auto imported = import_sales_csv(fixture(name), name);
    INFO(name << ": " << (imported ? std::string() : imported.error().message));
    REQUIRE(imported.has_value());
    return *imported;
}

// Placeholders the fixtures put in buyer and ship-to columns (see make_fixtures.py).
inline const std::vector<std::string>& buyer_markers() {
    static const std::vector<std::string> markers{
        "quxworth", "zebulon", "zebqux", "555-0199", "zz1 7qx", "07700 900077", "sample buyer"};
    return markers;
}

inline void require_no_buyer_data(const sales_import& imported) {
    std::vector<std::string> texts = imported.warnings;
    texts.push_back(imported.format);
    for (const auto& s : imported.sales) {
        for (const std::string* f :
             {&s.title, &s.sku, &s.listing_id, &s.order_id, &s.transaction_id, &s.currency,
              &s.sold_on, &s.variation, &s.source}) {
            texts.push_back(*f);
        }
    }
    for (const auto& text : texts) {
        std::string folded = fold_case(text);
        for (const auto& marker : buyer_markers()) {
            INFO("field text: " << text);
            CHECK(folded.find(marker) == std::string::npos);
        }
    }
}

// find_sale returns the sale with this title, failing the test when there is none.
inline const sale& find_sale(const sales_import& imported, const std::string& title) {
    for (const auto& s : imported.sales) {
        if (s.title == title) {
            return s;
        }
    }
    FAIL("no sale titled \"" << title << "\" in " << imported.format);
    throw std::logic_error("unreachable");
}

}  // namespace boomer::market::test
