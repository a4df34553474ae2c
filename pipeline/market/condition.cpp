// Condition text to eBay conditions (see condition.hpp).
#include "pipeline/market/condition.hpp"

#include <array>
#include <string>
#include <vector>

#include "pipeline/market/text.hpp"

namespace boomer::market {

namespace {

struct phrase {
    std::string_view text;  // normalised words separated by single spaces
    ebay_condition condition;
};

// Whole-text matches, tried first.
constexpr std::array<phrase, 30> exact_phrases{{
    {"new", condition_new},
    {"brand new", condition_new},
    {"new in box", condition_new},
    {"nib", condition_new},
    {"bnib", condition_new},
    {"sealed", condition_new},
    {"factory sealed", condition_new},
    {"new with tags", condition_new},
    {"nwt", condition_new},
    {"bnwt", condition_new},
    {"new other", condition_new_other},
    {"new other see details", condition_new_other},
    {"open box", condition_new_other},
    {"new without tags", condition_new_other},
    {"nwot", condition_new_other},
    {"new without box", condition_new_other},
    {"unused", condition_new_other},
    {"new with defects", condition_new_with_defects},
    {"certified refurbished", condition_certified_refurbished},
    {"refurbished", condition_seller_refurbished},
    {"seller refurbished", condition_seller_refurbished},
    {"like new", condition_like_new},
    {"as new", condition_like_new},
    {"mint", condition_like_new},
    {"used", condition_used},
    {"pre owned", condition_used},
    {"preowned", condition_used},
    {"very good", condition_very_good},
    {"good", condition_good},
    {"acceptable", condition_acceptable},
}};

struct marker {
    std::string_view words;  // a phrase that must appear as consecutive words
    ebay_condition condition;
};

// Markers searched inside longer text, strongest first.
constexpr std::array<marker, 24> markers{{
    {"for parts", condition_for_parts},
    {"parts only", condition_for_parts},
    {"not working", condition_for_parts},
    {"doesn't work", condition_for_parts},
    {"does not work", condition_for_parts},
    {"broken", condition_for_parts},
    {"faulty", condition_for_parts},
    {"repair", condition_for_parts},
    {"defective", condition_for_parts},
    {"certified refurbished", condition_certified_refurbished},
    {"refurbished", condition_seller_refurbished},
    {"like new", condition_like_new},
    {"mint", condition_like_new},
    {"new with defects", condition_new_with_defects},
    {"open box", condition_new_other},
    {"new other", condition_new_other},
    {"without tags", condition_new_other},
    {"sealed", condition_new},
    {"new", condition_new},
    {"very good", condition_very_good},
    {"good", condition_good},
    {"fair", condition_acceptable},
    {"acceptable", condition_acceptable},
    {"used", condition_used},
}};

// The words of `text` joined by single spaces, so phrase search respects word boundaries.
std::string word_string(std::string_view text) {
    std::string out = " ";
    for (const auto& w : word_tokens(text)) {
        out += w + " ";
    }
    return out;
}

bool has_words(const std::string& haystack, std::string_view words) {
    // Apostrophes join words in word_tokens ("doesn't" → "doesnt"); match the same way.
    std::string needle = " ";
    for (const auto& w : word_tokens(words)) {
        needle += w + " ";
    }
    return haystack.find(needle) != std::string::npos;
}

}  // namespace

condition_match map_condition(std::string_view text) {
    std::string words = word_string(text);
    std::string whole = words.size() > 2 ? words.substr(1, words.size() - 2) : std::string{};
    for (const auto& p : exact_phrases) {
        if (whole == p.text) {
            return {p.condition, true};
        }
    }
    for (const auto& m : markers) {
        if (has_words(words, m.words)) {
            return {m.condition, true};
        }
    }
    for (std::string_view used : {"preowned", "pre owned", "second hand", "secondhand", "worn"}) {
        if (has_words(words, used)) {
            return {condition_used, true};
        }
    }
    return {condition_used, false};
}

condition_group group_of(const ebay_condition& condition) {
    if (condition.id >= 1000 && condition.id < 2000) {
        return condition_group::new_item;
    }
    if (condition.id >= 2000 && condition.id < 7000) {
        return condition_group::used;
    }
    if (condition.id == 7000) {
        return condition_group::parts;
    }
    return condition_group::unknown;
}

condition_group condition_group_of_title(std::string_view title) {
    std::string words = word_string(title);
    for (std::string_view parts : {"for parts", "parts only", "not working", "spares or repair",
                                   "spares repair", "broken", "faulty"}) {
        if (has_words(words, parts)) {
            return condition_group::parts;
        }
    }
    for (std::string_view fresh :
         {"sealed", "nib", "nwt", "bnib", "bnwt", "brand new", "new in box", "new with tags"}) {
        if (has_words(words, fresh)) {
            return condition_group::new_item;
        }
    }
    return condition_group::unknown;
}

}  // namespace boomer::market
