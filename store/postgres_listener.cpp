// postgres_listener: LISTEN boomer_jobs on a dedicated connection, reconnecting after a loss.
// The engine's notifications carry the schema name as payload; a listener counts only those of
// its own schema, so stores sharing a database in different schemas do not wake each other.
#include <chrono>

#include "store/postgres_db.hpp"
#include "store/postgres_store.hpp"

namespace boomer::store {
namespace {

using steady = std::chrono::steady_clock;

class job_receiver final : public pqxx::notification_receiver {
public:
    job_receiver(pqxx::connection& conn, std::string schema, int& count)
        : pqxx::notification_receiver(conn, jobs_channel),
          schema_(std::move(schema)),
          count_(count) {}

    void operator()(const std::string& payload, int) override {
        if (payload == schema_) {
            ++count_;
        }
    }

private:
    std::string schema_;
    int& count_;
};

}  // namespace

struct postgres_listener::state {
    pg::session_settings settings;
    std::unique_ptr<pg::session> session;
    std::unique_ptr<job_receiver> receiver;
    int received = 0;

    // connect opens the session and listens; errors leave as store_error.
    void connect() {
        try {
            session = std::make_unique<pg::session>(settings);
            auto& conn = session->conn();
            pqxx::nontransaction tx(conn);
            auto schema = tx.exec1("SELECT current_schema()")[0];
            receiver = std::make_unique<job_receiver>(
                conn, schema.is_null() ? settings.schema : schema.as<std::string>(), received);
        } catch (...) {
            disconnect();
            rethrow("listen for jobs");
        }
    }

    void disconnect() {
        receiver.reset();
        session.reset();
    }

    [[noreturn]] void rethrow(std::string_view context) {
        auto failure = pg::classify_exception(std::current_exception(), context, settings.dsn);
        if (!failure) {
            throw;
        }
        throw failure->error;
    }

    // wait waits up to `timeout` for a notification of our schema.
    bool wait(std::chrono::milliseconds timeout) {
        auto deadline = steady::now() + timeout;
        received = 0;
        session->conn().get_notifs();
        while (received == 0) {
            auto left =
                std::chrono::duration_cast<std::chrono::microseconds>(deadline - steady::now());
            if (left.count() <= 0) {
                return false;
            }
            session->conn().await_notification(left.count() / 1'000'000, left.count() % 1'000'000);
        }
        return true;
    }
};

postgres_listener::postgres_listener(const std::string& dsn, const postgres_options& options)
    : state_(std::make_unique<state>()) {
    state_->settings = pg::session_settings{dsn,
                                            options.schema,
                                            options.application_name,
                                            options.connect_timeout_s,
                                            options.statement_timeout_ms,
                                            {}};
    state_->connect();
}

postgres_listener::~postgres_listener() = default;

bool postgres_listener::wait_for_notification(std::chrono::milliseconds timeout) {
    if (!state_->session) {
        state_->connect();
        return true;
    }
    try {
        return state_->wait(timeout);
    } catch (...) {
        auto failure =
            pg::classify_exception(std::current_exception(), "wait for jobs", state_->settings.dsn);
        if (!failure) {
            throw;
        }
        if (!failure->session_lost) {
            throw failure->error;
        }
        // Whatever was sent while the connection was down is lost: reconnect and tell the
        // caller to look at the queue.
        state_->disconnect();
        state_->connect();
        return true;
    }
}

}  // namespace boomer::store
