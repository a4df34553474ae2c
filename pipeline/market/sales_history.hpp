// The seller's own past sales, gathered from one or more imports (overlapping downloads are
// merged without double counting) and searchable for comps: first by product code, then by
// title similarity.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "pipeline/market/condition.hpp"
#include "pipeline/market/sales_import.hpp"

namespace boomer::market {

struct comp_query {
    std::vector<std::string> barcodes;  // GTIN/UPC/EAN/ISBN as scanned or identified
    std::string title;                  // identified title or the user's hint
    std::string condition;              // user text ("used", "for parts", ...); may be empty
};

struct comp {
    std::string title;
    std::int64_t price_minor = 0;       // item price + shipping, per unit: shipping-inclusive
    std::int64_t item_price_minor = 0;  // per unit
    std::int64_t shipping_minor = 0;    // per unit
    std::string currency;
    std::string sold_on;       // YYYY-MM-DD: the sale date, or for an active listing the day seen
    std::string match;         // "barcode" | "title"
    double score = 0;          // 1 for a barcode match; title similarity (see find) otherwise
    std::string source;        // own sales: the import it came from; else the source's name()
    bool sold = true;          // false for an active listing (competition, not evidence of value)
    std::string condition_id;  // eBay condition id ("1000", "3000"...) when the source gave one
    std::string url;           // the listing's page when the source gave one
    std::string category_id;   // the listing's eBay leaf category when the source gave one
    // The eBay item number (the legacy id in /itm/<number> URLs) when known: how comps that
    // different sources report for one listing are recognised (see same_listing.hpp).
    std::string listing_id;
    // Every market source that reported this listing (comp_source::name(), this comp's own
    // first); set when the sources' answers are combined (merge_same_listings), empty before.
    std::vector<std::string> seen_by;
};

// Thread-safety: build the history (constructor, add) on one thread; after that any number of
// threads may call the const members concurrently.
class sales_history {
public:
    sales_history() = default;
    explicit sales_history(const std::vector<sales_import>& imports);

    // add merges an import. A sale whose (marketplace, order id, transaction id, listing id)
    // was already added (from this or an earlier import) is dropped and counted in
    // duplicates(); sales without any id are always kept. eBay Orders and Transaction reports
    // count as the same marketplace.
    void add(const sales_import& import);

    std::size_t size() const { return entries_.size(); }
    int duplicates() const { return duplicates_; }
    std::vector<sale> sales() const;

    // find returns at most `limit` comps for the query: barcode matches first, then title
    // matches; each group by descending score, newest first among equal scores.
    //
    // Barcode: a query code (canonicalised, so UPC-A 036000291452 equals EAN-13
    // 0036000291452 and ISBN-10 equals its ISBN-13) that appears in the sale's custom label or
    // title. Title: both titles become word tokens without stop-words (articles, prepositions,
    // "new", "used", "vintage", "lot", "free shipping"...). Each token t weighs
    // idf(t) = ln(1 + (N + 1) / (df(t) + 1)) over the N sales of the history, and
    //   coverage = w(query ∩ sale) / w(query),  jaccard = w(query ∩ sale) / w(query ∪ sale),
    //   score    = 0.7 × coverage + 0.3 × jaccard.
    // When the query condition and the sale title's condition markers disagree (new vs parts,
    // used vs parts, used vs sealed new; and a parts query vs a title without a parts marker,
    // since sellers of broken items say so) the score is multiplied by 0.6, barcode matches
    // included (their score becomes 0.6 and they sort after agreeing ones). A title match needs
    // score ≥ 0.5 (title_threshold) and, for queries of two or more tokens, two shared tokens.
    // Sales found by barcode are not repeated as title matches.
    std::vector<comp> find(const comp_query& query, std::size_t limit) const;

    static constexpr double title_threshold = 0.5;
    static constexpr double condition_penalty = 0.6;

private:
    struct entry {
        sale s;
        std::vector<std::string> codes;   // canonical product codes in sku and title
        std::vector<std::string> tokens;  // sorted, unique, without stop-words
        condition_group condition = condition_group::unknown;
        bool ebay = false;  // sold on eBay: its listing id is an eBay item number
    };

    double idf(const std::string& token) const;
    comp make_comp(const entry& e, const std::string& match, double score) const;

    std::vector<entry> entries_;
    std::unordered_map<std::string, int> document_frequency_;
    std::unordered_set<std::string> keys_;
    int duplicates_ = 0;
};

// title_tokens is the token list find() compares: sorted, unique, stop-words removed.
std::vector<std::string> title_tokens(std::string_view title);

}  // namespace boomer::market
