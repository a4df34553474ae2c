// Scanning the watched folder and handing settled entries to intake.
#include "pipeline/watch_folder.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <optional>
#include <sstream>

#include "core/utf8.hpp"

namespace boomer::pipeline {
namespace fs = std::filesystem;
namespace {

bool hidden(const fs::path& p) {
    auto name = p.filename().string();
    return name.empty() || name.front() == '.';
}

// The photos of an entry: the file itself, or every visible file below a sub-folder (nested
// folders included), by path. Symbolic links are never followed: they could point anywhere.
std::vector<fs::path> photos_of(const fs::path& entry) {
    std::vector<fs::path> out;
    std::error_code ec;
    if (fs::is_symlink(entry, ec)) {
        return out;
    }
    if (fs::is_regular_file(entry, ec)) {
        out.push_back(entry);
        return out;
    }
    fs::recursive_directory_iterator it(entry, ec);
    for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (hidden(it->path())) {
            if (it->is_directory(ec)) {
                it.disable_recursion_pending();
            }
            continue;
        }
        if (!it->is_symlink(ec) && it->is_regular_file(ec)) {
            out.push_back(it->path());
        }
    }
    std::sort(out.begin(), out.end());
    return out;
}

// not_a_photo_entry returns why an entry of the folder can never be taken: it is neither a
// file, a folder nor a link (links are left alone, see photos_of); nothing when it may be.
std::optional<std::string> not_a_photo_entry(const fs::directory_entry& entry) {
    std::error_code ec;
    const auto status = entry.symlink_status(ec);
    if (ec || fs::is_regular_file(status) || fs::is_directory(status) || fs::is_symlink(status)) {
        return std::nullopt;
    }
    return "not a file or a folder (a pipe, socket or device); only photos and folders of "
           "photos are taken";
}

// size and newest modification time over an entry's photos
std::pair<std::uintmax_t, std::int64_t> fingerprint(const std::vector<fs::path>& photos) {
    std::uintmax_t bytes = 0;
    std::int64_t newest = 0;
    for (const auto& p : photos) {
        std::error_code ec;
        bytes += fs::file_size(p, ec);
        auto t = fs::last_write_time(p, ec).time_since_epoch();
        newest = std::max<std::int64_t>(
            newest, std::chrono::duration_cast<std::chrono::nanoseconds>(t).count());
    }
    return {bytes, newest};
}

// oversized tells why intake would refuse an entry for its photos' count or sizes, without
// reading them (a video or a disk image dropped here must not be read into memory); nothing
// when they are within the limits. The wording is intake's.
std::optional<std::string> oversized(const fs::path& entry, const std::vector<fs::path>& photos,
                                     const intake_limits& limits) {
    if (photos.size() > static_cast<std::size_t>(limits.max_files)) {
        return fmt::format("an item takes at most {} photos; {} were sent", limits.max_files,
                           photos.size());
    }
    for (std::size_t i = 0; i < photos.size(); ++i) {
        std::error_code ec;
        const auto bytes = fs::file_size(photos[i], ec);
        if (!ec && bytes > limits.max_file_bytes) {
            auto name = fs::is_directory(entry) ? photos[i].lexically_relative(entry).string()
                                                : photos[i].filename().string();
            return fmt::format("photo {} ({}) is {} bytes; the limit is {} bytes", i + 1,
                               valid_utf8(name), bytes, limits.max_file_bytes);
        }
    }
    return std::nullopt;
}

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

}  // namespace

watch_folder::watch_folder(fs::path dir, std::string tenant_id, std::int64_t settle_ms)
    : dir_(std::move(dir)), tenant_id_(std::move(tenant_id)), settle_ms_(settle_ms) {
    fs::create_directories(dir_);
}

