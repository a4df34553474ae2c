// Near-duplicate lookup: band probes, the reuse decision and the reused identification.
#include "pipeline/near_duplicate.hpp"

#include <algorithm>
#include <bit>
#include <cctype>
#include <limits>
#include <map>
#include <set>
#include <stdexcept>

namespace boomer::pipeline {
namespace {

std::string text_of(const json::value& v, std::string_view key) {
    const auto* obj = v.if_object();
    const auto* found = obj != nullptr ? obj->if_contains(key) : nullptr;
    return found != nullptr && found->is_string() ? std::string(found->as_string()) : "";
}

// Lowercase with runs of spaces made one and the ends trimmed.
std::string folded(std::string_view text) {
    std::string out;
    for (char c : text) {
        const auto u = static_cast<unsigned char>(c);
        if (std::isspace(u) != 0) {
            if (!out.empty() && out.back() != ' ') {
                out += ' ';
            }
        } else {
            out += static_cast<char>(std::tolower(u));
        }
    }
    if (!out.empty() && out.back() == ' ') {
        out.pop_back();
    }
    return out;
}

bool same_identification(const json::value& a, const json::value& b) {
    if (folded(text_of(a, "title")) == folded(text_of(b, "title"))) {
        return true;
    }
    const std::string brand = folded(text_of(a, "brand"));
    const std::string model = folded(text_of(a, "model"));
    return !brand.empty() && !model.empty() && brand == folded(text_of(b, "brand")) &&
           model == folded(text_of(b, "model"));
}

std::set<std::string> barcode_texts(const json::value& identification) {
    std::set<std::string> out;
    const auto* obj = identification.if_object();
    const auto* codes = obj != nullptr ? obj->if_contains("barcodes") : nullptr;
    if (codes != nullptr && codes->is_array()) {
        for (const auto& c : codes->as_array()) {
            out.insert(text_of(c, "text"));
        }
    }
    return out;
}

// The closest distance from `h` to any of `others`.
int nearest(std::uint64_t h, const std::vector<std::uint64_t>& others) {
    int best = std::numeric_limits<int>::max();
    for (auto o : others) {
        best = std::min(best, hamming(h, o));
    }
    return best;
}

// The subject's distance to a candidate: the worst, over the photos of both, of the nearest
// photo of the other (so each covers the other); and the nearest pair at all.
struct item_distance {
    int covering = std::numeric_limits<int>::max();
    int nearest_pair = std::numeric_limits<int>::max();
};

item_distance distance_to(const reuse_subject& s, const reuse_candidate& c) {
    item_distance d{0, std::numeric_limits<int>::max()};
    for (auto h : s.phashes) {
        const int n = nearest(h, c.phashes);
        d.covering = std::max(d.covering, n);
        d.nearest_pair = std::min(d.nearest_pair, n);
    }
    for (auto h : c.phashes) {
        d.covering = std::max(d.covering, nearest(h, s.phashes));
    }
    return d;
}

reuse_decision outcome(std::string_view what) {
    return reuse_decision{std::string(what), "", -1};
}

}  // namespace

near_duplicate_metrics::near_duplicate_metrics(metrics::registry* registry) {
    if (registry == nullptr) {
        return;
    }
    outcomes_ = &registry->counter_family(
        "boomer_near_duplicate_lookups_total",
        "Near-duplicate identification lookups by outcome (reused, or why the model was asked).",
        {"outcome"});
    auto& lookups =
        registry->counter_family("boomer_cache_lookups_total",
                                 "Cache lookups by outcome (hit or miss).", {"cache", "outcome"});
    hits_ = &lookups.with({"vision_near_duplicate", "hit"});
    misses_ = &lookups.with({"vision_near_duplicate", "miss"});
    waits_ = &registry->counter_family(
        "boomer_near_duplicate_waits_total",
        "Items that waited for a copy being identified at the same time, by outcome (joined: "
        "its identification was reused; fell_back: the item was identified itself).",
        {"outcome"});
    waiting_ =
        &registry
             ->gauge_family("boomer_near_duplicate_waiting",
                            "Items waiting now for a copy being identified at the same time.", {})
             .with({});
}

void near_duplicate_metrics::waiting(int change) {
    if (waiting_ != nullptr) {
        waiting_->inc(change);
    }
}

void near_duplicate_metrics::count_wait(std::string_view outcome) {
    if (waits_ != nullptr) {
        waits_->with({outcome}).inc();
    }
}

void near_duplicate_metrics::count(std::string_view outcome) {
    if (outcomes_ == nullptr) {
        return;
    }
    outcomes_->with({outcome}).inc();
    (outcome == reuse_outcomes::reused ? hits_ : misses_)->inc();
}

int hamming(std::uint64_t a, std::uint64_t b) {
    return std::popcount(a ^ b);
}

bool offers_for_reuse(const json::value& identification) {
    const auto* obj = identification.if_object();
    if (obj == nullptr || obj->contains("vision_error") || obj->contains("reused_from")) {
        return false;
    }
    // The strong model was wanted but gave no answer: the cheap one's is not one to lend.
    const auto* escalation = obj->if_contains("escalation");
    if (escalation != nullptr && text_of(*escalation, "outcome") == "fallback") {
        return false;
    }
    const auto* identified = obj->if_contains("identified");
    const auto* calls = obj->if_contains("calls");
    return identified != nullptr && identified->is_bool() && identified->as_bool() &&
           calls != nullptr && calls->is_array() && !calls->as_array().empty() &&
           !text_of(identification, "title").empty() &&
           !text_of(identification, request_context_field).empty();
}

bool has_unsure_photo(const json::value& normalized) {
    const auto* obj = normalized.if_object();
    const auto* images = obj != nullptr ? obj->if_contains("images") : nullptr;
    if (images == nullptr || !images->is_array()) {
        return false;
    }
    for (const auto& img : images->as_array()) {
        const auto* unsure =
            img.is_object() ? img.as_object().if_contains("phash_unsure") : nullptr;
        if (unsure != nullptr && unsure->is_bool() && unsure->as_bool()) {
            return true;
        }
    }
    return false;
}

std::optional<std::vector<store::photo_hash>> photo_hashes(const json::value& normalized) {
    const auto* obj = normalized.if_object();
    const auto* images = obj != nullptr ? obj->if_contains("images") : nullptr;
    if (images == nullptr || !images->is_array() || images->as_array().empty()) {
        return std::nullopt;
    }
    std::vector<store::photo_hash> out;
    for (const auto& img : images->as_array()) {
        const auto* index = img.is_object() ? img.as_object().if_contains("index") : nullptr;
        auto value = store::parse_phash_hex(text_of(img, "phash"));
        if (index == nullptr || !index->is_int64() || !value) {
            return std::nullopt;
        }
        out.push_back(store::photo_hash{static_cast<int>(index->as_int64()), *value});
    }
    return out;
}

reuse_decision decide_reuse(const reuse_subject& subject,
                            const std::vector<reuse_candidate>& candidates,
                            const near_duplicate_options& options) {
    if (subject.phashes.empty()) {
        return outcome(reuse_outcomes::unhashed);
    }
    if (subject.unsure) {
        return outcome(reuse_outcomes::unsure_photo);
    }

    // The candidates within the distance, and the best one covering every photo: among those
    // asked the same question (hint, barcodes, request context) when there are any, so that a
    // nearer or older item asked something else does not hide one that was not.
    const std::set<std::string> codes(subject.barcodes.begin(), subject.barcodes.end());
    const auto same_question = [&subject, &codes](const reuse_candidate& c) {
        return subject.title_hint == c.title_hint && codes == barcode_texts(c.identification) &&
               !subject.context.empty() &&
               subject.context == text_of(c.identification, request_context_field);
    };
    std::vector<const reuse_candidate*> near;
    const reuse_candidate* best = nullptr;
    int best_distance = std::numeric_limits<int>::max();
    bool best_same = false;
    for (const auto& c : candidates) {
        const auto d = distance_to(subject, c);
        if (d.nearest_pair > options.max_distance) {
            continue;
        }
        near.push_back(&c);
        if (d.covering > options.max_distance) {
            continue;
        }
        const bool same = same_question(c);
        const bool better = best == nullptr || (same && !best_same) ||
                            (same == best_same &&
                             (d.covering < best_distance ||
                              (d.covering == best_distance && c.created_ms < best->created_ms)));
        if (better) {
            best = &c;
            best_distance = d.covering;
            best_same = same;
        }
    }
    if (near.empty()) {
        return outcome(reuse_outcomes::no_match);
    }
    if (best == nullptr) {
        return outcome(reuse_outcomes::partial_match);
    }

    // Unambiguous: no near item says otherwise, the seller said nothing else, same barcodes.
    for (const auto* other : near) {
        if (!same_identification(other->identification, best->identification)) {
            return outcome(reuse_outcomes::conflicting);
        }
    }
    if (subject.title_hint != best->title_hint) {
        return outcome(reuse_outcomes::hint_differs);
    }
    if (codes != barcode_texts(best->identification)) {
        return outcome(reuse_outcomes::barcodes_differ);
    }
    if (subject.context.empty() ||
        subject.context != text_of(best->identification, request_context_field)) {
        return outcome(reuse_outcomes::context_differs);
    }
    return reuse_decision{std::string(reuse_outcomes::reused), best->item_id, best_distance};
}

json::value reused_identification(const json::value& source, const reuse_decision& decision,
                                  const json::value& local, const near_duplicate_options& options) {
    json::object out = source.as_object();
    out.erase("vision_error");
    out["barcodes"] = local.at("barcodes");
    out["cost_micros"] = 0;

    const auto* calls = source.as_object().if_contains("calls");
    std::string model = text_of(source, "source");
    if (calls != nullptr && calls->is_array() && !calls->as_array().empty()) {
        model = text_of(calls->as_array().back(), "model");
    }
    json::object usage{{"input_tokens", 0},
                       {"output_tokens", 0},
                       {"cache_creation_input_tokens", 0},
                       {"cache_read_input_tokens", 0}};
    json::object call{
        {"model", model},
        {"request_id", ""},
        {"outcome", "near_duplicate"},
        {"attempts", 0},
        {"latency_ms", 0},
        {"confidence", out.contains("confidence") ? out.at("confidence") : json::value(0.0)},
        {"cost_micros", 0},
        {"usage", std::move(usage)}};
    out["calls"] = json::array{std::move(call)};
    out["reused_from"] = json::object{{"item_id", decision.item_id},
                                      {"distance", decision.distance},
                                      {"max_distance", options.max_distance},
                                      {"basis", "near_duplicate_photos"}};
    return out;
}

std::optional<reuse_subject> reuse_subject_of(const store::item_record& item,
                                              const json::value& normalized,
                                              const json::value& local, std::string context) {
    auto hashes = photo_hashes(normalized);
    if (!hashes) {
        return std::nullopt;
    }
    reuse_subject s;
    for (const auto& h : *hashes) {
        s.phashes.push_back(h.value);
    }
    s.title_hint = item.title_hint;
    for (const auto& code : barcode_texts(local)) {
        s.barcodes.push_back(code);
    }
    s.context = std::move(context);
    s.unsure = has_unsure_photo(normalized);
    return s;
}

namespace {

// The earlier item as a candidate, or std::nullopt when it is gone, no longer offers an
// identification (its checkpoint is what is reused, so it is read again here), has an unsure
// photo (indexed before such photos were kept out) or was identified before `oldest_ms`.
std::optional<reuse_candidate> load_candidate(store::store& db, const std::string& tenant_id,
                                              const store::similar_photo& row,
                                              std::int64_t oldest_ms) {
    auto item = db.find_item(tenant_id, row.item_id);
    if (!item) {
        return std::nullopt;
    }
    reuse_candidate c{row.item_id, row.created_ms, {}, item->title_hint, nullptr};
    for (const auto& img : item->images) {
        auto value = store::parse_phash_hex(img.phash);
        if (!value) {
            return std::nullopt;  // a photo that cannot be matched: it cannot be covered
        }
        c.phashes.push_back(*value);
    }
    std::int64_t identified_ms = 0;
    bool unsure = false;
    for (const auto& cp : db.checkpoints(row.job_id)) {
        boost::system::error_code ec;
        if (cp.stage == "identify") {
            c.identification = json::parse(cp.output_json, ec);
            identified_ms = cp.finished_ms;
        } else if (cp.stage == "normalize") {
            const auto normalized = json::parse(cp.output_json, ec);
            unsure = !ec && has_unsure_photo(normalized);
        }
    }
    if (c.phashes.empty() || unsure || identified_ms < oldest_ms ||
        !offers_for_reuse(c.identification)) {
        return std::nullopt;
    }
    return c;
}

}  // namespace

near_duplicate_lookup lookup_near_duplicate(store::store& db, const store::item_record& item,
                                            const std::optional<reuse_subject>& found,
                                            const json::value& local,
                                            const near_duplicate_options& options,
                                            std::int64_t now_ms) {
    if (!found) {
        return {outcome(reuse_outcomes::unhashed), nullptr};
    }
    const reuse_subject& subject = *found;

    // Offered photos within the distance, then the distinct items they belong to.
    store::similar_photo_query q;
    q.tenant_id = item.tenant_id;
    q.exclude_item_id = item.item_id;
    q.near = subject.phashes;
    q.max_distance = options.max_distance;
    q.limit = options.row_limit;
    const auto rows = db.similar_photos(q);
    if (static_cast<int>(rows.size()) >= options.row_limit) {
        return {outcome(reuse_outcomes::too_many), nullptr};
    }
    std::map<std::string, const store::similar_photo*> items;
    for (const auto& row : rows) {
        if (nearest(row.phash, subject.phashes) <= options.max_distance) {
            items.emplace(row.item_id, &row);
        }
    }
    if (static_cast<int>(items.size()) > options.max_candidate_items) {
        return {outcome(reuse_outcomes::too_many), nullptr};
    }

    std::vector<reuse_candidate> candidates;
    for (const auto& [id, row] : items) {
        if (auto c = load_candidate(db, item.tenant_id, *row, now_ms - options.max_age_ms)) {
            candidates.push_back(std::move(*c));
        }
    }
    auto decision = decide_reuse(subject, candidates, options);
    if (decision.outcome != reuse_outcomes::reused) {
        return {std::move(decision), nullptr};
    }
    for (const auto& c : candidates) {
        if (c.item_id == decision.item_id) {
            auto identification = reused_identification(c.identification, decision, local, options);
            return {std::move(decision), std::move(identification)};
        }
    }
    throw std::logic_error("lookup_near_duplicate: the chosen item is not a candidate");
}

}  // namespace boomer::pipeline
