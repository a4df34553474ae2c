// The clients suite's malloc family: glibc's, with each thread counting the usable bytes it
// allocates and frees. Left out under sanitizers, which bring their own.
#include "tests/clients/thread_heap.hpp"

#include <malloc.h>

#include <cerrno>
#include <cstddef>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define BOOMER_THREAD_HEAP 0
#else
#define BOOMER_THREAD_HEAP 1
#endif

namespace boomer::test {
namespace {
thread_local std::int64_t held = 0;  // initial-exec TLS: safe inside malloc
}  // namespace

bool thread_heap_counted() {
    return BOOMER_THREAD_HEAP != 0;
}

std::int64_t thread_heap() {
    return held;
}

}  // namespace boomer::test

#if BOOMER_THREAD_HEAP
extern "C" {
void* __libc_malloc(std::size_t size);
void __libc_free(void* p);
void* __libc_calloc(std::size_t n, std::size_t size);
void* __libc_realloc(void* p, std::size_t size);
void* __libc_memalign(std::size_t align, std::size_t size);
}

namespace {
void* counted(void* p) {
    if (p != nullptr) {
        boomer::test::held += static_cast<std::int64_t>(malloc_usable_size(p));
    }
    return p;
}
}  // namespace

extern "C" {
void* malloc(std::size_t size) {
    return counted(__libc_malloc(size));
}

void free(void* p) {
    if (p != nullptr) {
        boomer::test::held -= static_cast<std::int64_t>(malloc_usable_size(p));
    }
    __libc_free(p);
}

void* calloc(std::size_t n, std::size_t size) {
    return counted(__libc_calloc(n, size));
}

void* realloc(void* p, std::size_t size) {
    const auto before = p != nullptr ? static_cast<std::int64_t>(malloc_usable_size(p)) : 0;
    void* out = __libc_realloc(p, size);
    if (out != nullptr || size == 0) {
        boomer::test::held -= before;
    }
    return counted(out);
}

void* memalign(std::size_t align, std::size_t size) {
    return counted(__libc_memalign(align, size));
}

void* aligned_alloc(std::size_t align, std::size_t size) {
    return counted(__libc_memalign(align, size));
}

int posix_memalign(void** out, std::size_t align, std::size_t size) {
    if (align < sizeof(void*) || (align & (align - 1)) != 0) {
        return EINVAL;
    }
    void* p = counted(__libc_memalign(align, size));
    if (p == nullptr) {
        return ENOMEM;
    }
    *out = p;
    return 0;
}
}
#endif
