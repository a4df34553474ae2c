// The SQLite C API behind RAII types, and result-code classification for the SQLite engine.
#include "store/sqlite_db.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <bit>

namespace boomer::store::sqlite {

error_kind classify(int result_code) {
    switch (result_code & 0xff) {
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
        case SQLITE_IOERR:
        case SQLITE_FULL:
        case SQLITE_NOMEM:
        case SQLITE_PROTOCOL:
            return error_kind::retryable;
        case SQLITE_CONSTRAINT:
            break;
        default:
            return error_kind::bug;
    }
    switch (result_code) {
        case SQLITE_CONSTRAINT_UNIQUE:
        case SQLITE_CONSTRAINT_PRIMARYKEY:
        case SQLITE_CONSTRAINT_FOREIGNKEY:
            return error_kind::conflict;
        default:
            return error_kind::bug;
    }
}

void throw_error(sqlite3* db, int result_code, std::string_view context) {
    std::string message = "sqlite: " + std::string(context) + ": ";
    message += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(result_code);
    message += " (code " + std::to_string(result_code) + ")";
    throw store_error(classify(result_code), message);
}

// --- statement ---

statement::~statement() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
}

statement& statement::bind(int index, std::string_view text) {
    int rc =
        sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
    if (rc != SQLITE_OK) {
        throw_error(db_, rc, "bind text");
    }
    return *this;
}

statement& statement::bind(int index, std::int64_t value) {
    int rc = sqlite3_bind_int64(stmt_, index, value);
    if (rc != SQLITE_OK) {
        throw_error(db_, rc, "bind integer");
    }
    return *this;
}

bool statement::step() {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) {
        return true;
    }
    if (rc == SQLITE_DONE) {
        return false;
    }
    throw_error(db_, sqlite3_extended_errcode(db_), sqlite3_sql(stmt_));
}

int statement::run() {
    while (step()) {
    }
    return sqlite3_changes(db_);
}

std::string statement::text(int column) const {
    const auto* data = sqlite3_column_text(stmt_, column);
    if (data == nullptr) {
        return {};
    }
    auto size = static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column));
    return std::string(reinterpret_cast<const char*>(data), size);
}

std::int64_t statement::int64(int column) const {
    return sqlite3_column_int64(stmt_, column);
}

int statement::integer(int column) const {
    return sqlite3_column_int(stmt_, column);
}

bool statement::is_null(int column) const {
    return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

// --- connection ---

namespace {

// boomer_hamming(a, b): popcount(a XOR b) of two 64-bit integers; NULL when either is NULL.
void hamming_function(sqlite3_context* context, int, sqlite3_value** args) {
    if (sqlite3_value_type(args[0]) == SQLITE_NULL || sqlite3_value_type(args[1]) == SQLITE_NULL) {
        sqlite3_result_null(context);
        return;
    }
    const auto a = static_cast<std::uint64_t>(sqlite3_value_int64(args[0]));
    const auto b = static_cast<std::uint64_t>(sqlite3_value_int64(args[1]));
    sqlite3_result_int(context, std::popcount(a ^ b));
}

}  // namespace

namespace {

// pragma_text runs a PRAGMA that answers one value and returns it.
std::string pragma_text(sqlite3* db, const char* sql) {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr);
    if (rc != SQLITE_OK) {
        throw_error(db, rc, sql);
    }
    std::string value;
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        value = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
        rc = sqlite3_step(stmt);
    }
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE) {
        throw_error(db, rc, sql);
    }
    return value;
}

}  // namespace

connection::connection(const std::string& path, int busy_timeout_ms) {
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
    if (rc != SQLITE_OK) {
        std::string context = "open " + path;
        sqlite3_close_v2(db_);
        db_ = nullptr;
        throw_error(nullptr, rc, context);
    }
    try {
        sqlite3_extended_result_codes(db_, 1);
        sqlite3_busy_timeout(db_, busy_timeout_ms);
        if (pragma_text(db_, "PRAGMA journal_mode=WAL") != "wal") {
            throw store_error(error_kind::bug, "sqlite: " + path + " cannot use WAL journaling");
        }
        // FULL in WAL mode syncs the log at every commit: an acknowledged write survives a
        // power loss, not only a process crash.
        // The log is truncated back to 64 MiB after a checkpoint that followed a burst.
        exec(
            "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; "
            "PRAGMA journal_size_limit=67108864;");
        rc = sqlite3_create_function_v2(db_, "boomer_hamming", 2,
                                        SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS,
                                        nullptr, hamming_function, nullptr, nullptr, nullptr);
        if (rc != SQLITE_OK) {
            throw_error(db_, rc, "register boomer_hamming");
        }
    } catch (...) {
        sqlite3_close_v2(db_);
        throw;
    }
}

connection::~connection() {
    for (auto& [sql, stmt] : cache_) {
        sqlite3_finalize(stmt);
    }
    sqlite3_close_v2(db_);
}

statement connection::prepare(std::string_view sql) {
    auto found = cache_.find(std::string(sql));
    if (found != cache_.end()) {
        return statement(db_, found->second);
    }
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) {
        throw_error(db_, rc, "prepare " + std::string(sql));
    }
    cache_.emplace(std::string(sql), stmt);
    return statement(db_, stmt);
}

void connection::exec(const char* sql) {
    char* error = nullptr;
    int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &error);
    if (rc != SQLITE_OK) {
        std::string context = std::string(sql) + (error != nullptr ? ": " : "");
        sqlite3_free(error);
        throw_error(db_, sqlite3_extended_errcode(db_), context);
    }
}

// --- pool ---

connection_pool::connection_pool(const std::string& path, int size, int busy_timeout_ms) {
    for (int i = 0; i < std::max(size, 1); ++i) {
        idle_.push_back(std::make_unique<connection>(path, busy_timeout_ms));
    }
}

connection_pool::lease connection_pool::acquire() {
    std::unique_lock lock(mutex_);
    available_.wait(lock, [this] { return !idle_.empty(); });
    auto conn = std::move(idle_.back());
    idle_.pop_back();
    return lease(*this, std::move(conn));
}

void connection_pool::give_back(std::unique_ptr<connection> conn) {
    {
        std::lock_guard lock(mutex_);
        idle_.push_back(std::move(conn));
    }
    available_.notify_one();
}

connection_pool::lease::~lease() {
    if (conn_) {
        pool_->give_back(std::move(conn_));
    }
}

// --- transactions ---

write_txn::write_txn(connection& conn, std::mutex& write_mutex) : lock_(write_mutex), conn_(conn) {
    conn_.exec("BEGIN IMMEDIATE");
    open_ = true;
}

write_txn::~write_txn() {
    if (open_) {
        sqlite3_exec(conn_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
    }
}

void write_txn::commit() {
    conn_.exec("COMMIT");
    open_ = false;
}

read_txn::read_txn(connection& conn) : conn_(conn) {
    conn_.exec("BEGIN");
}

read_txn::~read_txn() {
    sqlite3_exec(conn_.handle(), "COMMIT", nullptr, nullptr, nullptr);
}

}  // namespace boomer::store::sqlite
