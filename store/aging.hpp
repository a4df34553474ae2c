// Queue order with aging: a job's place in the queue is its creation time pushed back by an
// offset for its priority, so a bulk job created more than (bulk - urgent) offset ago outranks
// an urgent job created now, and no class starves. Shared by every engine.
#pragma once

#include <cstdint>

#include "store/store.hpp"

namespace boomer::store {

// How far back each priority class is pushed, in milliseconds. Offsets must be >= 0 and ordered
// urgent <= normal <= bulk for the classes to mean what their names say.
struct aging_policy {
    std::int64_t urgent_offset_ms = 0;
    std::int64_t normal_offset_ms = 30'000;
    std::int64_t bulk_offset_ms = 300'000;

    // offset_ms returns the offset of class `p`.
    std::int64_t offset_ms(priority p) const {
        switch (p) {
            case priority::urgent:
                return urgent_offset_ms;
            case priority::normal:
                return normal_offset_ms;
            case priority::bulk:
                return bulk_offset_ms;
        }
        return bulk_offset_ms;
    }

    // sort_key returns the queue position of a job of class `p` queued at `queued_ms`: lower
    // runs first.
    std::int64_t sort_key(priority p, std::int64_t queued_ms) const {
        return queued_ms + offset_ms(p);
    }
};

}  // namespace boomer::store
