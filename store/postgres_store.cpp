// The Postgres engine: opening, intake (item, images and job in one statement, idempotency
// keys), the tenant-scoped reads and the counters.
#include <array>
#include <set>
#include <stdexcept>

#include "store/postgres_schema.hpp"
#include "store/postgres_store_impl.hpp"

namespace boomer::store {

std::unique_ptr<store> open_postgres_store(const std::string& dsn,
                                           const postgres_options& options) {
    if (options.connections < 1 || options.connect_timeout_s < 1 ||
        options.statement_timeout_ms < 1) {
        throw std::invalid_argument("postgres store: connections and timeouts must be at least 1");
    }
    return std::make_unique<pg::postgres_store>(dsn, options);
}

namespace pg {
namespace {

// The columns read_item expects, in order; `i` is items and `j` is jobs.
#define BOOMER_PG_ITEM_COLUMNS                                                                   \
    "i.tenant_id, i.item_id, j.job_id, i.title_hint, i.sku, i.condition, i.priority, i.source, " \
    "j.state, i.created_ms, i.updated_ms, i.result_json, i.category_hint"

// The columns read_job expects, in order.
#define BOOMER_PG_JOB_COLUMNS                                                                  \
    "tenant_id, job_id, item_id, state, priority, stage, attempts, max_attempts, created_ms, " \
    "started_ms, finished_ms, run_after_ms, lease_owner, locked_until_ms, fence, error_code, " \
    "error_message, waits_for"

#define BOOMER_PG_ITEMS_JOIN \
    "SELECT " BOOMER_PG_ITEM_COLUMNS " FROM items i JOIN jobs j ON j.item_id = i.item_id "

// create_items in one statement, for one item or many: the items (each unless its idempotency
// key was used, earlier or by an item before it in the batch: rows go in input order), their
// images and their jobs. Items come as parallel arrays, one per column; images likewise, each
// naming its item. Returns the jobs created; the caller looks up the originals of the others.
constexpr const char* create_items_sql = R"sql(
WITH input AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                         $7::text[], $8::text[], $9::bigint[], $10::text[], $11::bigint[],
                         $12::int[], $21::text[]) WITH ORDINALITY
        AS i (item_id, tenant_id, idempotency_key, title_hint, sku, condition, priority, source,
              now_ms, job_id, sort_key, max_attempts, category_hint, pos)),
new_items AS (
    INSERT INTO items (item_id, tenant_id, idempotency_key, title_hint, sku, condition, priority,
                       source, created_ms, updated_ms, category_hint)
    SELECT item_id, tenant_id, idempotency_key, title_hint, sku, condition, priority, source,
           now_ms, now_ms, category_hint
    FROM input ORDER BY pos
    ON CONFLICT (tenant_id, idempotency_key) WHERE idempotency_key <> '' DO NOTHING
    RETURNING item_id),
new_images AS (
    INSERT INTO images (item_id, idx, sha256, filename, media_type, bytes, width, height)
    SELECT m.item_id, m.idx, m.sha256, m.filename, m.media_type, m.bytes, m.width, m.height
    FROM unnest($13::text[], $14::int[], $15::text[], $16::text[], $17::text[], $18::bigint[],
                $19::int[], $20::int[])
             AS m (item_id, idx, sha256, filename, media_type, bytes, width, height)
    JOIN new_items USING (item_id)),
new_jobs AS (
    INSERT INTO jobs (job_id, item_id, tenant_id, state, priority, sort_key, max_attempts,
                      created_ms, run_after_ms)
    SELECT i.job_id, i.item_id, i.tenant_id, 'queued', i.priority, i.sort_key, i.max_attempts,
           i.now_ms, i.now_ms
    FROM input i JOIN new_items USING (item_id)
    RETURNING job_id)
SELECT job_id FROM new_jobs
)sql";

