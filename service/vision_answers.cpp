// Vision answers in the store's shared cache table.
#include "service/vision_answers.hpp"

#include <exception>

#include "core/async.hpp"
#include "core/log.hpp"

namespace boomer::service {
namespace {

class store_answers final : public clients::answer_store {
public:
    store_answers(store::store& db, boost::asio::thread_pool& pool, const clock& time,
                  std::chrono::hours ttl, cache::lru_options memory, metrics::registry* registry)
        : db_(db),
          pool_(pool),
          time_(time),
          ttl_ms_(ttl.count() * 3'600'000),
          memory_("vision_answers_memory", memory, time, nullptr, registry) {}

    boost::asio::awaitable<std::optional<std::string>> get(const std::string& key) override {
        if (auto hit = memory_.get(key)) {
            co_return *hit;
        }
        auto stored = co_await read_store(key);
        if (stored) {
            memory_.put(key, *stored, std::chrono::milliseconds(ttl_ms_));
        }
        co_return stored;
    }

    boost::asio::awaitable<void> put(const std::string& key, const std::string& value) override {
        memory_.put(key, value, std::chrono::milliseconds(ttl_ms_));
        auto write = [this, &key, &value] {
            try {
                db_.cache_put(key, value, time_.now_ms() + ttl_ms_);
                return true;
            } catch (const std::exception& e) {
                log::event(spdlog::level::warn, "answer_cache_unwritable", {{"what", e.what()}});
                return false;
            }
        };
        co_await run_on(pool_, write);
    }

private:
    boost::asio::awaitable<std::optional<std::string>> read_store(const std::string& key) {
        auto read = [this, &key]() -> std::optional<std::string> {
            try {
                return db_.cache_get(key, time_.now_ms());
            } catch (const std::exception& e) {
                log::event(spdlog::level::warn, "answer_cache_unreadable", {{"what", e.what()}});
                return std::nullopt;
            }
        };
        co_return co_await run_on(pool_, read);
    }

    store::store& db_;
    boost::asio::thread_pool& pool_;
    const clock& time_;
    std::int64_t ttl_ms_;
    cache::lru_cache<std::string> memory_;
};

}  // namespace

std::shared_ptr<clients::answer_store> make_vision_answers(
    store::store& db, boost::asio::thread_pool& store_pool, const clock& time,
    std::chrono::hours ttl, cache::lru_options memory, metrics::registry* registry) {
    return std::make_shared<store_answers>(db, store_pool, time, ttl, memory, registry);
}

}  // namespace boomer::service
