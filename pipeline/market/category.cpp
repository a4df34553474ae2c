// Choosing a search's category and sharing it between its sources (see category.hpp).
#include "pipeline/market/category.hpp"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <map>

#include "pipeline/market/sales_history.hpp"

namespace boomer::market {

namespace asio = boost::asio;

std::string choose_category(std::string_view dominant, const std::vector<comp>& comps) {
    std::map<std::string, int, std::less<>> counts;
    std::vector<std::string> order;
    for (const auto& c : comps) {
        if (c.category_id.empty()) {
            continue;
        }
        if (counts[c.category_id]++ == 0) {
            order.push_back(c.category_id);
        }
    }
    if (!dominant.empty() && counts.find(dominant) != counts.end()) {
        return std::string(dominant);
    }
    std::string best;
    int best_count = 0;
    for (const auto& id : order) {
        if (counts[id] > best_count) {
            best = id;
            best_count = counts[id];
        }
    }
    return best.empty() ? std::string(dominant) : best;
}

bool is_category_id(std::string_view text) {
    if (text.empty() || text.size() > 9 || text.front() == '0') {
        return false;
    }
    return std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

category_board::category_board(std::string hint, int publishers) : publishers_(publishers) {
    if (!hint.empty()) {
        id_ = std::move(hint);
        source_ = "hint";
    }
}

void category_board::publish(std::string id, std::string source) {
    if (!id_.empty() || id.empty()) {
        return;
    }
    id_ = std::move(id);
    source_ = std::move(source);
    wake_all();
}

void category_board::publisher_done() {
    if (publishers_ > 0 && --publishers_ == 0) {
        wake_all();
    }
}

void category_board::wake_all() {
    for (auto* timer : waiting_) {
        timer->cancel();
    }
}

asio::awaitable<std::string> category_board::wait(std::chrono::steady_clock::time_point deadline) {
    auto executor = co_await asio::this_coro::executor;
    asio::steady_timer timer(executor, deadline);
    waiting_.push_back(&timer);
    // Leaves the list however the wait ends (answer, deadline, cancellation).
    struct registration {
        std::vector<asio::steady_timer*>& list;
        asio::steady_timer* timer;
        ~registration() { std::erase(list, timer); }
    } registered{waiting_, &timer};

    while (id_.empty() && publishers_ > 0 && std::chrono::steady_clock::now() < deadline) {
        co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
        auto cs = co_await asio::this_coro::cancellation_state;
        if (cs.cancelled() != asio::cancellation_type::none) {
            break;
        }
    }
    co_return id_;
}

}  // namespace boomer::market