constexpr std::array<statement_def, 13> statements{{
    {"create_items", create_items_sql},
    {"find_by_key",
     "SELECT i.item_id, j.job_id FROM items i JOIN jobs j ON j.item_id = i.item_id "
     "WHERE i.tenant_id = $1::text AND i.idempotency_key = $2::text "
     "AND i.idempotency_key <> ''"},  // names the partial index's condition, so it is used
    {"find_item", BOOMER_PG_ITEMS_JOIN "WHERE i.tenant_id = $1::text AND i.item_id = $2::text"},
    {"item_with_key",
     "SELECT item_id FROM items WHERE tenant_id = $1::text AND idempotency_key = $2::text "
     "AND idempotency_key <> ''"},
    {"images_of",
     "SELECT item_id, idx, sha256, filename, media_type, bytes, width, height, phash "
     "FROM images WHERE item_id = ANY ($1::text[]) ORDER BY item_id, idx"},
    {"find_job",
     "SELECT " BOOMER_PG_JOB_COLUMNS " FROM jobs WHERE tenant_id = $1::text AND job_id = $2::text"},
    // Listing without a state filter walks items (tenant_id, item_id); with one, jobs
    // (tenant_id, state, item_id). $1 tenant, $2 limit, then cursor and/or state.
    {"list_all",
     BOOMER_PG_ITEMS_JOIN "WHERE i.tenant_id = $1::text ORDER BY i.item_id DESC LIMIT $2::int"},
    {"list_all_before",
     BOOMER_PG_ITEMS_JOIN "WHERE i.tenant_id = $1::text AND i.item_id < $3::text "
                          "ORDER BY i.item_id DESC LIMIT $2::int"},
    {"list_state", BOOMER_PG_ITEMS_JOIN
     "WHERE j.tenant_id = $1::text AND j.state = $3::text ORDER BY j.item_id DESC LIMIT $2::int"},
    {"list_state_before", BOOMER_PG_ITEMS_JOIN
     "WHERE j.tenant_id = $1::text AND j.state = $3::text AND j.item_id < $4::text "
     "ORDER BY j.item_id DESC LIMIT $2::int"},
    {"queue_depth",
     "SELECT priority, COUNT(*) FROM jobs WHERE state = 'queued' AND waits_for = '' "
     "GROUP BY priority"},
    {"count_by_state", "SELECT state, COUNT(*) FROM jobs GROUP BY state"},
    {"ping", "SELECT 1"},
}};

#undef BOOMER_PG_ITEMS_JOIN
#undef BOOMER_PG_JOB_COLUMNS
#undef BOOMER_PG_ITEM_COLUMNS

item_record read_item(const pqxx::row& row) {
    item_record r;
    r.tenant_id = row[0].as<std::string>();
    r.item_id = row[1].as<std::string>();
    r.job_id = row[2].as<std::string>();
    r.title_hint = row[3].as<std::string>();
    r.sku = row[4].as<std::string>();
    r.condition = row[5].as<std::string>();
    r.prio = priority_from_db(row[6].c_str());
    r.source = row[7].as<std::string>();
    r.state = state_from_db(row[8].c_str());
    r.created_ms = row[9].as<std::int64_t>();
    r.updated_ms = row[10].as<std::int64_t>();
    r.result_json = row[11].as<std::string>();
    r.category_hint = row[12].as<std::string>();
    return r;
}

job_record read_job(const pqxx::row& row) {
    job_record r;
    r.tenant_id = row[0].as<std::string>();
    r.job_id = row[1].as<std::string>();
    r.item_id = row[2].as<std::string>();
    r.state = state_from_db(row[3].c_str());
    r.prio = priority_from_db(row[4].c_str());
    r.stage = row[5].as<std::string>();
    r.attempts = row[6].as<int>();
    r.max_attempts = row[7].as<int>();
    r.created_ms = row[8].as<std::int64_t>();
    r.started_ms = row[9].as<std::int64_t>();
    r.finished_ms = row[10].as<std::int64_t>();
    r.run_after_ms = row[11].as<std::int64_t>();
    r.lease_owner = row[12].as<std::string>();
    r.locked_until_ms = row[13].as<std::int64_t>();
    r.fence = row[14].as<std::int64_t>();
    r.error_code = row[15].as<std::string>();
    r.error_message = row[16].as<std::string>();
    r.waits_for = row[17].as<std::string>();
    return r;
}

std::string number(std::int64_t v) {
    return std::to_string(v);
}

}  // namespace

