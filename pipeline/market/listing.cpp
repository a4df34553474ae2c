// Listing drafts (see listing.hpp).
#include "pipeline/market/listing.hpp"

#include <array>

#include "pipeline/market/condition.hpp"
#include "pipeline/market/text.hpp"

namespace boomer::market {

namespace {

constexpr std::size_t max_specific_chars = 65;

// Trailing characters that make a title look cut: ASCII ones and three multi-byte ones.
constexpr std::string_view trailing_ascii = " ,;:-/|&+.!?";
constexpr std::array<std::string_view, 3> trailing_multibyte{"\xE2\x80\x93", "\xE2\x80\x94",
                                                             "\xC2\xB7"};

// Collapses whitespace runs to one space (after utf8_clean) and trims.
std::string collapse_spaces(std::string_view text) {
    std::string clean = utf8_clean(text);
    std::string out;
    bool space = false;
    for (char c : clean) {
        if (c == ' ' || c == '\t' || c == '\n') {
            space = true;
            continue;
        }
        if (space && !out.empty()) {
            out += ' ';
        }
        space = false;
        out += c;
    }
    return std::string(trim(out));
}

// Byte offset just after the first `chars` code points of well-formed `text`.
std::size_t offset_of_char(std::string_view text, std::size_t chars) {
    std::size_t pos = 0;
    for (std::size_t n = 0; n < chars && pos < text.size(); ++n) {
        std::size_t len = utf8_sequence_length(text, pos);
        pos += len == 0 ? 1 : len;
    }
    return pos;
}

void strip_trailing(std::string& s) {
    bool changed = true;
    while (changed && !s.empty()) {
        changed = false;
        if (trailing_ascii.find(s.back()) != std::string_view::npos) {
            s.pop_back();
            changed = true;
            continue;
        }
        for (auto mark : trailing_multibyte) {
            if (std::string_view(s).ends_with(mark)) {
                s.resize(s.size() - mark.size());
                changed = true;
            }
        }
    }
}

// Drops an opening parenthesis left unclosed by the cut, with what follows it.
void drop_unclosed_parenthesis(std::string& s) {
    std::size_t open = s.rfind('(');
    if (open != std::string::npos && s.find(')', open) == std::string::npos) {
        s.resize(open);
    }
}

std::string cut_chars(std::string_view text, std::size_t max_chars) {
    return std::string(text.substr(0, offset_of_char(text, max_chars)));
}

bool same_name(const std::string& a, std::string_view b) {
    return normalise_name(a) == normalise_name(b);
}

// Specifics in input order, cleaned, first of each name kept, Brand and Model added.
std::vector<std::pair<std::string, std::string>> build_specifics(const draft_input& input) {
    std::vector<std::pair<std::string, std::string>> candidates = input.specifics;
    candidates.emplace_back("Brand", input.brand);
    candidates.emplace_back("Model", input.model);
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& [raw_name, raw_value] : candidates) {
        std::string name = cut_chars(collapse_spaces(raw_name), max_specific_chars);
        std::string value = cut_chars(collapse_spaces(raw_value), max_specific_chars);
        if (name.empty() || value.empty()) {
            continue;
        }
        bool seen = false;
        for (const auto& kept : out) {
            seen = seen || same_name(kept.first, name);
        }
        if (!seen) {
            out.emplace_back(std::move(name), std::move(value));
        }
    }
    return out;
}

std::string build_description(const listing_draft& d, const draft_input& input) {
    std::string text = d.title + "\n\nCondition: " + d.condition;
    std::string said = collapse_spaces(input.condition);
    if (!said.empty() && !same_name(said, d.condition)) {
        text += " (" + said + ")";
    }
    text += ".\n";
    if (!d.specifics.empty()) {
        text += "\nItem specifics:\n";
        for (const auto& [name, value] : d.specifics) {
            text += "- " + name + ": " + value + "\n";
        }
    }
    text += "\nThe photos show the item you will receive.\n";
    return text;
}

}  // namespace

std::string fit_title(std::string_view title, std::size_t max_chars) {
    std::string clean = collapse_spaces(title);
    if (utf8_length(clean) <= max_chars) {
        strip_trailing(clean);
        return clean;
    }
    std::size_t limit = offset_of_char(clean, max_chars);
    // A space right after the limit means the last word fits whole.
    std::size_t space = clean[limit] == ' ' ? limit : clean.rfind(' ', limit);
    std::string cut = clean.substr(0, space == std::string::npos || space == 0 ? limit : space);
    drop_unclosed_parenthesis(cut);
    strip_trailing(cut);
    if (cut.empty()) {
        cut = clean.substr(0, limit);
        strip_trailing(cut);
    }
    return cut;
}

listing_draft draft_listing(const draft_input& input) {
    listing_draft d;
    std::string source_title = collapse_spaces(input.title);
    if (source_title.empty()) {
        source_title = collapse_spaces(input.brand + " " + input.model);
    }
    d.title = fit_title(source_title);
    if (utf8_length(source_title) > max_title_chars) {
        d.notes.push_back("The title was shortened to eBay's 80 characters: check it reads well.");
    }

    condition_match cond = map_condition(input.condition);
    d.condition = std::string(cond.condition.name);
    d.condition_id = cond.condition.id;
    if (!cond.recognised) {
        std::string said = collapse_spaces(input.condition);
        d.notes.push_back(said.empty() ? "No condition was given; the draft says Used: check it."
                                       : "The condition \"" + said +
                                             "\" was not recognised; the draft says Used: "
                                             "check it.");
    }

    d.specifics = build_specifics(input);
    d.description = build_description(d, input);
    if (input.price) {
        d.price_minor = input.price->median_minor;
        d.currency = input.price->currency;
    }
    for (const auto& warning : input.warnings) {
        d.notes.push_back(warning);
    }
    return d;
}

}  // namespace boomer::market
