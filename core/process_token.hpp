// A name for a running process that another process of the same host can check for life: a
// replica's claim names its holder this way, so that a restarted service need not wait out the
// claims of the process it replaces.
#pragma once

#include <string>
#include <string_view>

namespace boomer {

// process_token names this process: the host's boot, its PID namespace, its pid and its start
// time (so a reused pid does not pass for it). Computed once per process; thread-safe.
std::string process_token();

// process_gone says whether `token` names a process of this boot and PID namespace that no longer
// runs. A token of another host, container or boot, or one that does not parse, is not known to
// be gone: false. Reads /proc (a few microseconds; a file read all the same).
bool process_gone(std::string_view token);

}  // namespace boomer