std::vector<watch_event> watch_folder::scan_once(const intake_limits& limits, store::store& db,
                                                 store::blob_store& blobs, const clock& time) {
    std::vector<watch_event> events;
    std::map<std::string, seen> next;
    std::error_code ec;
    auto now = time.now_ms();
    for (const auto& entry : fs::directory_iterator(dir_, ec)) {
        if (hidden(entry.path())) {
            continue;
        }
        if (auto refused = not_a_photo_entry(entry)) {
            // A pipe, socket or device: reading it could block the scan, and it never settles.
            watch_event ev;
            ev.entry = entry.path().filename().string();
            ev.error = std::move(*refused);
            move_aside(entry.path(), ".rejected", ev.error);
            events.push_back(std::move(ev));
            continue;
        }
        auto photos = photos_of(entry.path());
        if (photos.empty()) {
            continue;
        }
        auto [bytes, mtime] = fingerprint(photos);
        auto name = entry.path().filename().string();

        // Settled: unchanged since the last scan for at least settle_ms.
        seen state{bytes, mtime, now};
        auto before = candidates_.find(name);
        bool unchanged = before != candidates_.end() && before->second.bytes == bytes &&
                         before->second.mtime_ns == mtime;
        if (unchanged) {
            state.first_stable_ms = before->second.first_stable_ms;
        }
        if (unchanged && now - state.first_stable_ms >= settle_ms_) {
            events.push_back(ingest(entry.path(), state, limits, db, blobs, time));
            continue;
        }
        next[name] = state;
    }
    candidates_ = std::move(next);
    return events;
}

std::pair<std::string, std::string> split_category_hint(std::string_view name) {
    constexpr std::string_view mark = " [category ";
    auto at = name.rfind(mark);
    if (at == std::string_view::npos || !name.ends_with(']')) {
        return {std::string(name), {}};
    }
    auto id = name.substr(at + mark.size(), name.size() - 1 - at - mark.size());
    auto title = name.substr(0, at);
    return {std::string(title), std::string(id)};
}

watch_event watch_folder::ingest(const fs::path& entry, const seen& state,
                                 const intake_limits& limits, store::store& db,
                                 store::blob_store& blobs, const clock& time) {
    watch_event ev;
    ev.entry = entry.filename().string();

    auto photos = photos_of(entry);
    if (auto refused = oversized(entry, photos, limits)) {
        ev.error = std::move(*refused);
        move_aside(entry, ".rejected", ev.error);
        return ev;
    }
    std::vector<std::string> contents;
    contents.reserve(photos.size());
    intake_request req;
    req.tenant_id = tenant_id_;
    req.source = "watch";
    req.prio = store::priority::normal;
    req.idempotency_key = fmt::format("watch:{}:{}:{}", ev.entry, state.bytes, state.mtime_ns);
    if (fs::is_directory(entry)) {
        auto [title, category] = split_category_hint(ev.entry);
        req.title_hint = std::move(title);
        req.category_hint = std::move(category);
    }
    for (const auto& p : photos) {
        contents.push_back(slurp(p));
    }
    for (std::size_t i = 0; i < photos.size(); ++i) {
        auto name = fs::is_directory(entry) ? photos[i].lexically_relative(entry).string()
                                            : photos[i].filename().string();
        req.files.push_back({name, contents[i]});
    }

    auto receipt = submit(req, limits, db, blobs, time);
    if (!receipt) {
        ev.error = receipt.error().message;
        move_aside(entry, ".rejected", ev.error);
        return ev;
    }
    ev.accepted = true;
    ev.created = receipt->created;
    ev.item_id = receipt->item_id;
    move_aside(entry, ".processed", "");
    return ev;
}

void watch_folder::move_aside(const fs::path& entry, std::string_view folder,
                              std::string_view reason) {
    auto target_dir = dir_ / std::string(folder);
    fs::create_directories(target_dir);
    auto target = target_dir / entry.filename();
    std::error_code ec;
    if (fs::exists(target, ec)) {
        target += fmt::format(".{}", std::chrono::system_clock::now().time_since_epoch().count());
    }
    fs::rename(entry, target, ec);
    if (!reason.empty()) {
        std::ofstream(target.string() + ".reason.txt") << reason << '\n';
    }
}

}  // namespace boomer::pipeline
