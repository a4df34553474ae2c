// The engines the store suite runs against, their registration with Catch2, and the suite's
// shared helpers.
#include "tests/store/store_engines.hpp"

#include <stdlib.h>

#include <stdexcept>

#include "core/ids.hpp"
#include "store/postgres_store.hpp"
#include "store/sqlite_store.hpp"
#include "tests/store/postgres_support.hpp"

namespace boomer::store::test {
namespace {

// One engine's copy of a STORE_TEST, as Catch2 runs it.
class engine_invoker final : public Catch::ITestInvoker {
public:
    engine_invoker(std::size_t index, engine_body body) : index_(index), body_(body) {}
    void invoke() const override { run_on_engine(index_, body_); }

private:
    std::size_t index_;
    engine_body body_;
};

// Runs an engine's cleanup when the test ends, passed or failed.
class cleanup_guard {
public:
    cleanup_guard(const engine& e, const std::filesystem::path& dir) : engine_(e), dir_(dir) {}
    cleanup_guard(const cleanup_guard&) = delete;
    cleanup_guard& operator=(const cleanup_guard&) = delete;
    ~cleanup_guard() {
        if (!engine_.cleanup) {
            return;
        }
        try {
            engine_.cleanup(dir_);
        } catch (const std::exception& x) {
            WARN("store engine " << engine_.name << ": cleanup failed: " << x.what());
        }
    }

private:
    const engine& engine_;
    std::filesystem::path dir_;
};

engine sqlite_engine() {
    return engine{
        "sqlite",
        "",
        [] { return std::string(); },
        [](const std::filesystem::path& dir) {
            return open_sqlite_store((dir / "boomer.db").string(), sqlite_options{});
        },
        {},
    };
}

engine postgres_engine() {
    return engine{
        "postgres",
        "[pg]",
        [] { return pg_dsn().empty() ? std::string(pg_not_set) : std::string(); },
        [](const std::filesystem::path& dir) {
            return open_postgres_store(pg_dsn(), pg_options(pg_schema_for(dir)));
        },
        [](const std::filesystem::path& dir) { pg_drop_schema(pg_schema_for(dir)); },
    };
}

}  // namespace

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
    static const std::vector<engine> all{sqlite_engine(), postgres_engine()};
    return all;
}

void run_on_engine(std::size_t index, const engine_body& body) {
    const engine& e = engines().at(index);
    if (auto why = e.unavailable(); !why.empty()) {
        WARN(why);
        return;
    }
    temp_dir dir;
    cleanup_guard cleanup(e, dir.path());
    auto s = e.open(dir.path());
    REQUIRE(s);
    body(e, dir.path(), *s);
}

engine_cases::engine_cases(engine_body body, const char* behaviour, const char* tags,
                           const char* file, std::size_t line) {
    for (std::size_t i = 0; i < engines().size(); ++i) {
        const auto& e = engines()[i];
        std::string name = "store (" + e.name + "): " + behaviour;
        std::string all_tags = std::string(tags) + e.extra_tags;
        Catch::AutoReg(new engine_invoker(i, body), Catch::SourceLineInfo(file, line),
                       Catch::StringRef(), Catch::NameAndTags(name, all_tags));
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
