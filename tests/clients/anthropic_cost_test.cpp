// Golden costs computed by hand from the published prices, and the price table's lookups and
// overrides.
#include "clients/anthropic_cost.hpp"

#include <catch2/catch.hpp>

using namespace boomer;
using clients::model_price;
using clients::price_call;
using clients::price_table;

namespace {

pipeline::vision_usage usage_of(std::int64_t input, std::int64_t cache_write, std::int64_t read,
                                std::int64_t output) {
    pipeline::vision_usage u;
    u.input_tokens = input;
    u.cache_creation_input_tokens = cache_write;
    u.cache_read_input_tokens = read;
    u.output_tokens = output;
    return u;
}

model_price sonnet() {
    return *price_table::with_defaults().find("claude-sonnet-4-5");
}

}  // namespace

TEST_CASE("anthropic cost: a cache write at $3/$15 costs exactly $0.054399", "[clients]") {
    // 3×3 + 12304×3.75 + 550×15 = 9 + 46140 + 8250 micro-dollars.
    auto cost = price_call(sonnet(), usage_of(3, 12304, 0, 550));
    CHECK(cost.total == 54'399);
    CHECK(cost.input == 9);
    CHECK(cost.cache_write_5m == 46'140);
    CHECK(cost.cache_write_1h == 0);
    CHECK(cost.output == 8'250);
}

TEST_CASE("anthropic cost: the 5-minute and 1-hour split is priced apart", "[clients]") {
    // Haiku 4.5: 1000×1 + 4000×1.25 + 2000×2 + 8000×0.1 + 300×5.
    auto u = usage_of(1000, 6000, 8000, 300);
    u.has_cache_creation_split = true;
    u.cache_creation_5m_tokens = 4000;
    u.cache_creation_1h_tokens = 2000;
    auto cost = price_call(*price_table::with_defaults().find("claude-haiku-4-5"), u);
    CHECK(cost.cache_write_5m == 5'000);
    CHECK(cost.cache_write_1h == 4'000);
    CHECK(cost.cache_read == 800);
    CHECK(cost.total == 12'300);

    // Without the split every write is a 5-minute write: 1000 + 7500 + 800 + 1500.
    u.has_cache_creation_split = false;
    CHECK(price_call(*price_table::with_defaults().find("claude-haiku-4-5"), u).total == 10'800);
}

TEST_CASE("anthropic cost: the documented caching pair, write then read", "[clients]") {
    // 21×3 + 188086×3.75 + 393×15 = 711280.5, rounded half up.
    CHECK(price_call(sonnet(), usage_of(21, 188'086, 0, 393)).total == 711'281);
    // 21×3 + 188086×0.3 + 393×15 = 62383.8.
    CHECK(price_call(sonnet(), usage_of(21, 0, 188'086, 393)).total == 62'384);
}

TEST_CASE("anthropic cost: batch calls cost half, rounded once", "[clients]") {
    auto u = usage_of(3, 12304, 0, 550);
    CHECK(price_call(sonnet(), u, true).total == 27'200);  // 27199.5
    u.service_tier = "batch";
    CHECK(price_call(sonnet(), u).total == 27'200);
    u.service_tier = "standard";
    CHECK(price_call(sonnet(), u).total == 54'399);
}

TEST_CASE("anthropic cost: fractions round per part and once in the total", "[clients]") {
    // Opus 4.5: 1 input token (5) + 5 reads at 0.5 (2.5) = 7.5.
    auto cost =
        price_call(*price_table::with_defaults().find("claude-opus-4-5"), usage_of(1, 0, 5, 0));
    CHECK(cost.cache_read == 3);
    CHECK(cost.total == 8);
    // Haiku 3 reads at $0.03: 7 tokens are 0.21 micro-dollars.
    auto small = price_call(*price_table::with_defaults().find("claude-3-haiku-20240307"),
                            usage_of(0, 0, 7, 0));
    CHECK(small.total == 0);
}

TEST_CASE("anthropic cost: the recorded tool_use answer on Haiku 4.5", "[clients]") {
    // 656 input at $1 and 74 output at $5, priced under the dated id the answer names.
    auto price = price_table::with_defaults().find("claude-haiku-4-5-20251001");
    REQUIRE(price);
    CHECK(price_call(*price, usage_of(656, 0, 0, 74)).total == 1'026);
}

TEST_CASE("anthropic cost: negative counts are treated as zero", "[clients]") {
    CHECK(price_call(sonnet(), usage_of(-5, -1, -1, 10)).total == 150);
}

TEST_CASE("price table: aliases, dated ids and unknown models", "[clients]") {
    auto table = price_table::with_defaults();
    for (auto id :
         {"claude-haiku-4-5", "claude-haiku-4-5-20251001", "claude-sonnet-4-5",
          "claude-sonnet-4-5-20250929", "claude-opus-4-5-20251101", "claude-sonnet-4-20250514"}) {
        INFO(id);
        CHECK(table.find(id).has_value());
    }
    CHECK(table.find("claude-haiku-4-5")->input == 1'000'000);
    CHECK(table.find("claude-haiku-4-5")->cache_write_5m == 1'250'000);
    CHECK(table.find("claude-sonnet-4-5-20250929")->output == 15'000'000);
    CHECK(table.find("claude-sonnet-4-5-20250929")->cache_read == 300'000);
    // A future dated id of a known alias is priced as the alias.
    CHECK(table.find("claude-sonnet-4-6-20270101")->input == 3'000'000);
    CHECK_FALSE(table.find("claude-unknown-9").has_value());
    CHECK_FALSE(table.find("").has_value());
}

TEST_CASE("price table: overrides in dollars per million tokens", "[clients]") {
    auto table = price_table::with_defaults();
    REQUIRE(table.apply_overrides("claude-sonnet-5=2/10; tiny=0.25/1.25/0.3/0.5/0.03").value());
    CHECK(table.find("claude-sonnet-5")->input == 2'000'000);
    CHECK(table.find("claude-sonnet-5")->cache_write_5m == 2'500'000);
    CHECK(table.find("tiny")->cache_write_5m == 300'000);
    CHECK(table.find("tiny")->cache_read == 30'000);

    auto before = table.size();
    auto bad = table.apply_overrides("good=1/2;broken=1");
    REQUIRE_FALSE(bad);
    CHECK(bad.error().code == "bad_price_table");
    CHECK(bad.error().message.find("broken=1") != std::string::npos);
    CHECK(table.size() == before);
    CHECK_FALSE(table.find("good").has_value());
}

TEST_CASE("price table: dollar amounts parse exactly or not at all", "[clients]") {
    using clients::parse_dollars_per_mtok;
    CHECK(parse_dollars_per_mtok("3") == 3'000'000);
    CHECK(parse_dollars_per_mtok("0.8") == 800'000);
    CHECK(parse_dollars_per_mtok("18.75") == 18'750'000);
    CHECK(parse_dollars_per_mtok("0.000001") == 1);
    for (auto bad : {"", "-1", "1.", ".5", "1.0000001", "1e3", "abc", "1,5"}) {
        INFO(bad);
        CHECK_FALSE(parse_dollars_per_mtok(bad).has_value());
    }
    CHECK(clients::strip_date_suffix("claude-haiku-4-5-20251001") == "claude-haiku-4-5");
    CHECK(clients::strip_date_suffix("claude-haiku-4-5") == "claude-haiku-4-5");
    CHECK(clients::strip_date_suffix("claude-x-2025100a") == "claude-x-2025100a");
}
