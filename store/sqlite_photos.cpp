// The SQLite engine's perceptual hashes: recording them on the image rows (fenced like a
// checkpoint) and the near-duplicate lookup through the three band indexes.
#include <stdexcept>
#include <string>

#include "store/sqlite_store_impl.hpp"

namespace boomer::store::sqlite {
namespace {

// The lookup: the rows sharing a probed band value are gathered first, one search of each
// band's index, and only those are joined to their item and job and checked for distance. (With
// the band terms OR-ed in one WHERE, the planner preferred walking every item of the tenant,
// which made each lookup cost the whole table.)
// ?1..?3 band values, ?4 tenant, ?5 excluded item, ?6 asked hashes (JSON arrays), ?7 distance,
// ?8 limit.
}  // namespace

const char* const similar_photos_sql =
    "WITH near(rid) AS MATERIALIZED ("
    "SELECT rowid FROM images WHERE band0 IN (SELECT value FROM json_each(?1)) "
    "UNION SELECT rowid FROM images WHERE band1 IN (SELECT value FROM json_each(?2)) "
    "UNION SELECT rowid FROM images WHERE band2 IN (SELECT value FROM json_each(?3))) "
    "SELECT m.item_id, j.job_id, m.idx, m.phash, i.created_ms FROM near n "
    "JOIN images m ON m.rowid = n.rid JOIN items i ON i.item_id = m.item_id "
    "JOIN jobs j ON j.item_id = m.item_id "
    "WHERE i.tenant_id = ?4 AND m.item_id <> ?5 "
    "AND EXISTS (SELECT 1 FROM json_each(?6) h WHERE boomer_hamming(m.phash, h.value) <= ?7) "
    "LIMIT ?8";

namespace {

template <class T>
std::string json_array(const std::vector<T>& values) {
    std::string out = "[";
    for (const auto& v : values) {
        if (out.size() > 1) {
            out += ',';
        }
        out += std::to_string(v);
    }
    out += ']';
    return out;
}

void write_hash(connection& c, std::string_view item_id, const photo_hash& h, bool offer) {
    const auto value = static_cast<std::int64_t>(h.value);
    if (!offer) {
        c.prepare("UPDATE images SET phash = ?3 WHERE item_id = ?1 AND idx = ?2")
            .bind_all(item_id, h.index, value)
            .run();
        return;
    }
    c.prepare(
         "UPDATE images SET phash = ?3, band0 = ?4, band1 = ?5, band2 = ?6 "
         "WHERE item_id = ?1 AND idx = ?2")
        .bind_all(item_id, h.index, value, phash_band(h.value, 0), phash_band(h.value, 1),
                  phash_band(h.value, 2))
        .run();
}

}  // namespace

bool sqlite_store::record_photo_hashes(std::string_view job_id, std::int64_t fence,
                                       const std::vector<photo_hash>& hashes,
                                       bool offer_for_reuse) {
    bool held = false;
    write([&](connection& c) {
        std::string item_id;
        {
            auto st = c.prepare(
                "SELECT item_id FROM jobs WHERE job_id = ?1 AND fence = ?2 AND state = 'running'");
            held = st.bind_all(job_id, fence).step();
            if (held) {
                item_id = st.text(0);
            }
        }
        if (!held) {
            return;
        }
        for (const auto& h : hashes) {
            write_hash(c, item_id, h, offer_for_reuse);
        }
    });
    return held;
}

std::vector<similar_photo> sqlite_store::similar_photos(const similar_photo_query& q) {
    const auto bands = phash_band_probes(q.near, q.max_distance);
    std::vector<similar_photo> out;
    if (q.limit <= 0 || q.near.empty()) {
        return out;
    }
    std::vector<std::int64_t> near;
    for (auto h : q.near) {
        near.push_back(static_cast<std::int64_t>(h));
    }
    auto conn = pool_.acquire();
    auto st = conn->prepare(similar_photos_sql);
    st.bind_all(json_array(bands[0]), json_array(bands[1]), json_array(bands[2]), q.tenant_id,
                q.exclude_item_id, json_array(near), q.max_distance, q.limit);
    while (st.step()) {
        out.push_back(similar_photo{st.text(0), st.text(1), st.integer(2),
                                    static_cast<std::uint64_t>(st.int64(3)), st.int64(4)});
    }
    return out;
}

}  // namespace boomer::store::sqlite
