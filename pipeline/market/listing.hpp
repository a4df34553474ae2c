// Turning what is known about an item (title, brand, model, specifics, the seller's condition
// text, a price estimate) into an eBay listing draft: a title within eBay's 80 characters, an
// eBay condition id and name, item specifics and a plain-text description.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "pipeline/market/pricing.hpp"

namespace boomer::market {

struct draft_input {
    std::string title;  // identified title or the user's hint
    std::string brand, model;
    std::vector<std::pair<std::string, std::string>> specifics;  // e.g. {"UPC", "0366..."}
    std::string condition;  // user text: "new", "used", "like new", "for parts"...
    std::optional<price_estimate> price;
    std::vector<std::string> warnings;  // for the seller (e.g. "model uncertain")
};

struct listing_draft {
    std::string title;      // ≤ 80 characters (code points), see draft_listing
    std::string condition;  // eBay generic condition name, e.g. "Used"
    int condition_id = 3000;
    std::vector<std::pair<std::string, std::string>> specifics;
    std::string description;  // plain text for buyers
    std::optional<std::int64_t> price_minor;
    std::string currency;
    // For the seller, never shown to buyers: input warnings, plus a note when the condition
    // text was not understood or the title had to be shortened.
    std::vector<std::string> notes;
};

// Maximum title length eBay accepts, in characters.
inline constexpr std::size_t max_title_chars = 80;

// fit_title cleans a title (invalid UTF-8 and control characters dropped, whitespace collapsed)
// and shortens it to at most `max_chars` code points: cut at the last space that fits (a single
// word longer than the limit is cut between code points), then an unclosed "(" at the end is
// dropped, then trailing punctuation and spaces (, ; : - / | & + . ! ? – — ·) are removed.
// Never splits a multi-byte character. Thread-safe.
std::string fit_title(std::string_view title, std::size_t max_chars = max_title_chars);

// draft_listing builds the draft.
//
// Title: input.title, or "brand model" when it is empty, through fit_title. Condition:
// map_condition (condition.hpp); unknown or empty text gives Used (3000), the safe choice that
// never promises more than the seller said, with a note asking the seller to check. Specifics:
// input order, blank names or values dropped, the first of a repeated name (case-insensitive)
// kept, "Brand" and "Model" added from the input when absent, names and values cut to 65
// characters (eBay's limit). Price: the estimate's median and currency when present. Never
// fails. Thread-safe.
listing_draft draft_listing(const draft_input& input);

}  // namespace boomer::market
