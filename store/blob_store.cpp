// The on-disk blob store: POSIX calls so that every step of a durable write (write, fsync,
// rename, fsync of the folder) is explicit. The blobs of one put_all go through each step
// together, so their flushes overlap.
#include "store/blob_store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <functional>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "core/hash.hpp"
#include "store/flush_pool.hpp"
#include "store/store.hpp"

namespace boomer::store {
namespace {

namespace fs = std::filesystem;

// What an errno means for the caller: conditions that may pass by themselves are retryable.
error_kind classify_errno(int err) {
    switch (err) {
        case ENOSPC:
        case EDQUOT:
        case EIO:
        case EAGAIN:
        case EINTR:
        case EMFILE:
        case ENFILE:
        case ENOMEM:
            return error_kind::retryable;
        default:
            return error_kind::bug;
    }
}

[[noreturn]] void throw_io(int err, std::string_view what, const fs::path& path) {
    throw store_error(classify_errno(err), "blob store: " + std::string(what) + " " +
                                               path.string() + ": " + std::strerror(err));
}

// Closes a file descriptor when it goes out of scope.
class fd_guard {
public:
    explicit fd_guard(int fd) : fd_(fd) {}
    fd_guard(const fd_guard&) = delete;
    fd_guard& operator=(const fd_guard&) = delete;
    ~fd_guard() {
        if (fd_ >= 0) {
            ::close(fd_);
        }
    }
    int get() const { return fd_; }

private:
    int fd_;
};

void fsync_dir(const fs::path& dir) {
    fd_guard fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (fd.get() < 0) {
        throw_io(errno, "open folder", dir);
    }
    if (::fsync(fd.get()) != 0) {
        throw_io(errno, "fsync folder", dir);
    }
}

// ensure_dir creates `dir` and its missing parents, and adds to `to_flush` each folder that
// gained an entry (the parent of every folder created), so that flushing them keeps the new
// folders across a crash along with the blob.
void ensure_dir(const fs::path& dir, std::set<fs::path>& to_flush) {
    struct stat st {};
    if (::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
        return;
    }
    // Create from the highest missing folder down. A folder another writer creates at the same
    // moment may not be flushed into its parent yet: that parent is flushed here too.
    std::vector<fs::path> missing;
    for (fs::path p = dir; !p.empty() && ::stat(p.c_str(), &st) != 0; p = p.parent_path()) {
        missing.push_back(p);
        if (p == p.parent_path()) {
            break;
        }
    }
    for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
        if (::mkdir(it->c_str(), 0755) != 0 && errno != EEXIST) {
            throw_io(errno, "create folder", *it);
        }
        to_flush.insert(it->has_parent_path() ? it->parent_path() : fs::path("."));
    }
}

void write_all(int fd, std::string_view bytes, const fs::path& path) {
    while (!bytes.empty()) {
        ssize_t n = ::write(fd, bytes.data(), bytes.size());
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            throw_io(errno, "write", path);
        }
        bytes.remove_prefix(static_cast<std::size_t>(n));
    }
}

// A temp name unique across threads and processes writing the same blob at once.
fs::path temp_name(const fs::path& final_path) {
    static std::atomic<std::uint64_t> counter{0};
    return final_path.parent_path() /
           ("." + final_path.filename().string() + ".tmp." + std::to_string(::getpid()) + "." +
            std::to_string(counter.fetch_add(1)));
}

// A blob on its way in: its bytes, name, final path and the temp file that becomes it.
struct staged_blob {
    std::string_view bytes;
    fs::path final_path;
    fs::path temp;
    int fd = -1;
};

