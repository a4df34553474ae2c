// Heap bytes a thread holds: what it allocated and has not freed itself, counted by the clients
// suite's own malloc family (thread_heap.cpp), so that a case can tell what the client keeps
// from what the in-process fakes keep on their own threads.
#pragma once

#include <cstdint>

namespace boomer::test {

// thread_heap_counted is false where a sanitizer owns malloc (nothing is counted then).
bool thread_heap_counted();

// thread_heap returns the bytes allocated minus the bytes freed on the calling thread (usable
// sizes), since it started.
std::int64_t thread_heap();

}  // namespace boomer::test
