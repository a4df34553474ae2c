// Single flight for near-duplicate identification: copies of the same photos processed at the
// same time would each miss the near-duplicate lookup (an item is offered for reuse only once
// identified) and each pay the vision model. Instead, an item about to be identified first
// registers its photo hashes here as a flight; a later item that would reuse it under the rules
// of decide_reuse (every photo within the distance, the closest covering item, same hint, same
// barcodes, same request context) joins that flight and waits, without blocking a thread, until it
// ends. The leader ends its flight once its identification is recorded and offered (or when it
// fails, is cancelled or loses its lease: its ticket is released whatever happens); the waiters
// then run the stored lookup again, which reuses the leader's identification exactly as for any
// earlier item, or else identify themselves. A waiter waits for one flight at most, so a failing
// leader delays it by the leader's identify stage once, never more.
//
// A flight's identification is unknown while it runs, so the flights weighed for a subject all
// count as agreeing (decide_reuse's conflict check applies to the stored lookup afterwards).
// Limitation: flights are in-process only (one replica); copies processed by different
// processes at the same time each pay, as before.
//
// Thread-safety: every member function may be called from any thread (a mutex guards the
// flights); the near_duplicate_flights must outlive every ticket and wait().
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/json.hpp>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "pipeline/near_duplicate.hpp"
#include "resilience/wait_list.hpp"

namespace boomer::pipeline {

class near_duplicate_flights {
public:
    struct flight;

    // A leader's hold on its flight: release() (or the destructor) ends the flight and wakes
    // its waiters. Movable; an empty ticket holds nothing.
    class ticket {
    public:
        ticket() = default;
        ticket(near_duplicate_flights* owner, std::shared_ptr<flight> f)
            : owner_(owner), flight_(std::move(f)) {}
        ticket(ticket&& other) noexcept { swap(other); }
        ticket& operator=(ticket&& other) noexcept {
            ticket moved(std::move(other));
            swap(moved);
            return *this;
        }
        ticket(const ticket&) = delete;
        ticket& operator=(const ticket&) = delete;
        ~ticket() { release(); }

        void release();
        bool held() const { return flight_ != nullptr; }

    private:
        void swap(ticket& other) noexcept {
            std::swap(owner_, other.owner_);
            std::swap(flight_, other.flight_);
        }

        near_duplicate_flights* owner_ = nullptr;
        std::shared_ptr<flight> flight_;
    };

    // The item about to be identified.
    struct subject_item {
        std::string tenant_id;
        std::string item_id;
        reuse_subject subject;
        json::value barcodes;  // its local identification's barcodes ([{symbology, text}])
        // Its vision call goes to a batch (hours): items that would not be batched do not wait
        // for it.
        bool deferred = false;
    };

    // What enter() decided: lead (the ticket holds the caller's new flight) or wait for
    // `joined`.
    struct entry {
        ticket lead;
        std::shared_ptr<flight> joined;
    };

    // enter joins the flight `item` would reuse when `may_join` and there is one; otherwise it
    // registers `item` as the leader of a new flight.
    entry enter(subject_item item, const near_duplicate_options& options, bool may_join);

    // wait returns once `f` has ended. Await it directly (`f` must stay alive until it returns).
    // Cancellation while waiting throws boost::system::system_error (operation_aborted).
    boost::asio::awaitable<void> wait(const std::shared_ptr<flight>& f);

    // in_flight counts the flights running now.
    std::size_t in_flight() const;

    struct flight {
        explicit flight(std::mutex& m) : waiters(m) {}
        std::string tenant_id;
        bool deferred = false;
        reuse_candidate candidate;  // the leader as decide_reuse weighs it
        resilience::wait_list waiters;
        bool ended = false;  // guarded by the owner's mutex, set before the waiters are woken
    };

private:
    void end(const std::shared_ptr<flight>& f);

    mutable std::mutex mutex_;
    std::vector<std::shared_ptr<flight>> flights_;  // guarded by mutex_
    std::int64_t sequence_ = 0;                     // guarded by mutex_; orders the flights
};

}  // namespace boomer::pipeline