// write_temp creates `b.temp` and writes the bytes (not flushed yet).
void write_temp(staged_blob& b) {
    b.fd = ::open(b.temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (b.fd < 0) {
        throw_io(errno, "create", b.temp);
    }
    write_all(b.fd, b.bytes, b.temp);
}

// flush_and_close makes `b`'s temp file durable and closes it.
void flush_and_close(staged_blob& b) {
    if (::fsync(b.fd) != 0) {
        throw_io(errno, "fsync", b.temp);
    }
    int rc = ::close(b.fd);
    b.fd = -1;
    if (rc != 0) {
        throw_io(errno, "close", b.temp);
    }
}

// Removes the temp files of staged blobs still open or not yet renamed when a put fails.
class staged_cleanup {
public:
    explicit staged_cleanup(std::vector<staged_blob>& staged) : staged_(staged) {}
    staged_cleanup(const staged_cleanup&) = delete;
    staged_cleanup& operator=(const staged_cleanup&) = delete;
    ~staged_cleanup() {
        for (auto& b : staged_) {
            if (b.fd >= 0) {
                ::close(b.fd);
            }
            if (!b.temp.empty()) {
                ::unlink(b.temp.c_str());
            }
        }
    }

private:
    std::vector<staged_blob>& staged_;
};

std::string read_all(int fd, const fs::path& path) {
    std::string out;
    struct stat st {};
    if (::fstat(fd, &st) == 0 && st.st_size > 0) {
        out.reserve(static_cast<std::size_t>(st.st_size));
    }
    char buffer[65536];
    for (;;) {
        ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            throw_io(errno, "read", path);
        }
        if (n == 0) {
            return out;
        }
        out.append(buffer, static_cast<std::size_t>(n));
    }
}

}  // namespace

bool is_valid_sha256(std::string_view text) {
    if (text.size() != 64) {
        return false;
    }
    for (char c : text) {
        bool digit = c >= '0' && c <= '9';
        bool lower_hex = c >= 'a' && c <= 'f';
        if (!digit && !lower_hex) {
            return false;
        }
    }
    return true;
}

blob_store::blob_store(std::filesystem::path root)
    : root_(std::move(root)), flushes_(std::make_shared<flush_pool>(flush_threads)) {}

fs::path blob_store::path_of(std::string_view sha256) const {
    if (!is_valid_sha256(sha256)) {
        throw std::invalid_argument("blob store: a blob name is 64 lowercase hex characters");
    }
    std::string hex(sha256);
    return root_ / "sha256" / hex.substr(0, 2) / hex.substr(2, 2) / hex;
}

std::string blob_store::put(std::string_view bytes) {
    return put_all({bytes}).front();
}

std::vector<std::string> blob_store::put_all(const std::vector<std::string_view>& blobs) {
    // Name every blob; those already stored (or twice in this call) are written once or not at
    // all.
    std::vector<std::string> names;
    std::vector<staged_blob> staged;
    std::set<std::string> seen;
    for (auto bytes : blobs) {
        names.push_back(sha256_hex(bytes));
        if (seen.insert(names.back()).second && !exists(names.back())) {
            staged.push_back({bytes, path_of(names.back()), {}, -1});
        }
    }
    if (staged.empty()) {
        return names;
    }

    // Write all, flush all at once, then rename all into place and flush each folder once, all
    // at once. A blob appears under its name only once its bytes are durable; put_all returns
    // only once the names are durable too.
    std::set<fs::path> to_flush;
    staged_cleanup cleanup(staged);
    for (auto& b : staged) {
        ensure_dir(b.final_path.parent_path(), to_flush);
        b.temp = temp_name(b.final_path);
        write_temp(b);
    }
    std::vector<std::function<void()>> flushes;
    for (auto& b : staged) {
        flushes.emplace_back([&b] { flush_and_close(b); });
    }
    flushes_->run_all(flushes);
    for (auto& b : staged) {
        if (::rename(b.temp.c_str(), b.final_path.c_str()) != 0) {
            throw_io(errno, "rename", b.temp);
        }
        b.temp.clear();
        to_flush.insert(b.final_path.parent_path());
    }
    flushes.clear();
    for (const auto& dir : to_flush) {
        flushes.emplace_back([&dir] { fsync_dir(dir); });
    }
    flushes_->run_all(flushes);
    return names;
}

std::optional<std::string> blob_store::get(std::string_view sha256) const {
    if (!is_valid_sha256(sha256)) {
        return std::nullopt;
    }
    fs::path path = path_of(sha256);
    fd_guard fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) {
        if (errno == ENOENT || errno == ENOTDIR) {
            return std::nullopt;
        }
        throw_io(errno, "open", path);
    }
    return read_all(fd.get(), path);
}

bool blob_store::exists(std::string_view sha256) const {
    if (!is_valid_sha256(sha256)) {
        return false;
    }
    struct stat st {};
    return ::stat(path_of(sha256).c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

}  // namespace boomer::store
