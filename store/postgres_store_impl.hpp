// The Postgres engine's class, shared by its source files: postgres_store.cpp (intake and
// reads), postgres_queue.cpp (the job queue), postgres_cache.cpp and postgres_photos.cpp
// (perceptual hashes). Private to store/.
#pragma once

#include <set>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "store/postgres_db.hpp"
#include "store/postgres_store.hpp"

namespace boomer::store::pg {

// to_param turns an argument into what libpqxx binds: text as std::string, numbers as they are.
template <class T>
auto to_param(const T& value) {
    if constexpr (std::is_convertible_v<const T&, std::string_view>) {
        return std::string(std::string_view(value));
    } else {
        return value;
    }
}

// array_literal writes `values` as a Postgres array literal, each element double-quoted.
template <class T, class Fn>
std::string array_literal(const std::vector<T>& values, Fn&& field) {
    std::string out = "{";
    for (const auto& v : values) {
        if (out.size() > 1) {
            out += ',';
        }
        out += '"';
        const auto& text = field(v);  // a string or a view; a temporary lives to the loop's end
        for (char c : std::string_view(text)) {
            if (c == '"' || c == '\\') {
                out += '\\';
            }
            out += c;
        }
        out += '"';
    }
    out += '}';
    return out;
}

// Thread-safe: each call borrows its own session from the pool and runs one prepared
// statement in autocommit mode, or a short transaction where several statements must agree.
class postgres_store final : public store {
public:
    postgres_store(const std::string& dsn, const postgres_options& options);

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
    // exec runs one prepared statement in autocommit mode on a pooled session.
    template <class... Args>
    pqxx::result exec(const char* statement, const Args&... args) {
        return pool_.run(statement, [&](pqxx::connection& conn) {
            pqxx::nontransaction tx(conn);
            return tx.exec_prepared(statement, to_param(args)...);
        });
    }

    // notify_runnable tells listeners that a job became runnable: NOTIFY boomer_jobs in an
    // autocommit transaction that does not wait for the disk (a notification needs no
    // durability). Best effort: a failure is swallowed, since the change it announces is
    // committed and listeners also wake on their timeout.
    void notify_runnable();

    // images_of returns the images of each of `item_ids`, by item id, in index order.
    std::map<std::string, std::vector<image_ref>> images_of(
        const std::vector<std::string>& item_ids);
    // insert_items runs the create_items statement and returns the job ids it created.
    std::set<std::string> insert_items(const std::vector<new_item>& items);
    // find_by_key returns the ids of the item that used `item`'s idempotency key.
    create_result find_by_key(const new_item& item);

    session_pool pool_;
    aging_policy aging_;
};

// The prepared statements of each source file.
std::span<const statement_def> intake_statements();
std::span<const statement_def> queue_statements();
std::span<const statement_def> cache_statements();
std::span<const statement_def> photo_statements();

// Text read back from the database; an unknown word means the schema and code disagree.
priority priority_from_db(std::string_view text);
job_state state_from_db(std::string_view text);

}  // namespace boomer::store::pg
