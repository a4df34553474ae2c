// The finished-items counter, registered in one place for its two reporters.
#include "pipeline/finished_items.hpp"

namespace boomer::pipeline {

metrics::family<metrics::counter>& items_finished(metrics::registry& r) {
    return r.counter_family("boomer_items_finished_total", "Items that reached a final state.",
                            {"state"});
}

}  // namespace boomer::pipeline
