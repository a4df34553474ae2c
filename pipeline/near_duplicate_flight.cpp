// Near-duplicate single flight: registering, joining and ending flights.
#include "pipeline/near_duplicate_flight.hpp"

#include <algorithm>

namespace boomer::pipeline {
namespace {

// Whether any photo of `subject` is within the distance of a photo of `c`: the flights worth
// handing to decide_reuse (which decides; this only keeps the others out).
bool any_near(const reuse_subject& subject, const reuse_candidate& c, int max_distance) {
    for (auto h : subject.phashes) {
        for (auto o : c.phashes) {
            if (hamming(h, o) <= max_distance) {
                return true;
            }
        }
    }
    return false;
}

}  // namespace

void near_duplicate_flights::ticket::release() {
    if (flight_ != nullptr) {
        owner_->end(flight_);
        flight_.reset();
    }
}

near_duplicate_flights::entry near_duplicate_flights::enter(subject_item item,
                                                            const near_duplicate_options& options,
                                                            bool may_join) {
    std::lock_guard lock(mutex_);
    if (may_join && options.max_distance > 0) {
        std::vector<reuse_candidate> candidates;
        std::vector<std::shared_ptr<flight>> near;
        for (const auto& f : flights_) {
            const bool eligible = f->tenant_id == item.tenant_id &&
                                  f->candidate.item_id != item.item_id &&
                                  (item.deferred || !f->deferred);
            if (eligible && any_near(item.subject, f->candidate, options.max_distance)) {
                candidates.push_back(f->candidate);
                near.push_back(f);
            }
        }
        if (!candidates.empty() &&
            static_cast<int>(candidates.size()) <= options.max_candidate_items) {
            const auto decision = decide_reuse(item.subject, candidates, options);
            if (decision.outcome == reuse_outcomes::reused) {
                for (const auto& f : near) {
                    if (f->candidate.item_id == decision.item_id) {
                        return entry{ticket(), f};
                    }
                }
            }
        }
    }

    auto f = std::make_shared<flight>(mutex_);
    f->tenant_id = std::move(item.tenant_id);
    f->deferred = item.deferred;
    f->candidate.item_id = std::move(item.item_id);
    f->candidate.created_ms = ++sequence_;
    f->candidate.phashes = std::move(item.subject.phashes);
    f->candidate.title_hint = std::move(item.subject.title_hint);
    // Its identification is unknown yet: only its barcodes and request context, which
    // decide_reuse compares.
    f->candidate.identification =
        json::object{{"barcodes", std::move(item.barcodes)},
                     {request_context_field, std::move(item.subject.context)}};
    flights_.push_back(f);
    return entry{ticket(this, f), nullptr};
}

boost::asio::awaitable<void> near_duplicate_flights::wait(const std::shared_ptr<flight>& f) {
    auto ended = [&f] { return f->ended; };
    co_await f->waiters.wait(ended);
}

std::size_t near_duplicate_flights::in_flight() const {
    std::lock_guard lock(mutex_);
    return flights_.size();
}

void near_duplicate_flights::end(const std::shared_ptr<flight>& f) {
    std::lock_guard lock(mutex_);
    std::erase(flights_, f);
    f->ended = true;
    f->waiters.grant_all();
}

}  // namespace boomer::pipeline