std::span<const statement_def> intake_statements() {
    return statements;
}

priority priority_from_db(std::string_view text) {
    if (auto p = parse_priority(text)) {
        return *p;
    }
    throw store_error(error_kind::bug, "postgres: unknown priority '" + std::string(text) + "'");
}

job_state state_from_db(std::string_view text) {
    if (auto s = parse_job_state(text)) {
        return *s;
    }
    throw store_error(error_kind::bug, "postgres: unknown job state '" + std::string(text) + "'");
}

postgres_store::postgres_store(const std::string& dsn, const postgres_options& options)
    : pool_(
          session_settings{
              dsn,
              options.schema,
              options.application_name,
              options.connect_timeout_s,
              options.statement_timeout_ms,
              {intake_statements(), queue_statements(), cache_statements(), photo_statements()},
          },
          options.connections),
      aging_(options.aging) {
    migrate(pool_);
}

// --- intake ---

create_result postgres_store::create_item(const new_item& item) {
    return create_items({item}).front();
}

std::vector<create_result> postgres_store::create_items(const std::vector<new_item>& items) {
    for (const auto& item : items) {
        check_new_item(item);
    }
    std::vector<create_result> outcomes;
    if (items.empty()) {
        return outcomes;
    }
    auto created = insert_items(items);
    for (const auto& item : items) {
        if (created.contains(item.job_id)) {
            outcomes.push_back(create_result{true, item.item_id, item.job_id});
        } else {
            outcomes.push_back(find_by_key(item));
        }
    }
    if (!created.empty()) {
        notify_runnable();
    }
    return outcomes;
}

std::set<std::string> postgres_store::insert_items(const std::vector<new_item>& items) {
    struct batch_image {
        const std::string& item_id;
        const image_ref& image;
    };
    std::vector<batch_image> images;
    for (const auto& item : items) {
        for (const auto& image : item.images) {
            images.push_back(batch_image{item.item_id, image});
        }
    }
    using it = new_item;
    using im = batch_image;
    auto rows =
        exec("create_items",
             array_literal(
                 items, [](const it& x) -> const auto& { return x.item_id; }),
             array_literal(
                 items, [](const it& x) -> const auto& { return x.tenant_id; }),
             array_literal(
                 items, [](const it& x) -> const auto& { return x.idempotency_key; }),
             array_literal(
                 items, [](const it& x) -> const auto& { return x.title_hint; }),
             array_literal(
                 items, [](const it& x) -> const auto& { return x.sku; }),
             array_literal(
                 items, [](const it& x) -> const auto& { return x.condition; }),
             array_literal(items, [](const it& x) { return to_string(x.prio); }),
             array_literal(
                 items, [](const it& x) -> const auto& { return x.source; }),
             array_literal(items, [](const it& x) { return number(x.now_ms); }),
             array_literal(
                 items, [](const it& x) -> const auto& { return x.job_id; }),
             array_literal(items,
                           [&](const it& x) { return number(aging_.sort_key(x.prio, x.now_ms)); }),
             array_literal(items, [](const it& x) { return number(x.max_attempts); }),
             array_literal(
                 images, [](const im& x) -> const auto& { return x.item_id; }),
             array_literal(images, [](const im& x) { return number(x.image.index); }),
             array_literal(
                 images, [](const im& x) -> const auto& { return x.image.sha256; }),
             array_literal(
                 images, [](const im& x) -> const auto& { return x.image.filename; }),
             array_literal(
                 images, [](const im& x) -> const auto& { return x.image.media_type; }),
             array_literal(images, [](const im& x) { return number(x.image.bytes); }),
             array_literal(images, [](const im& x) { return number(x.image.width); }),
             array_literal(images, [](const im& x) { return number(x.image.height); }),
             array_literal(
                 items, [](const it& x) -> const auto& { return x.category_hint; }));
    std::set<std::string> created;
    for (const auto& row : rows) {
        created.insert(row[0].as<std::string>());
    }
    return created;
}

