// Photos given as URLs: the interface a downloader implements (clients/photo_fetcher) and
// fetch_photos, which fetches one item's URLs at once under one deadline and checks that each
// answer is an image.
//
// Where fetching happens: at intake, before the item exists, not as a pipeline stage.
// - No item is lost either way: until the 202 the client holds its submission and may retry
//   it (with its Idempotency-Key); after the 202 the photos are durable like uploaded ones. An
//   item is never created with photos still to come.
// - Nothing else waits: the request waits, bounded by the fetch timeout, on I/O coroutines, never
//   on an I/O thread, a store thread or a worker slot. Multipart and base64 submissions share
//   nothing with it, so their intake latency budget is untouched; a URL submission's answer takes
//   as long as its slowest photo, measured apart (boomer_photo_url_fetch_seconds).
// - The client can act: a URL that cannot be used is answered at once with a problem naming the
//   photo and the reason, instead of an item that fails later, out of sight.
// A stage would answer sooner, but every later stage, the near-duplicate index, idempotent
// replays (which compare photo hashes) and the photo routes would have to cope with items whose
// photos are not known yet.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace boomer::pipeline {

// Failure codes of a photo fetch. The API maps each to an HTTP status.
namespace fetch_error {
inline constexpr std::string_view invalid_url = "invalid_url";                    // 400
inline constexpr std::string_view not_https = "url_not_https";                    // 400
inline constexpr std::string_view address_refused = "url_address_refused";        // 422
inline constexpr std::string_view timeout = "url_fetch_timeout";                  // 504
inline constexpr std::string_view unreachable = "url_unreachable";                // 502
inline constexpr std::string_view bad_status = "url_fetch_failed";                // 422
inline constexpr std::string_view bad_redirect = "url_bad_redirect";              // 422
inline constexpr std::string_view too_many_redirects = "url_too_many_redirects";  // 422
inline constexpr std::string_view not_image = "url_not_image";                    // 422
inline constexpr std::string_view file_too_large = "file_too_large";              // 413
inline constexpr std::string_view total_too_large = "payload_too_large";          // 413
inline constexpr std::string_view busy = "photo_fetch_busy";  // 503, the fetch_pool is full
// The fetch gave up because another photo of the same item failed (never shown to a client).
inline constexpr std::string_view stopped = "fetch_stopped";
}  // namespace fetch_error

// The bytes every submission's fetches may hold at once, server-wide: a URL submission may take
// up to the body limit, so without it a burst of them could hold that many times over. The
// bytes of a submission count while its photos download, until its fetches have ended. The
// oldest submission still downloading may pass the limit (by at most its own size), so that
// a photo larger than the pool has its turn and a burst of submissions over it does not turn
// every one of them away. Thread-safe.
class fetch_pool {
public:
    explicit fetch_pool(std::uint64_t limit) : limit_(limit) {}
    fetch_pool(const fetch_pool&) = delete;
    fetch_pool& operator=(const fetch_pool&) = delete;

    // enter registers a submission that starts downloading and returns its number; leave
    // gives back what it took.
    std::uint64_t enter();
    void leave(std::uint64_t number, std::uint64_t taken);
    // take counts `n` more bytes for submission `number`: refused (nothing counted) when they
    // do not fit, unless it is the oldest one downloading.
    bool take(std::uint64_t n, std::uint64_t number);
    std::uint64_t held() const;
    std::uint64_t limit() const { return limit_; }

private:
    const std::uint64_t limit_;
    mutable std::mutex mutex_;
    std::uint64_t held_ = 0;           // guarded by mutex_
    std::uint64_t next_ = 0;           // guarded by mutex_
    std::set<std::uint64_t> entered_;  // guarded by mutex_; the submissions downloading
};

// The bytes one item's fetches may take together (the request body limit, as for multipart),
// drawn from the server's pool when there is one. Shared by the item's concurrent fetches; the
// first failure stops the others.
class fetch_budget {
public:
    explicit fetch_budget(std::uint64_t limit, std::shared_ptr<fetch_pool> pool = nullptr)
        : limit_(limit), pool_(std::move(pool)), number_(pool_ ? pool_->enter() : 0) {}
    ~fetch_budget();
    fetch_budget(const fetch_budget&) = delete;
    fetch_budget& operator=(const fetch_budget&) = delete;

    // take counts `n` more bytes; false once the total is over the limit, or when the pool
    // refused them (pool_full() then tells).
    bool take(std::uint64_t n);
    std::uint64_t limit() const { return limit_; }
    bool pool_full() const { return pool_full_; }
    // stop tells the item's other fetches to give up; stopped() is what they check.
    void stop() { stopped_ = true; }
    bool stopped() const { return stopped_; }

private:
    const std::uint64_t limit_;
    const std::shared_ptr<fetch_pool> pool_;
    const std::uint64_t number_ = 0;  // in the pool
    std::atomic<std::uint64_t> used_{0};
    std::atomic<std::uint64_t> pooled_{0};  // what the pool counts for this item
    std::atomic<bool> pool_full_{false};
    std::atomic<bool> stopped_{false};
};

// One photo to download.
struct fetch_request {
    std::string url;
    std::uint64_t max_bytes = 0;  // the photo's limit; more is file_too_large
    std::shared_ptr<fetch_budget> budget;
    std::chrono::steady_clock::time_point deadline;
};

class photo_fetcher {
public:
    virtual ~photo_fetcher() = default;

    // fetch downloads one photo, following redirects, and returns its bytes. It stops reading
    // as soon as the photo's limit or the budget is passed, or the budget is stopped. Failures
    // carry the fetch_error codes. Thread-safe; the fetcher must outlive the call.
    virtual boost::asio::awaitable<result<std::string>> fetch(fetch_request request) = 0;
};

struct fetch_limits {
    std::uint64_t max_photo_bytes = 25 * 1024 * 1024;
    std::uint64_t max_total_bytes = 100 * 1024 * 1024;
    std::chrono::milliseconds timeout{10'000};  // all of one item's fetches together
    std::shared_ptr<fetch_pool> pool;           // server-wide; null: no bound beyond the item's
};

// A fetch failure and the photo it is about (0-based position in the request).
struct photo_failure {
    failure what;
    std::size_t photo = 0;
};

// fetch_photos fetches every URL at once and returns their bytes in order, each checked to be an
// image (by its content, as intake checks an upload). On failure it returns the failure of the
// lowest-numbered photo that failed. The fetcher must outlive the call.
boost::asio::awaitable<result<std::vector<std::string>, photo_failure>> fetch_photos(
    photo_fetcher& fetcher, std::vector<std::string> urls, fetch_limits limits);

}  // namespace boomer::pipeline
