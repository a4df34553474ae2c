// The service as a container's first process. When process 1 ends, the kernel ends every other
// process of its PID namespace: a service running as process 1 takes its call keeper with it
// when it crashes, and the keeper's calls in flight are paid again after the restart. As
// process 1, `boomer serve` therefore stays a small supervisor and runs the service as its
// child: a service that dies of a signal (kill -9, the OOM killer, a crash) is started again
// while the keeper lives on and hands it what was paid; a service that exits (a stop, a
// configuration error) ends the container, after the other processes (the keeper) have ended.
#pragma once

namespace boomer::service {

// supervise forks the service and supervises it until it exits. Returns -1 in the child, which
// goes on to run the service; in the supervisor, the exit status for the container. Call it
// from a process with a single thread, as process 1 only.
int supervise();

}  // namespace boomer::service
