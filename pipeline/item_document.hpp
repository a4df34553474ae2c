// The document that describes an item and everything the pipeline found so far, built from the
// item row and its stage checkpoints. The API serves it and the scheduler stores the final one.
#pragma once

#include <boost/json.hpp>
#include <vector>

#include "store/store.hpp"

namespace boomer::pipeline {

// item_document merges the item's fields with each finished stage's checkpoint. Stages not
// run yet are null. Pure function; thread-safe.
boost::json::object item_document(const store::item_record& item,
                                  const std::vector<store::checkpoint>& checkpoints);

}  // namespace boomer::pipeline