create_result postgres_store::find_by_key(const new_item& item) {
    // The key was used: earlier, by an item before this one in the batch, or by a transaction
    // the insert waited for.
    auto rows = exec("find_by_key", item.tenant_id, item.idempotency_key);
    if (rows.empty()) {
        throw store_error(error_kind::retryable,
                          "postgres: create_item: the idempotency key is taken but its item is "
                          "not visible yet");
    }
    return create_result{false, rows[0][0].as<std::string>(), rows[0][1].as<std::string>()};
}

// --- reads ---

std::optional<item_record> postgres_store::find_item(std::string_view tenant_id,
                                                     std::string_view item_id) {
    auto rows = exec("find_item", tenant_id, item_id);
    if (rows.empty()) {
        return std::nullopt;
    }
    auto found = read_item(rows[0]);
    found.images = std::move(images_of({found.item_id})[found.item_id]);
    return found;
}

std::optional<std::string> postgres_store::item_with_key(std::string_view tenant_id,
                                                         std::string_view idempotency_key) {
    auto rows = exec("item_with_key", tenant_id, idempotency_key);
    if (rows.empty()) {
        return std::nullopt;
    }
    return rows[0][0].as<std::string>();
}

std::map<std::string, std::vector<image_ref>> postgres_store::images_of(
    const std::vector<std::string>& item_ids) {
    std::map<std::string, std::vector<image_ref>> images;
    auto rows =
        exec("images_of", array_literal(item_ids, [](const std::string& id) { return id; }));
    for (const auto& row : rows) {
        images[row[0].as<std::string>()].push_back(image_ref{
            row[1].as<int>(), row[2].as<std::string>(), row[3].as<std::string>(),
            row[4].as<std::string>(), row[5].as<std::int64_t>(), row[6].as<int>(), row[7].as<int>(),
            row[8].is_null() ? std::string()
                             : phash_hex(static_cast<std::uint64_t>(row[8].as<std::int64_t>()))});
    }
    return images;
}

std::optional<job_record> postgres_store::find_job(std::string_view tenant_id,
                                                   std::string_view job_id) {
    auto rows = exec("find_job", tenant_id, job_id);
    if (rows.empty()) {
        return std::nullopt;
    }
    return read_job(rows[0]);
}

std::vector<item_record> postgres_store::list_items(const list_query& q) {
    std::vector<item_record> items;
    if (q.limit <= 0) {
        return items;
    }
    pqxx::result rows;
    const auto& cursor = q.before_item_id;
    if (q.state) {
        auto state = to_string(*q.state);
        rows = cursor.empty() ? exec("list_state", q.tenant_id, q.limit, state)
                              : exec("list_state_before", q.tenant_id, q.limit, state, cursor);
    } else {
        rows = cursor.empty() ? exec("list_all", q.tenant_id, q.limit)
                              : exec("list_all_before", q.tenant_id, q.limit, cursor);
    }
    std::vector<std::string> ids;
    for (const auto& row : rows) {
        items.push_back(read_item(row));
        ids.push_back(items.back().item_id);
    }
    if (ids.empty()) {
        return items;
    }
    auto images = images_of(ids);
    for (auto& item : items) {
        item.images = std::move(images[item.item_id]);
    }
    return items;
}

// --- health and counters ---

std::map<priority, std::int64_t> postgres_store::queue_depth() {
    std::map<priority, std::int64_t> depth{
        {priority::urgent, 0}, {priority::normal, 0}, {priority::bulk, 0}};
    for (const auto& row : exec("queue_depth")) {
        depth[priority_from_db(row[0].c_str())] = row[1].as<std::int64_t>();
    }
    return depth;
}

std::map<job_state, std::int64_t> postgres_store::count_by_state() {
    std::map<job_state, std::int64_t> counts;
    for (auto s : {job_state::queued, job_state::running, job_state::succeeded,
                   job_state::needs_review, job_state::failed, job_state::canceled}) {
        counts[s] = 0;
    }
    for (const auto& row : exec("count_by_state")) {
        counts[state_from_db(row[0].c_str())] = row[1].as<std::int64_t>();
    }
    return counts;
}

bool postgres_store::ping() {
    try {
        auto rows = exec("ping");
        return rows.size() == 1 && rows[0][0].as<int>() == 1;
    } catch (const store_error&) {
        return false;
    }
}

}  // namespace pg
}  // namespace boomer::store
