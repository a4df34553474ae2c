// Content-addressed storage for image bytes on disk: a blob lives at
// root/sha256/ab/cd/<64 hex chars>, named by the SHA-256 of its bytes, so equal images are stored
// once and a name can never point at other bytes.
//
// Thread-safety: every member may be called from several threads (and processes) at once; a
// blob appears under its name only once completely written and flushed (temp file in the same
// folder, fsync, rename, fsync of the folder). put_all takes the blobs of one item through
// these steps together, and runs the flushes of each step at once on a few threads of its own,
// so that they overlap rather than queue one after another.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace boomer::store {

class flush_pool;

class blob_store {
public:
    // Stores blobs under `root`, which is created on first put if missing. Does no I/O; starts
    // the threads that run put_all's flushes side by side (shared by copies of this object).
    explicit blob_store(std::filesystem::path root);

    // put stores `bytes` and returns their SHA-256 as lowercase hex. A blob already present is
    // not rewritten. Returns only once the blob is durable (a crash afterwards keeps it).
    // Errors: store_error, kind retryable for conditions that may pass (disk full, quota, I/O
    // error, too many open files), kind bug for the rest (permission denied, root not a folder).
    std::string put(std::string_view bytes);

    // put_all stores each of `blobs` as put() does and returns their names in the same order;
    // it returns only once all of them are durable. Bytes given twice are stored once. Errors:
    // as put(); blobs stored before the error stay (they are named by their content), temp
    // files are removed.
    std::vector<std::string> put_all(const std::vector<std::string_view>& blobs);

    // get returns the bytes stored under `sha256`; nullopt when there is no such blob or
    // `sha256` is not 64 lowercase hex characters. Errors: store_error (retryable) on a read
    // failure other than absence.
    std::optional<std::string> get(std::string_view sha256) const;

    // exists tells whether a blob is stored under `sha256`; false for a malformed name.
    bool exists(std::string_view sha256) const;

    // path_of returns where the blob named `sha256` lives (whether or not it exists).
    // Precondition: is_valid_sha256(sha256); otherwise throws std::invalid_argument.
    std::filesystem::path path_of(std::string_view sha256) const;

    const std::filesystem::path& root() const { return root_; }

    static constexpr int flush_threads = 8;

private:
    std::filesystem::path root_;
    std::shared_ptr<flush_pool> flushes_;
};

// is_valid_sha256 tells whether `text` is exactly 64 lowercase hex characters: the only names
// the blob store accepts, which keeps every path it builds inside its root.
bool is_valid_sha256(std::string_view text);

}  // namespace boomer::store
