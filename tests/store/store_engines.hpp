// What the store suite runs against: the list of engines (SQLite, and Postgres when
// BOOMER_TEST_PG_DSN names a server), STORE_TEST to write one case that runs on each, a
// temporary folder per test, and small builders for test rows.
#pragma once

#include <catch2/catch.hpp>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "store/store.hpp"

namespace boomer::store::test {

inline constexpr std::int64_t t0 = 1'700'000'000'000;

// A fresh folder under the system temp folder, removed with everything in it on destruction.
class temp_dir {
public:
    temp_dir();
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    ~temp_dir();
    const std::filesystem::path& path() const { return path_; }

private:
    std::filesystem::path path_;
};

struct engine {
    std::string name;
    std::string extra_tags;  // added to the tags of this engine's cases, e.g. "[pg]"
    // unavailable returns why the engine cannot run here (e.g. no server configured), or "".
    std::function<std::string()> unavailable;
    // open opens (or reopens) this engine's database that belongs to `dir`: a file in it for
    // SQLite, a schema named after it for Postgres. Each call returns a new store.
    std::function<std::unique_ptr<store>(const std::filesystem::path& dir)> open;
    // cleanup removes what open created outside `dir` (the Postgres schema); may be empty.
    std::function<void(const std::filesystem::path& dir)> cleanup;
};

// engines returns every engine the suite knows, available here or not.
const std::vector<engine>& engines();

// The body of a STORE_TEST: the engine, the test's folder, and a store freshly opened on it.
using engine_body = void (*)(const engine& e, const std::filesystem::path& dir, store& s);

// run_on_engine runs `body` on engines()[index] with a fresh folder and store, then cleans up.
// An engine that is unavailable here WARNs why and runs nothing.
void run_on_engine(std::size_t index, const engine_body& body);

// engine_cases registers one Catch2 test case per engine for `body`, named
// "store (<engine>): <behaviour>", tagged `tags` plus the engine's extra tags.
struct engine_cases {
    engine_cases(engine_body body, const char* behaviour, const char* tags, const char* file,
                 std::size_t line);
};

// make_item returns a new item of `tenant` with fresh time-ordered ids created at `now_ms`.
new_item make_item(const std::string& tenant, priority prio, std::int64_t now_ms,
                   const std::string& idempotency_key = "");

// add_item creates a new item and returns its ids.
create_result add_item(store& s, const std::string& tenant, priority prio, std::int64_t now_ms);

// claim_one claims exactly one job; the test fails when there is none.
claimed_job claim_one(store& s, const std::string& worker, std::int64_t lease_ms,
                      std::int64_t now_ms);

}  // namespace boomer::store::test

// STORE_TEST("behaviour", "[tags]") { ... } defines a test run once per engine. The body sees
// `e` (the engine), `dir` (the test's folder) and `s` (a store opened on it).
#define STORE_TEST(behaviour, tags) \
    BOOMER_STORE_TEST_NAMED(behaviour, tags, INTERNAL_CATCH_UNIQUE_NAME(store_test_))
#define BOOMER_STORE_TEST_NAMED(behaviour, tags, fn) BOOMER_STORE_TEST_DEFINE(behaviour, tags, fn)
#define BOOMER_STORE_TEST_DEFINE(behaviour, tags, fn)                                           \
    static void fn(const ::boomer::store::test::engine& e, const std::filesystem::path& dir,    \
                   ::boomer::store::store& s);                                                  \
    static const ::boomer::store::test::engine_cases fn##_cases(&fn, behaviour, tags, __FILE__, \
                                                                __LINE__);                      \
    static void fn([[maybe_unused]] const ::boomer::store::test::engine& e,                     \
                   [[maybe_unused]] const std::filesystem::path& dir,                           \
                   [[maybe_unused]] ::boomer::store::store& s)
