// Fetching an item's photo URLs side by side.
#include "pipeline/photo_fetch.hpp"

#include <fmt/format.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "pipeline/image/probe.hpp"

namespace boomer::pipeline {
namespace {

namespace asio = boost::asio;

// What one photo's fetch came to: its bytes, or a failure (code set).
struct fetched {
    std::string bytes;
    failure error;
};

asio::awaitable<fetched> fetch_one(photo_fetcher* fetcher, fetch_request request) {
    auto budget = request.budget;
    auto got = co_await fetcher->fetch(std::move(request));
    fetched out;
    if (!got) {
        out.error = std::move(got.error());
    } else if (!image::probe(*got)) {
        out.error = failure{std::string(fetch_error::not_image),
                            "the URL answered with something that is not a supported image; "
                            "JPEG, PNG, WebP, GIF or HEIC are"};
    } else {
        out.bytes = std::move(*got);
    }
    if (!out.error.code.empty()) {
        budget->stop();
    }
    co_return out;
}

}  // namespace

std::uint64_t fetch_pool::enter() {
    std::lock_guard lock(mutex_);
    const auto number = next_++;
    entered_.insert(number);
    return number;
}

void fetch_pool::leave(std::uint64_t number, std::uint64_t taken) {
    std::lock_guard lock(mutex_);
    entered_.erase(number);
    held_ -= taken;
}

bool fetch_pool::take(std::uint64_t n, std::uint64_t number) {
    std::lock_guard lock(mutex_);
    if (held_ + n > limit_ && (entered_.empty() || *entered_.begin() != number)) {
        return false;
    }
    held_ += n;
    return true;
}

std::uint64_t fetch_pool::held() const {
    std::lock_guard lock(mutex_);
    return held_;
}

fetch_budget::~fetch_budget() {
    if (pool_) {
        pool_->leave(number_, pooled_);
    }
}

bool fetch_budget::take(std::uint64_t n) {
    if (used_.fetch_add(n) + n > limit_) {
        return false;
    }
    if (pool_) {
        if (!pool_->take(n, number_)) {
            pool_full_ = true;
            return false;
        }
        pooled_ += n;
    }
    return true;
}

asio::awaitable<result<std::vector<std::string>, photo_failure>> fetch_photos(
    photo_fetcher& fetcher, std::vector<std::string> urls, fetch_limits limits) {
    auto executor = co_await asio::this_coro::executor;
    auto budget = std::make_shared<fetch_budget>(limits.max_total_bytes, limits.pool);
    const auto deadline = std::chrono::steady_clock::now() + limits.timeout;

    using op_type = decltype(asio::co_spawn(executor, fetch_one(nullptr, {}), asio::deferred));
    std::vector<op_type> ops;
    for (auto& url : urls) {
        fetch_request request{std::move(url), limits.max_photo_bytes, budget, deadline};
        ops.push_back(
            asio::co_spawn(executor, fetch_one(&fetcher, std::move(request)), asio::deferred));
    }
    auto group = asio::experimental::make_parallel_group(std::move(ops));
    auto [order, errors, outcomes] =
        co_await group.async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);

    std::vector<std::string> photos;
    for (std::size_t i = 0; i < outcomes.size(); ++i) {
        if (errors[i]) {
            std::rethrow_exception(errors[i]);
        }
    }
    // A photo stopped because another failed reports "stopped"; the real cause wins.
    std::optional<photo_failure> first;
    for (std::size_t i = 0; i < outcomes.size(); ++i) {
        const auto& e = outcomes[i].error;
        if (!e.code.empty() && (!first || (first->what.code == fetch_error::stopped &&
                                           e.code != fetch_error::stopped))) {
            first = photo_failure{e, i};
        }
        photos.push_back(std::move(outcomes[i].bytes));
    }
    if (first) {
        co_return make_unexpected(std::move(*first));
    }
    co_return photos;
}

}  // namespace boomer::pipeline
