// What the store suite runs against: the list of engines (SQLite now; Postgres joins when it
// exists), a temporary folder per test, and small builders for test rows.
#pragma once

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
    // open opens (or reopens) this engine's database kept in `dir`. Returns nullptr when the
    // engine cannot run here (e.g. no server configured); the suite then warns and skips it.
    std::function<std::unique_ptr<store>(const std::filesystem::path& dir)> open;
};

const std::vector<engine>& engines();

// for_each_engine runs `body` once per engine, each in a section of its own named after the
// engine, with a fresh folder and a freshly opened store.
void for_each_engine(
    const std::function<void(const engine& e, const std::filesystem::path& dir, store& s)>& body);

// make_item returns a new item of `tenant` with fresh time-ordered ids created at `now_ms`.
new_item make_item(const std::string& tenant, priority prio, std::int64_t now_ms,
                   const std::string& idempotency_key = "");

// add_item creates a new item and returns its ids.
create_result add_item(store& s, const std::string& tenant, priority prio, std::int64_t now_ms);

// claim_one claims exactly one job; the test fails when there is none.
claimed_job claim_one(store& s, const std::string& worker, std::int64_t lease_ms,
                      std::int64_t now_ms);

}  // namespace boomer::store::test
