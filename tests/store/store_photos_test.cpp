// Perceptual hashes of photos and the near-duplicate band index, run against every store engine:
// hashes recorded on the image rows under the job's fence; offered photos found up to the asked
// distance and no farther, scoped to the tenant, never the asking item, bounded by the limit;
// band probes that cannot miss a hash within the distance.
#include <algorithm>
#include <catch2/catch.hpp>
#include <numeric>
#include <random>
#include <string>

#include "tests/store/store_engines.hpp"

using namespace boomer::store;
using namespace boomer::store::test;

namespace {

constexpr std::uint64_t hash_a = 0x0123456789abcdefULL;
constexpr std::uint64_t hash_b = 0xfedcba9876543210ULL;

// An item with two photos, claimed: the job whose fence records the hashes.
claimed_job item_with_two_photos(store& s, const std::string& tenant, std::int64_t now_ms) {
    auto item = make_item(tenant, priority::normal, now_ms);
    for (int i = 0; i < 2; ++i) {
        image_ref ref;
        ref.index = i;
        ref.sha256 = std::string(64, static_cast<char>('a' + i));
        ref.media_type = "image/jpeg";
        item.images.push_back(ref);
    }
    s.create_item(item);
    auto jobs = s.claim("w1", 10, 30'000, now_ms);
    for (auto& j : jobs) {
        if (j.item_id == item.item_id) {
            return j;
        }
    }
    FAIL("the new item's job was not claimed");
    return {};
}

// A query for photos within `distance` of `h`.
similar_photo_query near_query(const std::string& tenant, std::uint64_t h, int distance = 0) {
    similar_photo_query q;
    q.tenant_id = tenant;
    q.near = {h};
    q.max_distance = distance;
    return q;
}

std::uint64_t flip(std::uint64_t h, std::initializer_list<int> bits) {
    for (int b : bits) {
        h ^= std::uint64_t{1} << b;
    }
    return h;
}

}  // namespace

TEST_CASE("store photos: hashes are written as hex and split in three bands", "[store]") {
    CHECK(phash_hex(hash_a) == "0123456789abcdef");
    CHECK(parse_phash_hex("0123456789ABCDEF") == hash_a);
    CHECK_FALSE(parse_phash_hex("0123456789abcde"));
    CHECK_FALSE(parse_phash_hex("0123456789abcdeg"));
    CHECK(phash_band(hash_a, 0) == 0xbcdef);  // bits 0..20
    CHECK(phash_band(hash_a, 1) == 0xb3c4d);  // bits 21..41
    CHECK(phash_band(hash_a, 2) == 0x48d1);   // bits 42..63
    CHECK(phash_band(~std::uint64_t{0}, 2) == 0x3fffff);
    CHECK_THROWS_AS(phash_band(hash_a, 3), std::invalid_argument);
}

TEST_CASE("store photos: band probes cannot miss a hash within the distance", "[store]") {
    std::mt19937_64 rng(42);
    for (int distance = 0; distance <= similar_photos_max_distance; ++distance) {
        const std::uint64_t h = rng();
        const auto probes = phash_band_probes({h}, distance);
        // 1 value per band below 3, then every value within 1 bit (22 or 23), then 2 bits.
        const std::size_t expected = distance < 3 ? 1 : distance < 6 ? 22 : 232;
        CHECK(probes[0].size() == expected);
        for (int trial = 0; trial < 300; ++trial) {
            std::vector<int> bits(64);
            std::iota(bits.begin(), bits.end(), 0);
            std::shuffle(bits.begin(), bits.end(), rng);
            std::uint64_t near = h;
            for (int i = 0; i < distance; ++i) {
                near ^= std::uint64_t{1} << bits[static_cast<std::size_t>(i)];
            }
            bool found = false;
            for (int k = 0; k < phash_bands; ++k) {
                const auto& values = probes[static_cast<std::size_t>(k)];
                found =
                    found || std::binary_search(values.begin(), values.end(), phash_band(near, k));
            }
            INFO("distance " << distance << ", trial " << trial);
            REQUIRE(found);
        }
    }
    CHECK_THROWS_AS(phash_band_probes({hash_a}, similar_photos_max_distance + 1),
                    std::invalid_argument);
}

STORE_TEST("photos: recorded hashes are read back with the item, under the job's fence",
           "[store]") {
    auto job = item_with_two_photos(s, "t1", t0);
    CHECK(s.find_item("t1", job.item_id)->images.at(0).phash.empty());

    REQUIRE(s.record_photo_hashes(job.job_id, job.fence, {{0, hash_a}, {1, hash_b}}, false));
    auto item = s.find_item("t1", job.item_id);
    REQUIRE(item->images.size() == 2);
    CHECK(item->images[0].phash == "0123456789abcdef");
    CHECK(item->images[1].phash == "fedcba9876543210");

    // Not offered: the index does not know these photos.
    CHECK(s.similar_photos(near_query("t1", hash_a)).empty());

    // A stale fence writes nothing.
    CHECK_FALSE(s.record_photo_hashes(job.job_id, job.fence + 1, {{0, hash_b}}, true));
    CHECK(s.find_item("t1", job.item_id)->images[0].phash == "0123456789abcdef");
    CHECK(s.similar_photos(near_query("t1", hash_b)).empty());
}

STORE_TEST("photos: offered photos within the distance are found, for their tenant only",
           "[store]") {
    auto job = item_with_two_photos(s, "t1", t0);
    REQUIRE(s.record_photo_hashes(job.job_id, job.fence, {{0, hash_a}, {1, hash_b}}, true));

    auto found = s.similar_photos(near_query("t1", hash_a));
    REQUIRE(found.size() == 1);
    CHECK(found[0].item_id == job.item_id);
    CHECK(found[0].job_id == job.job_id);
    CHECK(found[0].index == 0);
    CHECK(found[0].phash == hash_a);
    CHECK(found[0].created_ms == t0);

    // Bits flipped in every band: found up to the distance, not beyond.
    const auto five_off = flip(hash_b, {0, 9, 25, 50, 63});
    CHECK(s.similar_photos(near_query("t1", five_off, 4)).empty());
    found = s.similar_photos(near_query("t1", five_off, 5));
    REQUIRE(found.size() == 1);
    CHECK(found[0].index == 1);
    const auto eight_off = flip(hash_a, {1, 2, 22, 23, 44, 45, 46, 60});
    CHECK(s.similar_photos(near_query("t1", eight_off, 7)).empty());
    CHECK(s.similar_photos(near_query("t1", eight_off, 8)).size() == 1);

    // Several asked hashes: a match of any one counts.
    auto both = near_query("t1", flip(hash_a, {3}), 1);
    both.near.push_back(hash_b);
    CHECK(s.similar_photos(both).size() == 2);

    // Another tenant; the asking item itself; a distance beyond the index.
    CHECK(s.similar_photos(near_query("t2", hash_a)).empty());
    auto self = near_query("t1", hash_a);
    self.exclude_item_id = job.item_id;
    CHECK(s.similar_photos(self).empty());
    CHECK_THROWS_AS(s.similar_photos(near_query("t1", hash_a, similar_photos_max_distance + 1)),
                    std::invalid_argument);
}

STORE_TEST("photos: the lookup returns at most the limit", "[store]") {
    for (int i = 0; i < 3; ++i) {
        auto job = item_with_two_photos(s, "t1", t0 + i);
        REQUIRE(s.record_photo_hashes(job.job_id, job.fence, {{0, hash_a}, {1, hash_a}}, true));
    }
    auto q = near_query("t1", hash_a);
    CHECK(s.similar_photos(q).size() == 6);
    q.limit = 4;
    CHECK(s.similar_photos(q).size() == 4);
    q.limit = 0;
    CHECK(s.similar_photos(q).empty());
}

STORE_TEST("photos: recording without offering keeps an earlier offer", "[store]") {
    auto job = item_with_two_photos(s, "t1", t0);
    REQUIRE(s.record_photo_hashes(job.job_id, job.fence, {{0, hash_a}}, true));
    REQUIRE(s.record_photo_hashes(job.job_id, job.fence, {{0, hash_a}}, false));
    CHECK(s.similar_photos(near_query("t1", hash_a)).size() == 1);
}
