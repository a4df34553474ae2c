// The SQLite engine's class, shared by its source files: sqlite_store.cpp (intake and reads),
// sqlite_queue.cpp (the job queue), sqlite_cache.cpp and sqlite_photos.cpp (perceptual hashes).
// Private to store/.
#pragma once

#include <memory>

#include "store/sqlite_checkpointer.hpp"
#include "store/sqlite_commit.hpp"
#include "store/sqlite_db.hpp"
#include "store/sqlite_store.hpp"

namespace boomer::store::sqlite {

// Thread-safe: each call borrows its own connection from the pool; writes go through one
// commit queue so that concurrent writers share commits.
class sqlite_store final : public store {
public:
    sqlite_store(const std::string& path, const sqlite_options& options);

    create_result create_item(const new_item& item) override;
    std::vector<create_result> create_items(const std::vector<new_item>& items) override;
    std::optional<item_record> find_item(std::string_view tenant_id,
                                         std::string_view item_id) override;
    std::optional<std::string> item_with_key(std::string_view tenant_id,
                                             std::string_view idempotency_key) override;
    std::optional<job_record> find_job(std::string_view tenant_id,
                                       std::string_view job_id) override;
    std::vector<item_record> list_items(const list_query& q) override;

    std::vector<claimed_job> claim(std::string_view worker_id, int max, std::int64_t lease_ms,
                                   std::int64_t now_ms) override;
    bool heartbeat(std::string_view job_id, std::int64_t fence,
                   std::int64_t locked_until_ms) override;
    std::vector<bool> heartbeat_many(const std::vector<lease_ref>& leases,
                                     std::int64_t locked_until_ms) override;
    bool set_stage(std::string_view job_id, std::int64_t fence, std::string_view stage) override;
    bool save_checkpoint(std::string_view job_id, std::int64_t fence, const checkpoint& c) override;
    std::vector<checkpoint> checkpoints(std::string_view job_id) override;
    std::vector<bool> complete_many(const std::vector<completion>& batch,
                                    std::int64_t now_ms) override;
    bool retry_later(std::string_view job_id, std::int64_t fence, std::string_view error_code,
                     std::string_view error_message, std::int64_t run_after_ms,
                     std::int64_t now_ms) override;
    bool release(std::string_view job_id, std::int64_t fence, std::int64_t run_after_ms) override;
    bool defer(std::string_view job_id, std::int64_t fence, std::string_view error_code,
               std::string_view error_message, std::int64_t run_after_ms) override;
    bool park(std::string_view job_id, std::int64_t fence, std::string_view waits_for,
              std::int64_t run_after_ms) override;
    int wake_parked(std::string_view waits_for, std::int64_t now_ms) override;
    std::vector<std::string> parked_on(std::size_t limit) override;
    int wake_deferred(std::string_view error_code, std::int64_t now_ms) override;
    rescue_outcome rescue_expired(std::int64_t now_ms) override;
    cancel_outcome cancel(std::string_view tenant_id, std::string_view item_id,
                          std::int64_t now_ms) override;
    bool retry(std::string_view tenant_id, std::string_view item_id, std::int64_t now_ms) override;
    bool redo(std::string_view tenant_id, std::string_view item_id, std::int64_t now_ms) override;

    std::map<priority, std::int64_t> queue_depth() override;
    std::map<job_state, std::int64_t> count_by_state() override;
    bool ping() override;

    bool record_photo_hashes(std::string_view job_id, std::int64_t fence,
                             const std::vector<photo_hash>& hashes, bool offer_for_reuse) override;
    std::vector<similar_photo> similar_photos(const similar_photo_query& q) override;

    std::optional<std::string> cache_get(std::string_view key, std::int64_t now_ms) override;
    void cache_put(std::string_view key, std::string_view value,
                   std::int64_t expires_at_ms) override;
    bool cache_claim(std::string_view key, std::string_view value, std::int64_t expires_at_ms,
                     std::int64_t now_ms) override;
    std::int64_t cache_purge_expired(std::int64_t now_ms) override;

private:
    // retry and redo: `any_final` lets succeeded and needs_review items go back too.
    bool requeue(std::string_view tenant_id, std::string_view item_id, std::int64_t now_ms,
                 bool any_final);
    // release, park and defer: waits_for and the error shown (kept when error_code is empty).
    bool hand_back(std::string_view job_id, std::int64_t fence, std::string_view waits_for,
                   std::string_view error_code, std::string_view error_message,
                   std::int64_t run_after_ms);
    // write runs `fn(connection&)` in a group-committed write transaction and returns once it
    // is durable; see sqlite_commit.hpp.
    void write(const commit_queue::write_fn& fn) {
        auto conn = pool_.acquire();
        commits_.run(*conn, fn);
    }
    // rows_changed runs one statement as a write and returns how many rows it changed.
    template <class... Args>
    int rows_changed(const char* sql, const Args&... args) {
        int changed = 0;
        write([&](connection& c) { changed = c.prepare(sql).bind_all(args...).run(); });
        return changed;
    }

    std::optional<create_result> find_by_key(connection& conn, std::string_view tenant_id,
                                             std::string_view key);
    void insert_item(connection& conn, const new_item& item);
    std::vector<image_ref> images_of(connection& conn, std::string_view item_id);
    void touch_item(connection& conn, std::string_view item_id, std::int64_t now_ms);
    // complete_one writes one completion inside the caller's transaction; false: lease lost.
    bool complete_one(connection& conn, const completion& c, std::int64_t now_ms);

    connection_pool pool_;
    std::unique_ptr<checkpointer> checkpoints_;  // after pool_: stops before its connections close
    commit_queue commits_;
    aging_policy aging_;
};

// Text read back from the database; an unknown word means the schema and code disagree.
priority priority_from_db(std::string_view text);
job_state state_from_db(std::string_view text);

// Statements named for the tests of their plans: the idempotency-key lookup (sqlite_store.cpp)
// and the near-duplicate lookup (sqlite_photos.cpp).
extern const char* const find_by_key_sql;
extern const char* const similar_photos_sql;

}  // namespace boomer::store::sqlite
