// The engines the store suite runs against, and the suite's shared helpers.
#include "tests/store/store_engines.hpp"

#include <stdlib.h>

#include <catch2/catch.hpp>
#include <stdexcept>

#include "core/ids.hpp"
#include "store/sqlite_store.hpp"

namespace boomer::store::test {

temp_dir::temp_dir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "boomer-store-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
        throw std::runtime_error("cannot create a temporary folder");
    }
    path_ = pattern;
}

temp_dir::~temp_dir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
}

const std::vector<engine>& engines() {
    static const std::vector<engine> all{
        {"sqlite",
         [](const std::filesystem::path& dir) {
             return open_sqlite_store((dir / "boomer.db").string(), sqlite_options{});
         }},
    };
    return all;
}

void for_each_engine(
    const std::function<void(const engine& e, const std::filesystem::path& dir, store& s)>& body) {
    for (const auto& e : engines()) {
        DYNAMIC_SECTION("engine " << e.name) {
            temp_dir dir;
            auto s = e.open(dir.path());
            if (!s) {
                WARN("store engine " << e.name << " is not available here: skipped");
                continue;
            }
            body(e, dir.path(), *s);
        }
    }
}

new_item make_item(const std::string& tenant, priority prio, std::int64_t now_ms,
                   const std::string& idempotency_key) {
    new_item item;
    item.tenant_id = tenant;
    item.item_id = new_id("itm", now_ms);
    item.job_id = new_id("job", now_ms);
    item.idempotency_key = idempotency_key;
    item.title_hint = "blue ceramic vase";
    item.sku = "SKU-" + item.item_id.substr(4, 6);
    item.condition = "used";
    item.prio = prio;
    item.source = "api";
    item.now_ms = now_ms;
    return item;
}

create_result add_item(store& s, const std::string& tenant, priority prio, std::int64_t now_ms) {
    return s.create_item(make_item(tenant, prio, now_ms));
}

claimed_job claim_one(store& s, const std::string& worker, std::int64_t lease_ms,
                      std::int64_t now_ms) {
    auto jobs = s.claim(worker, 1, lease_ms, now_ms);
    REQUIRE(jobs.size() == 1);
    return jobs.front();
}

}  // namespace boomer::store::test
