// Breakers by (upstream, model) and their state gauge.
#include "resilience/breaker_board.hpp"

namespace boomer::resilience {

breaker_board::breaker_board(breaker_options options, const clock& time,
                             metrics::registry* registry)
    : options_(options), time_(time) {
    if (registry != nullptr) {
        gauge_ = &registry->callback_gauge_family(
            "boomer_breaker_state",
            "Circuit breaker state per upstream and model: 0 closed, 1 open, 2 half-open.",
            {"upstream", "model"});
    }
}

breaker_board::~breaker_board() {
    std::lock_guard lock(mutex_);
    for (auto* g : installed_) {
        g->clear_callback();
    }
}

circuit_breaker& breaker_board::get(const std::string& upstream, const std::string& model) {
    std::lock_guard lock(mutex_);
    auto key = std::make_pair(upstream, model);
    auto it = breakers_.find(key);
    if (it != breakers_.end()) {
        return *it->second;
    }
    auto& breaker =
        *breakers_.emplace(key, std::make_unique<circuit_breaker>(options_, time_)).first->second;
    if (gauge_ != nullptr) {
        auto& g = gauge_->with({upstream, model});
        g.set_callback([&breaker] { return static_cast<double>(breaker.state()); });
        installed_.push_back(&g);
    }
    return breaker;
}

}  // namespace boomer::resilience
