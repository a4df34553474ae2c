// The HTTP server: its listening socket, the accept loop, the drain on stop, and the request
// metrics. Connections themselves are served in http_server_session.cpp.
#include "api/http_server.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>
#include <chrono>

#include "api/http_server_state.hpp"
#include "core/log.hpp"

namespace boomer::api {

using tcp = asio::ip::tcp;

namespace detail {

using steady = std::chrono::steady_clock;
using beast::error_code;

std::string_view method_label(http::verb method) {
    return method == http::verb::unknown ? std::string_view("OTHER")
                                         : std::string_view(http::to_string(method));
}

void log_escaped::operator()(std::exception_ptr error) const {
    if (!error) {
        return;
    }
    try {
        std::rethrow_exception(error);
    } catch (const boost::system::system_error& e) {
        if (e.code() == asio::error::operation_aborted) {
            log::event(spdlog::level::debug, "coroutine_cancelled", {{"task", task}});
        } else {
            log::event(spdlog::level::err, "coroutine_failed",
                       {{"task", task}, {"error", e.what()}});
        }
    } catch (const std::exception& e) {
        log::event(spdlog::level::err, "coroutine_failed", {{"task", task}, {"error", e.what()}});
    } catch (...) {
        log::event(spdlog::level::err, "coroutine_failed", {{"task", task}, {"error", "unknown"}});
    }
}

request_metrics::request_metrics(metrics::registry& registry, const router& routes)
    : in_flight(
          registry
              .gauge_family("http_requests_in_flight", "HTTP requests read and not yet answered.")
              .with({})),
      open_connections(
          registry.gauge_family("http_open_connections", "Open HTTP connections.").with({})),
      requests_(registry.counter_family("http_requests_total", "HTTP requests answered.",
                                        {"method", "route", "status"})),
      durations_(registry.histogram_family(
          "http_request_duration_seconds",
          "Time from a request's headers read to its response written.", {"method", "route"})) {
    for (const route_info& r : routes.routes()) {
        auto slot = std::make_unique<route_slot>();
        slot->method = r.method;
        slot->route = r.path_template;
        slot->duration = &durations_.with({method_label(r.method), r.path_template});
        slots_.push_back(std::move(slot));
    }
}

void request_metrics::record(std::optional<std::size_t> route_index, http::verb method,
                             std::string_view route, unsigned status, double seconds) {
    if (route_index && *route_index < slots_.size() && status >= 100 && status < 600 &&
        slots_[*route_index]->method == method) {
        route_slot& slot = *slots_[*route_index];
        std::atomic<metrics::counter*>& cached = slot.by_status[status - 100];
        metrics::counter* counter = cached.load(std::memory_order_acquire);
        if (counter == nullptr) {
            counter = &requests_.with({method_label(method), slot.route, std::to_string(status)});
            cached.store(counter, std::memory_order_release);
        }
        counter->inc();
        slot.duration->observe(seconds);
        return;
    }
    std::string_view label = method_label(method);
    requests_.with({label, route, std::to_string(status)}).inc();
    durations_.with({label, route}).observe(seconds);
}

namespace {

constexpr auto as_result = asio::as_tuple(asio::use_awaitable);

// Keeps the session alive until co_spawn is done with its cancellation slot.
struct session_done {
    std::shared_ptr<session> s;
    void operator()(std::exception_ptr error) const { log_escaped{"http_session"}(error); }
};

void start_session(std::shared_ptr<server_state> st, tcp::socket socket) {
    auto s = std::make_shared<session>(std::move(socket));
    error_code ec;
    // Responses go out in one write each; waiting to coalesce them only adds latency.
    s->stream.socket().set_option(tcp::no_delay(true), ec);
    s->remote = s->stream.socket().remote_endpoint(ec);
    s->peer = s->remote.address().to_string();
    {
        std::lock_guard lock(st->mutex);
        if (st->stopping.load()) {
            return;
        }
        s->id = ++st->next_id;
        st->sessions.emplace(s->id, s);
    }
    auto executor = s->stream.get_executor();
    asio::co_spawn(executor, run_session(st, s),
                   asio::bind_cancellation_slot(s->cancel.slot(), session_done{s}));
}

asio::awaitable<void> accept_loop(std::shared_ptr<server_state> st) {
    asio::steady_timer pause(st->strand);
    while (!st->stopping.load()) {
        auto [ec, socket] =
            co_await st->acceptor.async_accept(asio::make_strand(st->io), as_result);
        if (ec == asio::error::operation_aborted || st->stopping.load()) {
            break;
        }
        if (ec) {
            // Out of descriptors and the like: wait a little instead of spinning.
            log::event(spdlog::level::warn, "http_accept_failed", {{"error", ec.message()}});
            pause.expires_after(std::chrono::milliseconds(50));
            co_await pause.async_wait(as_result);
            continue;
        }
        start_session(st, tcp::socket(std::move(socket)));
    }
}

std::vector<std::shared_ptr<session>> open_sessions(server_state& st) {
    std::lock_guard lock(st.mutex);
    std::vector<std::shared_ptr<session>> out;
    for (const auto& [id, s] : st.sessions) {
        out.push_back(s);
    }
    return out;
}

// Waits until no session is left or `deadline` passes; true when none is left.
asio::awaitable<bool> wait_for_sessions(std::shared_ptr<server_state> st,
                                        steady::time_point deadline) {
    asio::steady_timer tick(st->strand);
    while (!open_sessions(*st).empty()) {
        if (steady::now() >= deadline) {
            co_return false;
        }
        tick.expires_after(
            std::min<steady::duration>(std::chrono::milliseconds(5), deadline - steady::now()));
        co_await tick.async_wait(as_result);
    }
    co_return true;
}

asio::awaitable<void> drain(std::shared_ptr<server_state> st) {
    st->stopping.store(true);
    error_code ignored;
    st->acceptor.close(ignored);

    // Idle connections close now; busy ones close after their response.
    for (auto& s : open_sessions(*st)) {
        asio::post(s->stream.get_executor(), [s] {
            if (!s->busy) {
                s->stream.close();
            }
        });
    }
    if (co_await wait_for_sessions(st, steady::now() + st->options.drain_timeout)) {
        co_return;
    }

    auto left = open_sessions(*st);
    log::event(spdlog::level::warn, "http_drain_timeout", {{"open_connections", left.size()}});
    for (auto& s : left) {
        asio::post(s->stream.get_executor(), [s] {
            s->stream.close();
            s->cancel.emit(asio::cancellation_type::terminal);
        });
    }
    if (!co_await wait_for_sessions(st, steady::now() + std::chrono::seconds(1))) {
        log::event(spdlog::level::warn, "http_stop_incomplete",
                   {{"open_connections", open_sessions(*st).size()}});
    }
}

// Logs what escaped the drain, then tells whoever asked for the stop.
struct drain_done {
    std::function<void()> on_stopped;
    void operator()(std::exception_ptr error) const {
        log_escaped{"http_drain"}(error);
        if (on_stopped) {
            on_stopped();
        }
    }
};

}  // namespace
}  // namespace detail

http_server::http_server(asio::io_context& io, tcp::endpoint endpoint, router routes,
                         server_options options, metrics::registry& registry)
    : state_(std::make_shared<detail::server_state>(io, endpoint, std::move(routes), options,
                                                    registry)) {}

http_server::~http_server() = default;

void http_server::start() {
    asio::co_spawn(state_->strand, detail::accept_loop(state_), detail::log_escaped{"http_accept"});
}

void http_server::stop(std::function<void()> on_stopped) {
    state_->stopping.store(true);
    asio::co_spawn(state_->strand, detail::drain(state_),
                   detail::drain_done{std::move(on_stopped)});
}

tcp::endpoint http_server::local_endpoint() const {
    return state_->local;
}

const router& http_server::routes() const {
    return state_->routes;
}

}  // namespace boomer::api
