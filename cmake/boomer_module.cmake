# Helpers that keep every module's build rules the same.

# Warnings for our own code; third-party headers come in as SYSTEM and stay quiet.
# -Wmismatched-new-delete is off: GCC 12 reports it, wrongly, on Asio's coroutine frames, whose
# class-specific operator new/delete pair is matched.
function(boomer_warnings target)
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow
        -Wnon-virtual-dtor -Wold-style-cast -Wcast-align -Woverloaded-virtual -Werror
        -Wno-mismatched-new-delete)
    # Under -fsanitize=thread (the tsan preset) GCC 12 warns, -Wtsan, at every
    # std::atomic_thread_fence it inlines, because TSan does not model fences. Asio calls one on
    # every handler run (detail/std_fenced_block.hpp) and on its last reference count drop
    # (detail/atomic_count.hpp), so -Werror stopped the build on Asio's code, not ours; our own
    # code has no fences. What TSan may wrongly report because of them is in tools/tsan.supp.
    if(CMAKE_CXX_FLAGS MATCHES "-fsanitize=thread")
        target_compile_options(${target} PRIVATE -Wno-tsan)
    endif()
endfunction()

# boomer_module(NAME DIR folder DEPS targets...): a static library made of the .cpp files
# directly in `folder` (sub-folders are modules of their own).
function(boomer_module name)
    cmake_parse_arguments(M "" "DIR" "DEPS" ${ARGN})
    file(GLOB sources CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/${M_DIR}/*.cpp)
    if(NOT sources)
        set(sources ${CMAKE_SOURCE_DIR}/cmake/empty.cpp)
    endif()
    add_library(boomer_${name} STATIC ${sources})
    target_include_directories(boomer_${name} PUBLIC ${CMAKE_SOURCE_DIR})
    target_link_libraries(boomer_${name} PUBLIC ${M_DEPS})
    boomer_warnings(boomer_${name})
endfunction()

# boomer_test(NAME LIBS targets...): a Catch2 executable from tests/NAME/*.cpp, registered
# with ctest test by test.
function(boomer_test name)
    cmake_parse_arguments(T "" "" "LIBS" ${ARGN})
    file(GLOB sources CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/${name}/*.cpp)
    if(NOT sources)
        return()
    endif()
    add_executable(test_${name} ${sources})
    target_link_libraries(test_${name} PRIVATE boomer_test_main ${T_LIBS})
    boomer_warnings(test_${name})
    # Paths reach the tests as compile definitions of boomer_test_main (tests/CMakeLists.txt);
    # the BOOMER_* environment variables override them.
    # A Postgres case without a database says so and counts as skipped, not passed.
    catch_discover_tests(test_${name} TEST_PREFIX "${name}:"
        PROPERTIES SKIP_REGULAR_EXPRESSION "BOOMER_TEST_PG_DSN not set")
endfunction()
