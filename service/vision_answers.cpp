// Vision answers in the store's shared cache table.
#include "service/vision_answers.hpp"

#include <exception>

#include "core/log.hpp"

namespace boomer::service {
namespace {

class store_answers final : public clients::answer_store {
public:
    store_answers(store::store& db, boost::asio::thread_pool& pool) : db_(db), pool_(pool) {}

    std::optional<std::string> get(std::string_view key, std::int64_t now_ms) override {
        try {
            return db_.cache_get(key, now_ms);
        } catch (const std::exception& e) {
            log::event(spdlog::level::warn, "answer_cache_unreadable", {{"what", e.what()}});
            return std::nullopt;
        }
    }

    void put(std::string_view key, std::string_view value, std::int64_t expires_at_ms) override {
        try {
            db_.cache_put(key, value, expires_at_ms);
        } catch (const std::exception& e) {
            log::event(spdlog::level::warn, "answer_cache_unwritable", {{"what", e.what()}});
        }
    }

    bool shared() const override { return true; }

    bool claim(std::string_view key, std::string_view value, std::int64_t expires_at_ms,
               std::int64_t now_ms) override {
        try {
            return db_.cache_claim(key, value, expires_at_ms, now_ms);
        } catch (const std::exception& e) {
            log::event(spdlog::level::warn, "answer_cache_unclaimable", {{"what", e.what()}});
            return true;  // as if no other replica were loading it
        }
    }

    boost::asio::thread_pool* pool() override { return &pool_; }

private:
    store::store& db_;
    boost::asio::thread_pool& pool_;
};

}  // namespace

std::shared_ptr<clients::answer_store> make_vision_answers(store::store& db,
                                                           boost::asio::thread_pool& store_pool) {
    return std::make_shared<store_answers>(db, store_pool);
}

}  // namespace boomer::service
