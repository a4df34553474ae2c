// The watched folder: photos dropped into a folder become items through the same intake as
// the API. A file directly in the folder is an item of one photo; a sub-folder is an item of
// all the photos in it (at most the intake limit), with the sub-folder's name as the title
// hint; a name ending in " [category N]" gives eBay category N as the category hint (checked by
// intake: an entry with a malformed id is rejected), the rest of the name being the title hint.
//
// An entry is taken once it has stopped changing (same size and time on two scans, and older
// than `settle_ms`). Its idempotency key is made of its path, size and modification time, so a
// restart never ingests it twice; after intake it moves to `.processed/`, or to `.rejected/`
// with a `.reason.txt` beside it when intake refuses it. A pipe, socket or device is moved to
// `.rejected/` at once, unread; symbolic links are left alone.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pipeline/intake.hpp"

namespace boomer::pipeline {

// split_category_hint splits a sub-folder's name "Title [category N]" into ("Title", "N");
// a name without that ending is all title.
std::pair<std::string, std::string> split_category_hint(std::string_view name);

struct watch_event {
    std::string entry;  // path relative to the folder
    bool accepted = false;
    bool created = false;  // false when it had been ingested before a restart
    std::string item_id;
    std::string error;  // why intake refused it
};

class watch_folder {
public:
    watch_folder(std::filesystem::path dir, std::string tenant_id, std::int64_t settle_ms);

    // scan_once looks at the folder and ingests every entry that has settled. Blocking (disk
    // and database): run it on the store pool, from one caller at a time.
    std::vector<watch_event> scan_once(const intake_limits& limits, store::store& db,
                                       store::blob_store& blobs, const clock& time);

private:
    struct seen {
        std::uintmax_t bytes = 0;
        std::int64_t mtime_ns = 0;
        std::int64_t first_stable_ms = 0;
    };

    watch_event ingest(const std::filesystem::path& entry, const seen& state,
                       const intake_limits& limits, store::store& db, store::blob_store& blobs,
                       const clock& time);
    void move_aside(const std::filesystem::path& entry, std::string_view folder,
                    std::string_view reason);

    std::filesystem::path dir_;
    std::string tenant_id_;
    std::int64_t settle_ms_;
    std::map<std::string, seen> candidates_;
};

}  // namespace boomer::pipeline
