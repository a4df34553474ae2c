// The on-disk blob store: POSIX calls so that every step of a durable write (write, fsync,
// rename, fsync of the folder) is explicit.
#include "store/blob_store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>
#include <system_error>

#include "core/hash.hpp"
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
    // release_and_close closes now and returns close()'s errno (0 on success).
    int release_and_close() {
        int rc = ::close(fd_);
        fd_ = -1;
        return rc == 0 ? 0 : errno;
    }

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

// ensure_dir creates `dir` and its missing parents, then flushes every folder that gained an
// entry so that the new folders survive a crash along with the blob.
void ensure_dir(const fs::path& dir, const fs::path& root) {
    std::error_code ec;
    if (!fs::create_directories(dir, ec)) {
        if (ec) {
            throw_io(ec.value(), "create folder", dir);
        }
        return;
    }
    for (fs::path p = dir.parent_path(); !p.empty(); p = p.parent_path()) {
        fsync_dir(p);
        if (p == root.parent_path() || p == p.parent_path()) {
            break;
        }
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

// write_durably writes `bytes` to `temp`, flushes it, and renames it to `final_path`.
void write_durably(const fs::path& temp, const fs::path& final_path, std::string_view bytes) {
    fd_guard fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (fd.get() < 0) {
        throw_io(errno, "create", temp);
    }
    write_all(fd.get(), bytes, temp);
    if (::fsync(fd.get()) != 0) {
        throw_io(errno, "fsync", temp);
    }
    if (int err = fd.release_and_close(); err != 0) {
        throw_io(err, "close", temp);
    }
    if (::rename(temp.c_str(), final_path.c_str()) != 0) {
        throw_io(errno, "rename", temp);
    }
}

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

blob_store::blob_store(std::filesystem::path root) : root_(std::move(root)) {}

fs::path blob_store::path_of(std::string_view sha256) const {
    if (!is_valid_sha256(sha256)) {
        throw std::invalid_argument("blob store: a blob name is 64 lowercase hex characters");
    }
    std::string hex(sha256);
    return root_ / "sha256" / hex.substr(0, 2) / hex.substr(2, 2) / hex;
}

std::string blob_store::put(std::string_view bytes) {
    std::string hex = sha256_hex(bytes);
    fs::path final_path = path_of(hex);
    if (exists(hex)) {
        return hex;
    }

    ensure_dir(final_path.parent_path(), root_);
    fs::path temp = temp_name(final_path);
    try {
        write_durably(temp, final_path, bytes);
    } catch (...) {
        ::unlink(temp.c_str());
        throw;
    }
    fsync_dir(final_path.parent_path());
    return hex;
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
