// Content-addressed storage for image bytes on disk: a blob lives at
// root/sha256/ab/cd/<64 hex chars>, named by the SHA-256 of its bytes, so equal images are stored
// once and a name can never point at other bytes.
//
// Thread-safety: every member may be called from several threads (and processes) at once; a
// blob appears under its name only once completely written and flushed (temp file in the same
// folder, fsync, rename, fsync of the folder).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace boomer::store {

class blob_store {
public:
    // Stores blobs under `root`, which is created on first put if missing. Does no I/O.
    explicit blob_store(std::filesystem::path root);

    // put stores `bytes` and returns their SHA-256 as lowercase hex. A blob already present is
    // not rewritten. Returns only once the blob is durable (a crash afterwards keeps it).
    // Errors: store_error, kind retryable for conditions that may pass (disk full, quota, I/O
    // error, too many open files), kind bug for the rest (permission denied, root not a folder).
    std::string put(std::string_view bytes);

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

private:
    std::filesystem::path root_;
};

// is_valid_sha256 tells whether `text` is exactly 64 lowercase hex characters: the only names
// the blob store accepts, which keeps every path it builds inside its root.
bool is_valid_sha256(std::string_view text);

}  // namespace boomer::store
