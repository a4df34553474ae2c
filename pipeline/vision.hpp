// The vision model as the pipeline sees it: something that looks at an item's normalized photos
// and says what the item is. Implementations live in clients/ (Claude); without one, the
// identify stage works from what local analysis found.
#pragma once

#include "core/result.hpp"

#include <boost/asio/awaitable.hpp>

#include <string>
#include <vector>

namespace boomer::pipeline {

struct identify_request {
    std::string item_id;
    std::vector<std::string> jpeg_images;  // normalized photos, in item order
    std::string title_hint;
    std::string condition_hint;
    std::vector<std::string> barcodes;  // "EAN-13:9780140013993"
};

struct identification {
    std::string title;
    std::string brand;
    std::string model;
    std::string category;
    std::string condition_guess;
    std::string search_query;
    double confidence = 0.0;  // 0..1, overall
    std::string source;       // "barcode", "title_hint", "sales_match", or the model id
};

// A vision model. identify() may suspend on the network; it honours cancellation of the
// awaiting coroutine and returns retryable failures for overload and timeouts.
class vision_model {
public:
    virtual ~vision_model() = default;
    virtual boost::asio::awaitable<result<identification>> identify(identify_request request) = 0;
};

}  // namespace boomer::pipeline
