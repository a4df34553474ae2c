// The listing category of one market search. eBay's sold history (Marketplace Insights) cannot
// be asked without a category id, and a bulk listing row needs one, but nothing in an item's
// photos names it: it is the user's hint when there is one, otherwise learned from the active
// listings that match the item (eBay Browse). A category_board carries it between the sources
// of one search: the hint from the start, or the first category a source publishes; a source
// that needs it waits for it, within its own budget, until no source may still publish it.
//
// Thread-safety: a category_board is used on its search's strand only (fan_out runs every
// source of a search there). choose_category is pure and thread-safe.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace boomer::market {

struct comp;

// choose_category picks the leaf category of a search from its comps' category ids and the
// category eBay names dominant for the whole result set (Browse's
// refinement.dominantCategoryId): the dominant one when a comp is listed in it (so it is a leaf
// a listing can use), else the one most comps are listed in (ties: the first seen, i.e. the
// best match), else `dominant` (may be empty).
std::string choose_category(std::string_view dominant, const std::vector<comp>& comps);

// is_category_id says whether `text` looks like an eBay category id: 1 to 9 digits, not 0.
bool is_category_id(std::string_view text);

class category_board {
public:
    // `hint` is the user's category id (may be empty); `publishers` is how many sources of the
    // search may publish one.
    category_board(std::string hint, int publishers);

    const std::string& id() const { return id_; }
    // source says where the id came from: "hint" or the publishing source's name.
    const std::string& source() const { return source_; }

    // publish sets the category unless one is set; empty ids are ignored. Wakes the waiters.
    void publish(std::string id, std::string source);
    // publisher_done says one of the publishers finished (with or without a category).
    void publisher_done();

    // wait returns the category once it is known, or empty once no publisher remains or at
    // `deadline`, whichever comes first. Cancellation of the awaiting coroutine ends the wait
    // (returning what is known). The board must outlive the call.
    boost::asio::awaitable<std::string> wait(std::chrono::steady_clock::time_point deadline);

private:
    void wake_all();

    std::string id_;
    std::string source_;
    int publishers_ = 0;
    std::vector<boost::asio::steady_timer*> waiting_;
};

}  // namespace boomer::market
