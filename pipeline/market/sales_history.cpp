// The seller's sales history and its comp search (see sales_history.hpp).
#include "pipeline/market/sales_history.hpp"

#include <algorithm>
#include <array>
#include <cmath>

#include "pipeline/market/gtin.hpp"
#include "pipeline/market/same_listing.hpp"
#include "pipeline/market/text.hpp"

namespace boomer::market {

namespace {

// Words that say nothing about which product it is.
constexpr std::array<std::string_view, 52> stop_words{
    "a",     "an",      "and", "the",  "of",       "for",     "with",     "w",    "in",
    "on",    "to",      "by",  "or",   "from",     "at",      "as",       "is",   "it",
    "this",  "de",      "la",  "le",   "les",      "des",     "du",       "et",   "un",
    "une",   "der",     "die", "das",  "und",      "mit",     "für",      "new",  "used",
    "brand", "vintage", "lot", "free", "shipping", "fast",    "ship",     "nice", "great",
    "rare",  "look",    "wow", "item", "listing",  "genuine", "authentic"};

bool is_stop_word(const std::string& token) {
    if (token.size() == 1 && !(token[0] >= '0' && token[0] <= '9')) {
        return true;  // single letters; single digits ("6 cup") stay
    }
    return std::find(stop_words.begin(), stop_words.end(), token) != stop_words.end();
}

// The marketplace a format belongs to: "ebay_orders_us" and "ebay_transactions" are both eBay.
std::string marketplace_of(const std::string& format) {
    return format.substr(0, format.find('_'));
}

// Sellers of broken items say so in the title, so for a "for parts" query a title without
// such a marker counts as a working item; otherwise an unmarked title says nothing.
bool conditions_disagree(condition_group query, condition_group sale_title) {
    if (query == condition_group::parts && sale_title == condition_group::unknown) {
        return true;
    }
    if (query == condition_group::unknown || sale_title == condition_group::unknown) {
        return false;
    }
    return query != sale_title;
}

struct scored {
    std::size_t index;
    double score;
};

}  // namespace

std::vector<std::string> title_tokens(std::string_view title) {
    std::vector<std::string> tokens;
    for (auto& token : word_tokens(title)) {
        if (!is_stop_word(token)) {
            tokens.push_back(std::move(token));
        }
    }
    std::sort(tokens.begin(), tokens.end());
    tokens.erase(std::unique(tokens.begin(), tokens.end()), tokens.end());
    return tokens;
}

sales_history::sales_history(const std::vector<sales_import>& imports) {
    for (const auto& import : imports) {
        add(import);
    }
}

void sales_history::add(const sales_import& import) {
    std::string marketplace = marketplace_of(import.format);
    for (const auto& s : import.sales) {
        if (!s.order_id.empty() || !s.transaction_id.empty() || !s.listing_id.empty()) {
            std::string key = marketplace + '\x1f' + s.order_id + '\x1f' + s.transaction_id +
                              '\x1f' + s.listing_id;
            if (!keys_.insert(std::move(key)).second) {
                ++duplicates_;
                continue;
            }
        }
        entry e{s, find_gtins(s.sku + " " + s.title), title_tokens(s.title),
                condition_group_of_title(s.title), marketplace == "ebay"};
        for (const auto& token : e.tokens) {
            ++document_frequency_[token];
        }
        entries_.push_back(std::move(e));
    }
}

std::vector<sale> sales_history::sales() const {
    std::vector<sale> out;
    out.reserve(entries_.size());
    for (const auto& e : entries_) {
        out.push_back(e.s);
    }
    return out;
}

double sales_history::idf(const std::string& token) const {
    auto it = document_frequency_.find(token);
    double df = it == document_frequency_.end() ? 0.0 : it->second;
    double n = static_cast<double>(entries_.size());
    return std::log(1.0 + (n + 1.0) / (df + 1.0));
}

comp sales_history::make_comp(const entry& e, const std::string& match, double score) const {
    comp c;
    c.title = e.s.title;
    c.item_price_minor = e.s.unit_price_minor;
    c.shipping_minor = e.s.shipping_minor;
    c.price_minor = e.s.unit_price_minor + e.s.shipping_minor;
    c.currency = e.s.currency;
    c.sold_on = e.s.sold_on;
    c.match = match;
    c.score = score;
    c.source = e.s.source;
    if (e.ebay) {
        c.listing_id = ebay_item_number(e.s.listing_id);
    }
    return c;
}

std::vector<comp> sales_history::find(const comp_query& query, std::size_t limit) const {
    condition_group wanted = condition_group::unknown;
    if (!query.condition.empty()) {
        auto mapped = map_condition(query.condition);
        wanted = mapped.recognised ? group_of(mapped.condition) : condition_group::unknown;
    }
    std::vector<std::string> codes;
    for (const auto& code : query.barcodes) {
        if (auto canonical = canonical_gtin(code)) {
            codes.push_back(*canonical);
        }
    }
    std::vector<std::string> q = title_tokens(query.title);
    double query_weight = 0;
    for (const auto& t : q) {
        query_weight += idf(t);
    }

    std::vector<scored> by_code;
    std::vector<scored> by_title;
    for (std::size_t i = 0; i < entries_.size(); ++i) {
        const entry& e = entries_[i];
        double penalty = conditions_disagree(wanted, e.condition) ? condition_penalty : 1.0;
        bool code_hit = std::any_of(codes.begin(), codes.end(), [&](const std::string& c) {
            return std::find(e.codes.begin(), e.codes.end(), c) != e.codes.end();
        });
        if (code_hit) {
            by_code.push_back({i, penalty});
            continue;
        }
        if (q.empty()) {
            continue;
        }

        // Weighted overlap of the two sorted token lists.
        double shared = 0;
        double sale_only = 0;
        std::size_t shared_count = 0;
        for (const auto& t : e.tokens) {
            if (std::binary_search(q.begin(), q.end(), t)) {
                shared += idf(t);
                ++shared_count;
            } else {
                sale_only += idf(t);
            }
        }
        double coverage = shared / query_weight;
        double jaccard = shared / (query_weight + sale_only);
        double score = (0.7 * coverage + 0.3 * jaccard) * penalty;
        std::size_t needed = q.size() >= 2 ? 2 : 1;
        if (score >= title_threshold && shared_count >= needed) {
            by_title.push_back({i, score});
        }
    }

    // Barcode matches newest first; title matches by score, then newest first.
    auto newer = [&](const scored& a, const scored& b) {
        return entries_[a.index].s.sold_on > entries_[b.index].s.sold_on;
    };
    std::stable_sort(by_code.begin(), by_code.end(), [&](const scored& a, const scored& b) {
        return a.score != b.score ? a.score > b.score : newer(a, b);
    });
    std::stable_sort(by_title.begin(), by_title.end(), [&](const scored& a, const scored& b) {
        return a.score != b.score ? a.score > b.score : newer(a, b);
    });
    std::vector<comp> out;
    for (const auto& hit : by_code) {
        if (out.size() >= limit) {
            return out;
        }
        out.push_back(make_comp(entries_[hit.index], "barcode", hit.score));
    }
    for (const auto& hit : by_title) {
        if (out.size() >= limit) {
            break;
        }
        out.push_back(make_comp(entries_[hit.index], "title", hit.score));
    }
    return out;
}

}  // namespace boomer::market
