// Sessions, the session pool, and the classification of libpqxx exceptions for the Postgres
// engine.
#include "store/postgres_db.hpp"

#include "store/postgres_dsn.hpp"

namespace boomer::store::pg {
namespace {

// message_of returns a libpqxx message on one line, without its trailing newline, and with the
// DSN's secrets masked.
std::string message_of(const char* what, std::string_view dsn) {
    std::string text = scrub_secrets(what, dsn);
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
        text.pop_back();
    }
    for (auto& c : text) {
        if (c == '\n') {
            c = ' ';
        }
    }
    return text;
}

classified_error make(error_kind kind, bool lost, std::string_view context, const char* what,
                      std::string_view dsn, std::string_view suffix = "") {
    std::string text = "postgres: " + std::string(context) + ": " + message_of(what, dsn);
    text += suffix;
    return classified_error{store_error(kind, text), lost};
}

}  // namespace

error_kind classify_sqlstate(std::string_view sqlstate) {
    if (sqlstate == "23505" || sqlstate == "23503") {
        return error_kind::conflict;
    }
    for (std::string_view retryable_class : {"08", "40", "53", "57"}) {
        if (sqlstate.starts_with(retryable_class)) {
            return error_kind::retryable;
        }
    }
    if (sqlstate == "55P03" || sqlstate == "55006" || sqlstate == "25P03") {
        return error_kind::retryable;  // lock timeout, object in use, idle-session timeout
    }
    return error_kind::bug;
}

bool ends_session(std::string_view sqlstate) {
    return sqlstate.starts_with("08") || sqlstate == "57P01" || sqlstate == "57P02" ||
           sqlstate == "57P03" || sqlstate == "25P03";
}

std::optional<classified_error> classify_exception(std::exception_ptr e, std::string_view context,
                                                   std::string_view dsn) {
    try {
        std::rethrow_exception(e);
    } catch (const pqxx::broken_connection& x) {
        return make(error_kind::retryable, true, context, x.what(), dsn,
                    " (connection unavailable)");
    } catch (const pqxx::in_doubt_error& x) {
        return make(error_kind::retryable, true, context, x.what(), dsn,
                    " (connection lost during commit: the write may or may not have happened)");
    } catch (const pqxx::sql_error& x) {
        const auto& state = x.sqlstate();
        return make(classify_sqlstate(state), ends_session(state), context, x.what(), dsn,
                    " (SQLSTATE " + (state.empty() ? std::string("unknown") : state) + ")");
    } catch (const pqxx::transaction_rollback& x) {
        // Serialization failures and deadlocks reported without a statement.
        return make(error_kind::retryable, false, context, x.what(), dsn);
    } catch (const pqxx::failure& x) {
        // A libpq failure with no SQLSTATE: the connection's state is unknown, start afresh.
        return make(error_kind::retryable, true, context, x.what(), dsn);
    } catch (const pqxx::pqxx_exception& x) {
        // Misuse, conversions, unexpected row counts: our code and the schema disagree.
        return make(error_kind::bug, false, context, x.base().what(), dsn);
    } catch (...) {
        return std::nullopt;
    }
}

// --- session ---

session::session(const session_settings& settings) {
    std::string dsn = settings.dsn;
    if (!dsn_has_param(dsn, "connect_timeout")) {
        dsn = with_dsn_param(dsn, "connect_timeout", std::to_string(settings.connect_timeout_s));
    }
    conn_ = std::make_unique<pqxx::connection>(dsn);

    // Through set_variable, so that libpqxx restores them should it ever reconnect on its own.
    conn_->set_variable("statement_timeout", std::to_string(settings.statement_timeout_ms));
    conn_->set_variable("application_name", conn_->quote(settings.application_name));
    if (!settings.schema.empty()) {
        conn_->set_variable("search_path", conn_->quote_name(settings.schema));
    }
    for (const auto& list : settings.statements) {
        for (const auto& def : list) {
            conn_->prepare(def.name, def.sql);
        }
    }
}

bool session::usable() {
    try {
        // No receivers here: this only consumes pending input. A server ending the session
        // sends a farewell message before it closes the socket; the first read may take only
        // the message, the second then sees the socket closed.
        conn_->get_notifs();
        conn_->get_notifs();
        return conn_->is_open();
    } catch (const std::exception&) {
        return false;
    }
}

// --- pool ---

session_pool::session_pool(session_settings settings, int size) : settings_(std::move(settings)) {
    idle_.resize(static_cast<std::size_t>(std::max(size, 1)));
}

session_pool::lease session_pool::acquire() {
    std::unique_ptr<session> s;
    {
        std::unique_lock lock(mutex_);
        available_.wait(lock, [this] { return !idle_.empty(); });
        s = std::move(idle_.back());
        idle_.pop_back();
    }
    if (s && s->usable()) {
        return lease(*this, std::move(s));
    }
    s.reset();
    try {
        s = std::make_unique<session>(settings_);
    } catch (...) {
        give_back(nullptr);
        auto failure = classify_exception(std::current_exception(),
                                          "connect to " + redact_dsn(settings_.dsn), settings_.dsn);
        if (!failure) {
            throw;
        }
        throw failure->error;
    }
    return lease(*this, std::move(s));
}

void session_pool::give_back(std::unique_ptr<session> s) {
    {
        std::lock_guard lock(mutex_);
        idle_.push_back(std::move(s));
    }
    available_.notify_one();
}

session_pool::lease::~lease() {
    if (pool_ != nullptr) {
        pool_->give_back(std::move(session_));
    }
}

}  // namespace boomer::store::pg
