// The content-addressed blob store: layout, round trips, idempotence, refusing names that could
// leave the root, and concurrent writers of the same bytes.
#include "store/blob_store.hpp"

#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <thread>
#include <vector>

#include "core/hash.hpp"
#include "store/store.hpp"
#include "tests/store/store_engines.hpp"

using boomer::sha256_hex;
using boomer::store::blob_store;
using boomer::store::is_valid_sha256;
using boomer::store::test::temp_dir;

namespace {

std::string pattern_bytes(std::size_t size, unsigned seed) {
    std::string out(size, '\0');
    for (std::size_t i = 0; i < size; ++i) {
        out[i] = static_cast<char>((i * 31 + seed) & 0xff);
    }
    return out;
}

ino_t inode_of(const std::filesystem::path& p) {
    struct stat st {};
    REQUIRE(::stat(p.c_str(), &st) == 0);
    return st.st_ino;
}

}  // namespace

TEST_CASE("blob store: put then get returns the bytes under their sha256", "[store]") {
    temp_dir dir;
    blob_store blobs(dir.path() / "blobs");
    auto bytes = pattern_bytes(100'000, 7);
    auto name = blobs.put(bytes);

    CHECK(name == sha256_hex(bytes));
    CHECK(blobs.exists(name));
    auto expected = dir.path() / "blobs" / "sha256" / name.substr(0, 2) / name.substr(2, 2) / name;
    CHECK(blobs.path_of(name) == expected);
    CHECK(std::filesystem::file_size(expected) == bytes.size());
    auto back = blobs.get(name);
    REQUIRE(back);
    CHECK(*back == bytes);

    auto empty = blobs.put("");
    CHECK(empty == sha256_hex(""));
    CHECK(blobs.get(empty) == std::string());
}

TEST_CASE("blob store: a missing blob reads as absent", "[store]") {
    temp_dir dir;
    blob_store blobs(dir.path());
    auto name = sha256_hex("never stored");
    CHECK_FALSE(blobs.exists(name));
    CHECK_FALSE(blobs.get(name));
}

TEST_CASE("blob store: storing the same bytes again does not rewrite the blob", "[store]") {
    temp_dir dir;
    blob_store blobs(dir.path());
    auto bytes = pattern_bytes(5'000, 3);
    auto name = blobs.put(bytes);
    auto before = inode_of(blobs.path_of(name));
    CHECK(blobs.put(bytes) == name);
    CHECK(inode_of(blobs.path_of(name)) == before);
}

TEST_CASE("blob store: names that are not 64 lowercase hex characters are refused", "[store]") {
    temp_dir dir;
    blob_store blobs(dir.path() / "root");
    std::filesystem::create_directories(dir.path() / "root");
    // A file outside the root that a traversal would reach.
    std::string secret_name(64, 'a');
    {
        std::FILE* f = std::fopen((dir.path() / "secret").c_str(), "w");
        REQUIRE(f != nullptr);
        std::fputs("secret", f);
        std::fclose(f);
    }

    for (std::string bad :
         {std::string("../secret"), std::string("../../../../secret"), std::string(64, 'A'),
          std::string(63, 'a'), std::string(65, 'a'), std::string(62, 'a') + "/.", std::string(),
          std::string(64, 'g'), std::string("..") + std::string(62, 'a')}) {
        INFO("name: " << bad);
        CHECK_FALSE(is_valid_sha256(bad));
        CHECK_FALSE(blobs.get(bad));
        CHECK_FALSE(blobs.exists(bad));
        CHECK_THROWS_AS(blobs.path_of(bad), std::invalid_argument);
    }
    CHECK(is_valid_sha256(secret_name));
    CHECK(is_valid_sha256(sha256_hex("x")));
}

TEST_CASE("blob store: concurrent puts of the same bytes leave one complete blob", "[store]") {
    temp_dir dir;
    blob_store blobs(dir.path());
    auto bytes = pattern_bytes(1 << 20, 11);
    std::vector<std::string> names(8);
    std::vector<std::thread> writers;
    for (std::size_t i = 0; i < names.size(); ++i) {
        writers.emplace_back([&blobs, &bytes, &names, i] { names[i] = blobs.put(bytes); });
    }
    for (auto& w : writers) {
        w.join();
    }

    for (const auto& n : names) {
        CHECK(n == sha256_hex(bytes));
    }
    auto back = blobs.get(names[0]);
    REQUIRE(back);
    CHECK(*back == bytes);
    // No temp file is left behind next to the blob.
    int entries = 0;
    for ([[maybe_unused]] const auto& entry :
         std::filesystem::directory_iterator(blobs.path_of(names[0]).parent_path())) {
        ++entries;
    }
    CHECK(entries == 1);
}

namespace {

// temp_files_under counts the temp files (".<name>.tmp.*") left anywhere below `root`.
int temp_files_under(const std::filesystem::path& root) {
    int n = 0;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
        if (entry.path().filename().string().find(".tmp.") != std::string::npos) {
            ++n;
        }
    }
    return n;
}

}  // namespace

TEST_CASE("blob store: put_all stores each blob once and names them in order", "[store]") {
    temp_dir dir;
    blob_store blobs(dir.path() / "blobs");
    auto a = pattern_bytes(70'000, 1);
    auto b = pattern_bytes(20'000, 2);
    auto c = pattern_bytes(15'000, 3);
    auto stored_a = blobs.put(a);
    auto inode_a = inode_of(blobs.path_of(stored_a));

    // a is already stored, b comes twice.
    auto names = blobs.put_all({b, a, c, b});

    REQUIRE(names.size() == 4);
    CHECK(names[0] == sha256_hex(b));
    CHECK(names[1] == stored_a);
    CHECK(names[2] == sha256_hex(c));
    CHECK(names[3] == names[0]);
    CHECK(inode_of(blobs.path_of(stored_a)) == inode_a);
    CHECK(blobs.get(names[0]) == b);
    CHECK(blobs.get(names[2]) == c);
    CHECK(temp_files_under(dir.path()) == 0);
    CHECK(blobs.put_all({}).empty());
}

TEST_CASE("blob store: a put_all that fails midway leaves no temp file behind", "[store]") {
    temp_dir dir;
    blob_store blobs(dir.path() / "blobs");
    auto good = pattern_bytes(10'000, 4);
    auto bad = pattern_bytes(10'000, 5);
    // A plain file where the second blob's folder belongs: its temp file cannot be created.
    auto blocked = blobs.path_of(sha256_hex(bad)).parent_path();
    std::filesystem::create_directories(blocked.parent_path());
    {
        std::FILE* f = std::fopen(blocked.c_str(), "w");
        REQUIRE(f != nullptr);
        std::fclose(f);
    }

    CHECK_THROWS_AS(blobs.put_all({good, bad}), boomer::store::store_error);
    CHECK(temp_files_under(dir.path()) == 0);
    CHECK_FALSE(blobs.exists(sha256_hex(good)));
}
