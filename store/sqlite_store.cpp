// The SQLite engine: opening, intake (items, images, jobs in one transaction, idempotency
// keys) and the tenant-scoped reads.
#include <stdexcept>

#include "store/sqlite_schema.hpp"
#include "store/sqlite_store_impl.hpp"

namespace boomer::store {

std::unique_ptr<store> open_sqlite_store(const std::string& path, const sqlite_options& options) {
    if (path.empty() || path == ":memory:" || path.starts_with("file:")) {
        throw std::invalid_argument("sqlite store: the database must be a plain file path, got '" +
                                    path + "'");
    }
    if (options.connections < 1 || options.busy_timeout_ms < 0 || options.checkpoint_pages < 1) {
        throw std::invalid_argument(
            "sqlite store: connections and checkpoint pages must be >= 1 and the busy "
            "timeout >= 0");
    }
    return std::make_unique<sqlite::sqlite_store>(path, options);
}

namespace sqlite {
namespace {

// The columns read_item expects, in order; `i` is items and `j` is jobs.
constexpr std::string_view item_columns =
    "i.tenant_id, i.item_id, j.job_id, i.title_hint, i.sku, i.condition, i.priority, i.source, "
    "j.state, i.created_ms, i.updated_ms, i.result_json, i.category_hint";

// The columns read_job expects, in order.
constexpr std::string_view job_columns =
    "tenant_id, job_id, item_id, state, priority, stage, attempts, max_attempts, created_ms, "
    "started_ms, finished_ms, run_after_ms, lease_owner, locked_until_ms, fence, error_code, "
    "error_message, waits_for";

item_record read_item(const statement& st) {
    item_record r;
    r.tenant_id = st.text(0);
    r.item_id = st.text(1);
    r.job_id = st.text(2);
    r.title_hint = st.text(3);
    r.sku = st.text(4);
    r.condition = st.text(5);
    r.prio = priority_from_db(st.text(6));
    r.source = st.text(7);
    r.state = state_from_db(st.text(8));
    r.created_ms = st.int64(9);
    r.updated_ms = st.int64(10);
    r.result_json = st.text(11);
    r.category_hint = st.text(12);
    return r;
}

job_record read_job(const statement& st) {
    job_record r;
    r.tenant_id = st.text(0);
    r.job_id = st.text(1);
    r.item_id = st.text(2);
    r.state = state_from_db(st.text(3));
    r.prio = priority_from_db(st.text(4));
    r.stage = st.text(5);
    r.attempts = st.integer(6);
    r.max_attempts = st.integer(7);
    r.created_ms = st.int64(8);
    r.started_ms = st.int64(9);
    r.finished_ms = st.int64(10);
    r.run_after_ms = st.int64(11);
    r.lease_owner = st.text(12);
    r.locked_until_ms = st.int64(13);
    r.fence = st.int64(14);
    r.error_code = st.text(15);
    r.error_message = st.text(16);
    r.waits_for = st.text(17);
    return r;
}

// list_sql builds the list query for a filter shape. With a state filter it walks
// jobs (tenant_id, state, item_id); without, items (tenant_id, item_id). Parameters: 1 tenant,
// 2 limit, 3 cursor (when `cursor`), 4 state (when `by_state`).
std::string list_sql(bool by_state, bool cursor) {
    std::string sql = "SELECT " + std::string(item_columns) +
                      " FROM items i JOIN jobs j ON j.item_id = i.item_id WHERE ";
    std::string owner = by_state ? "j." : "i.";
    sql += owner + "tenant_id = ?1";
    if (by_state) {
        sql += " AND j.state = ?4";
    }
    if (cursor) {
        sql += " AND " + owner + "item_id < ?3";
    }
    sql += " ORDER BY " + owner + "item_id DESC LIMIT ?2";
    return sql;
}

}  // namespace

priority priority_from_db(std::string_view text) {
    if (auto p = parse_priority(text)) {
        return *p;
    }
    throw store_error(error_kind::bug, "sqlite: unknown priority '" + std::string(text) + "'");
}

job_state state_from_db(std::string_view text) {
    if (auto s = parse_job_state(text)) {
        return *s;
    }
    throw store_error(error_kind::bug, "sqlite: unknown job state '" + std::string(text) + "'");
}

sqlite_store::sqlite_store(const std::string& path, const sqlite_options& options)
    : pool_(path, options.connections, options.busy_timeout_ms), aging_(options.aging) {
    {
        auto conn = pool_.acquire();
        migrate(*conn, pool_.write_mutex());
    }
    checkpoints_ =
        std::make_unique<checkpointer>(path, options.checkpoint_pages, options.busy_timeout_ms);
    pool_.each_idle([this](connection& conn) { checkpoints_->attach(conn); });
}

// --- intake ---

create_result sqlite_store::create_item(const new_item& item) {
    check_new_item(item);
    std::optional<create_result> outcome;
    try {
        write([&](connection& c) {
            outcome = find_by_key(c, item.tenant_id, item.idempotency_key);
            if (!outcome) {
                insert_item(c, item);
                outcome = create_result{true, item.item_id, item.job_id};
            }
        });
        return *outcome;
    } catch (const store_error& e) {
        // Another process may have committed the same key between our check and our insert.
        if (e.kind() != error_kind::conflict || item.idempotency_key.empty()) {
            throw;
        }
        auto conn = pool_.acquire();
        read_txn txn(*conn);
        if (auto existing = find_by_key(*conn, item.tenant_id, item.idempotency_key)) {
            return *existing;
        }
        throw;
    }
}

std::vector<create_result> sqlite_store::create_items(const std::vector<new_item>& items) {
    for (const auto& item : items) {
        check_new_item(item);
    }
    std::vector<create_result> outcomes;
    if (items.empty()) {
        return outcomes;
    }
    write([&](connection& c) {
        outcomes.clear();
        for (const auto& item : items) {
            auto existing = find_by_key(c, item.tenant_id, item.idempotency_key);
            if (existing) {
                outcomes.push_back(*existing);
                continue;
            }
            insert_item(c, item);
            outcomes.push_back(create_result{true, item.item_id, item.job_id});
        }
    });
    return outcomes;
}

// The last term repeats the condition of the partial index items_idempotency: without it the
// planner cannot tell that a bound key is never '' and walks every item of the tenant instead.
const char* const find_by_key_sql =
    "SELECT i.item_id, j.job_id FROM items i JOIN jobs j ON j.item_id = i.item_id "
    "WHERE i.tenant_id = ?1 AND i.idempotency_key = ?2 AND i.idempotency_key <> ''";

std::optional<create_result> sqlite_store::find_by_key(connection& conn, std::string_view tenant_id,
                                                       std::string_view key) {
    if (key.empty()) {
        return std::nullopt;
    }
    auto st = conn.prepare(find_by_key_sql);
    st.bind_all(tenant_id, key);
    if (!st.step()) {
        return std::nullopt;
    }
    return create_result{false, st.text(0), st.text(1)};
}

void sqlite_store::insert_item(connection& conn, const new_item& item) {
    auto prio = to_string(item.prio);
    conn.prepare(
            "INSERT INTO items (item_id, tenant_id, idempotency_key, title_hint, sku, condition, "
            "priority, source, created_ms, updated_ms, category_hint) "
            "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10)")
        .bind_all(item.item_id, item.tenant_id, item.idempotency_key, item.title_hint, item.sku,
                  item.condition, prio, item.source, item.now_ms, item.category_hint)
        .run();

    for (const auto& image : item.images) {
        conn.prepare(
                "INSERT INTO images (item_id, idx, sha256, filename, media_type, bytes, width, "
                "height) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")
            .bind_all(item.item_id, image.index, image.sha256, image.filename, image.media_type,
                      image.bytes, image.width, image.height)
            .run();
    }

    conn.prepare(
            "INSERT INTO jobs (job_id, item_id, tenant_id, state, priority, sort_key, "
            "max_attempts, created_ms, run_after_ms) "
            "VALUES (?1, ?2, ?3, 'queued', ?4, ?5, ?6, ?7, ?7)")
        .bind_all(item.job_id, item.item_id, item.tenant_id, prio,
                  aging_.sort_key(item.prio, item.now_ms), item.max_attempts, item.now_ms)
        .run();
}

// --- reads ---

std::optional<std::string> sqlite_store::item_with_key(std::string_view tenant_id,
                                                       std::string_view idempotency_key) {
    auto conn = pool_.acquire();
    auto st = conn->prepare(
        "SELECT item_id FROM items WHERE tenant_id = ?1 AND idempotency_key = ?2 "
        "AND idempotency_key <> ''");
    st.bind_all(tenant_id, idempotency_key);
    if (!st.step()) {
        return std::nullopt;
    }
    return st.text(0);
}

std::optional<item_record> sqlite_store::find_item(std::string_view tenant_id,
                                                   std::string_view item_id) {
    auto conn = pool_.acquire();
    read_txn txn(*conn);
    std::optional<item_record> found;
    {
        auto st = conn->prepare("SELECT " + std::string(item_columns) +
                                " FROM items i JOIN jobs j ON j.item_id = i.item_id "
                                "WHERE i.tenant_id = ?1 AND i.item_id = ?2");
        st.bind_all(tenant_id, item_id);
        if (!st.step()) {
            return std::nullopt;
        }
        found = read_item(st);
    }
    found->images = images_of(*conn, item_id);
    return found;
}

std::vector<image_ref> sqlite_store::images_of(connection& conn, std::string_view item_id) {
    auto st = conn.prepare(
        "SELECT idx, sha256, filename, media_type, bytes, width, height, phash FROM images "
        "WHERE item_id = ?1 ORDER BY idx");
    st.bind_all(item_id);
    std::vector<image_ref> images;
    while (st.step()) {
        images.push_back(image_ref{st.integer(0), st.text(1), st.text(2), st.text(3), st.int64(4),
                                   st.integer(5), st.integer(6), ""});
        if (!st.is_null(7)) {
            images.back().phash = phash_hex(static_cast<std::uint64_t>(st.int64(7)));
        }
    }
    return images;
}

std::optional<job_record> sqlite_store::find_job(std::string_view tenant_id,
                                                 std::string_view job_id) {
    auto conn = pool_.acquire();
    auto st = conn->prepare("SELECT " + std::string(job_columns) +
                            " FROM jobs WHERE tenant_id = ?1 AND job_id = ?2");
    st.bind_all(tenant_id, job_id);
    if (!st.step()) {
        return std::nullopt;
    }
    return read_job(st);
}

std::vector<item_record> sqlite_store::list_items(const list_query& q) {
    std::vector<item_record> items;
    if (q.limit <= 0) {
        return items;
    }
    auto conn = pool_.acquire();
    read_txn txn(*conn);
    {
        auto st = conn->prepare(list_sql(q.state.has_value(), !q.before_item_id.empty()));
        st.bind_all(q.tenant_id, q.limit);
        if (!q.before_item_id.empty()) {
            st.bind(3, q.before_item_id);
        }
        if (q.state) {
            st.bind(4, to_string(*q.state));
        }
        while (st.step()) {
            items.push_back(read_item(st));
        }
    }
    for (auto& item : items) {
        item.images = images_of(*conn, item.item_id);
    }
    return items;
}

// --- health and counters ---

std::map<priority, std::int64_t> sqlite_store::queue_depth() {
    std::map<priority, std::int64_t> depth{
        {priority::urgent, 0}, {priority::normal, 0}, {priority::bulk, 0}};
    auto conn = pool_.acquire();
    auto st = conn->prepare(
        "SELECT priority, COUNT(*) FROM jobs WHERE state = 'queued' AND waits_for = '' "
        "GROUP BY priority");
    while (st.step()) {
        depth[priority_from_db(st.text(0))] = st.int64(1);
    }
    return depth;
}

std::map<job_state, std::int64_t> sqlite_store::count_by_state() {
    std::map<job_state, std::int64_t> counts;
    for (auto s : {job_state::queued, job_state::running, job_state::succeeded,
                   job_state::needs_review, job_state::failed, job_state::canceled}) {
        counts[s] = 0;
    }
    auto conn = pool_.acquire();
    auto st = conn->prepare("SELECT state, COUNT(*) FROM jobs GROUP BY state");
    while (st.step()) {
        counts[state_from_db(st.text(0))] = st.int64(1);
    }
    return counts;
}

bool sqlite_store::ping() {
    try {
        auto conn = pool_.acquire();
        auto st = conn->prepare("SELECT 1");
        return st.step() && st.integer(0) == 1;
    } catch (const store_error&) {
        return false;
    }
}

}  // namespace sqlite
}  // namespace boomer::store
