// The Postgres engine's perceptual hashes: recording them on the image rows (fenced like a
// checkpoint) and the near-duplicate lookup through the three band indexes.
#include <array>
#include <string>

#include "store/postgres_store_impl.hpp"

namespace boomer::store::pg {
namespace {

// The job must still be ours: FOR SHARE holds off a rescue or cancel until the update is done.
// Hashes come as parallel arrays (index, value, three bands); $8 says whether the bands are set.
// Returns whether the job was held.
constexpr const char* record_sql = R"sql(
WITH held AS (
    SELECT item_id FROM jobs
    WHERE job_id = $1::text AND fence = $2::bigint AND state = 'running' FOR SHARE),
input AS (
    SELECT * FROM unnest($3::int[], $4::bigint[], $5::int[], $6::int[], $7::int[])
        AS h (idx, phash, b0, b1, b2)),
changed AS (
    UPDATE images m SET phash = h.phash,
        band0 = CASE WHEN $8::boolean THEN h.b0 ELSE m.band0 END,
        band1 = CASE WHEN $8::boolean THEN h.b1 ELSE m.band1 END,
        band2 = CASE WHEN $8::boolean THEN h.b2 ELSE m.band2 END
    FROM held, input h WHERE m.item_id = held.item_id AND m.idx = h.idx
    RETURNING 1)
SELECT (SELECT count(*) FROM held), (SELECT count(*) FROM changed)
)sql";

// The rows sharing a probed band value are gathered first, a bitmap scan of each band's partial
// index (the strict = implies band IS NOT NULL), and only those are joined and checked for
// distance. (With the band terms OR-ed in one WHERE, the generic plan of the prepared statement
// read the whole images table.)
constexpr const char* similar_sql = R"sql(
WITH near AS MATERIALIZED (
  SELECT item_id, idx FROM images WHERE band0 = ANY ($1::int[])
  UNION SELECT item_id, idx FROM images WHERE band1 = ANY ($2::int[])
  UNION SELECT item_id, idx FROM images WHERE band2 = ANY ($3::int[]))
SELECT m.item_id, j.job_id, m.idx, m.phash, i.created_ms FROM near n
JOIN images m ON m.item_id = n.item_id AND m.idx = n.idx
JOIN items i ON i.item_id = m.item_id JOIN jobs j ON j.item_id = m.item_id
WHERE i.tenant_id = $4::text AND m.item_id <> $5::text
  AND EXISTS (SELECT 1 FROM unnest($6::bigint[]) AS h (phash)
              WHERE bit_count((m.phash # h.phash)::bit(64)) <= $7::int)
LIMIT $8::int
)sql";

constexpr std::array<statement_def, 2> statements{{
    {"record_photo_hashes", record_sql},
    {"similar_photos", similar_sql},
}};

template <class T>
std::string number_array(const std::vector<T>& values) {
    return array_literal(values, [](T v) { return std::to_string(v); });
}

// The column arrays of record_sql for `hashes`: indexes, values, then the three bands.
std::array<std::string, 5> hash_columns(const std::vector<photo_hash>& hashes) {
    std::vector<int> index;
    std::vector<std::int64_t> value;
    std::array<std::vector<std::int64_t>, phash_bands> bands;
    for (const auto& h : hashes) {
        index.push_back(h.index);
        value.push_back(static_cast<std::int64_t>(h.value));
        for (int k = 0; k < phash_bands; ++k) {
            bands[static_cast<std::size_t>(k)].push_back(phash_band(h.value, k));
        }
    }
    return {number_array(index), number_array(value), number_array(bands[0]),
            number_array(bands[1]), number_array(bands[2])};
}

}  // namespace

std::span<const statement_def> photo_statements() {
    return statements;
}

bool postgres_store::record_photo_hashes(std::string_view job_id, std::int64_t fence,
                                         const std::vector<photo_hash>& hashes,
                                         bool offer_for_reuse) {
    const auto columns = hash_columns(hashes);
    auto rows = exec("record_photo_hashes", job_id, fence, columns[0], columns[1], columns[2],
                     columns[3], columns[4], offer_for_reuse);
    return rows[0][0].as<std::int64_t>() == 1;
}

std::vector<similar_photo> postgres_store::similar_photos(const similar_photo_query& q) {
    const auto bands = phash_band_probes(q.near, q.max_distance);
    std::vector<similar_photo> out;
    if (q.limit <= 0 || q.near.empty()) {
        return out;
    }
    std::vector<std::int64_t> near;
    for (auto h : q.near) {
        near.push_back(static_cast<std::int64_t>(h));
    }
    auto rows = exec("similar_photos", number_array(bands[0]), number_array(bands[1]),
                     number_array(bands[2]), q.tenant_id, q.exclude_item_id, number_array(near),
                     q.max_distance, q.limit);
    for (const auto& row : rows) {
        out.push_back(similar_photo{
            row[0].as<std::string>(), row[1].as<std::string>(), row[2].as<int>(),
            static_cast<std::uint64_t>(row[3].as<std::int64_t>()), row[4].as<std::int64_t>()});
    }
    return out;
}

}  // namespace boomer::store::pg
