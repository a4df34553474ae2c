// Helpers shared by the eBay client tests: a fake eBay with fixtures, options pointing at it,
// and a context on a test io_context.
#pragma once

#include <boost/asio/io_context.hpp>
#include <memory>
#include <string>

#include "clients/ebay_api.hpp"
#include "core/clock.hpp"
#include "core/metrics.hpp"
#include "tests/fakes/fake_ebay.hpp"

namespace boomer::test {

// A listing with the fields most tests need.
inline fakes::fake_listing listing(std::string id, std::string title, std::string price,
                                   std::optional<std::string> shipping = std::nullopt,
                                   std::string condition_id = "3000",
                                   std::string sold_date = "2026-06-11") {
    fakes::fake_listing l;
    l.item_id = std::move(id);
    l.title = std::move(title);
    l.price = std::move(price);
    l.shipping = std::move(shipping);
    l.condition_id = std::move(condition_id);
    l.condition = l.condition_id == "1000" ? "New" : "Used";
    l.sold_date = std::move(sold_date);
    return l;
}

// A fake eBay on a manual clock, and client options that point at it.
struct ebay_rig {
    manual_clock time{1'781'000'000'000};  // 2026-06-09
    std::unique_ptr<fakes::fake_ebay> fake;
    metrics::registry registry;
    boost::asio::io_context io;
    clients::ebay_options options;

    explicit ebay_rig(fakes::fake_ebay_options fake_options = {}) {
        fake_options.time = &time;
        fake = std::make_unique<fakes::fake_ebay>(fake_options);
        options.client_id = fake_options.client_id;
        options.client_secret = clients::secret(fake_options.client_secret);
        options.base_url = fake->base_url();
        options.time = &time;
        options.token_timeout = std::chrono::milliseconds(2000);
    }

    std::shared_ptr<clients::ebay_context> context() {
        return clients::make_ebay_context(options, io.get_executor(), registry);
    }

    // counter reads a labelled counter's value (0 when never touched).
    double counter(const std::string& family, std::initializer_list<std::string_view> labels) {
        return registry.counter_family(family, "", label_names(family)).with(labels).value();
    }

private:
    static std::vector<std::string> label_names(const std::string& family) {
        if (family == "boomer_market_token_refreshes_total") {
            return {"scope"};
        }
        return {"source", "outcome"};
    }
};

}  // namespace boomer::test
